/* browser.c - the network module's browser login: the authorization code
 * grant (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and a loopback redirect
 * (RFC 8252 §7.3), as SMART App Launch's standalone launch uses it.
 *
 *   verifier, challenge, state      OpenSSL RAND_bytes, base64url
 *   127.0.0.1:PORT                  bound (and listening, unless pasting)
 *   authorization URL               handed to io->open_url
 *   the redirect                    from the listener (only one with our
 *                                   state: others get 400 and the wait
 *                                   goes on) or io->read_redirect
 *   state (constant time), iss      checked before anything else is used
 *   code -> tokens                  fa_net_code_grant (grants.c)
 *
 * The verifier, the state and the code are secrets: never logged, never
 * in a message, wiped after use.  The listener is closed on every path. */
#include "autoconf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "grants.h"
#include "http.h"
#include "loopback.h"
#include "util.h"

/* 32 random bytes: a 43-character verifier (RFC 7636 §4.1 asks 43 to
 * 128) and a state of 256 bits. */
#define RANDOM_BYTES 32
#define B64URL_LEN 43
/* What login_browser.c gives when the caller set no bound. */
#define WAIT_DEFAULT 300
/* Longest authorization URL we build. */
#define URL_MAX (16 * 1024)

/* base64url without padding (RFC 7636 Appendix A) of n <= 48 bytes. */
static int
b64url(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    unsigned char tmp[80];
    int len, i;

    if (n > 48 || outlen < 4 * ((n + 2) / 3) + 1)
        return -1;
    len = EVP_EncodeBlock(tmp, in, (int) n);
    if (len < 0)
        return -1;
    while (len > 0 && tmp[len - 1] == '=')
        len--;
    for (i = 0; i < len; i++)
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char) tmp[i];
    out[len] = '\0';
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return len;
}

/* The PKCE pair and the state. */
static int
make_secrets(char *verifier, char *challenge, char *state, size_t len)
{
    unsigned char raw[RANDOM_BYTES], digest[SHA256_DIGEST_LENGTH];
    int ok;

    ok = RAND_bytes(raw, sizeof(raw)) == 1
        && b64url(raw, sizeof(raw), verifier, len) == B64URL_LEN
        && SHA256((const unsigned char *) verifier, B64URL_LEN, digest) != NULL
        && b64url(digest, sizeof(digest), challenge, len) == B64URL_LEN
        && RAND_bytes(raw, sizeof(raw)) == 1
        && b64url(raw, sizeof(raw), state, len) == B64URL_LEN;
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok ? 0 : -1;
}

/*
 * The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core
 * §3.1.2.1, SMART App Launch).  The endpoint's own query is kept (§3.1).
 * Values are percent-encoded by libcurl through fa_form.
 */
static fhirauth_rc
auth_url(const struct fa_config *cfg, const struct fa_endpoints *ep,
         const char *redirect_uri, const char *state, const char *nonce,
         const char *challenge, struct fa_buf *url, struct fa_err *e)
{
    struct fa_form q;
    const char *scope = cfg->scope != NULL ? cfg->scope : "openid";
    /* SMART's aud names the FHIR server the token is for: an explicit
     * aud key wins (it is what the token requests send too), else
     * fhir_base. */
    const char *aud = cfg->aud != NULL ? cfg->aud : cfg->fhir_base;
    const char *ae = ep->authorization_endpoint;
    fhirauth_rc rc = FHIRAUTH_OK;

    fa_form_init(&q);
    fa_form_add(&q, "response_type", "code");
    fa_form_add(&q, "client_id", cfg->client_id);
    fa_form_add(&q, "redirect_uri", redirect_uri);
    fa_form_add(&q, "scope", scope);
    fa_form_add(&q, "state", state);
    fa_form_add(&q, "nonce", nonce);
    fa_form_add(&q, "code_challenge", challenge);
    fa_form_add(&q, "code_challenge_method", "S256");
    /* OIDC Core §11: offline_access is ignored unless the request has
     * prompt=consent, and a login without a refresh token is of little
     * use here. */
    if (fa_has_word(scope, "offline_access"))
        fa_form_add(&q, "prompt", "consent");
    if (aud != NULL)
        fa_form_add(&q, "aud", aud);
    if (cfg->resource != NULL)
        fa_form_add(&q, "resource", cfg->resource);
    fa_buf_init(url, URL_MAX);
    if (q.failed || fa_buf_append(url, ae, strlen(ae)) != 0
        || fa_buf_append(url, strchr(ae, '?') != NULL ? "&" : "?", 1) != 0
        || fa_buf_append(url, q.buf.data, q.buf.len) != 0) {
        fa_buf_wipe(url);
        rc = fa_fail(e, FHIRAUTH_ERR_NOMEM,
                     "cannot build the authorization URL (out of "
                     "memory, or longer than %d bytes)",
                     URL_MAX);
    }
    fa_form_wipe(&q);
    return rc;
}

/*
 * Judge the authorization response: state first (a response to someone
 * else's request must not even be looked at), then the issuer (RFC 9207,
 * when the AS names itself), then error or code.
 */
static fhirauth_rc
check_response(const struct fa_redirect *rd, const char *state,
               const char *issuer, char *oauth_error, size_t oelen,
               struct fa_err *e)
{
    size_t n = strlen(state);

    if (rd->state == NULL || strlen(rd->state) != n
        || CRYPTO_memcmp(rd->state, state, n) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_DENIED,
                       "state mismatch in the redirect: possible CSRF "
                       "(a response to another login?); nothing was stored");
    }
    if (rd->iss != NULL && issuer != NULL && strcmp(rd->iss, issuer) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the redirect names another issuer than %s "
                       "(RFC 9207): possible mix-up attack",
                       issuer);
    }
    if (rd->error != NULL) {
        if (oauth_error != NULL && oelen > 0)
            fa_strlcpy(oauth_error, rd->error, oelen);
        return fa_fail(e, FHIRAUTH_ERR_DENIED,
                       "the authorization server refused: %.64s%s%.200s",
                       rd->error, rd->error_description != NULL ? ": " : "",
                       rd->error_description != NULL ? rd->error_description
                                                     : "");
    }
    if (rd->code == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the redirect carries neither a code nor an "
                       "error");
    }
    return FHIRAUTH_OK;
}

/* The redirect, pasted by the user. */
static fhirauth_rc
read_pasted(const struct fa_browser_io *io, const char *redirect_uri,
            struct fa_redirect *rd, struct fa_err *e)
{
    char *pasted = io->read_redirect(io->arg);
    enum fa_lb_result r;

    if (pasted == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CANCELLED,
                       "login cancelled: no redirect address given");
    }
    r = fa_lb_parse_pasted(pasted, redirect_uri, rd, e);
    fa_secret_free(pasted);
    switch (r) {
    case FA_LB_OK:
        return FHIRAUTH_OK;
    case FA_LB_NOMEM:
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    case FA_LB_NOT_FOUND:
    case FA_LB_BAD_METHOD:
    case FA_LB_BAD_REQUEST:
    default:
        return fa_err_rc(e, FHIRAUTH_ERR_INVALID_ARGUMENT);
    }
}

fhirauth_rc
fa_net_browser_login(const struct fa_net_ctx *ctx,
                     const struct fa_endpoints *ep,
                     const struct fa_browser_io *io, const char *nonce,
                     struct fa_token_response *ret, char *oauth_error,
                     size_t oelen, struct fa_err *e)
{
    struct fa_listener l = { -1, 0 };
    struct fa_redirect rd;
    struct fa_buf url;
    struct fa_err none;
    char verifier[B64URL_LEN + 2], challenge[B64URL_LEN + 2];
    char state[B64URL_LEN + 2], redirect_uri[64];
    int conn = -1, n;
    fhirauth_rc rc;

    memset(&rd, 0, sizeof(rd));
    if (oauth_error != NULL && oelen > 0)
        oauth_error[0] = '\0';
    if (e == NULL)
        e = &none;
    fa_err_clear(e);
    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || io == NULL
        || io->open_url == NULL || nonce == NULL || ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "browser login: missing argument");
    }
    if (ep->authorization_endpoint == NULL || ep->token_endpoint == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no %s known",
                       ep->authorization_endpoint == NULL
                           ? "authorization_endpoint"
                           : "token_endpoint");
    }
    if (ctx->cfg->client_id == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no client_id configured");
    }
    if (make_secrets(verifier, challenge, state, sizeof(verifier)) != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                     "no random numbers from OpenSSL");
        goto out;
    }
    /* Pasting: the port is only reserved, see fa_lb_open. */
    rc = fa_lb_open(ctx->cfg->redirect_port, io->read_redirect == NULL, &l, e);
    if (rc != FHIRAUTH_OK)
        goto out;
    n = snprintf(redirect_uri, sizeof(redirect_uri), "http://127.0.0.1:%u%s",
                 l.port, FA_LB_PATH);
    if (n < 0 || (size_t) n >= sizeof(redirect_uri)) {
        rc = fa_fail(e, FHIRAUTH_ERR_INTERNAL, "redirect_uri too long");
        goto out;
    }
    rc =
        auth_url(ctx->cfg, ep, redirect_uri, state, nonce, challenge, &url, e);
    if (rc != FHIRAUTH_OK)
        goto out;
    n = io->open_url(url.data, io->arg);
    fa_buf_wipe(&url);
    if (n != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CANCELLED,
                     "login cancelled: the authorization URL could "
                     "not be opened");
        goto out;
    }

    if (io->read_redirect == NULL)
        rc = fa_lb_wait(&l, FA_LB_PATH, state,
                        io->wait_seconds > 0 ? io->wait_seconds : WAIT_DEFAULT,
                        &rd, &conn, e);
    else
        rc = read_pasted(io, redirect_uri, &rd, e);
    fa_lb_close(&l);
    if (rc != FHIRAUTH_OK)
        goto out;

    rc = check_response(&rd, state, ep->issuer, oauth_error, oelen, e);
    if (rc == FHIRAUTH_OK)
        rc = fa_net_code_grant(ctx, ep, rd.code, redirect_uri, verifier, ret,
                               oauth_error, oelen, e);
    /* The browser learns the outcome of the exchange, never a token. */
    if (rc == FHIRAUTH_OK)
        fa_lb_answer(conn, 1, "Logged in",
                     "You are logged in. You can close this window and go "
                     "back to the terminal.");
    else
        fa_lb_answer(conn, 0, "Login failed",
                     "The login did not complete. The terminal says why. "
                     "You can close this window.");
    conn = -1;

out:
    fa_lb_close(&l);
    fa_redirect_free(&rd);
    OPENSSL_cleanse(verifier, sizeof(verifier));
    OPENSSL_cleanse(challenge, sizeof(challenge));
    OPENSSL_cleanse(state, sizeof(state));
    return rc;
}
