/* cachetime-t.c - how long a discovery document or JWKS may be kept:
 * Cache-Control (no-store, no-cache, max-age), Expires against Date, Age,
 * the default and the cap (lib/net/cachetime.c), and HTTP-dates in all three
 * forms. */
#include "autoconf.h"

#include <stdlib.h>

#include "net/cachetime.h"
#include "tests/tap/basic.h"

/* Sun, 06 Nov 1994 08:49:37 GMT */
#define T1994 784111777LL
/* a "now": Wed, 02 Dec 2026 10:00:00 GMT */
#define NOW 1796205600LL

static long
life(const char *cc, const char *expires, const char *date, const char *age)
{
    struct fa_cache_headers h = { cc, expires, date, age };

    return fa_cache_lifetime(&h, NOW);
}

static void
test_dates(void)
{
    long long t = 0;

    is_int(0, fa_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t),
           "IMF-fixdate parses");
    is_int(T1994, t, "IMF-fixdate value");
    t = 0;
    is_int(0, fa_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t),
           "RFC 850 date parses");
    is_int(T1994, t, "RFC 850 value");
    t = 0;
    is_int(0, fa_http_date("Sun Nov  6 08:49:37 1994", &t),
           "asctime date parses");
    is_int(T1994, t, "asctime value");
    is_int(0, fa_http_date("Wed, 02 Dec 2026 10:00:00 GMT", &t),
           "a date in 2026");
    is_int(NOW, t, "its value");
    is_int(0, fa_http_date("Thu, 29 Feb 2024 23:59:59 GMT", &t),
           "29 February of a leap year");
    is_int(-1, fa_http_date("Thu, 29 Feb 2023 23:59:59 GMT", &t),
           "29 February of another year is refused");
    is_int(-1, fa_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &t),
           "a zone other than GMT is refused");
    is_int(-1, fa_http_date("Sun, 06 Nov 1994 24:00:00 GMT", &t),
           "hour 24 is refused");
    is_int(-1, fa_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &t),
           "an unknown month is refused");
    is_int(-1, fa_http_date("0", &t), "\"0\" is not a date");
    is_int(-1, fa_http_date("", &t), "the empty string is not a date");
    is_int(-1, fa_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk", &t),
           "trailing junk is refused");
    is_int(-1, fa_http_date("Sun, 6 Nov 1994 08:49:37 GMT", &t),
           "a one-digit day in IMF-fixdate is refused");
}

static void
test_lifetimes(void)
{
    is_int(FA_CACHE_DEFAULT_LIFETIME, life(NULL, NULL, NULL, NULL),
           "no headers: the default");
    is_int(300, life("max-age=300", NULL, NULL, NULL), "max-age=300");
    is_int(300, life("public, max-age=300, must-revalidate", NULL, NULL, NULL),
           "max-age among other directives");
    is_int(300, life("MAX-AGE=300", NULL, NULL, NULL),
           "directive names are case-insensitive");
    is_int(300, life("max-age=\"300\"", NULL, NULL, NULL),
           "the quoted form of max-age");
    is_int(60, life("max-age=300, max-age=60", NULL, NULL, NULL),
           "two max-age: the smaller");
    is_int(0, life("max-age=0", NULL, NULL, NULL), "max-age=0: not kept");
    is_int(0, life("no-store", NULL, NULL, NULL), "no-store: not kept");
    is_int(0, life("max-age=300, no-store", NULL, NULL, NULL),
           "no-store wins over max-age");
    is_int(0, life("no-cache", NULL, NULL, NULL), "no-cache: not kept");
    is_int(0, life("no-cache=\"set-cookie\", max-age=300", NULL, NULL, NULL),
           "qualified no-cache: not kept either");
    is_int(0, life("max-age=abc", NULL, NULL, NULL),
           "a malformed max-age: not kept");
    is_int(0, life("max-age=-5", NULL, NULL, NULL),
           "a negative max-age: not kept");
    is_int(0, life("max-age", NULL, NULL, NULL),
           "max-age without a value: not kept");
    is_int(0, life("max-age=300 junk", NULL, NULL, NULL),
           "a malformed header: not kept");
    is_int(0, life("max-age=\"300", NULL, NULL, NULL),
           "an unterminated quoted string: not kept");
    is_int(FA_CACHE_MAX_LIFETIME, life("max-age=31536000", NULL, NULL, NULL),
           "a year is capped");
    is_int(FA_CACHE_MAX_LIFETIME,
           life("max-age=99999999999999999999999", NULL, NULL, NULL),
           "a huge max-age is capped, not overflowed");
    is_int(FA_CACHE_DEFAULT_LIFETIME,
           life("private, x-foo=\"a,b\"", NULL, NULL, NULL),
           "unknown directives are ignored");
    is_int(FA_CACHE_DEFAULT_LIFETIME, life("", NULL, NULL, NULL),
           "an empty Cache-Control: the default");
    /* Expires */
    is_int(600, life(NULL, "Wed, 02 Dec 2026 10:10:00 GMT", NULL, NULL),
           "Expires 10 minutes from now");
    is_int(600,
           life(NULL, "Wed, 02 Dec 2026 10:10:00 GMT",
                "Wed, 02 Dec 2026 10:00:00 GMT", NULL),
           "Expires counted from Date");
    is_int(120,
           life(NULL, "Wed, 02 Dec 2026 10:10:00 GMT",
                "Wed, 02 Dec 2026 10:08:00 GMT", NULL),
           "a server clock ahead of ours does not matter");
    is_int(0, life(NULL, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, NULL),
           "Expires in the past: not kept");
    is_int(0, life(NULL, "0", NULL, NULL), "an invalid Expires means expired");
    is_int(300,
           life("max-age=300", "Sun, 06 Nov 1994 08:49:37 GMT", NULL, NULL),
           "max-age wins over Expires");
    is_int(600, life(NULL, "Wed, 02 Dec 2026 10:10:00 GMT", "garbage", NULL),
           "an unreadable Date: Expires counted from now");
    /* Age */
    is_int(200, life("max-age=300", NULL, NULL, "100"), "Age is subtracted");
    is_int(0, life("max-age=300", NULL, NULL, "400"),
           "an Age beyond max-age: not kept");
    is_int(300, life("max-age=300", NULL, NULL, "x"),
           "an unreadable Age is ignored");
    is_int(FA_CACHE_DEFAULT_LIFETIME, fa_cache_lifetime(NULL, NOW),
           "no header record at all: the default");
}

int
main(void)
{
    plan_lazy();
    test_dates();
    test_lifetimes();
    return test_status();
}
