/* challenge.c - read a WWW-Authenticate header value (RFC 7235 §4.1):
 * whether a new bearer token may answer it (RFC 6750 §3,
 * fhirauth_bearer_challenge_retry()), and what a DPoP challenge asks
 * for (RFC 9449 §7.1, §8, fa_challenges_parse()). */
#include "autoconf.h"

#include <string.h>
#include <strings.h>

#include "challenge.h"
#include "fhirauth.h"

/* Longer values are refused (libcurl caps a header line at 100 KiB). */
#define CHALLENGE_MAX 65536
/* Enough for every RFC 6750 and RFC 9449 error code; longer values
 * match none. */
#define VALUE_MAX 32

/* The error values a challenge may carry that we act on. */
enum error_kind {
    ERR_OTHER = 0,
    ERR_INVALID_TOKEN, /* RFC 6750 §3.1 */
    ERR_USE_NONCE,     /* RFC 9449 §8 use_dpop_nonce */
    ERR_INVALID_PROOF, /* RFC 9449 §7.1 invalid_dpop_proof */
};

/* What one challenge said so far. */
struct challenge {
    int bearer;  /* the auth-scheme is Bearer */
    int dpop;    /* the auth-scheme is DPoP */
    int token68; /* token68 form: no auth-params (not RFC 6750) */
    int errors;  /* error parameters seen */
    enum error_kind error;
};

/* RFC 9110 §5.6.2 tchar */
static int
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 7235 §2.1 token68, without the trailing '='s */
static int
is_token68_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-._~+/", c) != NULL;
}

static size_t
skip_ows(const char *s, size_t n, size_t p)
{
    while (p < n && (s[p] == ' ' || s[p] == '\t'))
        p++;
    return p;
}

static size_t
scan_token(const char *s, size_t n, size_t p)
{
    while (p < n && is_tchar((unsigned char) s[p]))
        p++;
    return p;
}

/*
 * A quoted-string starting at s[p] == '"' (RFC 9110 §5.6.4): its unescaped
 * text goes to out (truncated; *ret_long set when it did not fit).
 * Returns the index after the closing quote, or 0 when the string is
 * malformed (0 cannot follow a quote).
 */
static size_t
scan_quoted(const char *s, size_t n, size_t p, char *out, size_t outlen,
            int *ret_long)
{
    size_t o = 0;
    unsigned char c;

    *ret_long = 0;
    for (p++; p < n; p++) {
        c = (unsigned char) s[p];
        if (c == '"') {
            out[o] = '\0';
            return p + 1;
        }
        if (c == '\\') {
            if (++p == n)
                return 0;
            c = (unsigned char) s[p];
        }
        /* HTAB, SP, VCHAR, obs-text; no other control characters */
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
        if (o + 1 < outlen)
            out[o++] = (char) c;
        else
            *ret_long = 1;
    }
    return 0; /* no closing quote */
}

/* A challenge in RFC 6750 form with no error, or invalid_token. */
static int
answerable(const struct challenge *c)
{
    return !c->token68
        && (c->errors == 0
            || (c->errors == 1 && c->error == ERR_INVALID_TOKEN));
}

/* Fold the challenge just ended into the answer.  Of several DPoP
 * challenges the most specific wins: a nonce to use, then a proof
 * refused, then a token to renew. */
static void
finish(const struct challenge *c, struct fa_challenges *out)
{
    enum fa_dpop_challenge d = FA_DPOP_NONE;

    if (c->bearer && answerable(c))
        out->bearer_retry = 1;
    if (!c->dpop || c->token68)
        return;
    if (answerable(c))
        d = FA_DPOP_RETRY;
    else if (c->errors == 1 && c->error == ERR_USE_NONCE)
        d = FA_DPOP_USE_NONCE;
    else if (c->errors == 1 && c->error == ERR_INVALID_PROOF)
        d = FA_DPOP_INVALID_PROOF;
    if (d != FA_DPOP_NONE
        && (out->dpop == FA_DPOP_NONE || (int) d < (int) out->dpop))
        out->dpop = d;
}

static enum error_kind
error_kind(const char *value, int too_long)
{
    if (too_long)
        return ERR_OTHER;
    if (strcmp(value, "invalid_token") == 0)
        return ERR_INVALID_TOKEN;
    if (strcmp(value, "use_dpop_nonce") == 0)
        return ERR_USE_NONCE;
    if (strcmp(value, "invalid_dpop_proof") == 0)
        return ERR_INVALID_PROOF;
    return ERR_OTHER;
}

/*
 * The header is a comma-separated list in which commas separate both
 * challenges and the auth-params of one challenge.  A word followed by '='
 * is a parameter of the challenge in progress; any other word starts a
 * new challenge (its auth-scheme), which a space then separates from a
 * token68 or its first parameter.  One pass, each character looked at a
 * bounded number of times; anything that does not parse makes the whole
 * answer -1.
 */
static int
scan(const char *s, struct fa_challenges *out)
{
    struct challenge cur;
    char value[VALUE_MAX];
    size_t n, p = 0, q, r, name, namelen;
    int open = 0;       /* a challenge is in progress */
    int need_param = 0; /* "scheme SP" seen: a parameter must follow */
    int too_long;

    if (s == NULL)
        return -1;
    n = strnlen(s, CHALLENGE_MAX + 1);
    if (n > CHALLENGE_MAX)
        return -1;
    memset(&cur, 0, sizeof(cur));

    for (;;) {
        p = skip_ows(s, n, p);
        if (p == n)
            break;
        if (s[p] == ',') {
            /* Empty list elements are allowed (RFC 9110 §5.6.1). */
            need_param = 0;
            p++;
            continue;
        }
        q = scan_token(s, n, p);
        if (q == p)
            return -1; /* neither a scheme nor a parameter name */
        r = skip_ows(s, n, q);

        if (r < n && s[r] == '=') {
            /* auth-param = token BWS "=" BWS ( token / quoted-string ) */
            if (!open || cur.token68)
                return -1;
            name = p;
            namelen = q - p;
            p = skip_ows(s, n, r + 1);
            if (p < n && s[p] == '"') {
                p = scan_quoted(s, n, p, value, sizeof(value), &too_long);
                if (p == 0)
                    return -1;
            } else {
                q = scan_token(s, n, p);
                if (q == p)
                    return -1;
                too_long = q - p >= sizeof(value);
                if (!too_long) {
                    memcpy(value, s + p, q - p);
                    value[q - p] = '\0';
                }
                p = q;
            }
            if (namelen == 5 && strncasecmp(s + name, "error", 5) == 0) {
                cur.errors++;
                cur.error = error_kind(value, too_long);
            }
            need_param = 0;
            p = skip_ows(s, n, p);
            if (p < n && s[p] != ',')
                return -1; /* parameters are separated by commas */
            continue;
        }
        if (need_param)
            return -1; /* "Bearer foo bar": a word where a parameter belongs */

        /* A new challenge: the word is its auth-scheme. */
        if (open)
            finish(&cur, out);
        memset(&cur, 0, sizeof(cur));
        open = 1;
        cur.bearer = q - p == 6 && strncasecmp(s + p, "Bearer", 6) == 0;
        cur.dpop = q - p == 4 && strncasecmp(s + p, "DPoP", 4) == 0;
        p = q;
        if (p == n || s[p] == ',')
            continue; /* a scheme without parameters */
        if (s[p] != ' ' && s[p] != '\t')
            return -1;
        p = skip_ows(s, n, p);
        if (p == n || s[p] == ',')
            continue;
        /* token68: a single word, perhaps '='-padded, ending the challenge */
        q = p;
        while (q < n && is_token68_char((unsigned char) s[q]))
            q++;
        if (q > p) {
            r = q;
            while (r < n && s[r] == '=')
                r++;
            r = skip_ows(s, n, r);
            if (r == n || s[r] == ',') {
                cur.token68 = 1;
                p = r;
                continue;
            }
        }
        need_param = 1;
    }
    if (open)
        finish(&cur, out);
    return 0;
}

int
fa_challenges_parse(const char *www_authenticate, struct fa_challenges *ret)
{
    struct fa_challenges out;

    memset(&out, 0, sizeof(out));
    memset(ret, 0, sizeof(*ret));
    if (scan(www_authenticate, &out) != 0)
        return -1;
    *ret = out;
    return 0;
}

int
fhirauth_bearer_challenge_retry(const char *www_authenticate)
{
    struct fa_challenges c;

    return fa_challenges_parse(www_authenticate, &c) == 0 && c.bearer_retry;
}
