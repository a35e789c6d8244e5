/* loopback.c - the loopback redirect of the browser flow (RFC 8252 §7.3):
 * the listener on 127.0.0.1, a small poll() loop that reads browsers'
 * request lines, and the parsers of request lines, queries and pasted
 * URLs.
 *
 * Everything a browser sends is hostile until parsed: request lines and
 * values are capped, escapes are checked, and a parameter that matters
 * (code, state, error, iss) may appear once.  The code and state are
 * secrets: every buffer that held them is wiped. */
#include "autoconf.h"
#include "loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Browsers' connections served at once. */
#define LB_CONNS 8
/* Seconds one connection may take to send its request. */
#define LB_CONN_SECONDS 10
/* Bytes of a request head (line and headers) we read before answering:
 * headers are skipped, but may carry every cookie set for 127.0.0.1. */
#define LB_HEAD_MAX (64 * 1024)
/* Milliseconds to hand an answer to the kernel. */
#define LB_SEND_MS 2000

void
fa_redirect_free(struct fa_redirect *r)
{
    if (r == NULL)
        return;
    fa_secret_free(r->code);
    fa_secret_free(r->state);
    fa_secret_free(r->error);
    fa_secret_free(r->error_description);
    fa_secret_free(r->iss);
    memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ parsing */

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#define DEC_BAD (-1) /* a bad escape */
#define DEC_NOMEM (-2)
#define DEC_LONG (-3) /* longer than max once decoded */

/*
 * Percent-decode s[0..len) ('+' is a space) into a new NUL-terminated
 * string of at most max bytes: 0, or DEC_BAD, DEC_NOMEM, DEC_LONG with
 * *ret NULL.  A %00 survives decoding; callers compare *ret_len with
 * strlen.
 */
static int
decode(const char *s, size_t len, size_t max, char **ret, size_t *ret_len)
{
    char *out;
    size_t i, n = 0, size = (len < max ? len : max) + 1;
    int hi, lo;

    *ret = NULL;
    *ret_len = 0;
    /* Decoding never lengthens, so size bytes are enough for anything
     * that fits in max. */
    out = malloc(size);
    if (out == NULL)
        return DEC_NOMEM;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (n == max) {
            fa_secret_free_len(out, size);
            return DEC_LONG;
        }
        if (c == '%') {
            if (len - i < 3 || (hi = hexval((unsigned char) s[i + 1])) < 0
                || (lo = hexval((unsigned char) s[i + 2])) < 0) {
                fa_secret_free_len(out, size);
                return DEC_BAD;
            }
            out[n++] = (char) (hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            out[n++] = ' ';
        } else {
            out[n++] = (char) c;
        }
    }
    out[n] = '\0';
    *ret = out;
    *ret_len = n;
    return 0;
}

/* Every byte printable ASCII (RFC 6749 Appendix A's VSCHAR)? */
static int
printable(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
            return 0;
    return 1;
}

/* Which member of r a parameter name fills; NULL for names we ignore. */
static char **
slot(struct fa_redirect *r, const char *name)
{
    if (strcmp(name, "code") == 0)
        return &r->code;
    if (strcmp(name, "state") == 0)
        return &r->state;
    if (strcmp(name, "error") == 0)
        return &r->error;
    if (strcmp(name, "error_description") == 0)
        return &r->error_description;
    if (strcmp(name, "iss") == 0)
        return &r->iss;
    return NULL;
}

/* One name=value pair of the query. */
static enum fa_lb_result
query_pair(const char *p, size_t len, struct fa_redirect *r, struct fa_err *e)
{
    const char *eq = memchr(p, '=', len);
    size_t nlen = eq != NULL ? (size_t) (eq - p) : len, vlen, i;
    char *name = NULL, *value = NULL, **dst;
    int d;

    /* Our names are short: a longer one is a parameter we ignore. */
    d = decode(p, nlen, 32, &name, &vlen);
    if (d == DEC_NOMEM)
        return FA_LB_NOMEM;
    if (d == DEC_LONG)
        return FA_LB_OK;
    if (d == DEC_BAD || strlen(name) != vlen) {
        free(name);
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "malformed parameter name in the redirect");
        return FA_LB_BAD_REQUEST;
    }
    dst = slot(r, name);
    if (dst == NULL) {
        free(name);
        return FA_LB_OK;
    }
    if (*dst != NULL) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "parameter %s given twice in the redirect", name);
        free(name);
        return FA_LB_BAD_REQUEST;
    }
    d = eq != NULL
        ? decode(eq + 1, len - nlen - 1, FA_LB_VALUE_MAX, &value, &vlen)
        : decode("", 0, FA_LB_VALUE_MAX, &value, &vlen);
    if (d == DEC_NOMEM) {
        free(name);
        return FA_LB_NOMEM;
    }
    if (d != 0) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "parameter %s in the redirect is %s", name,
                   d == DEC_LONG ? "too long" : "malformed");
        free(name);
        return FA_LB_BAD_REQUEST;
    }
    if (dst == &r->error_description) {
        /* Free text for a human: made printable, never refused. */
        for (i = 0; i < vlen; i++)
            if ((unsigned char) value[i] < 0x20
                || (unsigned char) value[i] > 0x7e)
                value[i] = '?';
    } else if (vlen == 0 || !printable(value, vlen)) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "parameter %s in the redirect is empty or not "
                   "printable",
                   name);
        fa_secret_free_len(value, vlen + 1);
        free(name);
        return FA_LB_BAD_REQUEST;
    }
    *dst = value;
    free(name);
    return FA_LB_OK;
}

enum fa_lb_result
fa_lb_parse_query(const char *query, size_t len, struct fa_redirect *ret,
                  struct fa_err *e)
{
    size_t i = 0, j;
    enum fa_lb_result r;

    memset(ret, 0, sizeof(*ret));
    if (query == NULL)
        return FA_LB_OK;
    if (len > FA_LB_LINE_MAX) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "redirect longer than %d bytes",
                   FA_LB_LINE_MAX);
        return FA_LB_BAD_REQUEST;
    }
    while (i < len) {
        for (j = i; j < len && query[j] != '&'; j++)
            ;
        if (j > i) {
            r = query_pair(query + i, j - i, ret, e);
            if (r != FA_LB_OK) {
                fa_redirect_free(ret);
                return r;
            }
        }
        i = j + 1;
    }
    return FA_LB_OK;
}

enum fa_lb_result
fa_lb_parse_request(const char *line, size_t len, const char *path,
                    struct fa_redirect *ret, struct fa_err *e)
{
    const char *sp1, *sp2, *target, *q;
    size_t mlen, tlen, plen, i;

    memset(ret, 0, sizeof(*ret));
    if (line == NULL || path == NULL || len > FA_LB_LINE_MAX) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "request line missing or too long");
        return FA_LB_BAD_REQUEST;
    }
    /* Visible ASCII and single spaces only: no tabs, NULs or controls. */
    for (i = 0; i < len; i++)
        if ((unsigned char) line[i] < 0x20 || (unsigned char) line[i] > 0x7e)
            break;
    sp1 = memchr(line, ' ', len);
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', len - (size_t) (sp1 + 1 - line))
                      : NULL;
    if (i < len || sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1
        || memchr(sp2 + 1, ' ', len - (size_t) (sp2 + 1 - line)) != NULL
        || len - (size_t) (sp2 + 1 - line) != 8
        || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "malformed HTTP request line");
        return FA_LB_BAD_REQUEST;
    }
    mlen = (size_t) (sp1 - line);
    target = sp1 + 1;
    tlen = (size_t) (sp2 - target);
    if (target[0] != '/') {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "request target is not a path");
        return FA_LB_BAD_REQUEST;
    }
    q = memchr(target, '?', tlen);
    plen = q != NULL ? (size_t) (q - target) : tlen;
    if (plen != strlen(path) || memcmp(target, path, plen) != 0)
        return FA_LB_NOT_FOUND;
    if (mlen != 3 || memcmp(line, "GET", 3) != 0) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "the redirect must be a GET");
        return FA_LB_BAD_METHOD;
    }
    if (q == NULL)
        return FA_LB_OK;
    return fa_lb_parse_query(q + 1, tlen - plen - 1, ret, e);
}

enum fa_lb_result
fa_lb_parse_pasted(const char *url, const char *redirect_uri,
                   struct fa_redirect *ret, struct fa_err *e)
{
    size_t len, rlen, qlen;
    const char *q, *hash;

    memset(ret, 0, sizeof(*ret));
    if (url == NULL || redirect_uri == NULL) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "no redirect address given");
        return FA_LB_BAD_REQUEST;
    }
    while (*url == ' ' || *url == '\t')
        url++;
    len = strlen(url);
    while (len > 0
           && (url[len - 1] == ' ' || url[len - 1] == '\t'
               || url[len - 1] == '\r' || url[len - 1] == '\n'))
        len--;
    if (len > FA_LB_LINE_MAX) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the pasted address is longer than %d bytes",
                   FA_LB_LINE_MAX);
        return FA_LB_BAD_REQUEST;
    }
    rlen = strlen(redirect_uri);
    if (len <= rlen || memcmp(url, redirect_uri, rlen) != 0
        || url[rlen] != '?') {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the pasted address does not start with %s?", redirect_uri);
        return FA_LB_BAD_REQUEST;
    }
    q = url + rlen + 1;
    qlen = len - rlen - 1;
    hash = memchr(q, '#', qlen);
    if (hash != NULL)
        qlen = (size_t) (hash - q);
    return fa_lb_parse_query(q, qlen, ret, e);
}

/* ------------------------------------------------------------ listener */

fhirauth_rc
fa_lb_open(long port, int listening, struct fa_listener *ret, struct fa_err *e)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    char eb[128];
    int fd, one = 1, saved;

    ret->fd = -1;
    ret->port = 0;
    if (port < 0 || port > 65535) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "redirect_port %ld is not a port", port);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        saved = errno;
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE,
                       "cannot open a socket for the redirect: %s",
                       strerror_r(saved, eb, sizeof(eb)));
    }
    /* SO_REUSEADDR lets a fixed redirect_port be used again while the
     * last login's connections sit in TIME_WAIT.  Only for a listening
     * socket: a merely bound one with it would let another program bind
     * and listen on the same port. */
    if (listening
        && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        saved = errno;
        close(fd);
        return fa_fail(e,
                       port != 0 && (saved == EADDRINUSE || saved == EACCES)
                           ? FHIRAUTH_ERR_CONFIG
                           : FHIRAUTH_ERR_UNREACHABLE,
                       "cannot use 127.0.0.1:%ld for the redirect: %s", port,
                       strerror_r(saved, eb, sizeof(eb)));
    }
    if ((listening && listen(fd, 16) != 0)
        || getsockname(fd, (struct sockaddr *) &sa, &salen) != 0
        || sa.sin_family != AF_INET)
        goto fail;
    ret->fd = fd;
    ret->port = ntohs(sa.sin_port);
    return FHIRAUTH_OK;

fail:
    saved = errno;
    close(fd);
    return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE,
                   "cannot listen on 127.0.0.1 for the redirect: %s",
                   strerror_r(saved, eb, sizeof(eb)));
}

void
fa_lb_close(struct fa_listener *l)
{
    if (l == NULL)
        return;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

/* Does the redirect carry this state?  Constant time in the state's
 * bytes (libc only here: no CRYPTO_memcmp). */
static int
state_is(const struct fa_redirect *r, const char *state)
{
    size_t i, n = strlen(state);
    unsigned char diff = 0;

    if (r->state == NULL || strlen(r->state) != n)
        return 0;
    for (i = 0; i < n; i++)
        diff |= (unsigned char) (r->state[i] ^ state[i]);
    return diff == 0;
}

/* One browser connection being read. */
struct lb_conn {
    int fd;                        /* -1: a free slot */
    long long deadline;            /* ms, CLOCK_MONOTONIC */
    char line[FA_LB_LINE_MAX + 1]; /* the request line: a secret */
    size_t linelen;
    int have_line; /* the request line is complete */
    int overflow;  /* the line was longer than we read */
    size_t cur;    /* bytes in the current header line */
    size_t total;
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
conn_close(struct lb_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    explicit_bzero(c->line, sizeof(c->line));
    c->fd = -1;
    c->linelen = 0;
    c->have_line = 0;
    c->overflow = 0;
    c->cur = 0;
    c->total = 0;
}

/* Send all of buf within LB_SEND_MS; the answer is best effort. */
static void
send_all(int fd, const char *buf, size_t len)
{
    long long deadline = now_ms() + LB_SEND_MS, left;
    struct pollfd p;
    ssize_t n;

    while (len > 0) {
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return;
        left = deadline - now_ms();
        if (left <= 0)
            return;
        p.fd = fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, (int) left) < 0 && errno != EINTR)
            return;
    }
}

/* An answer with our own fixed text. */
static void
respond(int fd, const char *status, const char *title, const char *text)
{
    char body[1024], head[512];
    int blen, hlen;

    blen = snprintf(body, sizeof(body),
                    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                    "<title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>"
                    "</body></html>\n",
                    title, title, text);
    if (blen < 0 || (size_t) blen >= sizeof(body))
        return;
    /* The page's own address carries the code: no referrer, no caching,
     * no scripts, no framing. */
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 %s\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n"
                    "Content-Length: %d\r\n"
                    "Cache-Control: no-store\r\n"
                    "Referrer-Policy: no-referrer\r\n"
                    "X-Content-Type-Options: nosniff\r\n"
                    "Content-Security-Policy: default-src 'none'; "
                    "frame-ancestors 'none'\r\n"
                    "Connection: close\r\n\r\n",
                    status, blen);
    if (hlen < 0 || (size_t) hlen >= sizeof(head))
        return;
    send_all(fd, head, (size_t) hlen);
    send_all(fd, body, (size_t) blen);
}

void
fa_lb_answer(int conn, int ok, const char *title, const char *text)
{
    if (conn < 0)
        return;
    respond(conn, ok ? "200 OK" : "400 Bad Request", title, text);
    shutdown(conn, SHUT_WR);
    close(conn);
}

/*
 * Take n bytes read from a connection.  1 when the request head is
 * complete (or too long to read further: c->overflow), else 0.  Only the
 * request line is kept; header lines are counted until the empty one.
 */
static int
conn_feed(struct lb_conn *c, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (++c->total > LB_HEAD_MAX) {
            c->overflow = 1;
            return 1;
        }
        if (!c->have_line) {
            if (ch == '\n') {
                if (c->linelen > 0 && c->line[c->linelen - 1] == '\r')
                    c->linelen--;
                c->line[c->linelen] = '\0';
                c->have_line = 1;
                c->cur = 0;
            } else if (c->linelen == FA_LB_LINE_MAX) {
                c->overflow = 1;
                return 1;
            } else {
                c->line[c->linelen++] = ch;
            }
        } else if (ch == '\n') {
            if (c->cur == 0)
                return 1;
            c->cur = 0;
        } else if (ch != '\r') {
            c->cur++;
        }
    }
    return 0;
}

/*
 * Drop the connections past their read deadline; fill pfd with the others
 * and, while a slot is free, the listener lfd (slot_of -1: the kernel's
 * backlog holds connections beyond LB_CONNS).  Returns the count, and in
 * *ret_next when poll() must wake up at the latest.
 */
static int
lb_poll_set(struct lb_conn *conns, int lfd, long long now, long long deadline,
            struct pollfd *pfd, int *slot_of, long long *ret_next)
{
    long long next = deadline;
    int i, n = 0;

    for (i = 0; i < LB_CONNS; i++) {
        if (conns[i].fd < 0)
            continue;
        if (conns[i].deadline <= now) {
            conn_close(&conns[i]);
            continue;
        }
        if (conns[i].deadline < next)
            next = conns[i].deadline;
        pfd[n].fd = conns[i].fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        slot_of[n++] = i;
    }
    for (i = 0; i < LB_CONNS && conns[i].fd >= 0; i++)
        ;
    if (i < LB_CONNS) {
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        slot_of[n++] = -1;
    }
    if (next - now > 60000)
        next = now + 60000;
    *ret_next = next;
    return n;
}

/* Take a browser's new connection into a free slot, with its own read
 * deadline. */
static void
lb_accept(struct lb_conn *conns, int lfd)
{
    int i, fd;

    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return; /* gone already, or out of descriptors */
    for (i = 0; i < LB_CONNS && conns[i].fd >= 0; i++)
        ;
    if (i == LB_CONNS) {
        close(fd);
        return;
    }
    conn_close(&conns[i]);
    conns[i].fd = fd;
    conns[i].deadline = now_ms() + LB_CONN_SECONDS * 1000LL;
}

/* Read what the browser sent on c: 1 when the request head is complete,
 * else 0 (c closed when the browser has gone). */
static int
conn_read(struct lb_conn *c)
{
    char buf[4096];
    ssize_t got;
    int complete;

    got = recv(c->fd, buf, sizeof(buf), 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (got <= 0) {
        conn_close(c);
        return 0;
    }
    complete = conn_feed(c, buf, (size_t) got);
    explicit_bzero(buf, (size_t) got);
    return complete;
}

/*
 * Answer c's complete request.  1 when the wait is over: this login's
 * redirect (*ret filled, *ret_conn the connection, *ret_rc FHIRAUTH_OK)
 * or out of memory (*ret_rc says so).  0 when the wait goes on: the
 * request was answered and c closed, and err is left empty.
 */
static int
conn_answer(struct lb_conn *c, const char *path, const char *state,
            struct fa_redirect *ret, int *ret_conn, fhirauth_rc *ret_rc,
            struct fa_err *e)
{
    enum fa_lb_result r;
    int done = 0;

    if (c->overflow) {
        respond(c->fd, "431 Request Header Fields Too Large",
                "Request too large", "The request was too large.");
        conn_close(c);
        return 0;
    }
    r = fa_lb_parse_request(c->line, c->linelen, path, ret, e);
    if (r == FA_LB_OK && !state_is(ret, state)) {
        /* Not this login's answer: refused, and forgotten. */
        fa_redirect_free(ret);
        respond(c->fd, "400 Bad Request", "Wrong login",
                "This answer does not belong to the login in progress.");
        conn_close(c);
        return 0;
    }
    switch (r) {
    case FA_LB_OK:
        *ret_conn = c->fd;
        c->fd = -1; /* handed to the caller */
        conn_close(c);
        *ret_rc = FHIRAUTH_OK;
        done = 1;
        break;
    case FA_LB_NOT_FOUND:
        respond(c->fd, "404 Not Found", "Not found", "Nothing here.");
        conn_close(c);
        break;
    case FA_LB_BAD_METHOD:
        respond(c->fd, "405 Method Not Allowed", "Not allowed",
                "Only GET is answered here.");
        conn_close(c);
        break;
    case FA_LB_BAD_REQUEST:
        respond(c->fd, "400 Bad Request", "Bad request",
                "The request could not be read.");
        conn_close(c);
        break;
    case FA_LB_NOMEM:
    default:
        conn_close(c);
        *ret_rc = fa_nomem(e);
        done = 1;
        break;
    }
    if (r != FA_LB_OK && r != FA_LB_NOMEM)
        fa_err_clear(e); /* a stray request is not our error */
    return done;
}

fhirauth_rc
fa_lb_wait(struct fa_listener *l, const char *path, const char *state,
           long seconds, struct fa_redirect *ret, int *ret_conn,
           struct fa_err *e)
{
    struct lb_conn *conns;
    struct pollfd pfd[LB_CONNS + 1];
    int slot_of[LB_CONNS + 1];
    char eb[128];
    long long deadline, now, next;
    fhirauth_rc rc = FHIRAUTH_ERR_LOGIN_NEEDED;
    int i, k, n, saved, done = 0;

    memset(ret, 0, sizeof(*ret));
    *ret_conn = -1;
    if (l == NULL || l->fd < 0 || path == NULL || state == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "no listener for the redirect");
    }
    conns = calloc(LB_CONNS, sizeof(*conns));
    if (conns == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    for (i = 0; i < LB_CONNS; i++)
        conns[i].fd = -1;
    deadline = now_ms() + (seconds > 0 ? seconds : 1) * 1000LL;

    while (!done) {
        now = now_ms();
        if (now >= deadline) {
            rc = fa_fail(e, FHIRAUTH_ERR_LOGIN_NEEDED,
                         "no answer from the browser within %ld "
                         "seconds",
                         seconds);
            break;
        }
        n = lb_poll_set(conns, l->fd, now, deadline, pfd, slot_of, &next);
        if (poll(pfd, (nfds_t) n, (int) (next - now)) < 0) {
            if (errno == EINTR)
                continue;
            saved = errno;
            rc = fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                         "waiting for the browser: %s",
                         strerror_r(saved, eb, sizeof(eb)));
            break;
        }
        for (k = 0; k < n && !done; k++) {
            if (pfd[k].revents == 0)
                continue;
            if (slot_of[k] < 0)
                lb_accept(conns, l->fd);
            else if (conn_read(&conns[slot_of[k]]))
                done = conn_answer(&conns[slot_of[k]], path, state, ret,
                                   ret_conn, &rc, e);
        }
    }
    for (i = 0; i < LB_CONNS; i++)
        conn_close(&conns[i]);
    free(conns);
    return rc;
}
