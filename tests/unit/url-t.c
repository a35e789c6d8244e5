/* url-t.c - the one URL parser (fa_url_parse, lib/url.c): every rule of
 * pam_fhir.conf(5)'s URL type at its edge, under each set of flags the
 * callers use, and the parts it hands back. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "tests/tap/basic.h"
#include "url.h"

#define E FA_URL_ENDPOINT
#define B FA_URL_BASE
#define M FA_URL_MATCH
#define L FA_URL_LOOKUP

/* want: NULL when the URL is accepted, else a piece of the reason. */
struct url_case {
    const char *url;
    unsigned flags;
    const char *want;
};

static const struct url_case cases[] = {
    /* The issue's example, and each half of it. */
    { "https://user:pw@as.example/token#frag", E, "user name or password" },
    { "https://user@as.example/token", E, "user name or password" },
    { "https://:pw@as.example/token", E, "user name or password" },
    { "https://as.example/token#frag", E, "fragment" },
    { "https://as.example/token#", E, "fragment" },
    { "https://as.example#frag", E, "fragment" },

    /* Scheme: https, in any case; http only for match prefixes. */
    { "https://as.example/token", E, NULL },
    { "HTTPS://as.example/token", E, NULL },
    { "hTtPs://as.example/token", E, NULL },
    { "http://as.example/token", E, "only https://" },
    { "HTTP://as.example/token", E, "only https://" },
    { "file:///etc/passwd", E, "only https://" },
    { "ftp://as.example/x", M, "only http:// and https://" },
    { "http://git.example/x", M, NULL },
    { "ssh://git.example/x", L, NULL },
    { "git+ssh://git.example/x", L, NULL },
    { "as.example/token", E, "scheme://host" },
    { "https:/as.example", E, "scheme://host" },
    { "https//as.example", E, "scheme://host" },
    { "://as.example", E, "scheme://host" },
    { "1https://as.example", E, "scheme://host" },
    { "abcdefghijklmnopq://x.example", L, "scheme too long" },

    /* Host: a name of unreserved characters or an IPv6 literal. */
    { "https://as.example", E, NULL },
    { "https://as.example/", E, NULL },
    { "https://as.example?x=1", E, NULL },
    { "https://127.0.0.1:8443/x", E, NULL },
    { "https://[::1]:8443/x", E, NULL },
    { "https://[2001:db8::7]/x", E, NULL },
    { "https://[::ffff:192.0.2.1]/x", E, NULL },
    { "https://xn--bcher-kva.example/", E, NULL },
    { "https://", E, "no host" },
    { "https:///x", E, "no host" },
    { "https://:443/x", E, "no host" },
    { "https://?x=1", E, "no host" },
    { "https://#f", L, "no host" },
    { "https://h%41st.example/", E, "bad character in the host name" },
    { "https://as!.example/", E, "bad character in the host name" },
    { "https://as.example\\evil.example/", E,
      "bad character in the host name" },
    { "https://[::1]x/", E, "bad character in the host name" },
    { "https://[::1/x", E, "bad IPv6 address" },
    { "https://[zz::1]/", E, "bad IPv6 address" },
    { "https://[]/", E, "bad IPv6 address" },
    { "https://[127.0.0.1]/", E, "bad IPv6 address" },
    { "https://[fe80::1%25eth0]/", E, "bad IPv6 address" },
    { "https://[v1.x]/", E, "bad IPv6 address" },

    /* Port: 1 to 65535, digits only. */
    { "https://as.example:1/x", E, NULL },
    { "https://as.example:65535/x", E, NULL },
    { "https://as.example:443/x", E, NULL },
    { "https://as.example:0/x", E, "bad port" },
    { "https://as.example:00000/x", E, "bad port" },
    { "https://as.example:65536/x", E, "bad port" },
    { "https://as.example:123456/x", E, "bad port" },
    { "https://as.example:/x", E, "bad port" },
    { "https://as.example:-1/x", E, "bad port" },
    { "https://as.example:+443/x", E, "bad port" },
    { "https://as.example:8a/x", E, "bad port" },
    { "https://as.example:443:443/x", E, "bad port" },

    /* User part: only where allowed, and well formed there. */
    { "https://alice@git.example/x", L, NULL },
    { "https://alice:s%40cret@git.example/x", L, NULL },
    { "https://alice@git.example/x", M, "user name or password" },
    { "https://a@b@git.example/", L, "bad character in the user part" },
    { "https://al%4ice@git.example/", L, "bad character in the user part" },
    { "https://as.example\\@evil.example/", L,
      "bad character in the user part" },
    { "https://as.example\\@evil.example/", E, "user name or password" },

    /* Characters: printable ASCII without blanks, %XX well formed. */
    { "https://as.example/a%2Fb%2f", E, NULL },
    { "https://as.example/~u/x-y_z.html;p=1,2:@!$'()*+", E, NULL },
    { "https://as example/", E, "space" },
    { "https://as.example/a b", E, "space" },
    { "https://as.example/a\tb", E, "control" },
    { "https://as.example/x\r\n", E, "control" },
    { "https://as.example/\x7f", E, "control" },
    { "https://\xc3\xa9.example/", E, "non-ASCII" },
    { "https://as.example/%zz", E, "%-escape in the path" },
    { "https://as.example/%4", E, "%-escape in the path" },
    { "https://as.example/%", E, "%-escape in the path" },
    { "https://as.example/a\"b", E, "bad character or %-escape in the path" },
    { "https://as.example/a<b>", E, "in the path" },
    { "https://as.example/a{b}", E, "in the path" },
    { "https://as.example/a\\b", E, "in the path" },
    { "https://as.example/x?q=%g1", E, "%-escape in the query" },
    { "https://as.example/x?a|b", E, "in the query" },
    { "https://git.example/x#a b", L, "space" },
    { "https://git.example/x#a^b", L, "in the fragment" },

    /* No "." or ".." segment, written or escaped. */
    { "https://as.example/a/../b", E, "'.' or '..'" },
    { "https://as.example/./x", E, "'.' or '..'" },
    { "https://as.example/x/..", E, "'.' or '..'" },
    { "https://as.example/%2e%2E/x", E, "'.' or '..'" },
    { "https://as.example/.%2e", E, "'.' or '..'" },
    { "https://as.example/x/...", E, NULL },
    { "https://as.example/.well-known/x", E, NULL },

    /* Query: allowed in endpoints, not in issuer, fhir_base, prefixes. */
    { "https://as.example/auth?tenant=a&x=%2F/?", E, NULL },
    { "https://as.example/realms/clinic/", B, NULL },
    { "https://as.example/realms/clinic?x=1", B, "query" },
    { "https://as.example?", B, "query" },
    { "https://as.example/#f", B, "fragment" },
    { "https://git.example/?x=1", M, "query" },
    { "https://git.example/#top", M, "fragment" },
    { "https://git.example/x?y=1#top", L, NULL },
};

/* The parts handed back for URLs accepted. */
struct parts_case {
    const char *url;
    unsigned flags;
    const char *scheme, *host;
    long port;
    const char *path, *query; /* query NULL: none */
    bool userinfo;
};

static const struct parts_case parts[] = {
    { "HTTPS://AS.example/token", E, "https", "AS.example", 443, "/token",
      NULL, false },
    { "https://as.example", E, "https", "as.example", 443, "", NULL, false },
    { "https://as.example:8443/a/b/?x=1&y=%2F", E, "https", "as.example", 8443,
      "/a/b/", "x=1&y=%2F", false },
    { "https://as.example?", E, "https", "as.example", 443, "", "", false },
    { "https://[::1]:8443/x", E, "https", "[::1]", 8443, "/x", NULL, false },
    { "http://git.example/org/", M, "http", "git.example", 80, "/org/", NULL,
      false },
    { "ssh://git.example:2222/r", L, "ssh", "git.example", 2222, "/r", NULL,
      false },
    { "ssh://git.example/r", L, "ssh", "git.example", 0, "/r", NULL, false },
    { "https://al:pw@git.example/x?q#f", L, "https", "git.example", 443, "/x",
      "q", true },
};

static void
test_table(void)
{
    char why[256], shown[80];
    size_t i, k, n;
    int r;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct url_case *c = &cases[i];

        /* Control and non-ASCII bytes shown as '?' in the test name. */
        for (k = 0, n = 0; c->url[k] != '\0' && n < sizeof(shown) - 1; k++)
            shown[n++] = (unsigned char) c->url[k] < 0x20
                    || (unsigned char) c->url[k] >= 0x7f
                ? '?'
                : c->url[k];
        shown[n] = '\0';
        why[0] = '\0';
        r = fa_url_parse(c->url, strlen(c->url), c->flags, NULL, why,
                         sizeof(why));
        if (c->want == NULL) {
            if (!is_int(0, r, "accepted (flags %#x): %s", c->flags, shown))
                diag("reason: %s", why);
        } else {
            is_int(-1, r, "refused (flags %#x): %s", c->flags, shown);
            ok(strstr(why, c->want) != NULL, "  because: %s", why);
        }
    }
}

static void
test_parts(void)
{
    struct fa_url u;
    char host[64], path[64], query[64];
    size_t i;

    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        const struct parts_case *c = &parts[i];

        if (!is_int(0,
                    fa_url_parse(c->url, strlen(c->url), c->flags, &u, NULL,
                                 0),
                    "parts of %s", c->url))
            continue;
        snprintf(host, sizeof(host), "%.*s", (int) u.host_len, u.host);
        snprintf(path, sizeof(path), "%.*s", (int) u.path_len, u.path);
        is_string(c->scheme, u.scheme, "  scheme");
        is_string(c->host, host, "  host");
        is_int(c->port, u.port, "  port");
        is_string(c->path, path, "  path");
        if (c->query == NULL) {
            ok(u.query == NULL, "  no query");
        } else {
            snprintf(query, sizeof(query), "%.*s", (int) u.query_len, u.query);
            is_string(c->query, query, "  query");
        }
        is_int(c->userinfo, u.userinfo, "  user part");
    }
}

static void
test_limits(void)
{
    static char big[FA_URL_MAX + 2];
    char why[256];
    struct fa_url u;
    size_t n;

    /* A host name of 255 bytes, then 256. */
    memcpy(big, "https://", 8);
    memset(big + 8, 'h', 255);
    memcpy(big + 8 + 255, "/x", 3);
    is_int(0, fa_url_parse(big, strlen(big), E, NULL, why, sizeof(why)),
           "a host name of %d bytes", FA_URL_HOST_MAX);
    memset(big + 8, 'h', 256);
    memcpy(big + 8 + 256, "/x", 3);
    is_int(-1, fa_url_parse(big, strlen(big), E, NULL, why, sizeof(why)),
           "a host name of %d bytes refused", FA_URL_HOST_MAX + 1);
    ok(strstr(why, "longer than 255") != NULL, "  because: %s", why);

    /* A URL of FA_URL_MAX bytes, then one more. */
    memcpy(big, "https://as.example/", 19);
    memset(big + 19, 'a', FA_URL_MAX - 19);
    big[FA_URL_MAX] = '\0';
    is_int(0, fa_url_parse(big, FA_URL_MAX, E, NULL, why, sizeof(why)),
           "a URL of %d bytes", FA_URL_MAX);
    big[FA_URL_MAX] = 'a';
    big[FA_URL_MAX + 1] = '\0';
    is_int(-1, fa_url_parse(big, FA_URL_MAX + 1, E, NULL, why, sizeof(why)),
           "a URL of %d bytes refused", FA_URL_MAX + 1);
    ok(strstr(why, "longer than 8192") != NULL, "  because: %s", why);

    /* Only len bytes count: a NUL inside them is refused, what follows
     * them is not read. */
    is_int(-1,
           fa_url_parse("https://a\0b.example/", 20, E, NULL, why,
                        sizeof(why)),
           "a NUL inside the length refused");
    ok(strstr(why, "control") != NULL, "  because: %s", why);
    n = strlen("https://as.example/x");
    is_int(0, fa_url_parse("https://as.example/x#frag", n, E, &u, NULL, 0),
           "bytes after the length are not read");
    is_int(2, (long long) u.path_len, "  the path ends at the length");

    is_int(-1, fa_url_parse(NULL, 0, E, NULL, why, sizeof(why)),
           "NULL refused");
    is_int(-1, fa_url_parse("", 0, E, NULL, why, sizeof(why)),
           "empty refused");
    ok(strstr(why, "empty") != NULL, "  because: %s", why);

    /* The reason never repeats the URL: it may hold a password. */
    is_int(-1,
           fa_url_parse("https://alice:s3cret@as.example:99999/", 38, E, NULL,
                        why, sizeof(why)),
           "URL with a password refused");
    ok(strstr(why, "s3cret") == NULL && strstr(why, "alice") == NULL,
       "  the reason does not repeat it: %s", why);
    is_int(-1, fa_url_parse("https://as.example/x#frag", 25, E, NULL, NULL, 0),
           "a NULL reason buffer is fine");
}

/* fa_url_origin(): the key a resource server's DPoP nonce is kept under.
 * want NULL: refused. */
static const struct {
    const char *url;
    const char *want;
    const char *what;
} origins[] = {
    { "https://fhir.example/r4/Patient/1", "https://fhir.example:443",
      "the default port written out" },
    { "https://fhir.example:443/r4", "https://fhir.example:443",
      "an explicit default port: the same origin" },
    { "https://fhir.example:8443/r4", "https://fhir.example:8443",
      "another port kept" },
    { "HTTPS://FHIR.Example:8443/R4/Patient", "https://fhir.example:8443",
      "scheme and host in lower case, the path dropped" },
    { "https://fhir.example", "https://fhir.example:443", "no path" },
    { "https://fhir.example/r4?_id=1&x=%2F", "https://fhir.example:443",
      "the query dropped" },
    { "https://fhir.example/r4#top", "https://fhir.example:443",
      "a fragment allowed and dropped" },
    { "https://127.0.0.1:9443/", "https://127.0.0.1:9443", "an IPv4 literal" },
    { "https://[::1]:9443/r4", "https://[::1]:9443", "an IPv6 literal kept" },
    { "https://[FE80::1]/", "https://[fe80::1]:443",
      "an IPv6 literal in lower case" },
    { "http://fhir.example/r4", NULL, "http refused: a proof is for https" },
    { "ftp://fhir.example/", NULL, "another scheme refused" },
    { "https://user:pw@fhir.example/r4", NULL, "a user part refused" },
    { "https://user@fhir.example/r4", NULL, "a user name refused" },
    { "https://fhir.example:0/", NULL, "port 0 refused" },
    { "https://fhir.example:65536/", NULL, "port 65536 refused" },
    { "https:///r4", NULL, "no host refused" },
    { "fhir.example/r4", NULL, "no scheme refused" },
    { "https://fhir example/", NULL, "a space refused" },
    { "", NULL, "empty refused" },
};

static void
test_origin(void)
{
    char buf[FA_URL_HOST_MAX + 32], small[24];
    size_t i;

    for (i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        if (origins[i].want == NULL) {
            is_int(-1, fa_url_origin(origins[i].url, buf, sizeof(buf)),
                   "origin: %s", origins[i].what);
            is_string("", buf, "  buffer emptied");
        } else {
            is_int(0, fa_url_origin(origins[i].url, buf, sizeof(buf)),
                   "origin: %s", origins[i].what);
            is_string(origins[i].want, buf, "  %s", origins[i].url);
        }
    }
    /* "https://fhir.example:443" is 24 bytes: one short. */
    is_int(-1, fa_url_origin("https://fhir.example/", small, sizeof(small)),
           "origin: a buffer too small refused");
    is_string("", small, "  and emptied");
    is_int(0, fa_url_origin("https://fhir.example/", buf, 25),
           "origin: a buffer of exactly its length");
    is_int(-1, fa_url_origin(NULL, buf, sizeof(buf)), "origin: NULL URL");
}

int
main(void)
{
    plan_lazy();
    test_table();
    test_parts();
    test_limits();
    test_origin();
    return test_status();
}
