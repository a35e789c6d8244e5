/* http-redirect-t.c - which redirects of a discovery document or JWKS
 * may be followed (fa_http_redirect_check, lib/net/http.c): only to the same
 * https origin (scheme, host, port; the default port written or not), and
 * never with a user name or password in the target. */
#include "autoconf.h"

#include <stddef.h>

#include "net/http.h"
#include "tests/tap/basic.h"

#define FROM "https://as.example/realms/r/.well-known/openid-configuration"

static void
check(enum fa_redir_check want, const char *from, const char *to,
      const char *what)
{
    is_int(want, fa_http_redirect_check(from, to), "%s", what);
}

static void
test_same_origin(void)
{
    check(FA_REDIR_OK, FROM,
          "https://as.example/realms/r/.well-known/openid-configuration/",
          "the trailing-slash URL");
    check(FA_REDIR_OK, FROM, "https://as.example/elsewhere?x=1#frag",
          "another path, a query and a fragment");
    check(FA_REDIR_OK, FROM, "https://as.example:443/x",
          "the default port written out");
    check(FA_REDIR_OK, "https://as.example:443/a", "https://as.example/b",
          "the default port written in the first URL only");
    check(FA_REDIR_OK, FROM, "HTTPS://AS.Example/x",
          "scheme and host in another case");
    check(FA_REDIR_OK, "https://127.0.0.1:8443/a", "https://127.0.0.1:8443/b",
          "an address with its port");
    check(FA_REDIR_OK, "https://[::1]:8443/a", "https://[::1]:8443/b",
          "an IPv6 address with its port");
}

static void
test_refused(void)
{
    check(FA_REDIR_NOT_HTTPS, FROM, "http://as.example/x", "http://");
    check(FA_REDIR_NOT_HTTPS, FROM, "http://as.example:443/x",
          "http:// on port 443");
    check(FA_REDIR_NOT_HTTPS, FROM, "ftp://as.example/x", "ftp://");
    check(FA_REDIR_NOT_HTTPS, FROM, "file:///etc/passwd", "file://");
    check(FA_REDIR_NOT_HTTPS, "http://as.example/a", "http://as.example/b",
          "from http:// (never the origin of a request of ours)");
    check(FA_REDIR_OTHER_HOST, FROM, "https://other.example/x",
          "another host");
    check(FA_REDIR_OTHER_HOST, FROM, "https://as.example.evil.example/x",
          "a host that starts like ours");
    check(FA_REDIR_OTHER_HOST, FROM, "https://sub.as.example/x",
          "a subdomain");
    check(FA_REDIR_OTHER_HOST, "https://127.0.0.1:8443/a",
          "https://localhost:8443/b", "localhost for 127.0.0.1");
    check(FA_REDIR_OTHER_HOST, "https://127.0.0.1:8443/a",
          "https://127.0.0.2:8443/b", "another loopback address");
    check(FA_REDIR_OTHER_PORT, FROM, "https://as.example:8443/x",
          "another port");
    check(FA_REDIR_OTHER_PORT, "https://as.example:8443/a",
          "https://as.example/b", "from a port to the default one");
    check(FA_REDIR_USERINFO, FROM, "https://user:pw@as.example/x",
          "user and password in the target");
    check(FA_REDIR_USERINFO, FROM, "https://user@as.example/x",
          "a user name in the target");
    check(FA_REDIR_BAD_URL, FROM, "/relative/path",
          "a relative target (libcurl resolves them first)");
    check(FA_REDIR_BAD_URL, FROM, "", "an empty target");
    check(FA_REDIR_BAD_URL, FROM, NULL, "no target");
    check(FA_REDIR_BAD_URL, NULL, "https://as.example/x", "no origin URL");
    /* libcurl reads "https:///x" as the host x. */
    check(FA_REDIR_OTHER_HOST, FROM, "https:///x", "https:///x");
}

static void
test_messages(void)
{
    int c;

    for (c = FA_REDIR_OK; c <= FA_REDIR_OTHER_PORT; c++)
        ok(fa_http_redirect_why((enum fa_redir_check) c)[0] != '\0',
           "reason %d has a message", c);
    is_string("it leaves https", fa_http_redirect_why(FA_REDIR_NOT_HTTPS),
              "the http:// reason");
    is_string("it goes to another host",
              fa_http_redirect_why(FA_REDIR_OTHER_HOST), "the host reason");
    is_string("it goes to another port",
              fa_http_redirect_why(FA_REDIR_OTHER_PORT), "the port reason");
}

int
main(void)
{
    plan_lazy();
    test_same_origin();
    test_refused();
    test_messages();
    return test_status();
}
