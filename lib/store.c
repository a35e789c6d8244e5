/* store.c - storing a new session for the real uid: under the refresh
 * lock, all of it or none of it, then revoking (best effort) the refresh
 * token of the session it replaced.  Every login ends here, at once
 * (login.c) or after the PAM module's identity check (pending.c). */
#include "autoconf.h"

#include <string.h>

#include "keystore.h"
#include "lock.h"
#include "store.h"
#include "token.h"
#include "util.h"

void
fa_revoke_replaced(const struct fa_net_ops *ops, const struct fa_net_ctx *ctx,
                   const struct fa_endpoints *ep, const char *token)
{
    /* Best effort: what went wrong is of no use to anyone. */
    if (ep->revocation_endpoint != NULL)
        (void) ops->revoke(ctx, ep, token, "refresh_token", NULL);
}

/* The old session's refresh token, if it came from the same issuer and
 * differs from the new one (only then is revoking it safe). */
static char *
replaced_refresh(fhirauth *h, const struct fa_meta *fresh, size_t *ret_len)
{
    char *data = NULL, *old = NULL;
    size_t len = 0;
    struct fa_meta meta;

    *ret_len = 0;
    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                   NULL, NULL)
        != FHIRAUTH_OK)
        return NULL;
    if (fa_meta_decode(data, len, &meta, NULL) != FHIRAUTH_OK) {
        fa_secret_free_len(data, len);
        return NULL;
    }
    fa_secret_free_len(data, len);
    if (meta.ep.issuer != NULL && fresh->ep.issuer != NULL
        && strcmp(meta.ep.issuer, fresh->ep.issuer) == 0)
        (void) fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH, &old,
                          ret_len, NULL, NULL);
    fa_meta_free(&meta);
    return old;
}

fhirauth_rc
fa_store_session(fhirauth *h, const struct fa_token_response *resp,
                 struct fa_meta *meta, time_t now)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    char *old = NULL;
    char saved[FA_DETAIL_MAX];
    size_t oldlen = 0;
    fhirauth_rc rc;
    int fd, dropped = 0;

    rc = fa_take_lock(h, &fd);
    if (rc != FHIRAUTH_OK)
        return rc;
    old = replaced_refresh(h, meta, &oldlen);
    if (resp->refresh_token == NULL)
        (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                            NULL);
    fa_err_clear(&h->err);
    rc = fa_save_tokens(h, resp, meta, FA_SAVE_META | FA_SAVE_LOGIN, now, NULL,
                        &dropped);
    fa_lock_release(fd);
    fa_strlcpy(saved, h->err.msg, sizeof(saved));
    if (rc != FHIRAUTH_OK) {
        /* Tokens we do not keep must not stay live at the AS: the new
         * refresh token, and the old one when its keys are gone too
         * (best effort). */
        if ((resp->refresh_token != NULL || (dropped && old != NULL))
            && fa_handle_net(h, &ops, &ctx) == FHIRAUTH_OK) {
            if (resp->refresh_token != NULL)
                fa_revoke_replaced(ops, &ctx, &meta->ep, resp->refresh_token);
            if (dropped && old != NULL)
                fa_revoke_replaced(ops, &ctx, &meta->ep, old);
        }
        if (dropped)
            fa_err_set(&h->err, rc, "%s; nothing of the session was kept",
                       saved);
        else
            fa_strlcpy(h->err.msg, saved, sizeof(h->err.msg));
    } else if (old != NULL
               && (resp->refresh_token == NULL
                   || strcmp(old, resp->refresh_token) != 0)) {
        /* Best effort: a module that cannot load costs only this. */
        if (fa_handle_net(h, &ops, &ctx) == FHIRAUTH_OK)
            fa_revoke_replaced(ops, &ctx, &meta->ep, old);
        /* Keep a warning about the quota, drop the module's message. */
        fa_strlcpy(h->err.msg, saved, sizeof(h->err.msg));
    }
    fa_secret_free_len(old, oldlen);
    return rc;
}
