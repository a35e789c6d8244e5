/*
 * profiles.c - which profile answers for a URL (the "match" key, read by
 * git-credential-fhir), and a handle's configuration values as text.
 *
 * URLs are parsed strictly: scheme://[user@]host[:port][/path][?query],
 * printable ASCII only (percent-encode the rest).  A match prefix is
 * stricter still: http or https, no user name, no query or fragment.
 * Nothing is decoded: paths compare byte for byte, except that the hex
 * digits of %XX escapes compare without regard to case.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "handle.h"
#include "util.h"


/* Longer URLs are refused: git's own are far shorter. */
#define URL_MAX 8192
/* RFC 1035's limit on a host name (an IPv6 literal is shorter). */
#define HOST_MAX 255

/* A URL split into the parts matching compares (pointers into it). */
struct url_parts {
    char scheme[16];    /* lower case */
    const char *host;   /* not terminated; compared without case */
    size_t host_len;
    long port;          /* explicit, else the scheme's default; 0: none */
    const char *path;   /* NULL when the URL has no path (or only "/") */
    size_t path_len;
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

/* Characters of a path segment (pchar) and '/', '%' checked apart. */
static bool
is_path_char(char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@'
           || c == '/';
}

/* A '%' at s[i] must start an escape: two hex digits before end. */
static bool
escape_ok(const char *s, size_t i, size_t end)
{
    return i + 2 < end && is_hex(s[i + 1]) && is_hex(s[i + 2]);
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

static long
default_port(const char *scheme)
{
    if (strcmp(scheme, "https") == 0)
        return 443;
    if (strcmp(scheme, "http") == 0)
        return 80;
    return 0;
}

/*
 * Parse s into u.  prefix: s is a match prefix (http or https, no user,
 * no query or fragment; trailing slashes of the path dropped).  Returns 0,
 * or -1 with the reason in why.
 */
static int
url_parse(const char *s, bool prefix, struct url_parts *u, char *why,
          size_t whylen)
{
    const char *p, *auth, *auth_end, *at = NULL, *h, *hend, *q, *seg;
    size_t len, n, i;
    long port;

    memset(u, 0, sizeof(*u));
    len = strlen(s);
    if (len == 0) {
        fa_err(why, whylen, "empty URL");
        return -1;
    }
    if (len > URL_MAX) {
        fa_err(why, whylen, "URL longer than %d bytes", URL_MAX);
        return -1;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c <= 0x20 || c >= 0x7f) {
            fa_err(why, whylen, "space, control or non-ASCII character in"
                   " URL (percent-encode it)");
            return -1;
        }
    }

    /* scheme "://" */
    if (!is_alpha(s[0])) {
        fa_err(why, whylen, "expected scheme://host");
        return -1;
    }
    for (n = 0; is_alpha(s[n]) || is_digit(s[n]) || s[n] == '+'
                || s[n] == '-' || s[n] == '.'; n++) {
        if (n >= sizeof(u->scheme) - 1) {
            fa_err(why, whylen, "scheme too long");
            return -1;
        }
        u->scheme[n] = lower(s[n]);
    }
    u->scheme[n] = '\0';
    if (strncmp(s + n, "://", 3) != 0) {
        fa_err(why, whylen, "expected scheme://host");
        return -1;
    }
    if (prefix && default_port(u->scheme) == 0) {
        fa_err(why, whylen, "only http:// and https:// URLs can be matched");
        return -1;
    }

    /* authority: [user@]host[:port] */
    auth = s + n + 3;
    auth_end = auth + strcspn(auth, "/?#");
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    if (at != NULL) {
        if (prefix) {
            fa_err(why, whylen, "a user name does not belong in a match URL");
            return -1;
        }
        for (p = auth; p < at; p++) {
            if (*p == '%' ? !escape_ok(p, 0, (size_t) (at - p))
                          : !(is_unreserved(*p) || is_sub_delim(*p)
                              || *p == ':')) {
                fa_err(why, whylen, "bad character in the user part");
                return -1;
            }
        }
        h = at + 1;
    } else {
        h = auth;
    }
    if (h < auth_end && *h == '[') {
        /* An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4). */
        hend = h + 1;
        while (hend < auth_end && (is_hex(*hend) || *hend == ':'
                                   || *hend == '.'))
            hend++;
        if (hend >= auth_end || *hend != ']'
            || memchr(h, ':', (size_t) (hend - h)) == NULL) {
            fa_err(why, whylen, "bad IPv6 address");
            return -1;
        }
        hend++;
    } else {
        hend = h;
        while (hend < auth_end && is_unreserved(*hend))
            hend++;
    }
    if (hend == h) {
        fa_err(why, whylen, "no host");
        return -1;
    }
    if ((size_t) (hend - h) > HOST_MAX) {
        fa_err(why, whylen, "host name longer than %d bytes", HOST_MAX);
        return -1;
    }
    u->host = h;
    u->host_len = (size_t) (hend - h);
    if (hend < auth_end) {
        if (*hend != ':') {
            fa_err(why, whylen, "bad character in the host name");
            return -1;
        }
        port = 0;
        for (p = hend + 1; p < auth_end; p++) {
            if (!is_digit(*p) || p - hend > 5) {
                port = -1;
                break;
            }
            port = port * 10 + (*p - '0');
        }
        if (p == hend + 1 || port < 1 || port > 65535) {
            fa_err(why, whylen, "bad port (expected 1 to 65535)");
            return -1;
        }
        u->port = port;
    } else {
        u->port = default_port(u->scheme);
    }

    /* path, up to a query or fragment */
    p = auth_end;
    q = p + strcspn(p, "?#");
    if (prefix && *q != '\0') {
        fa_err(why, whylen, "a query or fragment does not belong in a match"
               " URL");
        return -1;
    }
    for (i = 0; p + i < q; i++) {
        if (p[i] == '%' ? !escape_ok(p, i, (size_t) (q - p))
                        : !is_path_char(p[i])) {
            fa_err(why, whylen, "bad character in the path");
            return -1;
        }
    }
    for (seg = p; seg < q; ) {
        const char *end;

        seg++;   /* past '/' */
        end = memchr(seg, '/', (size_t) (q - seg));
        if (end == NULL)
            end = q;
        if (dot_segment(seg, (size_t) (end - seg))) {
            fa_err(why, whylen, "'.' or '..' in the path");
            return -1;
        }
        seg = end;
    }
    n = (size_t) (q - p);
    if (prefix)
        while (n > 0 && p[n - 1] == '/')
            n--;
    if (n > 0 && !(n == 1 && p[0] == '/')) {
        u->path = p;
        u->path_len = n;
    }
    return 0;
}

/* Does path u start with prefix p at a segment boundary?  The hex digits
 * of %XX escapes compare without case. */
static bool
path_has_prefix(const char *u, size_t ulen, const char *p, size_t plen)
{
    size_t i, esc = 0;

    if (ulen < plen)
        return false;
    for (i = 0; i < plen; i++) {
        if (esc > 0) {
            if (lower(u[i]) != lower(p[i]))
                return false;
            esc--;
        } else {
            if (u[i] != p[i])
                return false;
            if (p[i] == '%')
                esc = 2;
        }
    }
    return ulen == plen || u[plen] == '/';
}

static bool
host_eq(const struct url_parts *a, const struct url_parts *b)
{
    size_t i;

    if (a->host_len != b->host_len)
        return false;
    for (i = 0; i < a->host_len; i++)
        if (lower(a->host[i]) != lower(b->host[i]))
            return false;
    return true;
}

/*
 * How well prefix m covers url u: -1 not at all; 0 m has a path that was
 * not compared (u has none); 1 m has no path; 2 + the length of m's path
 * when u's path starts with it.  Higher is more specific.
 */
static long
match_score(const struct url_parts *m, const struct url_parts *u)
{
    if (strcmp(m->scheme, u->scheme) != 0 || m->port != u->port
        || !host_eq(m, u))
        return -1;
    if (m->path == NULL)
        return 1;
    if (u->path == NULL)
        return 0;
    if (!path_has_prefix(u->path, u->path_len, m->path, m->path_len))
        return -1;
    return 2 + (long) m->path_len;
}

/*
 * The best score of the prefixes in a profile's match value (-1: none
 * matches), or -2 with err set when one of them is not a valid prefix.
 */
static long
profile_score(const char *profile, const char *match,
              const struct url_parts *u, char *err, size_t errlen)
{
    struct url_parts m;
    char why[128];
    char *copy, *tok, *next;
    long best = -1, score;
    unsigned idx = 0;

    if (match == NULL)
        return -1;
    copy = strdup(match);
    if (copy == NULL) {
        fa_err(err, errlen, "out of memory");
        return -2;
    }
    for (tok = copy; *tok != '\0'; tok = next) {
        size_t n = strcspn(tok, " \t");

        next = tok + n;
        if (*next != '\0')
            *next++ = '\0';
        if (n == 0)
            continue;
        idx++;
        if (url_parse(tok, true, &m, why, sizeof(why)) != 0) {
            /* A user part might hold a password: not repeated. */
            if (strchr(tok, '@') != NULL)
                fa_err(err, errlen, "profile '%s': match URL %u: %s",
                       profile, idx, why);
            else
                fa_err(err, errlen, "profile '%s': bad match URL '%s': %s",
                       profile, tok, why);
            best = -2;
            break;
        }
        score = match_score(&m, u);
        if (score > best)
            best = score;
    }
    free(copy);
    return best;
}

static fhirauth_rc
set_detail(char **ret_detail, fhirauth_rc rc, const char *err)
{
    if (ret_detail != NULL)
        *ret_detail = strdup(err[0] != '\0' ? err : fhirauth_strerror(rc));
    return rc;
}

fhirauth_rc
fhirauth_profile_for_url(const char *config_file, const char *url,
                         char **ret_profile, char **ret_detail)
{
    struct fa_config_sources src;
    struct fa_profile_list list;
    struct url_parts u;
    char err[FA_DETAIL_MAX], why[128];
    char *user_file = NULL, *found = NULL;
    const char *best_name = NULL;
    long best = -1, score;
    fhirauth_rc rc = FHIRAUTH_OK;
    size_t i;

    err[0] = '\0';
    if (url == NULL || ret_profile == NULL) {
        fa_err(err, sizeof(err), "no URL given");
        return set_detail(ret_detail, FHIRAUTH_ERR_INVALID_ARGUMENT, err);
    }
    /* The URL itself is not repeated: it may carry a password. */
    if (url_parse(url, false, &u, why, sizeof(why)) != 0) {
        fa_err(err, sizeof(err), "bad URL: %s", why);
        return set_detail(ret_detail, FHIRAUTH_ERR_INVALID_ARGUMENT, err);
    }

    /* The sources of fhirauth_open_file() / fhirauth_open(). */
    fa_config_sources_for(&src, config_file, 0, &user_file);
    memset(&list, 0, sizeof(list));
    if (fa_config_profiles(&src, &list, err, sizeof(err)) != 0) {
        free(user_file);
        return set_detail(ret_detail, FHIRAUTH_ERR_CONFIG, err);
    }
    free(user_file);

    /* The most specific prefix wins; on a tie the default profile, else
     * the profile that comes first. */
    for (i = 0; i < list.n; i++) {
        score = profile_score(list.v[i].name, list.v[i].match, &u, err,
                              sizeof(err));
        if (score == -2) {
            rc = FHIRAUTH_ERR_CONFIG;
            break;
        }
        if (score > best
            || (score == best && score >= 0
                && strcmp(list.v[i].name, list.default_profile) == 0)) {
            best = score;
            best_name = list.v[i].name;
        }
    }
    if (rc == FHIRAUTH_OK && best_name != NULL
        && (found = strdup(best_name)) == NULL) {
        fa_err(err, sizeof(err), "out of memory");
        rc = FHIRAUTH_ERR_NOMEM;
    }
    fa_profile_list_free(&list);
    if (rc != FHIRAUTH_OK)
        return set_detail(ret_detail, rc, err);
    *ret_profile = found;
    return FHIRAUTH_OK;
}

const char *
fhirauth_option(const fhirauth *h, const char *key)
{
    return h != NULL ? fa_config_text(&h->cfg, key) : NULL;
}
