/* http.h - the network module's libcurl wrapper: HTTPS only, verified
 * peers, timeouts, capped bodies, proxies as configured; no redirects,
 * except same-origin ones on the GETs of metadata (discovery, JWKS). */
#ifndef FHIRAUTH_HTTP_H
#define FHIRAUTH_HTTP_H

#include <stddef.h>

#include "fhirauth.h"
#include "net.h"
#include "util.h"

#pragma GCC visibility push(hidden)

/* An answer: the status, the body (wiped by fa_http_resp_free) and how
 * long it may be reused, from its Cache-Control, Expires, Date and Age
 * headers (fa_cache_lifetime, cachetime.h; 0: not at all). */
struct fa_http_resp {
    long status;
    struct fa_buf body;
    long lifetime;
    /* Its DPoP-Nonce (RFC 9449 §8), when one that fa_dpop_nonce_fit
     * takes came; else "". */
    char dpop_nonce[FA_DPOP_NONCE_MAX + 1];
};
void fa_http_resp_free(struct fa_http_resp *r);

/*
 * GET url (Accept: application/json).  FHIRAUTH_OK whenever the server
 * answered with a status other than 3xx (the caller judges the status);
 * a redirect is FHIRAUTH_ERR_PROTOCOL, transport failures are
 * FHIRAUTH_ERR_UNREACHABLE or FHIRAUTH_ERR_TLS.  resp is initialised here
 * and must be freed with fa_http_resp_free whatever the result.
 */
fhirauth_rc fa_http_get(const struct fa_net_ctx *ctx, const char *url,
                        struct fa_http_resp *resp, struct fa_err *e);
/* The same with a complete Authorization header line (a secret, wiped
 * after the transfer): the UserInfo request. */
fhirauth_rc fa_http_get_auth(const struct fa_net_ctx *ctx, const char *url,
                             const char *authorization,
                             struct fa_http_resp *resp, struct fa_err *e);

/* A request of a DPoP-bound session: a POST of form (or a GET when form
 * is NULL) with an Authorization header line (may be NULL) and a DPoP
 * header line ("DPoP: proof"), both secrets wiped after the transfer; no
 * redirects. */
fhirauth_rc fa_http_send_dpop(const struct fa_net_ctx *ctx, const char *url,
                              const char *form, size_t formlen,
                              const char *authorization, const char *dpop,
                              struct fa_http_resp *resp, struct fa_err *e);

/* Most redirects fa_http_get_metadata follows for one document. */
#define FA_HTTP_MAX_REDIRECTS 3

/*
 * GET a metadata document: a discovery document (OpenID Connect, RFC 8414,
 * SMART) or a JWKS.  As fa_http_get, except that up to
 * FA_HTTP_MAX_REDIRECTS redirects (301, 302, 303, 307, 308) are followed
 * when each target has the origin of url (https, same host, same port;
 * relative Location values resolved against the URL that answered), has
 * no userinfo and was not visited before.  Every hop runs under the same
 * rules as the first (https only, verified peer, body cap, proxies) and
 * all of them within the one configured timeout.  Any other redirect is
 * FHIRAUTH_ERR_PROTOCOL with a message that names it and says why.  The
 * caller still checks what it got (the issuer of a discovery document)
 * and keys any cache by url, never by where the document was found.
 * Never use this for token, revocation, device or userinfo requests.
 */
fhirauth_rc fa_http_get_metadata(const struct fa_net_ctx *ctx, const char *url,
                                 struct fa_http_resp *resp, struct fa_err *e);

/* Is a redirect from `from` to `to` (absolute URLs) one that
 * fa_http_get_metadata may follow?  FA_REDIR_OK when to is https and has
 * from's origin (RFC 6454: scheme, host, port; the default port 443
 * written or not) and no userinfo; otherwise the first reason that
 * applies.  Pure (libcurl's URL parser, no network): unit-tested. */
enum fa_redir_check {
    FA_REDIR_OK = 0,
    FA_REDIR_BAD_URL,    /* either URL cannot be parsed */
    FA_REDIR_NOT_HTTPS,  /* to is not https (http://, or worse) */
    FA_REDIR_USERINFO,   /* to carries user:password@ */
    FA_REDIR_OTHER_HOST, /* another host (localhost is not 127.0.0.1) */
    FA_REDIR_OTHER_PORT, /* same host, another port */
};
enum fa_redir_check fa_http_redirect_check(const char *from, const char *to);
/* Why, for messages ("it leaves https", ...). */
const char *fa_http_redirect_why(enum fa_redir_check c);

/*
 * POST an application/x-www-form-urlencoded body.  authorization, when
 * non-NULL, is a complete header line ("Authorization: Basic ..."), a
 * secret: libcurl's copy is wiped after the transfer.
 */
fhirauth_rc fa_http_post_form(const struct fa_net_ctx *ctx, const char *url,
                              const char *form, size_t formlen,
                              const char *authorization,
                              struct fa_http_resp *resp, struct fa_err *e);

/* A form body under construction (it holds secrets: wiped). */
struct fa_form {
    struct fa_buf buf;
    int failed; /* an add failed: the form must not be sent */
};
void fa_form_init(struct fa_form *f);
/* Append name=value, the value form-urlencoded.  Failure is remembered
 * in f->failed, so a series of adds is checked once. */
void fa_form_add(struct fa_form *f, const char *name, const char *value);
void fa_form_wipe(struct fa_form *f);

/* A client secret is a short line; anything bigger is the wrong file. */
#define FA_SECRET_MAX 4096
/*
 * Read the client secret from path with fa_credfile_read()'s checks
 * (credfile.h; at most FA_SECRET_MAX bytes), one trailing newline (LF or
 * CRLF) dropped; what is left must be one or more printable ASCII
 * characters (RFC 6749 VSCHAR).  *ret is freed with fa_secret_free.
 * FHIRAUTH_ERR_CONFIG when missing, unreadable, failing a check or empty.
 */
fhirauth_rc fa_http_read_secret(const char *path, char **ret,
                                struct fa_err *e);

/*
 * "Authorization: Basic base64(urlenc(client_id):urlenc(secret))", the
 * RFC 6749 §2.3.1 encoding.  *ret is freed with fa_secret_free.
 */
fhirauth_rc fa_http_basic_auth(const char *client_id, const char *secret,
                               char **ret, struct fa_err *e);

/* The host (and port) of url for messages, into buf; "the server" when it
 * cannot be parsed. */
void fa_http_host(const char *url, char *buf, size_t len);

#pragma GCC visibility pop

#endif
