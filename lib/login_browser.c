/* login_browser.c - fhirauth_login_browser(): authorization code + PKCE
 * through the network module, then the common end of every login. */
#include "autoconf.h"

#include <string.h>
#include <sys/random.h>

#include "token.h"
#include "util.h"

/* How long the user has to finish logging in at the browser. */
#define BROWSER_WAIT_SECONDS 300
#define NONCE_BYTES 16

/* A nonce of 128 random bits, hex (OIDC Core §3.1.2.1), from the kernel:
 * the fast-path library carries no OpenSSL. */
static int
make_nonce(char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[NONCE_BYTES];
    size_t i;

    if (len < 2 * NONCE_BYTES + 1
        || getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
        return -1;
    for (i = 0; i < sizeof(raw); i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[2 * NONCE_BYTES] = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

fhirauth_rc
fhirauth_login_browser(fhirauth *h, const fhirauth_browser_io *io)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_endpoints ep;
    struct fa_token_response resp;
    struct fa_browser_io nio;
    char nonce[2 * NONCE_BYTES + 1];
    char oerr[64];
    fhirauth_rc rc;

    if (h == NULL || io == NULL || io->open_url == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_clear_detail(h);
    memset(&ep, 0, sizeof(ep));
    memset(&resp, 0, sizeof(resp));
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (ops->browser_login == NULL)
        return fa_fail(h, FHIRAUTH_ERR_UNSUPPORTED, "this build cannot do "
                       "the browser flow");
    if (make_nonce(nonce, sizeof(nonce)) != 0)
        return fa_fail(h, FHIRAUTH_ERR_INTERNAL, "no random numbers");
    rc = ops->discover(&ctx, &ep, h->detail, sizeof(h->detail));
    if (rc != FHIRAUTH_OK)
        goto out;
    if (ep.authorization_endpoint == NULL) {
        rc = fa_fail(h, FHIRAUTH_ERR_UNSUPPORTED, "the server offers no "
                     "authorization endpoint");
        goto out;
    }
    nio.open_url = io->open_url;
    nio.read_redirect = io->read_redirect;
    nio.arg = io->arg;
    nio.wait_seconds = BROWSER_WAIT_SECONDS;
    oerr[0] = '\0';
    rc = ops->browser_login(&ctx, &ep, &nio, nonce, &resp, oerr,
                            sizeof(oerr), h->detail, sizeof(h->detail));
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        rc = FHIRAUTH_ERR_DENIED;   /* invalid_grant: a bad or used code */
    if (rc == FHIRAUTH_OK)
        rc = fa_finish_login(h, ops, &ctx, &ep, &resp, NULL, nonce);
out:
    explicit_bzero(nonce, sizeof(nonce));
    fa_endpoints_free(&ep);
    fa_token_response_free(&resp);
    return rc;
}
