/* dpop_request.c - DPoP for resource requests (RFC 9449 §7): a proof per
 * request, the resource server's nonce, what its challenge asks for, and
 * the scheme of the token in hand (fhirauth.h). */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"
#include "dpop.h"
#include "handle.h"
#include "keystore.h"
#include "lock.h"
#include "net.h"
#include "session.h"
#include "token.h"
#include "url.h"
#include "util.h"

/* The longest origin kept: scheme, host, port (handle.h). */
#define ORIGIN_MAX sizeof(((struct fhirauth *) NULL)->rs_origin)

const char *
fhirauth_token_scheme(const fhirauth *h)
{
    if (h == NULL)
        return NULL;
    return h->token_dpop ? "DPoP" : "Bearer";
}

/* The session's metadata; LOGIN_NEEDED when there is no session. */
static fhirauth_rc
read_meta(fhirauth *h, struct fa_meta *meta)
{
    char *data = NULL;
    size_t len = 0;
    fhirauth_rc rc;

    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                    NULL, &h->err);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        return fa_fail(&h->err, rc, "no session for profile %s",
                       h->cfg.profile);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_meta_decode(data, len, meta, &h->err);
    fa_secret_free_len(data, len);
    return rc;
}

fhirauth_rc
fhirauth_dpop_proof(fhirauth *h, const char *access_token, const char *method,
                    const char *url, char **ret_proof)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_meta meta;
    char origin[ORIGIN_MAX];
    const char *nonce = NULL;
    char *proof = NULL;
    fhirauth_rc rc;

    if (h == NULL || access_token == NULL || method == NULL || url == NULL
        || ret_proof == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (fa_url_origin(url, origin, sizeof(origin)) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof is made for an https URL only");
    memset(&meta, 0, sizeof(meta));
    rc = read_meta(h, &meta);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_dpop_load(h, &meta);
    if (rc == FHIRAUTH_OK && h->dpop == NULL)
        rc = fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                     "the session of profile %s is not DPoP-bound: its "
                     "tokens are sent as Bearer tokens",
                     h->cfg.profile);
    if (rc != FHIRAUTH_OK)
        goto out;
    /* This handle's own nonce is the newest it knows of; else the one
     * another process kept for the same server. */
    if (h->rs_nonce[0] != '\0' && strcmp(h->rs_origin, origin) == 0)
        nonce = h->rs_nonce;
    else if (meta.rs_origin != NULL && meta.rs_dpop_nonce != NULL
             && strcmp(meta.rs_origin, origin) == 0)
        nonce = meta.rs_dpop_nonce;
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        goto out;
    if (ops->dpop_proof == NULL) {
        rc = fa_fail(&h->err, FHIRAUTH_ERR_MODULE,
                     "the network module cannot make DPoP proofs");
        goto out;
    }
    rc = ops->dpop_proof(h->dpop, method, url, nonce, access_token, &proof,
                         &h->err);
    if (rc == FHIRAUTH_OK)
        *ret_proof = proof;
out:
    fa_dpop_forget(h);
    fa_meta_free(&meta);
    return rc;
}

/* Does meta keep nonce for origin already? */
static int
meta_has_nonce(const struct fa_meta *meta, const char *origin,
               const char *nonce)
{
    return meta->rs_origin != NULL && meta->rs_dpop_nonce != NULL
        && strcmp(meta->rs_origin, origin) == 0
        && strcmp(meta->rs_dpop_nonce, nonce) == 0;
}

/* Put origin's nonce into the session metadata, under the refresh lock,
 * which a refresh's metadata write holds. */
static fhirauth_rc
keep_nonce(fhirauth *h, const char *origin, const char *nonce)
{
    struct fa_meta meta;
    char *json = NULL, *o = NULL, *n = NULL;
    fhirauth_rc rc;
    int fd;

    rc = fa_take_lock(h, &fd);
    if (rc != FHIRAUTH_OK)
        return rc;
    memset(&meta, 0, sizeof(meta));
    rc = read_meta(h, &meta);
    if (rc != FHIRAUTH_OK || meta_has_nonce(&meta, origin, nonce))
        goto out;
    o = strdup(origin);
    n = strdup(nonce);
    if (o == NULL || n == NULL) {
        free(o);
        free(n);
        rc = fa_nomem(&h->err);
        goto out;
    }
    free(meta.rs_origin);
    free(meta.rs_dpop_nonce);
    meta.rs_origin = o;
    meta.rs_dpop_nonce = n;
    rc = fa_meta_encode(&meta, &json);
    if (rc == FHIRAUTH_OK)
        rc = fa_ks_store(h->cfg.keyring, h->cfg.profile, FA_KEY_META, json,
                         strlen(json), 0, &h->err);
    free(json);
out:
    fa_meta_free(&meta);
    fa_lock_release(fd);
    return rc;
}

fhirauth_rc
fhirauth_dpop_nonce(fhirauth *h, const char *url, const char *nonce)
{
    struct fa_meta meta;
    char origin[ORIGIN_MAX];
    char why[FA_DETAIL_MAX];
    fhirauth_rc rc;
    int kept;

    if (h == NULL || url == NULL || nonce == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (fa_url_origin(url, origin, sizeof(origin)) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP nonce is kept for an https URL only");
    if (!fa_dpop_nonce_fit(nonce, strlen(nonce)))
        return fa_fail(&h->err, FHIRAUTH_ERR_PROTOCOL,
                       "the resource server's DPoP-Nonce is not one "
                       "(RFC 9449 §8.1)");
    /* A nonce this handle or the metadata has already costs no lock: a
     * server may repeat it on every answer, and the lock may be held by
     * a refresh for a while. */
    kept =
        strcmp(h->rs_origin, origin) == 0 && strcmp(h->rs_nonce, nonce) == 0;
    fa_strlcpy(h->rs_origin, origin, sizeof(h->rs_origin));
    fa_strlcpy(h->rs_nonce, nonce, sizeof(h->rs_nonce));
    if (kept)
        return FHIRAUTH_OK;
    memset(&meta, 0, sizeof(meta));
    if (read_meta(h, &meta) == FHIRAUTH_OK) {
        kept = meta_has_nonce(&meta, origin, nonce);
        fa_meta_free(&meta);
    }
    fa_err_clear(&h->err);
    if (kept)
        return FHIRAUTH_OK;
    /* Into the metadata, so the next process's first proof carries it.
     * The handle has it whatever happens there: a retry with it goes
     * ahead, other processes ask the server again. */
    rc = keep_nonce(h, origin, nonce);
    if (rc == FHIRAUTH_OK || rc == FHIRAUTH_ERR_NOMEM)
        return rc;
    fa_strlcpy(why, h->err.msg, sizeof(why));
    fa_warn(&h->err,
            "warning: the resource server's DPoP nonce is kept by this "
            "handle only: %s",
            why[0] != '\0' ? why : fhirauth_strerror(rc));
    return FHIRAUTH_OK;
}

int
fhirauth_dpop_challenge(const char *www_authenticate)
{
    struct fa_challenges c;

    if (fa_challenges_parse(www_authenticate, &c) != 0)
        return FHIRAUTH_DPOP_NONE;
    switch (c.dpop) {
    case FA_DPOP_USE_NONCE:
        return FHIRAUTH_DPOP_USE_NONCE;
    case FA_DPOP_INVALID_PROOF:
        return FHIRAUTH_DPOP_INVALID_PROOF;
    case FA_DPOP_RETRY:
        return FHIRAUTH_DPOP_RETRY;
    case FA_DPOP_NONE:
        break;
    }
    return FHIRAUTH_DPOP_NONE;
}
