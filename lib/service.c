/* service.c - a service profile's tokens (grant = client_credentials,
 * SMART Backend Services): no login and no refresh token; when the cached
 * access token will not do, fhirauth_token() comes here with the refresh
 * lock held, the client asks the AS for a new one (RFC 6749 §4.4), and
 * token.c saves it as it saves a refresh. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keystore.h"
#include "service.h"
#include "util.h"

/*
 * The stored service session's metadata, when it is one and belongs to
 * the configured server and client (discovered where the configuration
 * starts discovery, fa_meta_matches()): its endpoints save the discovery,
 * so that a new token costs one request, as a refresh does.  0 when there
 * is none to use (meta then empty).
 */
static int
stored_session(fhirauth *h, struct fa_meta *meta)
{
    char *data = NULL;
    size_t len = 0;
    int usable;

    memset(meta, 0, sizeof(*meta));
    /* Every process of the real uid may write the metadata.  A caller
     * that trusts only the system configuration, or a set-id program
     * (more privilege than its user, SECURITY.md), must not send the
     * client's credential to a token endpoint the user chose: it asks
     * discovery, as a root logout does (revoke_by_discovery, login.c). */
    if ((h->flags & FHIRAUTH_OPEN_SYSTEM_ONLY) != 0 || getuid() != geteuid()
        || getgid() != getegid())
        return 0;
    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                   NULL, NULL)
        != FHIRAUTH_OK)
        return 0;
    usable = fa_meta_decode(data, len, meta, NULL) == FHIRAUTH_OK;
    fa_secret_free_len(data, len);
    if (usable && fa_meta_is_service(meta) && fa_meta_matches(meta, &h->cfg))
        return 1;
    if (usable)
        fa_meta_free(meta);
    return 0;
}

/*
 * A new service session: the endpoints from discovery (or the
 * configuration alone) and where that started, the client, the scope
 * asked for, and the mark of a service session.  ep is taken over
 * (emptied).
 */
static fhirauth_rc
new_session(fhirauth *h, struct fa_endpoints *ep, struct fa_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    meta->ep = *ep;
    memset(ep, 0, sizeof(*ep));
    meta->client_id = fa_strdup(h->cfg.client_id);
    meta->scope = fa_strdup(h->cfg.scope);
    meta->grant = strdup(FA_META_SERVICE_GRANT);
    meta->login_at = (long long) time(NULL);
    if ((h->cfg.client_id != NULL && meta->client_id == NULL)
        || (h->cfg.scope != NULL && meta->scope == NULL) || meta->grant == NULL
        || fa_meta_note_discovery(meta, &h->cfg) != 0)
        return fa_nomem(&h->err);
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_service_request(fhirauth *h, struct fa_token_response *ret,
                   struct fa_meta *ret_meta, int *ret_new)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_endpoints ep;
    struct fa_meta meta;
    struct fa_token_response resp;
    char oerr[64];
    int stored;
    fhirauth_rc rc;

    memset(&ep, 0, sizeof(ep));
    memset(&resp, 0, sizeof(resp));
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (ops->client_credentials_grant == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_UNSUPPORTED,
                       "the network module has no client_credentials grant");
    stored = stored_session(h, &meta);
    if (stored) {
        if (fa_endpoints_apply_config(&meta.ep, &h->cfg) != 0) {
            rc = fa_nomem(&h->err);
            goto fail;
        }
    } else {
        rc = ops->discover(&ctx, &ep, &h->err);
        if (rc == FHIRAUTH_OK)
            rc = new_session(h, &ep, &meta);
        fa_endpoints_free(&ep);
        if (rc != FHIRAUTH_OK)
            goto fail;
    }
    oerr[0] = '\0';
    rc = ops->client_credentials_grant(&ctx, &meta.ep, &resp, oerr,
                                       sizeof(oerr), &h->err);
    if (rc != FHIRAUTH_OK)
        goto fail; /* a refusal leaves the keyring as it was */
    /* RFC 6749 §4.4.3: a refresh token SHOULD NOT come; one that does is
     * not kept (a new token costs the same one request) and not revoked
     * (nobody holds it). */
    fa_secret_free(resp.refresh_token);
    resp.refresh_token = NULL;
    resp.refresh_expires_in = -1;
    /* RFC 6749 §5.1: no scope in the answer is the scope asked for,
     * which is this configuration's (it may have changed since). */
    if (resp.scope == NULL && h->cfg.scope != NULL
        && (resp.scope = strdup(h->cfg.scope)) == NULL) {
        rc = fa_nomem(&h->err);
        goto fail;
    }
    if (!stored) {
        /* Whatever the profile held before (a user's session, from before
         * its grant changed) is replaced: never a refresh token or a DPoP
         * key beside metadata of another session. */
        (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                            NULL);
        (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP, NULL);
    }
    *ret = resp;
    *ret_meta = meta;
    *ret_new = !stored;
    return FHIRAUTH_OK;
fail:
    fa_token_response_free(&resp);
    fa_meta_free(&meta);
    return rc;
}
