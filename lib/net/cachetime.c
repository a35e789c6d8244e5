/* cachetime.c - RFC 9111 freshness for the documents we keep: the
 * Cache-Control directives that matter to a private cache that never
 * revalidates (no-store, no-cache, max-age), else Expires against Date,
 * minus Age; bounded both ways (cachetime.h). */
#include "autoconf.h"
#include "cachetime.h"

#include <stddef.h>
#include <string.h>

/* A Cache-Control header longer than this is not read: do not store. */
#define CC_MAX 4096

static int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* RFC 9110 §5.6.2 tchar. */
static int
is_tchar(char c)
{
    return is_alpha(c) || is_digit(c)
        || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive: does [s, s+n) spell word? */
static int
word_is(const char *s, size_t n, const char *word)
{
    size_t i;

    if (strlen(word) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return 0;
    return 1;
}

/* delta-seconds (RFC 9111 §1.2.2): digits only; larger values are held
 * at a cap far beyond FA_CACHE_MAX_LIFETIME.  -1 when malformed. */
static long long
delta_seconds(const char *s, size_t n)
{
    long long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        if (v < 2147483648LL)
            v = v * 10 + (s[i] - '0');
    }
    return v < 2147483648LL ? v : 2147483648LL;
}

/*
 * Walk the directives.  *max_age gets the smallest max-age (-1 when none);
 * the result is 1 for "do not store" (no-store, no-cache, a malformed
 * header or max-age), else 0.
 */
static int
parse_cache_control(const char *s, long long *max_age)
{
    const char *name, *val;
    size_t nlen, vlen;
    char vbuf[32];
    long long v;

    *max_age = -1;
    if (strlen(s) > CC_MAX)
        return 1;
    for (;;) {
        while (is_ows(*s) || *s == ',')
            s++;
        if (*s == '\0')
            return 0;
        name = s;
        while (is_tchar(*s))
            s++;
        nlen = (size_t) (s - name);
        if (nlen == 0)
            return 1;
        val = NULL;
        vlen = 0;
        if (*s == '=') {
            s++;
            if (*s == '"') {
                /* quoted-string: keep the unescaped value if it is short
                 * (only max-age's is used, and that is digits). */
                s++;
                vlen = 0;
                while (*s != '"') {
                    if (*s == '\0')
                        return 1;
                    if (*s == '\\' && s[1] != '\0')
                        s++;
                    if (vlen < sizeof(vbuf) - 1)
                        vbuf[vlen] = *s;
                    vlen++;
                    s++;
                }
                s++;
                if (vlen >= sizeof(vbuf))
                    vlen = sizeof(vbuf) - 1;
                vbuf[vlen] = '\0';
                val = vbuf;
            } else {
                val = s;
                while (is_tchar(*s))
                    s++;
                vlen = (size_t) (s - val);
            }
        }
        while (is_ows(*s))
            s++;
        if (*s != ',' && *s != '\0')
            return 1;
        if (word_is(name, nlen, "no-store") || word_is(name, nlen, "no-cache"))
            return 1;
        if (word_is(name, nlen, "max-age")) {
            v = val != NULL ? delta_seconds(val, vlen) : -1;
            if (v < 0)
                return 1;
            if (*max_age < 0 || v < *max_age)
                *max_age = v;
        }
    }
}

long
fa_cache_lifetime(const struct fa_cache_headers *h, long long now)
{
    long long life, max_age, expires, date, age;
    const char *a;

    if (h == NULL)
        return FA_CACHE_DEFAULT_LIFETIME;
    max_age = -1;
    if (h->cache_control != NULL
        && parse_cache_control(h->cache_control, &max_age))
        return 0;
    if (max_age >= 0) {
        life = max_age;
    } else if (h->expires != NULL) {
        /* §5.3: an invalid Expires means "already expired". */
        if (fa_http_date(h->expires, &expires) != 0)
            return 0;
        if (h->date != NULL && fa_http_date(h->date, &date) == 0)
            life = expires - date;
        else
            life = expires - now;
    } else {
        life = FA_CACHE_DEFAULT_LIFETIME;
    }
    if (h->age != NULL) {
        a = h->age;
        while (is_ows(*a))
            a++;
        age = delta_seconds(a, strcspn(a, " \t"));
        if (age > 0)
            life -= age;
    }
    if (life <= 0)
        return 0;
    return life > FA_CACHE_MAX_LIFETIME ? FA_CACHE_MAX_LIFETIME : (long) life;
}

/* ------------------------------------------------------------ HTTP-date */

static const char *const months[12] = { "jan", "feb", "mar", "apr",
                                        "may", "jun", "jul", "aug",
                                        "sep", "oct", "nov", "dec" };

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-
 * days inverse; m in 1..12). */
static long long
days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
days_in_month(long long y, int m)
{
    static const int dm[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Exactly n digits at *p (advanced); -1 when not. */
static int
digits(const char **p, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

/* Letters at *p (advanced), at most max; the count, 0 when none or too
 * many. */
static size_t
letters(const char **p, size_t max)
{
    size_t n = 0;

    while (is_alpha((*p)[n])) {
        if (++n > max)
            return 0;
    }
    *p += n;
    return n;
}

static int
month_of(const char *s, size_t n)
{
    int i;

    for (i = 0; i < 12; i++)
        if (word_is(s, n, months[i]))
            return i + 1;
    return -1;
}

static int
expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

/* hh:mm:ss */
static int
clock_time(const char **p, int *hh, int *mm, int *ss)
{
    if ((*hh = digits(p, 2)) < 0 || expect(p, ':') != 0
        || (*mm = digits(p, 2)) < 0 || expect(p, ':') != 0
        || (*ss = digits(p, 2)) < 0)
        return -1;
    return 0;
}

static int
gmt(const char **p)
{
    /* "GMT" is case-sensitive (RFC 9110 §5.6.7). */
    if (expect(p, ' ') != 0 || strncmp(*p, "GMT", 3) != 0)
        return -1;
    *p += 3;
    return 0;
}

int
fa_http_date(const char *s, long long *ret)
{
    const char *p = s, *w;
    size_t n;
    long long y;
    int mon, d, hh, mm, ss;

    if (s == NULL || ret == NULL)
        return -1;
    while (is_ows(*p))
        p++;
    if (letters(&p, 9) < 3) /* day name: "Sun" or "Sunday" */
        return -1;
    if (*p == ',') {
        p++;
        if (expect(&p, ' ') != 0 || (d = digits(&p, 2)) < 0)
            return -1;
        if (*p == ' ') {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            p++;
            w = p;
            n = letters(&p, 3);
            if ((mon = month_of(w, n)) < 0 || expect(&p, ' ') != 0
                || (y = digits(&p, 4)) < 0 || expect(&p, ' ') != 0
                || clock_time(&p, &hh, &mm, &ss) != 0 || gmt(&p) != 0)
                return -1;
        } else {
            /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            if (expect(&p, '-') != 0)
                return -1;
            w = p;
            n = letters(&p, 3);
            if ((mon = month_of(w, n)) < 0 || expect(&p, '-') != 0
                || (y = digits(&p, 2)) < 0 || expect(&p, ' ') != 0
                || clock_time(&p, &hh, &mm, &ss) != 0 || gmt(&p) != 0)
                return -1;
            y += y < 70 ? 2000 : 1900;
        }
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        if (expect(&p, ' ') != 0)
            return -1;
        w = p;
        n = letters(&p, 3);
        if ((mon = month_of(w, n)) < 0 || expect(&p, ' ') != 0)
            return -1;
        if (*p == ' ') {
            p++;
            d = digits(&p, 1);
        } else {
            d = digits(&p, 2);
        }
        if (d < 0 || expect(&p, ' ') != 0 || clock_time(&p, &hh, &mm, &ss) != 0
            || expect(&p, ' ') != 0 || (y = digits(&p, 4)) < 0)
            return -1;
    }
    while (is_ows(*p))
        p++;
    if (*p != '\0' || d < 1 || d > days_in_month(y, mon) || hh > 23 || mm > 59
        || ss > 60)
        return -1;
    if (ss == 60)
        ss = 59; /* a leap second: near enough */
    *ret = days_from_civil(y, mon, d) * 86400LL + hh * 3600LL + mm * 60LL + ss;
    return 0;
}
