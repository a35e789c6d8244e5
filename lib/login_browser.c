/* login_browser.c - fhirauth_login_browser(): authorization code + PKCE
 * through the network module, as the grant step of fa_login_run(). */
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

/* A browser login's arguments and its nonce. */
struct browser_login {
    const fhirauth_browser_io *io;
    char nonce[2 * NONCE_BYTES + 1];
};

static fhirauth_rc
browser_ready(fhirauth *h, const struct fa_net_ops *ops, void *arg)
{
    struct browser_login *a = arg;

    if (ops->browser_login == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_UNSUPPORTED,
                       "this build cannot do "
                       "the browser flow");
    if (make_nonce(a->nonce, sizeof(a->nonce)) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INTERNAL, "no random numbers");
    return FHIRAUTH_OK;
}

static fhirauth_rc
browser_grant(fhirauth *h, const struct fa_net_ops *ops,
              const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
              void *arg, struct fa_grant_result *out)
{
    struct browser_login *a = arg;
    struct fa_browser_io nio;
    char oerr[64];
    fhirauth_rc rc;

    if (ep->authorization_endpoint == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_UNSUPPORTED,
                       "the server offers no "
                       "authorization endpoint");
    nio.open_url = a->io->open_url;
    nio.read_redirect = a->io->read_redirect;
    nio.arg = a->io->arg;
    nio.wait_seconds = BROWSER_WAIT_SECONDS;
    oerr[0] = '\0';
    rc = ops->browser_login(ctx, ep, &nio, a->nonce, &out->resp, oerr,
                            sizeof(oerr), &h->err);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        rc = FHIRAUTH_ERR_DENIED; /* invalid_grant: a bad or used code */
    out->nonce = a->nonce;
    return rc;
}

fhirauth_rc
fhirauth_login_browser(fhirauth *h, const fhirauth_browser_io *io)
{
    static const struct fa_grant_step step = { browser_ready, browser_grant };
    struct browser_login a;
    fhirauth_rc rc;

    if (h == NULL || io == NULL || io->open_url == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    a.io = io;
    a.nonce[0] = '\0';
    rc = fa_login_run(h, &step, &a);
    explicit_bzero(a.nonce, sizeof(a.nonce));
    return rc;
}
