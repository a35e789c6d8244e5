/*
 * url.c - the one URL parser (url.h; the rules are pam_fhir.conf(5)'s
 * "URL" value type).
 *
 * RFC 3986, strictly and without decoding:
 * scheme "://" [userinfo "@"] host [":" port] path ["?" query]
 * ["#" fragment], printable ASCII only (percent-encode the rest).  The
 * host is a registered name of unreserved characters (no %XX, so that no
 * two parsers can read another host into it) or an IPv6 literal in
 * brackets; paths hold no "." or ".." segment, since libcurl would
 * remove them and send another path than the one written.
 */
#include "autoconf.h"
#include "url.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A URL being parsed: the bytes, the flags, where the reason goes. */
struct url_in {
    const char *s;
    size_t len;
    unsigned flags;
    char *why;
    size_t whylen;
};

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved characters. */
static bool
is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'
        || c == '~';
}

static bool
is_sub_delim(char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* RFC 3986 pchar without '%', which escape_ok checks. */
static bool
is_pchar(char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}

/* A '%' at s[i] must start an escape: two hex digits before end. */
static bool
escape_ok(const char *s, size_t i, size_t end)
{
    return i + 2 < end && is_hex(s[i + 1]) && is_hex(s[i + 2]);
}

static int
refuse(const struct url_in *in, const char *reason)
{
    fa_err(in->why, in->whylen, "%s", reason);
    return -1;
}

/* Is the segment s[0..n) "." or ".." (also written %2E)? */
static bool
dot_segment(const char *s, size_t n)
{
    size_t i = 0, dots = 0;

    while (i < n) {
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '%' && i + 2 < n && s[i + 1] == '2'
                   && lower(s[i + 2]) == 'e') {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

/* Length, then printable ASCII without blanks. */
static int
url_charset(const struct url_in *in)
{
    size_t i;

    if (in->len == 0)
        return refuse(in, "empty URL");
    if (in->len > FA_URL_MAX) {
        fa_err(in->why, in->whylen, "URL longer than %d bytes", FA_URL_MAX);
        return -1;
    }
    for (i = 0; i < in->len; i++) {
        unsigned char c = (unsigned char) in->s[i];

        if (c <= 0x20 || c >= 0x7f)
            return refuse(in,
                          "space, control or non-ASCII character in"
                          " the URL (percent-encode it)");
    }
    return 0;
}

/* scheme "://", lower-cased into u; *pos set past it. */
static int
url_scheme(const struct url_in *in, struct fa_url *u, size_t *pos)
{
    const char *s = in->s;
    size_t n;

    if (!is_alpha(s[0]))
        return refuse(in, "expected scheme://host");
    for (n = 0; n < in->len
         && (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '+' || s[n] == '-'
             || s[n] == '.');
         n++) {
        if (n >= sizeof(u->scheme) - 1)
            return refuse(in, "scheme too long");
        u->scheme[n] = lower(s[n]);
    }
    u->scheme[n] = '\0';
    if (in->len - n < 3 || memcmp(s + n, "://", 3) != 0)
        return refuse(in, "expected scheme://host");
    if (strcmp(u->scheme, "https") == 0)
        u->port = 443;
    else if (strcmp(u->scheme, "http") == 0)
        u->port = 80;
    if ((in->flags & FA_URL_ANY_SCHEME) == 0 && strcmp(u->scheme, "https") != 0
        && !((in->flags & FA_URL_HTTP) != 0 && strcmp(u->scheme, "http") == 0))
        return refuse(in,
                      (in->flags & FA_URL_HTTP) != 0
                          ? "only http:// and https:// URLs are allowed"
                          : "only https:// URLs are allowed");
    *pos = n + 3;
    return 0;
}

/* user[:password] in s[from..to): unreserved, sub-delims, ':', %XX. */
static int
url_userinfo(const struct url_in *in, size_t from, size_t to)
{
    size_t i;

    if ((in->flags & FA_URL_USERINFO) == 0)
        return refuse(in,
                      "a user name or password does not belong in the"
                      " URL");
    for (i = from; i < to; i++) {
        char c = in->s[i];

        if (c == '%' ? !escape_ok(in->s, i, to)
                     : !(is_unreserved(c) || is_sub_delim(c) || c == ':'))
            return refuse(in, "bad character in the user part");
    }
    return 0;
}

/* ":" port, 1 to 65535 in at most five digits, in s[from..to). */
static int
url_port(const struct url_in *in, size_t from, size_t to, long *ret)
{
    long port = 0;
    size_t i;

    if (in->s[from] != ':')
        return refuse(in, "bad character in the host name");
    for (i = from + 1; i < to; i++) {
        if (!is_digit(in->s[i]) || i - from > 5)
            return refuse(in, "bad port (expected 1 to 65535)");
        port = port * 10 + (in->s[i] - '0');
    }
    if (i == from + 1 || port < 1 || port > 65535)
        return refuse(in, "bad port (expected 1 to 65535)");
    *ret = port;
    return 0;
}

/* [userinfo "@"] host [":" port] from *pos to the first '/', '?' or '#';
 * *pos set past it. */
static int
url_authority(const struct url_in *in, struct fa_url *u, size_t *pos)
{
    const char *s = in->s;
    size_t start = *pos, end, at, h, hend;

    for (end = start;
         end < in->len && s[end] != '/' && s[end] != '?' && s[end] != '#';
         end++)
        ;
    /* The last '@' ends the user part: only it can, since '@' is not
     * allowed in a user part or a host. */
    for (at = end; at > start && s[at - 1] != '@'; at--)
        ;
    h = start;
    if (at > start) {
        if (url_userinfo(in, start, at - 1) != 0)
            return -1;
        u->userinfo = true;
        h = at;
    }
    if (h < end && s[h] == '[') {
        /* An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4);
         * no zone identifier, no IPvFuture. */
        for (hend = h + 1; hend < end
             && (is_hex(s[hend]) || s[hend] == ':' || s[hend] == '.');
             hend++)
            ;
        if (hend >= end || s[hend] != ']'
            || memchr(s + h, ':', hend - h) == NULL)
            return refuse(in, "bad IPv6 address");
        hend++;
    } else {
        for (hend = h; hend < end && is_unreserved(s[hend]); hend++)
            ;
    }
    if (hend == h)
        return refuse(in, "no host");
    if (hend - h > FA_URL_HOST_MAX) {
        fa_err(in->why, in->whylen, "host name longer than %d bytes",
               FA_URL_HOST_MAX);
        return -1;
    }
    u->host = s + h;
    u->host_len = hend - h;
    if (hend < end && url_port(in, hend, end, &u->port) != 0)
        return -1;
    *pos = end;
    return 0;
}

/* The path from *pos to the first '?' or '#'; *pos set past it. */
static int
url_path(const struct url_in *in, struct fa_url *u, size_t *pos)
{
    const char *s = in->s;
    size_t start = *pos, end, i, seg;

    for (end = start; end < in->len && s[end] != '?' && s[end] != '#'; end++)
        ;
    for (i = start; i < end; i++)
        if (s[i] == '%' ? !escape_ok(s, i, end)
                        : !(is_pchar(s[i]) || s[i] == '/'))
            return refuse(in, "bad character or %-escape in the path");
    /* The path starts with '/' (it ends the authority); each segment
     * runs from after a '/' to the next one. */
    for (seg = start; seg < end;) {
        const char *slash;
        size_t next;

        seg++;
        slash = memchr(s + seg, '/', end - seg);
        next = slash != NULL ? (size_t) (slash - s) : end;
        if (dot_segment(s + seg, next - seg))
            return refuse(in, "'.' or '..' in the path");
        seg = next;
    }
    u->path = s + start;
    u->path_len = end - start;
    *pos = end;
    return 0;
}

/* The characters of a query or a fragment in s[from..to): pchar, '/',
 * '?' and %XX. */
static bool
query_chars_ok(const char *s, size_t from, size_t to)
{
    size_t i;

    for (i = from; i < to; i++)
        if (s[i] == '%' ? !escape_ok(s, i, to)
                        : !(is_pchar(s[i]) || s[i] == '/' || s[i] == '?'))
            return false;
    return true;
}

/* ["?" query] ["#" fragment] from *pos to the end. */
static int
url_query_fragment(const struct url_in *in, struct fa_url *u, size_t pos)
{
    const char *s = in->s, *hash;
    size_t end;

    hash = memchr(s + pos, '#', in->len - pos);
    end = hash != NULL ? (size_t) (hash - s) : in->len;
    if (pos < end) { /* s[pos] == '?' */
        if ((in->flags & FA_URL_NO_QUERY) != 0)
            return refuse(in, "a query ('?') does not belong in the URL");
        if (!query_chars_ok(s, pos + 1, end))
            return refuse(in, "bad character or %-escape in the query");
        u->query = s + pos + 1;
        u->query_len = end - pos - 1;
    }
    if (end < in->len) {
        if ((in->flags & FA_URL_FRAGMENT) == 0)
            return refuse(in, "a fragment ('#') does not belong in the URL");
        if (!query_chars_ok(s, end + 1, in->len))
            return refuse(in, "bad character or %-escape in the fragment");
    }
    return 0;
}

int
fa_url_parse(const char *s, size_t len, unsigned flags, struct fa_url *ret,
             char *why, size_t whylen)
{
    struct url_in in = { s, len, flags, why, whylen };
    struct fa_url u;
    size_t pos = 0;

    memset(&u, 0, sizeof(u));
    if (s == NULL)
        return refuse(&in, "no URL");
    if (url_charset(&in) != 0 || url_scheme(&in, &u, &pos) != 0
        || url_authority(&in, &u, &pos) != 0 || url_path(&in, &u, &pos) != 0
        || url_query_fragment(&in, &u, pos) != 0)
        return -1;
    if (ret != NULL)
        *ret = u;
    return 0;
}

int
fa_url_origin(const char *url, char *buf, size_t len)
{
    struct fa_url u;
    size_t i, n;
    int w;

    if (url == NULL || buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    /* An endpoint's rules: https, no user part (RFC 9449 §7.1: the
     * request's URL); a fragment is allowed and, like the path and the
     * query, is no part of the origin. */
    if (fa_url_parse(url, strlen(url), FA_URL_ENDPOINT | FA_URL_FRAGMENT, &u,
                     NULL, 0)
        != 0)
        return -1;
    w = snprintf(buf, len, "%s://%.*s:%ld", u.scheme, (int) u.host_len, u.host,
                 u.port);
    if (w < 0 || (size_t) w >= len) {
        buf[0] = '\0';
        return -1;
    }
    /* RFC 6454 §4: the scheme and the host compare without case. */
    n = strlen(u.scheme) + 3 + u.host_len;
    for (i = 0; i < n; i++)
        buf[i] = (char) tolower((unsigned char) buf[i]);
    return 0;
}
