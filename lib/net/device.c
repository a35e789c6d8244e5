/* device.c - the OAuth 2.0 device authorization grant (RFC 8628) in the
 * network module: the device authorization request (§3.1-3.2) and one
 * poll of the token endpoint (§3.4-3.5).  The polling loop - interval,
 * slow_down, the code's lifetime, cancelling - is the caller's
 * (lib/login_device.c, and the PAM module's conversation).
 *
 * The device_code is a bearer credential until it is used: it goes only
 * into request bodies (built in a struct fa_form and wiped), never into a
 * URL or a message, and struct fa_device_auth wipes it when freed. */
#include "autoconf.h"

#include <string.h>

#include "grants.h"
#include "http.h"
#include "oauth.h"
#include "oauth_json.h"
#include "util.h"

#define DEVICE_GRANT_TYPE "urn:ietf:params:oauth:grant-type:device_code"

/*
 * §3.1: client_id (or client authentication) and scope, plus resource
 * (RFC 8707) and aud when configured, as every token request carries
 * them.  The answer's URIs must be https (fa_parse_device_response).
 */
fhirauth_rc
fa_net_device_start(const struct fa_net_ctx *ctx,
                    const struct fa_endpoints *ep, struct fa_device_auth *ret,
                    struct fa_err *e)
{
    struct fa_form form;
    struct fa_http_resp resp;
    char *auth = NULL;
    struct fa_err why;
    char oerr[64], host[256];
    fhirauth_rc rc;

    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "device authorization: missing argument");
    }
    fa_err_clear(e);
    if (ep->device_authorization_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_UNSUPPORTED,
                       "the server offers no device authorization "
                       "endpoint");
    }
    fa_form_init(&form);
    if (ctx->cfg->scope != NULL)
        fa_form_add(&form, "scope", ctx->cfg->scope);
    fa_grant_audience(ctx->cfg, &form);
    rc = fa_grant_client_auth(ctx, ep, ep->device_authorization_endpoint,
                              &form, &auth, e);
    if (rc == FHIRAUTH_OK && form.failed) {
        rc = fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    if (rc != FHIRAUTH_OK) {
        fa_secret_free(auth);
        fa_form_wipe(&form);
        return rc;
    }
    rc = fa_http_post_form(ctx, ep->device_authorization_endpoint,
                           form.buf.data, form.buf.len, auth, &resp, e);
    fa_secret_free(auth);
    fa_form_wipe(&form);
    if (rc != FHIRAUTH_OK) {
        fa_http_resp_free(&resp);
        return rc;
    }
    fa_err_clear(&why);
    rc = fa_parse_device_response(resp.status, resp.body.data, resp.body.len,
                                  ret, oerr, sizeof(oerr), &why);
    fa_http_resp_free(&resp);
    if (rc != FHIRAUTH_OK) {
        fa_http_host(ep->device_authorization_endpoint, host, sizeof(host));
        fa_err_set(e, rc, "device authorization at %s: %s", host, why.msg);
    }
    return rc;
}

/*
 * §3.4: grant_type, device_code and client authentication, through the
 * same request code as the other grants.  The parser already reads the
 * §3.5 codes (authorization_pending, slow_down, access_denied,
 * expired_token) as FHIRAUTH_ERR_DENIED with the code in oauth_error, and
 * invalid_grant as FHIRAUTH_ERR_LOGIN_NEEDED; the two that end the login
 * get words a user understands, the server's description kept.
 */
fhirauth_rc
fa_net_device_poll(const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
                   const struct fa_device_auth *d,
                   struct fa_token_response *ret, char *oauth_error,
                   size_t oelen, struct fa_err *e)
{
    struct fa_form form;
    struct fa_err why;
    char oerr[64];
    fhirauth_rc rc;

    if (oauth_error != NULL && oelen > 0)
        oauth_error[0] = '\0';
    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || d == NULL
        || ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "device poll: missing argument");
    }
    if (ep->token_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no token_endpoint known");
    }
    if (d->device_code == NULL || d->device_code[0] == '\0') {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "device poll: no device code");
    }
    fa_form_init(&form);
    fa_form_add(&form, "grant_type", DEVICE_GRANT_TYPE);
    fa_form_add(&form, "device_code", d->device_code);
    fa_grant_audience(ctx->cfg, &form);
    fa_err_clear(&why);
    rc = fa_grant_token_request(ctx, ep, &form, ret, oerr, sizeof(oerr), &why);
    fa_form_wipe(&form);
    if (oauth_error != NULL && oelen > 0)
        fa_strlcpy(oauth_error, oerr, oelen);
    if (rc == FHIRAUTH_OK)
        return rc;
    if (strcmp(oerr, "access_denied") == 0)
        fa_err_set(e, rc,
                   "the login was denied at the authorization "
                   "server (%s)",
                   why.msg);
    else if (strcmp(oerr, "expired_token") == 0)
        fa_err_set(e, rc, "the code expired before it was approved (%s)",
                   why.msg);
    else
        fa_err_set(e, rc, "%s", why.msg);
    return rc;
}
