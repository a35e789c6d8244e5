/* grants.c - requests to the token endpoint (password, refresh and
 * client_credentials grants, RFC 6749 §4.3, §6 and §4.4), to the revocation endpoint (RFC 7009) and to the
 * UserInfo endpoint (OIDC Core §5.3).
 *
 * Every request body is application/x-www-form-urlencoded and carries
 * secrets: it is built in a struct fa_form and wiped after the call.
 * Tokens and passwords never go into a URL. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grants.h"
#include "http.h"
#include "jws.h"
#include "oauth.h"
#include "oauth_json.h"
#include "util.h"

/* RFC 7521 §4.2's name of an assertion that is a JWT (RFC 7523 §2.2). */
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* The config's client_key_alg as the signer's. */
static enum fa_sig_alg
sig_alg(enum fa_key_alg a)
{
    switch (a) {
    case FA_KEY_ALG_RS256:
        return FA_SIG_RS256;
    case FA_KEY_ALG_ES384:
        return FA_SIG_ES384;
    case FA_KEY_ALG_ES256:
        return FA_SIG_ES256;
    case FA_KEY_ALG_RS384:
        break;
    }
    return FA_SIG_RS384;
}

/*
 * private_key_jwt: a fresh assertion for this request (to url).  Its aud
 * is the token endpoint by default, wherever the assertion goes (OIDC
 * Core §9, SMART), or with client_key_aud = endpoint the URL it is posted
 * to: RFC 7523 §3 leaves to the server which values name it, and servers
 * differ at the revocation and device authorization endpoints
 * (docs/INTEROP.md).  The key file is read afresh, like a secret: a
 * replaced key takes effect at once, and the private key is held only
 * for the length of the call.
 */
static fhirauth_rc
assertion_auth(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
               const char *url, struct fa_form *form, struct fa_err *e)
{
    const struct fa_config *cfg = ctx->cfg;
    const char *aud =
        cfg->client_key_aud == FA_KEY_AUD_ENDPOINT ? url : ep->token_endpoint;
    EVP_PKEY *key = NULL;
    char *assertion = NULL;
    fhirauth_rc rc;

    if (aud == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "a client assertion needs the token endpoint (its "
                       "aud)");
    rc = fa_sign_key_load(cfg->client_key_file, sig_alg(cfg->client_key_alg),
                          &key, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_client_assertion(key, sig_alg(cfg->client_key_alg),
                             cfg->client_key_id, cfg->client_id, aud,
                             (long long) time(NULL), &assertion, e);
    EVP_PKEY_free(key);
    if (rc != FHIRAUTH_OK)
        return rc;
    fa_form_add(form, "client_id", cfg->client_id);
    fa_form_add(form, "client_assertion_type", ASSERTION_TYPE);
    fa_form_add(form, "client_assertion", assertion);
    fa_secret_free(assertion);
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_net_client_jwks(const struct fa_net_ctx *ctx, char **ret, struct fa_err *e)
{
    const struct fa_config *cfg = ctx->cfg;
    enum fa_sig_alg alg = sig_alg(cfg->client_key_alg);
    char thumb[FA_THUMBPRINT_LEN + 1];
    struct json_object *jwk = NULL, *keys = NULL, *set = NULL;
    EVP_PKEY *key = NULL;
    const char *kid = cfg->client_key_id, *text;
    fhirauth_rc rc;

    *ret = NULL;
    if (cfg->client_key_file == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "no client_key_file configured for profile %s",
                       cfg->profile != NULL ? cfg->profile : "default");
    rc = fa_sign_key_load(cfg->client_key_file, alg, &key, e);
    if (rc == FHIRAUTH_OK && kid == NULL) {
        rc = fa_sign_thumbprint(key, thumb, sizeof(thumb), e);
        kid = thumb;
    }
    if (rc == FHIRAUTH_OK)
        rc = fa_sign_public_jwk(key, fa_sig_alg_name(alg), kid, &jwk, e);
    EVP_PKEY_free(key);
    if (rc != FHIRAUTH_OK)
        return rc;
    set = json_object_new_object();
    keys = json_object_new_array();
    if (set == NULL || keys == NULL || json_object_array_add(keys, jwk) != 0) {
        json_object_put(jwk);
        json_object_put(keys);
        json_object_put(set);
        return fa_nomem(e);
    }
    if (json_object_object_add(set, "keys", keys) != 0) {
        json_object_put(keys);
        json_object_put(set);
        return fa_nomem(e);
    }
    text =
        json_object_to_json_string_ext(set,
                                       JSON_C_TO_STRING_PRETTY
                                           | JSON_C_TO_STRING_SPACED
                                           | JSON_C_TO_STRING_NOSLASHESCAPE);
    *ret = text != NULL ? strdup(text) : NULL;
    json_object_put(set);
    return *ret != NULL ? FHIRAUTH_OK : fa_nomem(e);
}

/*
 * Client authentication (RFC 6749 §2.3), as client_auth says
 * (fa_client_auth_method).  A confidential client's secret is read afresh
 * for each request (so a rotated file takes effect at once, and the
 * secret is held only for the length of the call) and sent with HTTP
 * Basic, or in the body for client_secret_post, or when client_auth is
 * unset and discovery found that the AS accepts only that.  A client with
 * a key signs an assertion (assertion_auth) for the request to url.  A
 * public client identifies itself with client_id in the body (§3.2.1).
 */
static fhirauth_rc
client_auth(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
            const char *url, struct fa_form *form, char **ret_header,
            struct fa_err *e)
{
    const struct fa_config *cfg = ctx->cfg;
    enum fa_auth_method method;
    char *secret = NULL;
    fhirauth_rc rc;

    *ret_header = NULL;
    if (cfg->client_id == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no client_id configured");
    }
    rc = fa_client_auth_method(cfg, &method, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (method == FA_METHOD_NONE) {
        fa_form_add(form, "client_id", cfg->client_id);
        return FHIRAUTH_OK;
    }
    if (method == FA_METHOD_PRIVATE_KEY_JWT)
        return assertion_auth(ctx, ep, url, form, e);
    rc = fa_http_read_secret(cfg->client_secret_file, &secret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (method == FA_METHOD_SECRET_POST
        || (method == FA_METHOD_AUTO && ep->client_auth == FA_AUTH_POST)) {
        fa_form_add(form, "client_id", cfg->client_id);
        fa_form_add(form, "client_secret", secret);
    } else {
        rc = fa_http_basic_auth(cfg->client_id, secret, ret_header, e);
    }
    fa_secret_free(secret);
    return rc;
}

/*
 * Parameters both grants send.  resource (RFC 8707) when configured.  aud
 * only when configured: SMART wants aud=<fhir_base> on the authorization
 * request, not on token requests, and servers that do not know the
 * parameter may refuse it; a deployment whose AS wants it on the token
 * request too (some do, for the password grant) sets aud explicitly.
 */
static void
audience_params(const struct fa_config *cfg, struct fa_form *form)
{
    if (cfg->resource != NULL)
        fa_form_add(form, "resource", cfg->resource);
    if (cfg->aud != NULL)
        fa_form_add(form, "aud", cfg->aud);
}

/* One try: add client authentication (and a DPoP proof), POST the form,
 * parse the answer; a DPoP-Nonce it carries becomes the session's. */
static fhirauth_rc
token_try(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
          struct fa_form *form, struct fa_token_response *ret,
          char *oauth_error, size_t oelen, struct fa_err *e)
{
    struct fa_http_resp resp;
    char *auth = NULL, *proof = NULL;
    fhirauth_rc rc;

    rc = client_auth(ctx, ep, ep->token_endpoint, form, &auth, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (form->failed) {
        fa_secret_free(auth);
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    if (ctx->dpop != NULL) {
        rc = fa_net_dpop_header(ctx->dpop, "POST", ep->token_endpoint, NULL,
                                &proof, e);
        if (rc != FHIRAUTH_OK) {
            fa_secret_free(auth);
            return rc;
        }
    }
    rc = fa_http_send_dpop(ctx, ep->token_endpoint, form->buf.data,
                           form->buf.len, auth, proof, &resp, e);
    fa_secret_free(auth);
    fa_secret_free(proof);
    if (rc == FHIRAUTH_OK) {
        (void) fa_net_dpop_nonce(ctx->dpop, resp.dpop_nonce);
        rc =
            fa_parse_token_response(resp.status, resp.body.data, resp.body.len,
                                    ret, oauth_error, oelen, e);
    }
    fa_http_resp_free(&resp);
    return rc;
}

/*
 * Add client authentication, POST the form, parse the answer.  A
 * DPoP-bound session's request carries a proof, and a use_dpop_nonce
 * answer that brought a nonce is answered by one more try with it (RFC
 * 9449 §8), its client authentication made afresh (an assertion's jti is
 * used once).  A DPoP token without a proof sent is refused: it would
 * fail at every resource server as a bearer token.
 */
static fhirauth_rc
token_request(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
              struct fa_form *form, struct fa_token_response *ret,
              char *oauth_error, size_t oelen, struct fa_err *e)
{
    char oerr[64];
    char before[FA_DPOP_NONCE_MAX + 1] = "";
    size_t base = form->buf.len;
    fhirauth_rc rc;
    int tries;

    fa_err_clear(e);
    for (tries = 0;; tries++) {
        oerr[0] = '\0';
        if (ctx->dpop != NULL)
            fa_strlcpy(before, ctx->dpop->nonce, sizeof(before));
        rc = token_try(ctx, ep, form, ret, oerr, sizeof(oerr), e);
        if (rc == FHIRAUTH_OK || tries > 0 || ctx->dpop == NULL
            || strcmp(oerr, "use_dpop_nonce") != 0
            || strcmp(before, ctx->dpop->nonce) == 0)
            break;
        /* The grant's parameters stay; the client's part is made again. */
        if (form->buf.data != NULL) {
            explicit_bzero(form->buf.data + base, form->buf.len - base);
            form->buf.len = base;
        }
        fa_err_clear(e);
    }
    if (oauth_error != NULL && oelen > 0)
        fa_strlcpy(oauth_error, oerr, oelen);
    if (rc == FHIRAUTH_OK && ctx->dpop == NULL
        && strcmp(ret->token_type, "DPoP") == 0) {
        fa_token_response_free(ret);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the server sent a DPoP token for a request without a "
                       "proof");
    }
    return rc;
}

static fhirauth_rc
check_args(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
           const void *ret, struct fa_err *e)
{
    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "token request: missing argument");
    }
    if (ep->token_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no token_endpoint known");
    }
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_net_password_grant(const struct fa_net_ctx *ctx,
                      const struct fa_endpoints *ep, const char *username,
                      const char *password, struct fa_token_response *ret,
                      char *oauth_error, size_t oelen, struct fa_err *e)
{
    struct fa_form form;
    fhirauth_rc rc;

    rc = check_args(ctx, ep, ret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (username == NULL || password == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "password grant: no username or password");
    }
    fa_form_init(&form);
    fa_form_add(&form, "grant_type", "password");
    fa_form_add(&form, "username", username);
    fa_form_add(&form, "password", password);
    if (ctx->cfg->scope != NULL)
        fa_form_add(&form, "scope", ctx->cfg->scope);
    audience_params(ctx->cfg, &form);
    rc = token_request(ctx, ep, &form, ret, oauth_error, oelen, e);
    fa_form_wipe(&form);
    return rc;
}

fhirauth_rc
fa_net_refresh_grant(const struct fa_net_ctx *ctx,
                     const struct fa_endpoints *ep, const char *refresh_token,
                     struct fa_token_response *ret, char *oauth_error,
                     size_t oelen, struct fa_err *e)
{
    struct fa_form form;
    fhirauth_rc rc;

    rc = check_args(ctx, ep, ret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (refresh_token == NULL || refresh_token[0] == '\0') {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "refresh grant: no refresh token");
    }
    fa_form_init(&form);
    fa_form_add(&form, "grant_type", "refresh_token");
    fa_form_add(&form, "refresh_token", refresh_token);
    /* No scope: RFC 6749 §6 says an omitted scope is treated as the scope
     * originally granted, which is what we want; asking again could
     * narrow it or be refused. */
    audience_params(ctx->cfg, &form);
    rc = token_request(ctx, ep, &form, ret, oauth_error, oelen, e);
    fa_form_wipe(&form);
    return rc;
}

/*
 * RFC 6749 §4.4: the client asks for a token for itself (SMART Backend
 * Services), authenticated as configured; a public client is refused
 * before anything is sent, since there is nothing to prove the request
 * with.  The scope is the configured one (system/... scopes), each time:
 * there is no earlier grant to fall back on.  invalid_grant here names no
 * grant of ours (none was presented): it is a refusal, as invalid_client
 * is, never "log in again".
 */
fhirauth_rc
fa_net_client_credentials_grant(const struct fa_net_ctx *ctx,
                                const struct fa_endpoints *ep,
                                struct fa_token_response *ret,
                                char *oauth_error, size_t oelen,
                                struct fa_err *e)
{
    enum fa_auth_method method;
    struct fa_form form;
    fhirauth_rc rc;

    rc = check_args(ctx, ep, ret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_client_auth_method(ctx->cfg, &method, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (method == FA_METHOD_NONE)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "the client_credentials grant needs a client "
                       "credential (client_key_file or client_secret_file)");
    fa_form_init(&form);
    fa_form_add(&form, "grant_type", "client_credentials");
    if (ctx->cfg->scope != NULL)
        fa_form_add(&form, "scope", ctx->cfg->scope);
    audience_params(ctx->cfg, &form);
    rc = token_request(ctx, ep, &form, ret, oauth_error, oelen, e);
    fa_form_wipe(&form);
    return rc == FHIRAUTH_ERR_LOGIN_NEEDED ? FHIRAUTH_ERR_DENIED : rc;
}

/*
 * RFC 6749 §4.1.3 with RFC 7636 §4.5: exchange an authorization code.
 * redirect_uri must be the one of the authorization request.  A used,
 * expired or foreign code, or a verifier that does not match the
 * challenge, is invalid_grant: FHIRAUTH_ERR_LOGIN_NEEDED from the parser.
 */
fhirauth_rc
fa_net_code_grant(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
                  const char *code, const char *redirect_uri,
                  const char *code_verifier, struct fa_token_response *ret,
                  char *oauth_error, size_t oelen, struct fa_err *e)
{
    struct fa_form form;
    fhirauth_rc rc;

    rc = check_args(ctx, ep, ret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (code == NULL || code[0] == '\0' || redirect_uri == NULL
        || code_verifier == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "code exchange: missing code, redirect_uri or "
                       "code_verifier");
    }
    fa_form_init(&form);
    fa_form_add(&form, "grant_type", "authorization_code");
    fa_form_add(&form, "code", code);
    fa_form_add(&form, "redirect_uri", redirect_uri);
    fa_form_add(&form, "code_verifier", code_verifier);
    audience_params(ctx->cfg, &form);
    rc = token_request(ctx, ep, &form, ret, oauth_error, oelen, e);
    fa_form_wipe(&form);
    return rc;
}

/*
 * RFC 7009.  "Revocation not supported" - no revocation_endpoint, or the
 * AS answering unsupported_token_type - is FHIRAUTH_ERR_PROTOCOL: the AS
 * cannot do what we asked, which retrying will not change (not
 * UNREACHABLE), and neither the user's credentials nor the configuration
 * are wrong (not DENIED, not CONFIG).  Callers unlink the keys anyway and
 * report that the token was not revoked.
 */
fhirauth_rc
fa_net_revoke(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
              const char *token, const char *hint, struct fa_err *e)
{
    struct fa_form form;
    struct fa_http_resp resp;
    struct fa_token_response unused;
    char *auth = NULL;
    struct fa_err why;
    char oerr[64], host[256];
    long status;
    fhirauth_rc rc;

    if (ctx == NULL || ctx->cfg == NULL || ep == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "revoke: missing argument");
    }
    if (token == NULL || token[0] == '\0') {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "revoke: no token");
    }
    if (hint != NULL && strcmp(hint, "refresh_token") != 0
        && strcmp(hint, "access_token") != 0) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "revoke: unknown token_type_hint");
    }
    fa_err_clear(e);
    if (ep->revocation_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "revocation not supported by the AS (no "
                       "revocation_endpoint)");
    }
    fa_form_init(&form);
    fa_form_add(&form, "token", token);
    if (hint != NULL)
        fa_form_add(&form, "token_type_hint", hint);
    rc = client_auth(ctx, ep, ep->revocation_endpoint, &form, &auth, e);
    if (rc == FHIRAUTH_OK && form.failed) {
        rc = fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    if (rc != FHIRAUTH_OK) {
        fa_secret_free(auth);
        fa_form_wipe(&form);
        return rc;
    }
    rc = fa_http_post_form(ctx, ep->revocation_endpoint, form.buf.data,
                           form.buf.len, auth, &resp, e);
    fa_secret_free(auth);
    fa_form_wipe(&form);
    if (rc != FHIRAUTH_OK) {
        fa_http_resp_free(&resp);
        return rc;
    }
    /* §2.2: 200 whether or not the token was valid (an unknown token is
     * not an error); other 2xx are taken the same way. */
    if (resp.status >= 200 && resp.status <= 299) {
        fa_http_resp_free(&resp);
        return FHIRAUTH_OK;
    }
    /* Errors have the token endpoint's form (§2.2.1): reuse its parser.
     * It does not touch unused unless the status is 2xx. */
    memset(&unused, 0, sizeof(unused));
    fa_err_clear(&why);
    status = resp.status;
    rc = fa_parse_token_response(status, resp.body.data, resp.body.len,
                                 &unused, oerr, sizeof(oerr), &why);
    fa_token_response_free(&unused);
    fa_http_resp_free(&resp);
    fa_http_host(ep->revocation_endpoint, host, sizeof(host));
    if (strcmp(oerr, "unsupported_token_type") == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "revocation not supported by the AS (%s)", why.msg);
    }
    /* invalid_grant is not a revocation error; whatever the AS meant by
     * it, the session is not what failed here. */
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        rc = FHIRAUTH_ERR_DENIED;
    if (oerr[0] != '\0')
        fa_err_set(e, rc, "revocation at %s: %s", host, why.msg);
    else /* the parser's words name the token endpoint: say it here */
        fa_err_set(e, rc, "revocation at %s: HTTP %ld%s", host, status,
                   rc == FHIRAUTH_ERR_UNREACHABLE ? " (server error)"
                       : rc == FHIRAUTH_ERR_DENIED
                       ? " (client authentication "
                         "failed)"
                       : " without an OAuth error");
    return rc;
}

/* The device flow (device.c) authenticates and sends its requests the way
 * the grants above do; grants.h has the contracts. */
fhirauth_rc
fa_grant_client_auth(const struct fa_net_ctx *ctx,
                     const struct fa_endpoints *ep, const char *url,
                     struct fa_form *form, char **ret_header, struct fa_err *e)
{
    return client_auth(ctx, ep, url, form, ret_header, e);
}

void
fa_grant_audience(const struct fa_config *cfg, struct fa_form *form)
{
    audience_params(cfg, form);
}

fhirauth_rc
fa_grant_token_request(const struct fa_net_ctx *ctx,
                       const struct fa_endpoints *ep, struct fa_form *form,
                       struct fa_token_response *ret, char *oauth_error,
                       size_t oelen, struct fa_err *e)
{
    return token_request(ctx, ep, form, ret, oauth_error, oelen, e);
}

/* GET url with auth, and for a DPoP-bound session a proof for token; a
 * 401 that brings a new DPoP-Nonce is tried once more with it (RFC 9449
 * §9). */
static fhirauth_rc
get_with_token(const struct fa_net_ctx *ctx, const char *url, const char *auth,
               const char *token, struct fa_http_resp *resp, struct fa_err *e)
{
    char *proof = NULL;
    fhirauth_rc rc;
    int tries;

    if (ctx->dpop == NULL)
        return fa_http_get_auth(ctx, url, auth, resp, e);
    for (tries = 0;; tries++) {
        rc = fa_net_dpop_header(ctx->dpop, "GET", url, token, &proof, e);
        if (rc != FHIRAUTH_OK) {
            resp->status = 0;
            resp->lifetime = 0;
            resp->dpop_nonce[0] = '\0';
            fa_buf_init(&resp->body, FA_HTTP_MAX_BODY);
            return rc;
        }
        rc = fa_http_send_dpop(ctx, url, NULL, 0, auth, proof, resp, e);
        fa_secret_free(proof);
        proof = NULL;
        if (rc != FHIRAUTH_OK || resp->status != 401 || tries > 0
            || !fa_net_dpop_nonce(ctx->dpop, resp->dpop_nonce))
            return rc;
        fa_http_resp_free(resp);
    }
}

/*
 * OIDC Core §5.3.1: GET the UserInfo endpoint with the new access token
 * as a bearer token (RFC 6750 §2.1, the header form: never in the URL),
 * or for a DPoP-bound session with the DPoP scheme and a proof (RFC 9449
 * §7.1).  The usual TLS rules and no redirects (http.c); the answer is
 * untrusted input, parsed and filtered by fa_parse_userinfo.
 */
fhirauth_rc
fa_net_userinfo(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
                const char *access_token, char **ret_claims, struct fa_err *e)
{
    const char *prefix = ctx != NULL && ctx->dpop != NULL
        ? "Authorization: DPoP "
        : "Authorization: Bearer ";
    struct fa_http_resp resp;
    struct fa_err why;
    char host[256];
    char *auth;
    size_t n;
    int r;
    fhirauth_rc rc;

    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || ret_claims == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "userinfo: missing argument");
    }
    if (access_token == NULL || access_token[0] == '\0') {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "userinfo: no access token");
    }
    if (ep->userinfo_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the server has no userinfo_endpoint (set "
                       "userinfo_endpoint in the configuration)");
    }
    n = strlen(prefix) + strlen(access_token) + 1;
    auth = malloc(n);
    if (auth == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    r = snprintf(auth, n, "%s%s", prefix, access_token);
    if (r < 0 || (size_t) r >= n) {
        fa_secret_free(auth);
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "userinfo: cannot build the request");
    }
    rc = get_with_token(ctx, ep->userinfo_endpoint, auth, access_token, &resp,
                        e);
    fa_secret_free(auth);
    if (rc == FHIRAUTH_OK) {
        fa_err_clear(&why);
        rc = fa_parse_userinfo(resp.status, resp.body.data, resp.body.len,
                               ret_claims, &why);
        if (rc != FHIRAUTH_OK) {
            fa_http_host(ep->userinfo_endpoint, host, sizeof(host));
            fa_err_set(e, rc, "userinfo at %s: %s", host, why.msg);
        }
    }
    fa_http_resp_free(&resp);
    return rc;
}
