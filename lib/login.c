/* login.c - starting a session (password grant), ending it (revocation,
 * RFC 7009) and describing it. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dpop.h"
#include "keystore.h"
#include "lock.h"
#include "oauth.h"
#include "pending.h"
#include "store.h"
#include "token.h"
#include "util.h"

/* Move the endpoints found by discovery into the metadata. */
static void
take_endpoints(struct fa_meta *meta, struct fa_endpoints *ep)
{
    meta->ep = *ep;
    memset(ep, 0, sizeof(*ep));
}

/* Verify the id_token, if the answer has one, and take who logged in from
 * it.  Without an id_token the session records only what was typed.  With
 * ret_claims the verified claims' JSON text is handed back (NULL when
 * there was nothing verified). */
static fhirauth_rc
identify(fhirauth *h, const struct fa_net_ops *ops,
         const struct fa_net_ctx *ctx, const struct fa_token_response *resp,
         const char *nonce, struct fa_meta *meta, char **ret_claims)
{
    char *text = NULL;
    json_object *claims;
    fhirauth_rc rc;

    /* A module without verification leaves the id_token unused: its
     * claims are trusted only once verified.  Some servers issue none
     * (the password grant, or no openid scope): the identity then comes
     * from UserInfo, unless the site insists on a signed one. */
    if (resp->id_token == NULL || ops->verify_id_token == NULL) {
        if (h->cfg.require_id_token)
            return fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                           "the server issued no "
                           "id_token (require_id_token = yes; the scope "
                           "must include openid)");
        return FHIRAUTH_OK;
    }
    rc = ops->verify_id_token(ctx, &meta->ep, resp->id_token, nonce, &text,
                              &h->err);
    if (rc != FHIRAUTH_OK)
        return rc;
    claims = json_tokener_parse(text);
    if (claims == NULL) {
        free(text);
        return fa_fail(&h->err, FHIRAUTH_ERR_PROTOCOL,
                       "unreadable id_token claims");
    }
    /* What is kept of the claims is shown by status and the env and json
     * formats: through the launch context's filter (printable ASCII, else
     * dropped).  The subject is who logged in: without a usable one the
     * login is refused. */
    rc = fa_json_shown_string(claims, "sub", &meta->subject);
    if (rc == FHIRAUTH_OK && meta->username == NULL
        && h->cfg.username_claim != NULL)
        rc = fa_json_shown_string(claims, h->cfg.username_claim,
                                  &meta->username);
    if (rc == FHIRAUTH_OK && meta->fhir_user == NULL)
        rc = fa_json_shown_string(claims, "fhirUser", &meta->fhir_user);
    json_object_put(claims);
    if (rc != FHIRAUTH_OK) {
        free(text);
        return fa_fail(&h->err, rc, "out of memory");
    }
    if (meta->subject == NULL) {
        free(text);
        return fa_fail(&h->err, FHIRAUTH_ERR_PROTOCOL,
                       "the id_token has no sub "
                       "(or one that is not printable ASCII)");
    }
    if (ret_claims != NULL)
        *ret_claims = text;
    else
        free(text);
    return FHIRAUTH_OK;
}

/* The first half of every login's end: the session metadata (endpoints
 * taken over from ep, client, scope, who logged in) and the verified
 * identity.  On failure the answer's refresh token is revoked. */
static fhirauth_rc
build_session(fhirauth *h, const struct fa_net_ops *ops,
              const struct fa_net_ctx *ctx, struct fa_endpoints *ep,
              const struct fa_token_response *resp, const char *username,
              const char *nonce, struct fa_meta *meta, char **ret_claims)
{
    fhirauth_rc rc;

    memset(meta, 0, sizeof(*meta));
    take_endpoints(meta, ep);
    meta->client_id = fa_strdup(h->cfg.client_id);
    meta->scope = fa_strdup(h->cfg.scope);
    meta->username = fa_strdup(username);
    meta->login_at = (long long) time(NULL);
    if (fa_dpop_note_nonce(h, meta) < 0
        || fa_meta_note_discovery(meta, &h->cfg) != 0
        || (h->cfg.client_id != NULL && meta->client_id == NULL)
        || (h->cfg.scope != NULL && meta->scope == NULL)
        || (username != NULL && meta->username == NULL))
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    rc = identify(h, ops, ctx, resp, nonce, meta, ret_claims);
    if (rc != FHIRAUTH_OK) {
        /* Tokens for an identity we refused must not stay live at the AS
         * either (best effort; the refresh token ends the grant). */
        if (resp->refresh_token != NULL)
            fa_revoke_replaced(ops, ctx, &meta->ep, resp->refresh_token);
    }
    return rc;
}

fhirauth_rc
fa_finish_login(fhirauth *h, const struct fa_net_ops *ops,
                const struct fa_net_ctx *ctx, struct fa_endpoints *ep,
                const struct fa_token_response *resp, const char *username,
                const char *nonce)
{
    struct fa_meta meta;
    char *claims = NULL;
    int defer = (h->flags & FHIRAUTH_OPEN_DEFER_STORE) != 0;
    fhirauth_rc rc;

    if (defer)
        fa_pending_clear(h); /* a failed login leaves nothing pending */
    rc = build_session(h, ops, ctx, ep, resp, username, nonce, &meta,
                       defer ? &claims : NULL);
    if (rc != FHIRAUTH_OK)
        goto out;
    if (defer) {
        /* Nothing stored: the PAM module checks the identity, then
         * stashes or stores the session as the user. */
        rc = fa_pending_keep(h, resp, &meta, claims);
        claims = NULL;
        goto out;
    }
    rc = fa_store_session(h, resp, &meta, time(NULL));
out:
    free(claims);
    fa_meta_free(&meta);
    return rc;
}

static fhirauth_rc
login_run(fhirauth *h, const struct fa_grant_step *step, void *arg)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_endpoints ep;
    struct fa_grant_result out;
    fhirauth_rc rc;

    fa_err_clear(&h->err);
    /* No user logs in to a service profile: its session would be taken
     * for a service's, or replaced by one at its next token. */
    if (h->cfg.grant == FA_GRANT_CLIENT_CREDENTIALS)
        return fa_fail(&h->err, FHIRAUTH_ERR_CONFIG,
                       "profile %s is a service profile (grant = "
                       "client_credentials): nobody logs in with it, its "
                       "tokens are obtained when asked for",
                       h->cfg.profile);
    memset(&ep, 0, sizeof(ep));
    memset(&out, 0, sizeof(out));
    rc = fa_dpop_login_key(h);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (step->ready != NULL) {
        rc = step->ready(h, ops, arg);
        if (rc != FHIRAUTH_OK)
            return rc;
    }
    rc = ops->discover(&ctx, &ep, &h->err);
    if (rc != FHIRAUTH_OK)
        goto out;
    rc = step->grant(h, ops, &ctx, &ep, arg, &out);
    if (rc == FHIRAUTH_OK)
        rc = fa_finish_login(h, ops, &ctx, &ep, &out.resp, out.username,
                             out.nonce);
out:
    fa_endpoints_free(&ep);
    fa_token_response_free(&out.resp);
    return rc;
}

fhirauth_rc
fa_login_run(fhirauth *h, const struct fa_grant_step *step, void *arg)
{
    fhirauth_rc rc;

    rc = login_run(h, step, arg);
    /* The new session's private key stays in memory for this one call,
     * whichever way it ends (SECURITY.md). */
    fa_dpop_forget(h);
    return rc;
}

/* The password grant's credentials. */
struct password_login {
    const char *username;
    const char *password;
};

static fhirauth_rc
password_grant(fhirauth *h, const struct fa_net_ops *ops,
               const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
               void *arg, struct fa_grant_result *out)
{
    const struct password_login *a = arg;
    char oerr[64];
    fhirauth_rc rc;

    oerr[0] = '\0';
    rc = ops->password_grant(ctx, ep, a->username, a->password, &out->resp,
                             oerr, sizeof(oerr), &h->err);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        rc = FHIRAUTH_ERR_DENIED; /* invalid_grant here: bad password */
    out->username = a->username;
    return rc;
}

fhirauth_rc
fhirauth_login_password(fhirauth *h, const char *username,
                        const char *password)
{
    static const struct fa_grant_step step = { NULL, password_grant };
    struct password_login a;

    if (h == NULL || username == NULL || password == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    a.username = username;
    a.password = password;
    return fa_login_run(h, &step, &a);
}

/* The session's metadata, with the configured endpoint overrides; 1 when
 * there is one. */
static int
logout_read_meta(fhirauth *h, struct fa_meta *meta)
{
    char *data = NULL;
    size_t len = 0;
    int have_meta;

    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                   NULL, NULL)
        != FHIRAUTH_OK)
        return 0;
    have_meta = fa_meta_decode(data, len, meta, NULL) == FHIRAUTH_OK;
    fa_secret_free_len(data, len);
    /* Out of memory here only loses the configured overrides. */
    if (have_meta)
        (void) fa_endpoints_apply_config(&meta->ep, &h->cfg);
    return have_meta;
}

/* The token to revoke, a copy for fa_secret_free_len: the refresh token,
 * else the cached access token (*ret_hint says which); *ret_token stays
 * NULL when there is neither. */
static void
logout_read_token(fhirauth *h, char **ret_token, size_t *ret_len,
                  const char **ret_hint)
{
    char *data = NULL;
    size_t len = 0;
    const char *access;
    time_t expiry;

    *ret_hint = "refresh_token";
    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH, ret_token,
                   ret_len, NULL, NULL)
        == FHIRAUTH_OK)
        return;
    /* No refresh token: revoke the access token, if any. */
    *ret_hint = "access_token";
    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, &data, &len,
                   NULL, NULL)
        == FHIRAUTH_OK) {
        if (fa_access_decode(data, &expiry, &access) == 0) {
            *ret_token = strdup(access);
            *ret_len = *ret_token != NULL ? strlen(*ret_token) : 0;
        }
        fa_secret_free_len(data, len);
    }
}

/* Revoke at the endpoint the configuration and discovery give: the
 * metadata is the user's to write, and a root caller does not trust it.
 * 1 when revoked, else 0 and why says why not. */
static int
revoke_by_discovery(fhirauth *h, const char *token, const char *hint,
                    struct fa_err *why)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_endpoints sys_ep;
    int revoked = 0;

    if (fa_handle_net(h, &ops, &ctx) != FHIRAUTH_OK) {
        *why = h->err;
        return 0;
    }
    memset(&sys_ep, 0, sizeof(sys_ep));
    if (ops->discover(&ctx, &sys_ep, why) == FHIRAUTH_OK) {
        if (sys_ep.revocation_endpoint == NULL)
            fa_err_set(why, FHIRAUTH_ERR_UNSUPPORTED,
                       "the server has no revocation endpoint");
        else if (ops->revoke(&ctx, &sys_ep, token, hint, why) == FHIRAUTH_OK)
            revoked = 1;
    } /* else why says what discovery found wrong */
    fa_endpoints_free(&sys_ep);
    return revoked;
}

/* Revoke token at the server (RFC 7009), best effort; meta NULL when the
 * session has no metadata.  1 when revoked, else 0 and why says why not. */
static int
logout_revoke(fhirauth *h, const struct fa_meta *meta, const char *token,
              const char *hint, struct fa_err *why)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;

    if (token == NULL) {
        fa_err_set(why, FHIRAUTH_ERR_LOGIN_NEEDED, "no token to revoke");
        return 0;
    }
    if ((h->flags & FHIRAUTH_OPEN_SYSTEM_ONLY) != 0)
        return revoke_by_discovery(h, token, hint, why);
    if (meta == NULL || meta->ep.revocation_endpoint == NULL) {
        fa_err_set(why, FHIRAUTH_ERR_UNSUPPORTED,
                   "the server has no revocation endpoint");
        return 0;
    }
    if (fa_handle_net(h, &ops, &ctx) != FHIRAUTH_OK) {
        *why = h->err;
        return 0;
    }
    return ops->revoke(&ctx, &meta->ep, token, hint, why) == FHIRAUTH_OK;
}

/* Unlink the profile's keys (the DPoP key too); the first failure, with
 * its detail. */
static fhirauth_rc
logout_unlink(fhirauth *h)
{
    enum fa_key k;
    fhirauth_rc rc, urc = FHIRAUTH_OK;

    for (k = FA_KEY_REFRESH; k <= FA_KEY_LAST; k++) {
        rc = fa_ks_unlink(h->cfg.keyring, h->cfg.profile, k, &h->err);
        if (rc != FHIRAUTH_OK && urc == FHIRAUTH_OK)
            urc = rc;
    }
    return urc;
}

fhirauth_rc
fhirauth_logout(fhirauth *h, int *ret_revoked)
{
    struct fa_meta meta;
    char *token = NULL;
    size_t tlen = 0;
    const char *hint;
    struct fa_err why;
    int revoked, have_meta, fd;
    fhirauth_rc rc;

    if (h == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    fa_err_clear(&why);
    memset(&meta, 0, sizeof(meta));
    rc = fa_take_lock(h, &fd);
    if (rc != FHIRAUTH_OK)
        return rc;
    have_meta = logout_read_meta(h, &meta);
    logout_read_token(h, &token, &tlen, &hint);
    if (!have_meta && token == NULL) {
        fa_lock_release(fd);
        return fa_fail(&h->err, FHIRAUTH_ERR_LOGIN_NEEDED,
                       "no session for profile %s", h->cfg.profile);
    }
    revoked = logout_revoke(h, have_meta ? &meta : NULL, token, hint, &why);
    /* Unlink whatever the server said: the user asked for the keys to go. */
    rc = logout_unlink(h);
    fa_lock_release(fd);
    fa_secret_free_len(token, tlen);
    if (have_meta)
        fa_meta_free(&meta);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (!revoked)
        fa_warn(&h->err,
                "warning: not revoked at the server (%s); "
                "the local keys are removed",
                why.msg);
    else
        fa_err_clear(&h->err);
    if (ret_revoked != NULL)
        *ret_revoked = revoked;
    return FHIRAUTH_OK;
}

static int
add_string(json_object *o, const char *name, const char *value)
{
    json_object *v;

    if (value == NULL)
        return 0;
    v = json_object_new_string(value);
    if (v == NULL)
        return -1;
    return json_object_object_add(o, name, v);
}

static int
add_int(json_object *o, const char *name, long long value)
{
    json_object *v = json_object_new_int64(value);

    if (v == NULL)
        return -1;
    return json_object_object_add(o, name, v);
}

fhirauth_rc
fhirauth_status_json(fhirauth *h, char **ret_json)
{
    struct fa_meta meta;
    char *data = NULL;
    size_t len = 0;
    enum fa_anchor where;
    const char *token;
    time_t expiry = 0;
    int has_refresh, bad = 0;
    json_object *o;
    const char *text;
    char *out = NULL;
    fhirauth_rc rc;

    if (h == NULL || ret_json == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                    &where, &h->err);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        return fa_fail(&h->err, rc, "no session for profile %s",
                       h->cfg.profile);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_meta_decode(data, len, &meta, &h->err);
    fa_secret_free_len(data, len);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, &data, &len,
                   NULL, NULL)
        == FHIRAUTH_OK) {
        if (fa_access_decode(data, &expiry, &token) != 0)
            expiry = 0;
        fa_secret_free_len(data, len);
    }
    has_refresh = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                             &data, &len, NULL, NULL)
        == FHIRAUTH_OK;
    if (has_refresh)
        fa_secret_free_len(data, len);

    o = json_object_new_object();
    if (o == NULL) {
        fa_meta_free(&meta);
        return FHIRAUTH_ERR_NOMEM;
    }
    bad |= add_string(o, "profile", h->cfg.profile);
    bad |= add_string(o, "keyring", fa_anchor_name(where));
    /* A service session has no user and no refresh token: say which. */
    bad |= add_string(o, "session",
                      fa_meta_is_service(&meta) ? "service" : "user");
    bad |= add_string(o, "grant", meta.grant);
    bad |= add_string(o, "issuer", meta.ep.issuer);
    bad |= add_string(o, "client_id", meta.client_id);
    bad |= add_string(o, "username", meta.username);
    bad |= add_string(o, "subject", meta.subject);
    bad |= add_string(o, "scope", meta.scope);
    bad |= add_string(o, "fhir_base", h->cfg.fhir_base);
    bad |= add_int(o, "login_at", meta.login_at);
    if (expiry > 0)
        bad |= add_int(o, "access_expires_at", (long long) expiry);
    if (meta.refresh_expires_at > 0)
        bad |= add_int(o, "refresh_expires_at", meta.refresh_expires_at);
    bad |= json_object_object_add(o, "has_refresh_token",
                                  json_object_new_boolean(has_refresh));
    bad |= add_string(o, "patient", meta.patient);
    bad |= add_string(o, "encounter", meta.encounter);
    bad |= add_string(o, "fhirUser", meta.fhir_user);
    bad |= add_string(o, "tenant", meta.tenant);
    if (!bad) {
        text = json_object_to_json_string_ext(
            o,
            JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (text != NULL)
            out = strdup(text);
    }
    json_object_put(o);
    fa_meta_free(&meta);
    if (out == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    *ret_json = out;
    return FHIRAUTH_OK;
}
