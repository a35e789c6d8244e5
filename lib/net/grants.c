/* grants.c - requests to the token endpoint (password and refresh grants,
 * RFC 6749 §4.3 and §6), to the revocation endpoint (RFC 7009) and to the
 * UserInfo endpoint (OIDC Core §5.3).
 *
 * Every request body is application/x-www-form-urlencoded and carries
 * secrets: it is built in a struct fa_form and wiped after the call.
 * Tokens and passwords never go into a URL. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "http.h"
#include "oauth.h"
#include "oauth_json.h"
#include "util.h"

/*
 * Client authentication (RFC 6749 §2.3).  A client with a
 * client_secret_file is confidential: the secret is read afresh for each
 * request (so a rotated file takes effect at once, and the secret is held
 * only for the length of the call) and sent with HTTP Basic unless
 * discovery found that the AS accepts only client_secret_post.  A public
 * client identifies itself with client_id in the body (§3.2.1).
 */
static fhirauth_rc
client_auth(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
            struct fa_form *form, char **ret_header, struct fa_err *e)
{
    const struct fa_config *cfg = ctx->cfg;
    char *secret = NULL;
    fhirauth_rc rc;

    *ret_header = NULL;
    if (cfg->client_id == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no client_id configured");
    }
    if (cfg->client_secret_file == NULL) {
        fa_form_add(form, "client_id", cfg->client_id);
        return FHIRAUTH_OK;
    }
    rc = fa_http_read_secret(cfg->client_secret_file, &secret, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (ep->client_auth == FA_AUTH_POST) {
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

/* Add client authentication, POST the form, parse the answer. */
static fhirauth_rc
token_request(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
              struct fa_form *form, struct fa_token_response *ret,
              char *oauth_error, size_t oelen, struct fa_err *e)
{
    struct fa_http_resp resp;
    char *auth = NULL;
    fhirauth_rc rc;

    if (oauth_error != NULL && oelen > 0)
        oauth_error[0] = '\0';
    fa_err_clear(e);
    rc = client_auth(ctx, ep, form, &auth, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (form->failed) {
        fa_secret_free(auth);
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    rc = fa_http_post_form(ctx, ep->token_endpoint, form->buf.data,
                           form->buf.len, auth, &resp, e);
    fa_secret_free(auth);
    if (rc == FHIRAUTH_OK)
        rc =
            fa_parse_token_response(resp.status, resp.body.data, resp.body.len,
                                    ret, oauth_error, oelen, e);
    fa_http_resp_free(&resp);
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
    rc = client_auth(ctx, ep, &form, &auth, e);
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
        fa_fail(e, rc, "revocation at %s: %s", host, why.msg);
    else /* the parser's words name the token endpoint: say it here */
        fa_fail(e, rc, "revocation at %s: HTTP %ld%s", host, status,
                rc == FHIRAUTH_ERR_UNREACHABLE  ? " (server error)"
                    : rc == FHIRAUTH_ERR_DENIED ? " (client authentication "
                                                  "failed)"
                                                : " without an OAuth error");
    return rc;
}

/* The device flow (device.c) authenticates and sends its requests the way
 * the grants above do; grants.h has the contracts. */
fhirauth_rc
fa_grant_client_auth(const struct fa_net_ctx *ctx,
                     const struct fa_endpoints *ep, struct fa_form *form,
                     char **ret_header, struct fa_err *e)
{
    return client_auth(ctx, ep, form, ret_header, e);
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

/*
 * OIDC Core §5.3.1: GET the UserInfo endpoint with the new access token
 * as a bearer token (RFC 6750 §2.1, the header form: never in the URL).
 * The usual TLS rules and no redirects (http.c); the answer is untrusted
 * input, parsed and filtered by fa_parse_userinfo.
 */
fhirauth_rc
fa_net_userinfo(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
                const char *access_token, char **ret_claims, struct fa_err *e)
{
    static const char prefix[] = "Authorization: Bearer ";
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
    n = sizeof(prefix) + strlen(access_token);
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
    rc = fa_http_get_auth(ctx, ep->userinfo_endpoint, auth, &resp, e);
    fa_secret_free(auth);
    if (rc == FHIRAUTH_OK) {
        fa_err_clear(&why);
        rc = fa_parse_userinfo(resp.status, resp.body.data, resp.body.len,
                               ret_claims, &why);
        if (rc != FHIRAUTH_OK) {
            fa_http_host(ep->userinfo_endpoint, host, sizeof(host));
            fa_fail(e, rc, "userinfo at %s: %s", host, why.msg);
        }
    }
    fa_http_resp_free(&resp);
    return rc;
}
