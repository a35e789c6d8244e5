/* challenge-t.c - fhirauth_bearer_challenge_retry() and
 * fa_challenges_parse(): WWW-Authenticate values from the RFCs (RFC 6750,
 * RFC 9449's DPoP challenges) and from the wild, malformed ones, very
 * long ones.
 * Every value is passed in a heap block of exactly its size, so a read
 * past the terminating NUL shows up under valgrind and ASan. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"
#include "fhirauth.h"
#include "tests/tap/basic.h"

struct tcase {
    const char *value;
    int want;
    const char *what;
};

static const struct tcase cases[] = {
    /* RFC 6750 §3 and §3.1 examples */
    { "Bearer realm=\"example\"", 1, "RFC 6750: realm only (no error)" },
    { "Bearer realm=\"example\", error=\"invalid_token\", "
      "error_description=\"The access token expired\"",
      1, "RFC 6750: invalid_token with a description" },
    { "Bearer realm=\"example\", error=\"insufficient_scope\", "
      "scope=\"patient/*.read\"",
      0, "insufficient_scope" },
    { "Bearer error=\"invalid_request\"", 0, "invalid_request" },
    { "Bearer error=\"something_else\"", 0, "an unknown error code" },
    { "Bearer error=\"\"", 0, "an empty error code" },
    /* RFC 7235 §4.1 example, and with a Bearer challenge in it */
    { "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
      "Basic realm=\"simple\"",
      0, "RFC 7235 example: no Bearer" },
    { "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
      "Bearer realm=\"simple\"",
      1, "RFC 7235 example with Bearer last" },
    /* bare schemes and case */
    { "Bearer", 1, "Bearer alone" },
    { "bearer", 1, "scheme lower case" },
    { "BEARER realm=x", 1, "scheme upper case" },
    { "BeArEr error=\"invalid_token\"", 1, "scheme mixed case" },
    { "Bearer ERROR=\"invalid_token\"", 1, "parameter name upper case" },
    { "Bearer Error=\"insufficient_scope\"", 0,
      "parameter name mixed case, insufficient_scope" },
    { "Bearer error=\"INVALID_TOKEN\"", 0, "error codes are case-sensitive" },
    { "Bearer error=invalid_token", 1, "error as a token, not quoted" },
    { "Bearer error=insufficient_scope", 0, "insufficient_scope as a token" },
    { "Bearer error = \"invalid_token\"", 1, "spaces around '='" },
    { "Bearer error\t=\tinvalid_token", 1, "tabs around '='" },
    /* other schemes */
    { "Basic realm=\"simple\"", 0, "Basic only" },
    { "Basic", 0, "bare Basic" },
    { "DPoP error=\"invalid_token\"", 0, "DPoP is not Bearer" },
    { "Bearerx", 0, "Bearerx is not Bearer" },
    { "Bear", 0, "Bear is not Bearer" },
    { "Bearer-2 realm=x", 0, "Bearer-2 is not Bearer" },
    { "Negotiate", 0, "Negotiate alone" },
    /* several challenges */
    { "Basic realm=\"x\", Bearer realm=\"y\"", 1, "Basic, then Bearer" },
    { "Basic realm=\"x\", Bearer realm=\"y\", error=\"insufficient_scope\"", 0,
      "Basic, then Bearer with insufficient_scope" },
    { "Bearer error=\"insufficient_scope\", Basic realm=\"x\"", 0,
      "Bearer with insufficient_scope, then Basic" },
    { "Bearer realm=\"y\", Basic realm=\"x\"", 1, "Bearer, then Basic" },
    { "Bearer realm=x, Basic, error=\"insufficient_scope\"", 1,
      "an error after a later scheme belongs to that scheme" },
    { "Negotiate abc==, Bearer", 1, "token68 challenge, then Bearer" },
    { "Negotiate YIIB/+xyz, Bearer error=invalid_token", 1,
      "token68 with '/' and '+', then Bearer" },
    { "Bearer error=\"insufficient_scope\", Bearer error=\"invalid_token\"", 1,
      "two Bearer challenges, one answerable" },
    { "Basic realm=\"a\",Bearer error=\"invalid_token\"", 1,
      "no space after the comma" },
    /* quoted strings */
    { "Bearer realm=\"a, b\", error=\"invalid_token\"", 1,
      "a comma inside a quoted string" },
    { "Bearer realm=\"a, error=\\\"insufficient_scope\\\"\", "
      "error=\"invalid_token\"",
      1, "a fake error parameter inside a quoted string (retry)" },
    { "Bearer realm=\"a, error=\\\"invalid_token\\\"\", "
      "error=\"insufficient_scope\"",
      0, "a fake error parameter inside a quoted string (no retry)" },
    { "Bearer realm=\"x, Basic\"", 1, "a scheme name inside a quoted string" },
    { "Basic realm=\"x, Bearer\"", 0,
      "'Bearer' inside a quoted string is no challenge" },
    { "Bearer error=\"invalid\\_token\"", 1,
      "a backslash escape inside the value" },
    { "Bearer error=\"invalid_token\\\\\"", 0,
      "an escaped backslash is part of the value" },
    { "Bearer error=\"invalid_token\\\"", 0,
      "an escaped closing quote leaves the string open" },
    { "Bearer realm=\"unterminated", 0, "no closing quote" },
    { "Bearer realm=\"x\\", 0, "a backslash at the very end" },
    { "Bearer realm=\"\", error=\"invalid_token\"", 1,
      "an empty quoted string" },
    { "Bearer realm=\"caf\xc3\xa9\", error=invalid_token", 1,
      "obs-text (UTF-8) in a quoted string" },
    { "Bearer realm=\"a\001b\"", 0, "a control character in a quoted string" },
    { "Bearer realm=\"a\177b\"", 0, "DEL in a quoted string" },
    { "Bearer realm=\"a\tb\"", 1, "a tab in a quoted string" },
    /* whitespace and empty list elements */
    { "  Bearer  \t realm=\"x\" ,  error=\"invalid_token\"  ", 1,
      "spaces and tabs everywhere allowed" },
    { "Bearer\trealm=\"x\"", 1, "a tab after the scheme" },
    { "Bearer,", 1, "a trailing comma" },
    { ", ,Bearer , ,", 1, "empty list elements around Bearer" },
    { "Bearer , error=\"invalid_token\"", 1,
      "an empty element before the first parameter" },
    { "Bearer , error=\"insufficient_scope\"", 0,
      "an empty element before insufficient_scope" },
    { "Bearer realm=\"x\",", 1, "a trailing comma after a parameter" },
    { "", 0, "empty" },
    { "   ", 0, "only spaces" },
    { ",,,", 0, "only commas" },
    /* malformed */
    { "Bearer abc123==", 0, "Bearer with a token68 (not RFC 6750)" },
    { "Bearer realm", 0, "Bearer with one bare word (a token68)" },
    { "Bearer realm=", 0, "a parameter without a value (a token68)" },
    { "Bearer realm=\"x\" error=\"invalid_token\"", 0,
      "parameters without a comma" },
    { "Bearer foo bar", 0, "two bare words" },
    { "realm=\"x\"", 0, "a parameter without a scheme" },
    { "\"Bearer\"", 0, "a quoted scheme" },
    { "=Bearer", 0, "starts with '='" },
    { "Bearer =abc", 0, "a value without a name" },
    { "Bearer realm=\"x\", =", 0, "a stray '='" },
    { "Bearer realm=\"x\", error", 1,
      "a bare word after a comma is a new scheme, ending Bearer" },
    { "Bearer=x", 0, "scheme glued to '='" },
    { "Bearer realm=\"x\"junk", 0, "text glued to a quoted string" },
    { "Bearer error=invalid_token;x", 0, "a ';' after a token value" },
    { "Bearer\r\n realm=\"x\"", 0, "a folded line (CR LF)" },
    { "Bearer \"realm\"=x", 0, "a quoted parameter name" },
    { "Basic realm=\"x\", Bearer, @@@", 0, "garbage after a good challenge" },
    { "Negotiate abc==, realm=x", 0, "a parameter after a token68" },
    { "Bearer error=\"invalid_token\", error=\"invalid_token\"", 0,
      "a repeated error parameter" },
    { "Bearer error=\"invalid_token\", ERROR=\"insufficient_scope\"", 0,
      "a repeated error parameter, another case" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* DPoP challenges (RFC 9449 §7.1, §8), and what Bearer makes of them. */
struct dcase {
    const char *value;
    int bearer;
    enum fa_dpop_challenge dpop;
    int public; /* what fhirauth_dpop_challenge() answers (fhirauth(3)) */
    const char *what;
};

static const struct dcase dcases[] = {
    { "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server "
      "requires nonce in DPoP proof\"",
      0, FA_DPOP_USE_NONCE, FHIRAUTH_DPOP_USE_NONCE,
      "RFC 9449 §9: use_dpop_nonce" },
    { "DPoP algs=\"ES256 PS256\", error=\"invalid_dpop_proof\"", 0,
      FA_DPOP_INVALID_PROOF, FHIRAUTH_DPOP_INVALID_PROOF,
      "invalid_dpop_proof with algs" },
    { "DPoP error=\"invalid_token\"", 0, FA_DPOP_RETRY, FHIRAUTH_DPOP_RETRY,
      "DPoP invalid_token: a new token may answer" },
    { "DPoP algs=\"ES256\"", 0, FA_DPOP_RETRY, FHIRAUTH_DPOP_RETRY,
      "DPoP without an error" },
    { "DPoP", 0, FA_DPOP_RETRY, FHIRAUTH_DPOP_RETRY, "DPoP alone" },
    { "dpop error=use_dpop_nonce", 0, FA_DPOP_USE_NONCE,
      FHIRAUTH_DPOP_USE_NONCE, "scheme lower case, error as a token" },
    { "DPoP error=\"insufficient_scope\"", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "insufficient_scope" },
    { "DPoP error=\"USE_DPOP_NONCE\"", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "error codes are case-sensitive" },
    { "DPoP error=\"use_dpop_nonce\", error=\"invalid_dpop_proof\"", 0,
      FA_DPOP_NONE, FHIRAUTH_DPOP_NONE, "a repeated error parameter" },
    { "DPoP abc123==", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE, "token68 form" },
    { "Bearer error=\"use_dpop_nonce\"", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "use_dpop_nonce in a Bearer challenge is no DPoP challenge" },
    { "Bearer realm=\"fhir\", DPoP algs=\"ES256 ES384 EdDSA RS256 PS256\"", 1,
      FA_DPOP_RETRY, FHIRAUTH_DPOP_RETRY,
      "the test FHIR server's two challenges" },
    { "DPoP error=\"invalid_token\", DPoP error=\"use_dpop_nonce\"", 0,
      FA_DPOP_USE_NONCE, FHIRAUTH_DPOP_USE_NONCE,
      "of two DPoP challenges the nonce wins" },
    { "DPoP error=\"invalid_dpop_proof\", DPoP", 0, FA_DPOP_INVALID_PROOF,
      FHIRAUTH_DPOP_INVALID_PROOF,
      "a refused proof wins over a bare challenge" },
    { "DPoPX error=\"use_dpop_nonce\"", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "another scheme that starts with DPoP" },
    { "Basic realm=\"x\", DPoP error=\"use_dpop_nonce\" x", 0, FA_DPOP_NONE,
      FHIRAUTH_DPOP_NONE, "malformed after the challenge: nothing" },
    { "DPoP realm=\"a, error=\\\"use_dpop_nonce\\\"\"", 0, FA_DPOP_RETRY,
      FHIRAUTH_DPOP_RETRY, "an error inside a quoted string is no error" },
    { "Basic realm=\"x\"", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "Basic alone" },
    { "Bearer error=\"invalid_token\"", 1, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "Bearer alone: no DPoP challenge" },
    { "Basic realm=\"x\", DPoP error=\"use_dpop_nonce\"", 0, FA_DPOP_USE_NONCE,
      FHIRAUTH_DPOP_USE_NONCE, "Basic, then DPoP use_dpop_nonce" },
    { "Bearer error=\"invalid_token\", DPoP error=\"invalid_dpop_proof\"", 1,
      FA_DPOP_INVALID_PROOF, FHIRAUTH_DPOP_INVALID_PROOF,
      "Bearer invalid_token, then DPoP invalid_dpop_proof" },
    { "DPoP error=\"use_dpop_nonce\", Bearer realm=\"fhir\"", 1,
      FA_DPOP_USE_NONCE, FHIRAUTH_DPOP_USE_NONCE, "DPoP first, then Bearer" },
    { "DPoP error=", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "malformed: an empty parameter value" },
    { "DPoP error=\"use_dpop_nonce", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE,
      "malformed: an unterminated quoted string" },
    { "", 0, FA_DPOP_NONE, FHIRAUTH_DPOP_NONE, "empty" },
};

#define NDCASES (sizeof(dcases) / sizeof(dcases[0]))

/* fa_challenges_parse() on a heap copy of exactly the value. */
static struct fa_challenges
parse(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    struct fa_challenges c;

    if (copy == NULL)
        bail("out of memory");
    memcpy(copy, s, n + 1);
    if (fa_challenges_parse(copy, &c) != 0)
        memset(&c, 0xff, sizeof(c));
    free(copy);
    return c;
}

/* fhirauth_bearer_challenge_retry() on a heap copy of exactly n bytes plus
 * the NUL. */
static int
check_n(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    int r;

    if (copy == NULL)
        bail("out of memory");
    memcpy(copy, s, n);
    copy[n] = '\0';
    r = fhirauth_bearer_challenge_retry(copy);
    free(copy);
    return r;
}

static int
check(const char *s)
{
    return check_n(s, strlen(s));
}

/* A value of exactly len bytes: a realm of 'A's then the error. */
static char *
long_value(size_t len, const char *error)
{
    static const char head[] = "Bearer realm=\"";
    char tail[64];
    size_t hl = sizeof(head) - 1, tl, fill;
    char *s;
    int w;

    w = snprintf(tail, sizeof(tail), "\", error=\"%s\"", error);
    if (w < 0 || (size_t) w >= sizeof(tail))
        bail("tail too long");
    tl = (size_t) w;
    if (len < hl + tl)
        bail("value too short");
    fill = len - hl - tl;
    s = malloc(len + 1);
    if (s == NULL)
        bail("out of memory");
    memcpy(s, head, hl);
    memset(s + hl, 'A', fill);
    memcpy(s + hl + fill, tail, tl);
    s[len] = '\0';
    return s;
}

int
main(void)
{
    static const char tricky[] =
        "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
        "Negotiate a+b/c==, Bearer realm=\"a, b\", error=\"invalid_token\"";
    char *s, *p;
    size_t i, n, bad, bearer_end;
    int r;

    plan(NCASES + 3 * NDCASES + 15);

    for (i = 0; i < NCASES; i++)
        is_int(cases[i].want, check(cases[i].value), "%s", cases[i].what);
    for (i = 0; i < NDCASES; i++) {
        struct fa_challenges c = parse(dcases[i].value);
        int malformed = strstr(dcases[i].what, "malformed") != NULL;

        is_int(malformed ? -1 : (int) dcases[i].dpop,
               malformed ? -1 : (int) c.dpop, "DPoP: %s", dcases[i].what);
        is_int(dcases[i].bearer, check(dcases[i].value), "Bearer: %s",
               dcases[i].what);
        /* The public face of the same parse (fhirauth(3)). */
        is_int(dcases[i].public, fhirauth_dpop_challenge(dcases[i].value),
               "fhirauth_dpop_challenge: %s", dcases[i].what);
    }
    is_int(FHIRAUTH_DPOP_NONE, fhirauth_dpop_challenge(NULL),
           "fhirauth_dpop_challenge: NULL");
    {
        struct fa_challenges c;

        is_int(-1, fa_challenges_parse("Bearer a b", &c), "malformed: -1");
        ok(c.bearer_retry == 0 && c.dpop == FA_DPOP_NONE,
           "... and the answer zeroed");
    }

    is_int(0, fhirauth_bearer_challenge_retry(NULL), "NULL");

    /* Very long values: fine up to 64 KiB, refused beyond. */
    s = long_value(60000, "invalid_token");
    is_int(1, fhirauth_bearer_challenge_retry(s), "a 60,000-byte realm");
    free(s);
    s = long_value(65536, "invalid_token");
    is_int(1, fhirauth_bearer_challenge_retry(s), "exactly 64 KiB");
    free(s);
    s = long_value(65537, "invalid_token");
    is_int(0, fhirauth_bearer_challenge_retry(s), "64 KiB + 1 is refused");
    free(s);
    s = long_value(1000000, "invalid_token");
    is_int(0, fhirauth_bearer_challenge_retry(s), "1 MB is refused");
    free(s);
    s = long_value(200, "invalid_token_and_then_a_lot_more_text_here");
    is_int(0, fhirauth_bearer_challenge_retry(s),
           "a long error value that starts with invalid_token");
    free(s);

    /* 2,000 Basic challenges, then Bearer. */
    n = 2000 * 17 + 7;
    s = malloc(n);
    if (s == NULL)
        bail("out of memory");
    p = s;
    for (i = 0; i < 2000; i++) {
        memcpy(p, "Basic realm=\"r\", ", 17);
        p += 17;
    }
    memcpy(p, "Bearer", 7);
    is_int(1, check(s), "2,000 Basic challenges, then Bearer");
    p[0] = 'X';
    is_int(0, check(s), "2,000 Basic challenges, then Xearer");
    free(s);

    /* 10,000 unclosed quotes: linear, and no read past the end. */
    n = 10000;
    s = malloc(n + 1);
    if (s == NULL)
        bail("out of memory");
    memset(s, '"', n);
    s[n] = '\0';
    is_int(0, check(s), "10,000 quotes");
    memset(s, ',', n);
    memcpy(s + n - 6, "Bearer", 6);
    is_int(1, check(s), "9,994 commas, then Bearer");
    free(s);

    /* Every prefix of a tricky value, each in a block of its own size:
     * no crash, no over-read, an answer of 0 or 1, and 0 while the
     * prefix has no complete Bearer scheme name. */
    bearer_end = (size_t) (strstr(tricky, "Bearer") - tricky) + 6;
    bad = 0;
    for (n = 0; n <= sizeof(tricky) - 1; n++) {
        r = check_n(tricky, n);
        if ((r != 0 && r != 1) || (n < bearer_end && r != 0)) {
            diag("prefix of %zu bytes: %d", n, r);
            bad++;
        }
    }
    is_int(0, (long long) bad, "every prefix of a tricky value");
    is_int(1, check(tricky), "the tricky value itself");

    return test_status();
}
