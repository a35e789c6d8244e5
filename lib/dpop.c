/* dpop.c - the engine's side of a DPoP-bound session (dpop.h). */
#include "autoconf.h"
#include "dpop.h"

#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "keystore.h"
#include "net.h"
#include "util.h"

void
fa_dpop_forget(fhirauth *h)
{
    if (h->dpop == NULL)
        return;
    fa_secret_free_len(h->dpop->key, h->dpop->keylen);
    explicit_bzero(h->dpop, sizeof(*h->dpop));
    free(h->dpop);
    h->dpop = NULL;
}

/* A new, empty h->dpop. */
static fhirauth_rc
dpop_new(fhirauth *h)
{
    fa_dpop_forget(h);
    h->dpop = calloc(1, sizeof(*h->dpop));
    return h->dpop == NULL ? fa_nomem(&h->err) : FHIRAUTH_OK;
}

fhirauth_rc
fa_dpop_login_key(fhirauth *h)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    fhirauth_rc rc;

    fa_dpop_forget(h);
    if (!h->cfg.dpop)
        return FHIRAUTH_OK;
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (ops->dpop_keygen == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_MODULE,
                       "the network module cannot make DPoP keys");
    rc = dpop_new(h);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = ops->dpop_keygen(&h->dpop->key, &h->dpop->keylen, &h->err);
    if (rc != FHIRAUTH_OK)
        fa_dpop_forget(h);
    return rc;
}

fhirauth_rc
fa_dpop_adopt(fhirauth *h, const char *key, size_t len, const char *nonce)
{
    fhirauth_rc rc;

    rc = dpop_new(h);
    if (rc != FHIRAUTH_OK)
        return rc;
    h->dpop->key = malloc(len + 1);
    if (h->dpop->key == NULL) {
        fa_dpop_forget(h);
        return fa_nomem(&h->err);
    }
    memcpy(h->dpop->key, key, len);
    h->dpop->key[len] = '\0';
    h->dpop->keylen = len;
    if (nonce != NULL)
        fa_strlcpy(h->dpop->nonce, nonce, sizeof(h->dpop->nonce));
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_dpop_load(fhirauth *h, const struct fa_meta *meta)
{
    char *key = NULL;
    size_t len = 0;
    int bound =
        meta->token_type != NULL && strcmp(meta->token_type, "DPoP") == 0;
    fhirauth_rc rc;

    fa_dpop_forget(h);
    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP, &key, &len,
                    NULL, &h->err);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED && !bound) {
        fa_err_clear(&h->err);
        return FHIRAUTH_OK;
    }
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        return fa_fail(&h->err, rc,
                       "the session's DPoP key is gone from the keyring: "
                       "log in again");
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = dpop_new(h);
    if (rc != FHIRAUTH_OK) {
        fa_secret_free_len(key, len);
        return rc;
    }
    h->dpop->key = key;
    h->dpop->keylen = len;
    if (meta->dpop_nonce != NULL)
        fa_strlcpy(h->dpop->nonce, meta->dpop_nonce, sizeof(h->dpop->nonce));
    return FHIRAUTH_OK;
}

int
fa_dpop_note_nonce(const fhirauth *h, struct fa_meta *meta)
{
    char *copy;

    if (h->dpop == NULL || h->dpop->nonce[0] == '\0'
        || (meta->dpop_nonce != NULL
            && strcmp(meta->dpop_nonce, h->dpop->nonce) == 0))
        return 0;
    copy = strdup(h->dpop->nonce);
    if (copy == NULL)
        return -1;
    free(meta->dpop_nonce);
    meta->dpop_nonce = copy;
    return 1;
}
