/* challenge.h - what a WWW-Authenticate header value asks of us
 * (challenge.c). */
#ifndef FHIRAUTH_CHALLENGE_H
#define FHIRAUTH_CHALLENGE_H

#pragma GCC visibility push(hidden)

/* What the DPoP challenges of a value ask for (RFC 9449 §7.1, §8), the
 * most specific first: of several, the one with the smallest value
 * counts. */
enum fa_dpop_challenge {
    FA_DPOP_NONE = 0,      /* no DPoP challenge we can answer */
    FA_DPOP_USE_NONCE,     /* error="use_dpop_nonce": the same request once
                            * more, with the server's DPoP-Nonce */
    FA_DPOP_INVALID_PROOF, /* error="invalid_dpop_proof": the proof was
                            * refused, not the token: a new token will not
                            * help, a fresh proof (jti, iat) may */
    FA_DPOP_RETRY,         /* no error, or invalid_token: a new token may
                            * answer */
};

struct fa_challenges {
    int bearer_retry; /* as fhirauth_bearer_challenge_retry() */
    enum fa_dpop_challenge dpop;
};

/* Parse a WWW-Authenticate value (at most 64 KiB): 0 and *ret, or -1 and
 * *ret zeroed when it does not parse as RFC 7235 challenges.  A DPoP
 * challenge counts only in the auth-param form with at most one error
 * parameter, as a Bearer one does. */
int fa_challenges_parse(const char *www_authenticate,
                        struct fa_challenges *ret);

#pragma GCC visibility pop

#endif
