/* loopback-t.c - the browser flow's way back: the parsers of request
 * lines, queries and pasted URLs fed good, hostile and broken input, and
 * the 127.0.0.1 listener driven by a child playing the browser. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/loopback.h"
#include "util.h"
#include "../tap/basic.h"

static struct fa_err ectx;

static enum fa_lb_result
query(const char *q, struct fa_redirect *r)
{
    fa_err_clear(&ectx);
    return fa_lb_parse_query(q, strlen(q), r, &ectx);
}

static enum fa_lb_result
line(const char *l, struct fa_redirect *r)
{
    fa_err_clear(&ectx);
    return fa_lb_parse_request(l, strlen(l), FA_LB_PATH, r, &ectx);
}

static enum fa_lb_result
pasted(const char *url, struct fa_redirect *r)
{
    fa_err_clear(&ectx);
    return fa_lb_parse_pasted(url, "http://127.0.0.1:4711/callback", r, &ectx);
}

/* A refused query: the result, a message, nothing left in r. */
static void
bad_query(const char *q, const char *what)
{
    struct fa_redirect r;
    enum fa_lb_result res = query(q, &r);

    is_int(FA_LB_BAD_REQUEST, res, "%s: refused", what);
    ok(ectx.msg[0] != '\0' && r.code == NULL && r.state == NULL
           && r.error == NULL,
       "%s: a message, nothing kept (%s)", what, ectx.msg);
    fa_redirect_free(&r);
}

static void
test_query(void)
{
    struct fa_redirect r;
    char *big;
    size_t i;

    is_int(FA_LB_OK, query("code=abc&state=xyz", &r), "plain query");
    is_string("abc", r.code, "code");
    is_string("xyz", r.state, "state");
    ok(r.error == NULL && r.iss == NULL, "no error, no iss");
    fa_redirect_free(&r);
    ok(r.code == NULL && r.state == NULL, "freed and cleared");

    is_int(FA_LB_OK,
           query("state=a%2Fb%2bc%3D&code=x+y%20z&iss=https%3A%2F%2Fas"
                 "&session_state=ignored&&=&foo",
                 &r),
           "percent-decoding, '+', unknown and empty pairs");
    is_string("a/b+c=", r.state, "state decoded (upper and lower hex)");
    is_string("x y z", r.code, "'+' and %%20 are spaces");
    is_string("https://as", r.iss, "iss decoded");
    fa_redirect_free(&r);

    is_int(FA_LB_OK,
           query("error=access_denied&error_description=No%0Away%C3%A9"
                 "&state=s",
                 &r),
           "an error response");
    is_string("access_denied", r.error, "error");
    is_string("No?way??", r.error_description,
              "error_description made printable");
    ok(r.code == NULL, "no code");
    fa_redirect_free(&r);

    is_int(FA_LB_OK, query("code=abc", &r), "missing state is parsed");
    ok(r.state == NULL, "... and state stays NULL");
    fa_redirect_free(&r);

    is_int(FA_LB_OK, query("", &r), "empty query");
    ok(r.code == NULL && r.state == NULL, "... gives nothing");
    fa_redirect_free(&r);

    /* A parameter name too long to be ours is ignored. */
    is_int(FA_LB_OK,
           query("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1&code=c",
                 &r),
           "a long unknown name is ignored");
    is_string("c", r.code, "... and the code still read");
    fa_redirect_free(&r);

    bad_query("code=a&state=s&code=b", "duplicate code");
    bad_query("state=s&state=s", "duplicate state");
    bad_query("code=a&st%61te=x&state=y", "duplicate through an escape");
    bad_query("error=a&error=b", "duplicate error");
    bad_query("code=a%2", "truncated escape");
    bad_query("code=a%zz", "bad hex escape");
    bad_query("code=%", "lone percent");
    bad_query("code=a%00b", "NUL in the code");
    bad_query("state=a%0Db", "CR in the state");
    bad_query("code=%7F", "DEL in the code");
    bad_query("code=", "empty code");
    bad_query("state", "state without a value");
    bad_query("co%00de=x", "NUL in a name");
    bad_query("co%zde=x", "bad escape in a name");

    /* A value longer than FA_LB_VALUE_MAX once decoded. */
    big = malloc(FA_LB_VALUE_MAX + 16);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "code=", 5);
    for (i = 5; i < FA_LB_VALUE_MAX + 6; i++)
        big[i] = 'a';
    big[i] = '\0';
    bad_query(big, "oversized code");
    big[FA_LB_VALUE_MAX + 5] = '\0';
    is_int(FA_LB_OK, query(big, &r), "a code of exactly the limit");
    ok(r.code != NULL && strlen(r.code) == FA_LB_VALUE_MAX,
       "... is kept whole");
    fa_redirect_free(&r);
    free(big);

    big = malloc(FA_LB_LINE_MAX + 16);
    if (big == NULL)
        bail("out of memory");
    memset(big, 'x', FA_LB_LINE_MAX + 8);
    big[FA_LB_LINE_MAX + 8] = '\0';
    bad_query(big, "query longer than a request line");
    free(big);
}

static void
test_request_line(void)
{
    struct fa_redirect r;
    char *big;

    is_int(FA_LB_OK, line("GET /callback?code=c1&state=s1 HTTP/1.1", &r),
           "request line");
    is_string("c1", r.code, "code from the request line");
    is_string("s1", r.state, "state from the request line");
    fa_redirect_free(&r);

    is_int(FA_LB_OK, line("GET /callback HTTP/1.0", &r),
           "our path without a query");
    ok(r.code == NULL && r.state == NULL, "... gives nothing");
    fa_redirect_free(&r);

    is_int(FA_LB_NOT_FOUND, line("GET /favicon.ico HTTP/1.1", &r),
           "favicon: another path");
    is_int(FA_LB_NOT_FOUND, line("GET / HTTP/1.1", &r), "root: another path");
    is_int(FA_LB_NOT_FOUND, line("GET /callback/ HTTP/1.1", &r),
           "trailing slash: another path");
    is_int(FA_LB_NOT_FOUND, line("GET /callbackx?code=a HTTP/1.1", &r),
           "longer path: another path");
    is_int(FA_LB_NOT_FOUND, line("GET /%63allback?code=a HTTP/1.1", &r),
           "escaped path: another path (no decoding)");
    is_int(FA_LB_BAD_METHOD, line("POST /callback?code=a HTTP/1.1", &r),
           "POST to our path");
    is_int(FA_LB_BAD_METHOD, line("HEAD /callback HTTP/1.1", &r),
           "HEAD to our path");
    is_int(FA_LB_BAD_REQUEST,
           line("GET http://127.0.0.1:1/callback?code=a HTTP/1.1", &r),
           "absolute-form target");
    is_int(FA_LB_BAD_REQUEST, line("GET /callback?code=a", &r), "no version");
    is_int(FA_LB_BAD_REQUEST, line("GET /callback?code=a HTTP/2.0", &r),
           "HTTP/2 version");
    is_int(FA_LB_BAD_REQUEST, line("GET  /callback?code=a HTTP/1.1", &r),
           "two spaces");
    is_int(FA_LB_BAD_REQUEST, line("GET /callback?code=a HTTP/1.1 x", &r),
           "trailing word");
    is_int(FA_LB_BAD_REQUEST, line("GET\t/callback?code=a HTTP/1.1", &r),
           "tab");
    is_int(FA_LB_BAD_REQUEST, line("\x16\x03\x01\x02\x00\x01", &r),
           "a TLS hello");
    is_int(FA_LB_BAD_REQUEST, line("", &r), "empty line");
    is_int(FA_LB_BAD_REQUEST,
           fa_lb_parse_request("GET /callback?code=a\0b HTTP/1.1", 31,
                               FA_LB_PATH, &r, &ectx),
           "NUL byte in the line");
    is_int(FA_LB_BAD_REQUEST, line("GET /callback?code=a&code=b HTTP/1.1", &r),
           "duplicate code in the request line");
    ok(r.code == NULL, "... nothing kept");

    big = malloc(FA_LB_LINE_MAX + 64);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "GET /callback?x=", 16);
    memset(big + 16, 'a', FA_LB_LINE_MAX);
    memcpy(big + 16 + FA_LB_LINE_MAX, " HTTP/1.1", 10);
    is_int(FA_LB_BAD_REQUEST, line(big, &r), "oversized request line");
    free(big);
}

static void
test_pasted(void)
{
    struct fa_redirect r;

    is_int(FA_LB_OK,
           pasted("http://127.0.0.1:4711/callback?code=pc&state=ps", &r),
           "pasted URL");
    is_string("pc", r.code, "pasted code");
    is_string("ps", r.state, "pasted state");
    fa_redirect_free(&r);

    is_int(FA_LB_OK,
           pasted("  http://127.0.0.1:4711/callback?state=ps&code=pc#frag"
                  " \r\n",
                  &r),
           "blanks and a fragment around it");
    is_string("pc", r.code, "... the code without the fragment");
    fa_redirect_free(&r);

    is_int(FA_LB_OK,
           pasted("http://127.0.0.1:4711/callback?error=access_denied"
                  "&state=ps",
                  &r),
           "pasted error response");
    is_string("access_denied", r.error, "pasted error");
    fa_redirect_free(&r);

    is_int(FA_LB_BAD_REQUEST,
           pasted("http://127.0.0.1:4712/callback?code=pc&state=ps", &r),
           "another port");
    ok(strstr(ectx.msg, "http://127.0.0.1:4711/callback") != NULL,
       "... the message names the expected address");
    is_int(FA_LB_BAD_REQUEST,
           pasted("http://localhost:4711/callback?code=pc&state=ps", &r),
           "another host");
    is_int(FA_LB_BAD_REQUEST,
           pasted("https://127.0.0.1:4711/callback?code=pc&state=ps", &r),
           "another scheme");
    is_int(FA_LB_BAD_REQUEST,
           pasted("http://127.0.0.1:4711/callbackx?code=pc&state=ps", &r),
           "another path");
    is_int(FA_LB_BAD_REQUEST,
           pasted("http://127.0.0.1:4711/callback/?code=pc", &r),
           "a longer path");
    is_int(FA_LB_BAD_REQUEST,
           pasted("http://127.0.0.1:4711:1/callback?code=pc", &r),
           "garbage port");
    is_int(FA_LB_BAD_REQUEST, pasted("http://127.0.0.1:4711/callback", &r),
           "no query");
    is_int(FA_LB_BAD_REQUEST, pasted("pc", &r), "just a code");
    is_int(FA_LB_BAD_REQUEST, pasted("", &r), "nothing");
    is_int(FA_LB_BAD_REQUEST,
           pasted("http://127.0.0.1:4711/callback?code=a&code=b&state=ps", &r),
           "duplicate code in a pasted URL");
    is_int(FA_LB_BAD_REQUEST,
           fa_lb_parse_pasted(NULL, "http://127.0.0.1:1/callback", &r, &ectx),
           "NULL");
}

/* ------------------------------------------------------------ listener */

static int
connect_to(unsigned port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send a request in pieces, read the whole answer, write its status
 * code (3 digits) or "ERR" to out. */
static void
browse(unsigned port, const char *const *pieces, int out)
{
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    struct timeval tv = { 5, 0 };
    int fd = connect_to(port), i;

    if (fd < 0) {
        (void) !write(out, "ERR\n", 4);
        return;
    }
    /* An answer that never comes is an error, not a hang. */
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (i = 0; pieces[i] != NULL; i++) {
        (void) !write(fd, pieces[i], strlen(pieces[i]));
        /* cppcheck-suppress usleepCalled ; a test's short poll */
        usleep(50000);
    }
    while (len < sizeof(buf) - 1
           && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t) n;
    buf[len] = '\0';
    close(fd);
    if (len > 12 && memcmp(buf, "HTTP/1.1 ", 9) == 0) {
        buf[12] = '\n';
        (void) !write(out, buf + 9, 4);
    } else {
        (void) !write(out, "ERR\n", 4);
    }
}

/* The child plays a browser: a spare connection that never sends, a
 * favicon request, a POST, garbage, redirects with a wrong, a shorter and
 * no state, then the redirect in pieces. */
static void
browser_child(unsigned port, int out)
{
    static const char *const favicon[] = {
        "GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", NULL
    };
    static const char *const post[] = {
        "POST /callback?code=no HTTP/1.1\r\nContent-Length: 0\r\n\r\n", NULL
    };
    static const char *const garbage[] = { "\x16\x03\x01\x02\n\n", NULL };
    /* Another login's answer, and one without a state: refused, and the
     * wait goes on. */
    static const char *const wrong_state[] = {
        "GET /callback?code=their-code&state=the-statf HTTP/1.1\r\n\r\n", NULL
    };
    static const char *const short_state[] = {
        "GET /callback?code=their-code&state=the-stat HTTP/1.1\r\n\r\n", NULL
    };
    static const char *const no_state[] = {
        "GET /callback?code=their-code HTTP/1.1\r\n\r\n", NULL
    };
    static const char *const error_no_state[] = {
        "GET /callback?error=access_denied HTTP/1.1\r\n\r\n", NULL
    };
    static const char *const redirect[] = {
        "GET /callback?co", "de=the-code&state=the-state HTTP/1.1\r",
        "\nHost: 127.0.0.1\r\nCookie: a=b\r\n", "\r\n", NULL
    };
    int spare = connect_to(port);

    browse(port, favicon, out);
    browse(port, post, out);
    browse(port, garbage, out);
    browse(port, wrong_state, out);
    browse(port, short_state, out);
    browse(port, no_state, out);
    browse(port, error_no_state, out);
    browse(port, redirect, out);
    if (spare >= 0)
        close(spare);
    close(out);
    _exit(0);
}

static void
test_listener(void)
{
    struct fa_listener l, l2;
    struct fa_redirect r;
    char answers[64];
    size_t len = 0;
    ssize_t n;
    int p[2], conn = -1, status, fd;
    pid_t pid;
    fhirauth_rc rc;
    time_t t0;

    rc = fa_lb_open(0, 1, &l, &ectx);
    is_int(FHIRAUTH_OK, rc, "listen on 127.0.0.1, a random port");
    ok(l.fd >= 0 && l.port > 0, "... a descriptor and a port (%u)", l.port);
    if (rc != FHIRAUTH_OK)
        bail("cannot listen: %s", ectx.msg);

    rc = fa_lb_open((long) l.port, 1, &l2, &ectx);
    is_int(FHIRAUTH_ERR_CONFIG, rc, "a fixed port in use: a config error");
    ok(strstr(ectx.msg, "127.0.0.1") != NULL, "... naming the address (%s)",
       ectx.msg);

    if (pipe(p) != 0)
        bail("pipe: %s", strerror(errno));
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        bail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        fa_lb_close(&l);
        browser_child(l.port, p[1]);
    }
    close(p[1]);
    rc = fa_lb_wait(&l, FA_LB_PATH, "the-state", 20, &r, &conn, &ectx);
    is_int(FHIRAUTH_OK, rc,
           "the redirect arrives past a spare connection, "
           "a favicon, a POST, garbage and other states");
    is_string("the-code", r.code, "... with the code");
    is_string("the-state", r.state, "... and the state");
    ok(conn >= 0, "... and the connection to answer");
    fa_lb_answer(conn, 1, "Logged in", "Done.");
    fa_redirect_free(&r);
    while (len < sizeof(answers) - 1
           && (n = read(p[0], answers + len, sizeof(answers) - 1 - len)) > 0)
        len += (size_t) n;
    answers[len] = '\0';
    close(p[0]);
    waitpid(pid, &status, 0);
    is_string("404\n405\n400\n400\n400\n400\n400\n200\n", answers,
              "the browser got 404, 405, 400, 400 for each other state, "
              "then 200");

    t0 = time(NULL);
    rc = fa_lb_wait(&l, FA_LB_PATH, "the-state", 1, &r, &conn, &ectx);
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, rc, "nothing comes: the wait ends");
    ok(time(NULL) - t0 <= 3, "... in about a second");
    ok(strstr(ectx.msg, "1 seconds") != NULL, "... saying so (%s)", ectx.msg);

    /* A flood of answers with a wrong state neither ends the wait nor
     * makes it longer. */
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        bail("fork: %s", strerror(errno));
    if (pid == 0) {
        static const char *const flood[] = {
            "GET /callback?code=x&state=y HTTP/1.1\r\n\r\n", NULL
        };
        int dn = open("/dev/null", O_WRONLY);

        fa_lb_close(&l);
        for (;;)
            browse(l.port, flood, dn);
    }
    t0 = time(NULL);
    rc = fa_lb_wait(&l, FA_LB_PATH, "the-state", 2, &r, &conn, &ectx);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, rc,
           "a flood of wrong states: the "
           "wait ends at its deadline");
    ok(time(NULL) - t0 <= 4, "... not later");
    ok(r.code == NULL && r.state == NULL, "... with nothing kept");
    fa_lb_close(&l);
    ok(l.fd == -1, "closed");
    fa_lb_close(&l); /* twice is harmless */

    /* Pasting: the port is reserved but refuses connections. */
    rc = fa_lb_open(0, 0, &l, &ectx);
    is_int(FHIRAUTH_OK, rc, "reserve a port without listening");
    fd = connect_to(l.port);
    ok(fd < 0 && errno == ECONNREFUSED, "... a browser there is refused");
    if (fd >= 0)
        close(fd);
    rc = fa_lb_open((long) l.port, 1, &l2, &ectx);
    ok(rc != FHIRAUTH_OK, "... and nobody else can listen on it");
    if (rc == FHIRAUTH_OK)
        fa_lb_close(&l2);
    fa_lb_close(&l);

    is_int(FHIRAUTH_ERR_CONFIG, fa_lb_open(70000, 1, &l, &ectx),
           "port out of range");
}

int
main(void)
{
    plan(116);
    test_query();
    test_request_line();
    test_pasted();
    test_listener();
    return test_status();
}
