/* http.c - the network module's libcurl wrapper.
 *
 * One easy handle per request, configured the same way every time: HTTPS
 * only, peer and host verified, connect and total timeouts, no signals,
 * answers capped in the write callback, proxies as the configuration says,
 * no redirects (but up to three to the same https origin for discovery
 * documents and JWKS, each hop on the same handle under the same rules and
 * the same timeout).  Secrets we hand to libcurl (the form body, the
 * Authorization header) stay in our own buffers where we can, and libcurl's
 * copies of header lines are wiped before they are freed.  libcurl's
 * internal send buffer and OpenSSL's record buffers cannot be wiped from
 * here. */
#include "autoconf.h"
#include "http.h"
#include "cachetime.h"
#include "credfile.h"

#include <curl/curl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FA_TIMEOUT_DEFAULT 30L
#define FA_CONNECT_TIMEOUT_MAX 10L
/* Longest form body we build: the largest token we could have been sent,
 * percent-encoded, fits. */
#define FA_FORM_MAX (4 * FA_HTTP_MAX_BODY)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result = CURLE_FAILED_INIT;

/* The freshness headers of the answer (cachetime.h).  Cache-Control
 * lines are joined; a value that does not fit is marked, and a marked
 * Cache-Control means "do not store". */
#define FA_CC_MAX 1024
#define FA_HDR_MAX 64
struct fresh_headers {
    char cache_control[FA_CC_MAX];
    size_t cclen;
    int cc_overflow;
    int has_cc;
    char expires[FA_HDR_MAX];
    char date[FA_HDR_MAX];
    char age[FA_HDR_MAX];
    char dpop_nonce[FA_DPOP_NONCE_MAX + 1];
};

/* Per-transfer state for the write and header callbacks. */
struct transfer {
    struct fa_buf *body;
    int overflow;
    int nomem;
    struct fresh_headers fh;
};

/*
 * libcurl is initialised once per process and never cleaned up: the host
 * (sshd, a desktop program) may use libcurl or OpenSSL itself, and
 * curl_global_cleanup would pull them out from under it.
 */
static void
global_init(void)
{
    init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Copy text that came from libcurl or a server into a message: printable
 * ASCII only, trailing newline dropped, capped by the buffer. */
static void
clean_copy(char *dst, size_t len, const char *src)
{
    size_t i;

    if (len == 0)
        return;
    for (i = 0; src[i] != '\0' && i + 1 < len && i < 300; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[i] = (c >= 0x20 && c <= 0x7e) ? (char) c : ' ';
    }
    while (i > 0 && dst[i - 1] == ' ')
        i--;
    dst[i] = '\0';
}

/*
 * SSLKEYLOGFILE.  Debian 12's libcurl 7.88.1 (OpenSSL flavour) honours it:
 * the library contains the string and SSL_CTX_set_keylog_callback, and
 * lib/vtls/keylog.c has no build switch.  curl_global_init reads the
 * variable with plain getenv (not secure_getenv) and fopen()s the named
 * file for appending; every later TLS handshake in the process writes its
 * secrets there.  Two defences:
 *  - in a PAM stack (system_only) we refuse to initialise libcurl at all
 *    when the variable is set: in su or sudo the environment is the
 *    caller's, and libcurl would create or append to any file the caller
 *    names, as root.  getenv (not secure_getenv) is deliberate here: we
 *    must see exactly what libcurl will see, and secure_getenv would hide
 *    the variable precisely in the setuid case that matters.
 *  - on every handle, ssl_ctx_cb removes the keylog callback, so even a
 *    process whose libcurl already opened a key log (the host's choice,
 *    or the CLI run with the variable set) never logs our sessions' keys.
 */
static fhirauth_rc
net_init(const struct fa_net_ctx *ctx, struct fa_err *e)
{
    if (ctx->system_only && getenv("SSLKEYLOGFILE") != NULL) {
        return fa_fail(
            e, FHIRAUTH_ERR_CONFIG,
            "SSLKEYLOGFILE is set in the environment: "
            "refusing to use TLS from a PAM stack (libcurl would write "
            "TLS secrets to that file)");
    }
    if (pthread_once(&init_once, global_init) != 0
        || init_result != CURLE_OK) {
        return fa_fail(e, FHIRAUTH_ERR_MODULE, "cannot initialise libcurl: %s",
                       curl_easy_strerror(init_result));
    }
    return FHIRAUTH_OK;
}

static CURLcode
ssl_ctx_cb(CURL *curl, void *sslctx, void *parm)
{
    (void) curl;
    (void) parm;
    SSL_CTX_set_keylog_callback(sslctx, NULL);
    return CURLE_OK;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    struct fa_buf *b = t->body;
    size_t n = size * nmemb; /* size is always 1 */

    /* The cap is checked here because libcurl 7.88's MAXFILESIZE only
     * catches bodies whose length is announced.  Returning less than n
     * makes libcurl stop with CURLE_WRITE_ERROR. */
    if (n > b->max || b->len > b->max - n) {
        t->overflow = 1;
        return 0;
    }
    if (fa_buf_append(b, p, n) != 0) {
        t->nomem = 1;
        return 0;
    }
    return n;
}

/* Is the header line [p, p+n) named name (case-insensitive)?  *val and
 * *vlen get the value without surrounding whitespace and the line end. */
static int
header_is(const char *p, size_t n, const char *name, const char **val,
          size_t *vlen)
{
    size_t nl = strlen(name);

    if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return 0;
    p += nl + 1;
    n -= nl + 1;
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0
           && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '
               || p[n - 1] == '\t'))
        n--;
    *val = p;
    *vlen = n;
    return 1;
}

/* A value into one of the small fixed fields ("" when it does not fit:
 * an unreadable date is read as "expired", the safe side). */
static void
keep_value(char *dst, size_t dstlen, const char *v, size_t n)
{
    if (n >= dstlen)
        n = 0;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/*
 * libcurl hands us every header line, including those of a proxy's
 * CONNECT answer and of 1xx answers: a status line starts the record
 * again, so only the final answer's headers count.
 */
static size_t
header_cb(char *p, size_t size, size_t nitems, void *userdata)
{
    struct transfer *t = userdata;
    struct fresh_headers *fh = &t->fh;
    size_t n = size * nitems; /* size is always 1 */
    const char *v;
    size_t vlen;

    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        memset(fh, 0, sizeof(*fh));
    } else if (header_is(p, n, "cache-control", &v, &vlen)) {
        fh->has_cc = 1;
        if (fh->cclen + vlen + 3 > sizeof(fh->cache_control)) {
            fh->cc_overflow = 1;
        } else {
            if (fh->cclen > 0) {
                memcpy(fh->cache_control + fh->cclen, ", ", 2);
                fh->cclen += 2;
            }
            memcpy(fh->cache_control + fh->cclen, v, vlen);
            fh->cclen += vlen;
            fh->cache_control[fh->cclen] = '\0';
        }
    } else if (header_is(p, n, "expires", &v, &vlen)) {
        keep_value(fh->expires, sizeof(fh->expires), v, vlen);
        if (fh->expires[0] == '\0')
            fa_strlcpy(fh->expires, "-", sizeof(fh->expires));
    } else if (header_is(p, n, "date", &v, &vlen)) {
        keep_value(fh->date, sizeof(fh->date), v, vlen);
    } else if (header_is(p, n, "age", &v, &vlen)) {
        keep_value(fh->age, sizeof(fh->age), v, vlen);
    } else if (header_is(p, n, "dpop-nonce", &v, &vlen)) {
        /* A value that is no nonce is dropped, as if none had come. */
        if (fa_dpop_nonce_fit(v, vlen))
            keep_value(fh->dpop_nonce, sizeof(fh->dpop_nonce), v, vlen);
        else
            fh->dpop_nonce[0] = '\0';
    }
    return n;
}

/* How long the answer may be reused, from the headers kept above. */
static long
answer_lifetime(const struct fresh_headers *fh)
{
    struct fa_cache_headers h;

    if (fh->cc_overflow)
        return 0;
    h.cache_control = fh->has_cc ? fh->cache_control : NULL;
    h.expires = fh->expires[0] != '\0' ? fh->expires : NULL;
    h.date = fh->date[0] != '\0' ? fh->date : NULL;
    h.age = fh->age[0] != '\0' ? fh->age : NULL;
    return fa_cache_lifetime(&h, (long long) time(NULL));
}

void
fa_http_host(const char *url, char *buf, size_t len)
{
    CURLU *u;
    char *host = NULL, *port = NULL;
    char tmp[300];

    if (len == 0)
        return;
    fa_strlcpy(buf, "the server", len);
    if (url == NULL || (u = curl_url()) == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
            == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        /* CURLUPART_PORT without CURLU_DEFAULT_PORT: only an explicit
         * port comes back. */
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            fa_err(tmp, sizeof(tmp), "%s:%s", host, port);
        else
            fa_err(tmp, sizeof(tmp), "%s", host);
        clean_copy(buf, len, tmp);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* A URL for a message: scheme, host, port and path; userinfo, query and
 * fragment dropped (they may carry a code or token). */
static void
clean_url(const char *url, char *buf, size_t len)
{
    char *clean = NULL;
    CURLU *u;

    fa_strlcpy(buf, "(no Location)", len);
    if (url == NULL || (u = curl_url()) == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
            == CURLUE_OK
        && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK)
        clean_copy(buf, len, clean);
    else
        fa_strlcpy(buf, "(an unparsable Location)", len);
    curl_free(clean);
    curl_url_cleanup(u);
}

/* The parts of an absolute URL that decide its origin (curl_free'd). */
struct origin {
    char *scheme, *host, *port, *user, *password;
};

static void
origin_free(struct origin *o)
{
    curl_free(o->scheme);
    curl_free(o->host);
    curl_free(o->port);
    curl_free(o->user);
    curl_free(o->password);
    memset(o, 0, sizeof(*o));
}

/* 0, or -1 when url is not an absolute URL. */
static int
origin_of(const char *url, struct origin *o)
{
    CURLU *u;
    int ret = -1;

    memset(o, 0, sizeof(*o));
    if (url == NULL || (u = curl_url()) == NULL)
        return -1;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
            == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK) {
        /* Absent parts stay NULL (file:/// has no host).
         * CURLU_DEFAULT_PORT: https://h and https://h:443 are one origin.
         * An unknown scheme has no default port: it is refused as "not
         * https" before ports matter. */
        (void) curl_url_get(u, CURLUPART_HOST, &o->host, 0);
        (void) curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT);
        (void) curl_url_get(u, CURLUPART_USER, &o->user, 0);
        (void) curl_url_get(u, CURLUPART_PASSWORD, &o->password, 0);
        ret = 0;
    }
    curl_url_cleanup(u);
    if (ret != 0)
        origin_free(o);
    return ret;
}

enum fa_redir_check
fa_http_redirect_check(const char *from, const char *to)
{
    struct origin a, b;
    enum fa_redir_check rc;

    if (origin_of(from, &a) != 0)
        return FA_REDIR_BAD_URL;
    if (origin_of(to, &b) != 0) {
        origin_free(&a);
        return FA_REDIR_BAD_URL;
    }
    if (strcasecmp(b.scheme, "https") != 0
        || strcasecmp(a.scheme, "https") != 0)
        rc = FA_REDIR_NOT_HTTPS;
    else if (a.host == NULL || b.host == NULL || a.host[0] == '\0'
             || b.host[0] == '\0')
        rc = FA_REDIR_BAD_URL;
    else if (b.user != NULL || b.password != NULL)
        /* libcurl would turn them into Basic credentials. */
        rc = FA_REDIR_USERINFO;
    else if (strcasecmp(a.host, b.host) != 0)
        /* Names are compared, not addresses: localhost is another host
         * than 127.0.0.1, as it is for a browser's same-origin rule. */
        rc = FA_REDIR_OTHER_HOST;
    else if (a.port == NULL || b.port == NULL || strcmp(a.port, b.port) != 0)
        rc = FA_REDIR_OTHER_PORT;
    else
        rc = FA_REDIR_OK;
    origin_free(&a);
    origin_free(&b);
    return rc;
}

const char *
fa_http_redirect_why(enum fa_redir_check c)
{
    switch (c) {
    case FA_REDIR_OK:
        return "it stays on the same origin";
    case FA_REDIR_BAD_URL:
        return "the Location is not a usable URL";
    case FA_REDIR_NOT_HTTPS:
        return "it leaves https";
    case FA_REDIR_USERINFO:
        return "it carries a user name or password";
    case FA_REDIR_OTHER_HOST:
        return "it goes to another host";
    case FA_REDIR_OTHER_PORT:
        return "it goes to another port";
    }
    return "unknown reason";
}

/* Map a failed transfer to our codes; the message names the host and
 * carries libcurl's own explanation, never a secret. */
static fhirauth_rc
transfer_error(CURLcode cc, const struct transfer *t, const char *host,
               const char *errbuf, struct fa_err *e)
{
    char why[CURL_ERROR_SIZE];

    clean_copy(why, sizeof(why),
               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    if (t->overflow || cc == CURLE_FILESIZE_EXCEEDED) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from %s larger than %d bytes", host,
                       FA_HTTP_MAX_BODY);
    }
    if (t->nomem) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    /* A switch on int: -Wswitch-enum would demand every CURLcode. */
    switch ((int) cc) {
    case CURLE_OUT_OF_MEMORY:
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return fa_fail(e, FHIRAUTH_ERR_TLS, "TLS failure with %s: %s", host,
                       why);
    case CURLE_SSL_CACERT_BADFILE:
        /* Our own ca_file or ca_path is unusable: a local mistake. */
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "cannot use the CA certificates (ca_file, "
                       "ca_path) for %s: %s",
                       host, why);
    case CURLE_UNSUPPORTED_PROTOCOL:
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "refusing to contact %s: %s (only https URLs "
                       "are allowed)",
                       host, why);
    case CURLE_URL_MALFORMAT:
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "malformed URL for %s: %s",
                       host, why);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_HTTP_RETURNED_ERROR:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "malformed answer from %s: %s", host, why);
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_PROXY:
    default:
        /* Transport trouble, and anything we cannot classify: the caller
         * keeps what it has and retries later, which is the safe
         * reading of an unknown failure. */
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE, "cannot reach %s: %s",
                       host, why);
    }
}

static int
add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *n = curl_slist_append(*list, line);

    if (n == NULL)
        return -1;
    *list = n;
    return 0;
}

/* curl_slist_append copied the lines; the Authorization copy is a secret. */
static void
wipe_headers(struct curl_slist *list)
{
    struct curl_slist *p;

    for (p = list; p != NULL; p = p->next)
        if (p->data != NULL)
            explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(list);
}

/* Every curl_easy_setopt result is checked: an option libcurl refuses
 * (too old, or built without it) must not silently weaken a rule. */
#define SETOPT(c, opt, val)                                     \
 do {                                                           \
  if ((cc = curl_easy_setopt((c), (opt), (val))) != CURLE_OK) { \
   optname = #opt;                                              \
   goto setopt_failed;                                          \
  }                                                             \
 } while (0)

static fhirauth_rc
configure(const struct fa_net_ctx *ctx, CURL *c, const char *url,
          struct curl_slist *hdrs, struct transfer *t, char *errbuf,
          struct fa_err *e)
{
    const struct fa_config *cfg = ctx->cfg;
    const char *optname;
    CURLcode cc;
    long timeout = cfg->timeout > 0 ? cfg->timeout : FA_TIMEOUT_DEFAULT;

    SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(c, CURLOPT_URL, url);
    SETOPT(c, CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    /* libcurl never follows a redirect itself: a token request must never
     * be replayed to another place, and the GETs of metadata that may
     * follow one (fa_http_get_metadata) do it hop by hop in perform(),
     * after checking the target's origin. */
    SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(c, CURLOPT_MAXREDIRS, 0L);
    SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    SETOPT(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    /* ca_file and ca_path replace the system trust store rather than add
     * to it: setting one clears libcurl's compiled-in default for the
     * other, so a private CA configured for the AS is the only anchor. */
    if (cfg->ca_file != NULL || cfg->ca_path != NULL) {
        SETOPT(c, CURLOPT_CAINFO, cfg->ca_file);
        SETOPT(c, CURLOPT_CAPATH, cfg->ca_path);
    }
    SETOPT(c, CURLOPT_CONNECTTIMEOUT,
           timeout < FA_CONNECT_TIMEOUT_MAX ? timeout
                                            : FA_CONNECT_TIMEOUT_MAX);
    SETOPT(c, CURLOPT_TIMEOUT, timeout);
    /* Threaded resolver timeouts without SIGALRM: we run inside hosts
     * whose signal handling is theirs. */
    SETOPT(c, CURLOPT_NOSIGNAL, 1L);
    SETOPT(c, CURLOPT_USERAGENT, "pam_fhir/" PACKAGE_VERSION);
    SETOPT(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) FA_HTTP_MAX_BODY);
    SETOPT(c, CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(c, CURLOPT_WRITEDATA, t);
    SETOPT(c, CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(c, CURLOPT_HEADERDATA, t);
    SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
    /* Proxies.  An empty CURLOPT_PROXY disables the proxy, environment
     * variables included; an empty CURLOPT_NOPROXY stops no_proxy from the
     * environment from bypassing a configured proxy.  Without a proxy key
     * and outside PAM, libcurl reads http(s)_proxy/no_proxy as curl does. */
    if (cfg->proxy != NULL && strcmp(cfg->proxy, "none") != 0) {
        SETOPT(c, CURLOPT_PROXY, cfg->proxy);
        if (ctx->system_only)
            SETOPT(c, CURLOPT_NOPROXY, "");
    } else if (cfg->proxy != NULL || ctx->system_only) {
        SETOPT(c, CURLOPT_PROXY, "");
    }
    return FHIRAUTH_OK;

setopt_failed:
    /* Most likely a libcurl older than 7.85 (CURLOPT_PROTOCOLS_STR). */
    return fa_fail(e,
                   cc == CURLE_OUT_OF_MEMORY ? FHIRAUTH_ERR_NOMEM
                                             : FHIRAUTH_ERR_MODULE,
                   "libcurl %s refused %s: %s",
                   curl_version_info(CURLVERSION_NOW)->version, optname,
                   curl_easy_strerror(cc));
}

/* The URL as libcurl writes it, without its fragment (which is never
 * sent): what "visited before" compares.  NULL when it cannot be
 * parsed or on a lack of memory; curl_free. */
static char *
normal_url(const char *url)
{
    CURLU *u;
    char *ret = NULL;

    if (url == NULL || (u = curl_url()) == NULL)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
            == CURLUE_OK
        && curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &ret, 0) != CURLUE_OK)
        ret = NULL;
    curl_url_cleanup(u);
    return ret;
}

/* Milliseconds since start (CLOCK_MONOTONIC). */
static long long
elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (long long) (now.tv_sec - start->tv_sec) * 1000
        + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Where one transfer of a request stands across its redirects. */
struct hops {
    int max;                               /* redirects allowed (0: none) */
    int n;                                 /* followed so far */
    char *seen[FA_HTTP_MAX_REDIRECTS + 1]; /* normal_url of each hop */
};

/*
 * A 3xx answer to the URL `current` (the first one was `first`): may the
 * request go on to where it points?  FHIRAUTH_OK with *next (curl_free)
 * the absolute target, or FHIRAUTH_ERR_PROTOCOL with a message naming
 * the redirect and saying why it is refused.  libcurl resolves a
 * relative Location against the URL that answered (RFC 3986 §5) for
 * CURLINFO_REDIRECT_URL even when it does not follow.
 */
static fhirauth_rc
judge_redirect(CURL *c, long status, const char *first, struct hops *h,
               const char *host, char **next, struct fa_err *e)
{
    char *loc = NULL, *norm;
    char where[256];
    enum fa_redir_check chk;
    int i;

    *next = NULL;
    if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK)
        loc = NULL;
    clean_url(loc, where, sizeof(where));
    if (h->max == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "unexpected redirect from %s to %s (HTTP %ld; "
                       "redirects are never followed for this request)",
                       host, where, status);
    }
    if (loc == NULL
        || (status != 301 && status != 302 && status != 303 && status != 307
            && status != 308)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "unexpected HTTP %ld from %s%s", status, host,
                       loc == NULL ? " (a redirect without a Location)" : "");
    }
    chk = fa_http_redirect_check(first, loc);
    if (chk != FA_REDIR_OK) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "refusing the redirect from %s to %s (HTTP "
                       "%ld): %s; only redirects to the same https origin are "
                       "followed",
                       host, where, status, fa_http_redirect_why(chk));
    }
    norm = normal_url(loc);
    if (norm == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "refusing the redirect from %s to %s (HTTP "
                       "%ld): %s",
                       host, where, status,
                       fa_http_redirect_why(FA_REDIR_BAD_URL));
    }
    for (i = 0; i <= h->n && h->seen[i] != NULL; i++) {
        if (strcmp(h->seen[i], norm) == 0) {
            curl_free(norm);
            return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                           "refusing the redirect from %s to %s (HTTP "
                           "%ld): a redirect loop",
                           host, where, status);
        }
    }
    if (h->n >= h->max) {
        curl_free(norm);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "refusing the redirect from %s to %s (HTTP "
                       "%ld): more than %d redirects",
                       host, where, status, h->max);
    }
    h->n++;
    h->seen[h->n] = norm;
    *next = norm;
    return FHIRAUTH_OK;
}

static fhirauth_rc
perform(const struct fa_net_ctx *ctx, const char *url, const char *form,
        size_t formlen, const char *authorization, const char *dpop,
        int max_redirects, struct fa_http_resp *resp, struct fa_err *e)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    struct transfer t;
    struct hops h;
    struct timespec start;
    char errbuf[CURL_ERROR_SIZE];
    char host[256];
    const char *optname;
    char *next;
    CURLcode cc;
    fhirauth_rc rc;
    long status = 0, timeout;
    long long left;
    int i;

    resp->status = 0;
    resp->lifetime = 0;
    resp->dpop_nonce[0] = '\0';
    fa_buf_init(&resp->body, FA_HTTP_MAX_BODY);
    memset(&h, 0, sizeof(h));
    h.max = max_redirects < 0                   ? 0
        : max_redirects > FA_HTTP_MAX_REDIRECTS ? FA_HTTP_MAX_REDIRECTS
                                                : max_redirects;
    fa_http_host(url, host, sizeof(host));
    if (ctx == NULL || ctx->cfg == NULL || url == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "no configuration or URL for the request");
    }
    timeout = ctx->cfg->timeout > 0 ? ctx->cfg->timeout : FA_TIMEOUT_DEFAULT;
    rc = net_init(ctx, e);
    if (rc != FHIRAUTH_OK)
        return rc;

    errbuf[0] = '\0';
    t.body = &resp->body;
    t.overflow = 0;
    t.nomem = 0;
    memset(&t.fh, 0, sizeof(t.fh));
    if (add_header(&hdrs, "Accept: application/json") != 0
        || (form != NULL
            && (add_header(&hdrs,
                           "Content-Type: "
                           "application/x-www-form-urlencoded")
                    != 0
                /* No "Expect: 100-continue" wait on larger bodies. */
                || add_header(&hdrs, "Expect:") != 0))
        || (authorization != NULL && add_header(&hdrs, authorization) != 0)
        || (dpop != NULL && add_header(&hdrs, dpop) != 0)) {
        rc = FHIRAUTH_ERR_NOMEM;
        fa_err_set(e, rc, "out of memory");
        goto out;
    }
    if (h.max > 0 && (h.seen[0] = normal_url(url)) == NULL) {
        rc = FHIRAUTH_ERR_CONFIG;
        fa_err_set(e, rc, "malformed URL for %s", host);
        goto out;
    }
    c = curl_easy_init();
    if (c == NULL) {
        rc = FHIRAUTH_ERR_NOMEM;
        fa_err_set(e, rc, "cannot create a libcurl handle");
        goto out;
    }
    rc = configure(ctx, c, url, hdrs, &t, errbuf, e);
    if (rc != FHIRAUTH_OK)
        goto out;
    if (form != NULL) {
        /* POSTFIELDS (not COPYPOSTFIELDS): libcurl reads our buffer, which
         * the caller wipes, instead of keeping a copy we cannot wipe. */
        SETOPT(c, CURLOPT_POST, 1L);
        SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) formlen);
        SETOPT(c, CURLOPT_POSTFIELDS, form);
    } else {
        SETOPT(c, CURLOPT_HTTPGET, 1L);
    }

    if (clock_gettime(CLOCK_MONOTONIC, &start) != 0)
        memset(&start, 0, sizeof(start));
    for (;;) {
        cc = curl_easy_perform(c);
        if (cc != CURLE_OK) {
            rc = transfer_error(cc, &t, host, errbuf, e);
            goto out;
        }
        if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK
            || status < 100 || status > 599) {
            rc = FHIRAUTH_ERR_PROTOCOL;
            fa_err_set(e, rc, "no valid HTTP status from %s", host);
            goto out;
        }
        if (status < 300 || status > 399)
            break;
        rc = judge_redirect(c, status, url, &h, host, &next, e);
        if (rc != FHIRAUTH_OK)
            goto out;
        /* The next hop on the same handle, so every option set above
         * holds for it too (https only, verification, CA, proxies, the
         * body cap); the time left of the one timeout bounds it all. */
        left = (long long) timeout * 1000 - elapsed_ms(&start);
        if (left <= 0) {
            rc = FHIRAUTH_ERR_UNREACHABLE;
            fa_err_set(e, rc,
                       "cannot reach %s: timed out after a "
                       "redirect",
                       host);
            goto out;
        }
        SETOPT(c, CURLOPT_URL, next);
        SETOPT(c, CURLOPT_TIMEOUT_MS, (long) left);
        SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS,
               left < FA_CONNECT_TIMEOUT_MAX * 1000L
                   ? (long) left
                   : FA_CONNECT_TIMEOUT_MAX * 1000L);
        /* The redirect's own body and headers are not the answer. */
        fa_buf_wipe(&resp->body);
        fa_buf_init(&resp->body, FA_HTTP_MAX_BODY);
        t.overflow = 0;
        t.nomem = 0;
        memset(&t.fh, 0, sizeof(t.fh));
        errbuf[0] = '\0';
    }
    resp->status = status;
    resp->lifetime = answer_lifetime(&t.fh);
    fa_strlcpy(resp->dpop_nonce, t.fh.dpop_nonce, sizeof(resp->dpop_nonce));
    rc = FHIRAUTH_OK;
    goto out;

setopt_failed:
    rc = fa_fail(e,
                 cc == CURLE_OUT_OF_MEMORY ? FHIRAUTH_ERR_NOMEM
                                           : FHIRAUTH_ERR_MODULE,
                 "libcurl refused %s: %s", optname, curl_easy_strerror(cc));
out:
    if (c != NULL)
        curl_easy_cleanup(c);
    wipe_headers(hdrs);
    for (i = 0; i <= FA_HTTP_MAX_REDIRECTS; i++)
        curl_free(h.seen[i]);
    if (rc != FHIRAUTH_OK)
        fa_buf_wipe(&resp->body);
    return rc;
}

fhirauth_rc
fa_http_get(const struct fa_net_ctx *ctx, const char *url,
            struct fa_http_resp *resp, struct fa_err *e)
{
    return perform(ctx, url, NULL, 0, NULL, NULL, 0, resp, e);
}

fhirauth_rc
fa_http_get_metadata(const struct fa_net_ctx *ctx, const char *url,
                     struct fa_http_resp *resp, struct fa_err *e)
{
    return perform(ctx, url, NULL, 0, NULL, NULL, FA_HTTP_MAX_REDIRECTS, resp,
                   e);
}

fhirauth_rc
fa_http_get_auth(const struct fa_net_ctx *ctx, const char *url,
                 const char *authorization, struct fa_http_resp *resp,
                 struct fa_err *e)
{
    return perform(ctx, url, NULL, 0, authorization, NULL, 0, resp, e);
}

fhirauth_rc
fa_http_post_form(const struct fa_net_ctx *ctx, const char *url,
                  const char *form, size_t formlen, const char *authorization,
                  struct fa_http_resp *resp, struct fa_err *e)
{
    if (form == NULL) {
        resp->status = 0;
        resp->lifetime = 0;
        resp->dpop_nonce[0] = '\0';
        fa_buf_init(&resp->body, FA_HTTP_MAX_BODY);
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "no form body to send");
    }
    /* Never a redirect: a token, revocation or device request must not
     * be replayed anywhere else. */
    return perform(ctx, url, form, formlen, authorization, NULL, 0, resp, e);
}

fhirauth_rc
fa_http_send_dpop(const struct fa_net_ctx *ctx, const char *url,
                  const char *form, size_t formlen, const char *authorization,
                  const char *dpop, struct fa_http_resp *resp,
                  struct fa_err *e)
{
    return perform(ctx, url, form, formlen, authorization, dpop, 0, resp, e);
}

void
fa_http_resp_free(struct fa_http_resp *r)
{
    if (r == NULL)
        return;
    fa_buf_wipe(&r->body);
    r->status = 0;
    r->lifetime = 0;
    r->dpop_nonce[0] = '\0';
}

void
fa_form_init(struct fa_form *f)
{
    fa_buf_init(&f->buf, FA_FORM_MAX);
    f->failed = 0;
}

/* Percent-encode a secret and free libcurl's copy after wiping it. */
static char *
escape(const char *s)
{
    size_t n = strlen(s);

    if (n > INT_MAX)
        return NULL;
    /* The handle argument is ignored since libcurl 7.82. */
    return curl_easy_escape(NULL, s, (int) n);
}

static void
escape_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    curl_free(s);
}

void
fa_form_add(struct fa_form *f, const char *name, const char *value)
{
    char *ev;

    if (f->failed)
        return;
    if (name == NULL || value == NULL || (ev = escape(value)) == NULL) {
        f->failed = 1;
        return;
    }
    /* Names are our own constants and need no encoding. */
    if ((f->buf.len > 0 && fa_buf_append(&f->buf, "&", 1) != 0)
        || fa_buf_append(&f->buf, name, strlen(name)) != 0
        || fa_buf_append(&f->buf, "=", 1) != 0
        || fa_buf_append(&f->buf, ev, strlen(ev)) != 0)
        f->failed = 1;
    escape_free(ev);
}

void
fa_form_wipe(struct fa_form *f)
{
    fa_buf_wipe(&f->buf);
    f->failed = 0;
}

fhirauth_rc
fa_http_read_secret(const char *path, char **ret, struct fa_err *e)
{
    char *buf;
    size_t len, i;
    fhirauth_rc rc;

    rc = fa_credfile_read("client_secret_file", path, FA_SECRET_MAX, &buf,
                          &len, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    /* RFC 6749 Appendix A.2: client-secret = *VSCHAR.  Anything else
     * (a second line, a NUL) means the wrong file or a broken one. */
    for (i = 0; i < len; i++)
        if ((unsigned char) buf[i] < 0x20 || (unsigned char) buf[i] > 0x7e)
            break;
    if (len == 0 || i < len) {
        fa_secret_free_len(buf, FA_CREDFILE_SIZE(FA_SECRET_MAX));
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "client_secret_file %s must hold one line of "
                       "printable characters",
                       path);
    }
    buf[len] = '\0';
    *ret = buf;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_http_basic_auth(const char *client_id, const char *secret, char **ret,
                   struct fa_err *e)
{
    static const char prefix[] = "Authorization: Basic ";
    char *eid = NULL, *esec = NULL, *header = NULL;
    struct fa_buf plain;
    size_t b64len;
    fhirauth_rc rc = FHIRAUTH_ERR_NOMEM;

    fa_buf_init(&plain, FA_FORM_MAX);
    if (client_id == NULL || secret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "client authentication needs client_id and a "
                       "secret");
    }
    /* RFC 6749 §2.3.1: both are form-urlencoded before base64, so a ':'
     * in the client_id cannot shift the split. */
    eid = escape(client_id);
    esec = escape(secret);
    if (eid == NULL || esec == NULL
        || fa_buf_append(&plain, eid, strlen(eid)) != 0
        || fa_buf_append(&plain, ":", 1) != 0
        || fa_buf_append(&plain, esec, strlen(esec)) != 0
        || plain.len > INT_MAX / 2)
        goto out;
    b64len = 4 * ((plain.len + 2) / 3);
    header = malloc(sizeof(prefix) + b64len + 1);
    if (header == NULL)
        goto out;
    memcpy(header, prefix, sizeof(prefix) - 1);
    if (EVP_EncodeBlock((unsigned char *) header + sizeof(prefix) - 1,
                        (const unsigned char *) plain.data, (int) plain.len)
        != (int) b64len) {
        fa_secret_free_len(header, sizeof(prefix) + b64len + 1);
        header = NULL;
        rc = FHIRAUTH_ERR_INTERNAL;
        fa_err_set(e, rc, "base64 encoding failed");
        goto out_noerr;
    }
    *ret = header;
    rc = FHIRAUTH_OK;
    goto out_noerr;
out:
    rc = fa_nomem(e);
out_noerr:
    escape_free(eid);
    escape_free(esec);
    fa_buf_wipe(&plain);
    return rc;
}
