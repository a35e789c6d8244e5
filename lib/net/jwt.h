/* jwt.h - id_token verification for the network module (OIDC Core
 * §3.1.3.7): a JWS in compact form, its signature checked with OpenSSL 3
 * EVP against the authorization server's JWKS (RS256, PS256 and ES256
 * only), then its claims.  The JWKS is fetched over the module's HTTP
 * helper and cached in the process, keyed by its URI. */
#ifndef FHIRAUTH_JWT_H
#define FHIRAUTH_JWT_H

#include <stddef.h>

#include "fhirauth.h"
#include "net.h"
#include "oauth.h"

#pragma GCC visibility push(hidden)

/* Clock skew allowed on exp, iat and nbf, in seconds. */
#define FA_JWT_SKEW 120
/* Longest id_token we look at (characters). */
#define FA_JWT_MAX_TOKEN (64 * 1024)
/* Longest decoded JOSE header: a few short members. */
#define FA_JWT_MAX_HEADER 2048
/* Most keys a JWKS may hold. */
#define FA_JWT_MAX_KEYS 64

/* What the token must say. */
struct fa_jwt_expect {
    const char *issuer;    /* iss must equal it byte for byte */
    const char *client_id; /* must be in aud; azp, when present */
    const char *nonce;     /* NULL: not checked */
    long long now;         /* seconds since the epoch */
};

/*
 * The core: verify the compact JWS token against the JWKS document (JSON
 * text of jwkslen bytes) and check its claims against x.  On success
 * *ret_claims is the payload, a JSON object as text (free()).
 * Failures: FHIRAUTH_ERR_PROTOCOL for a token or JWKS that does not pass
 * (with a message that never quotes the token), FHIRAUTH_ERR_NOMEM.
 * *ret_no_key (may be NULL) is set to 1 when the failure was only that no
 * key in the JWKS fits the token (unknown kid): a fresher JWKS may help.
 * *ret_claims is untouched on failure.
 */
fhirauth_rc fa_jwt_verify(const char *token, const char *jwks, size_t jwkslen,
                          const struct fa_jwt_expect *x, char **ret_claims,
                          int *ret_no_key, struct fa_err *e);

/* Is this a JWKS document we can use (a JSON object with a "keys"
 * array of at most FA_JWT_MAX_KEYS entries)? */
fhirauth_rc fa_jwt_jwks_check(const char *jwks, size_t len, struct fa_err *e);

/* Fetch the JWKS at uri: *ret (malloc, NUL-terminated) and *retlen.
 * With fresh set it must come from the server; otherwise a stored copy
 * (the root-side cache) may answer, and *ret_stored is then set to 1.
 * *ret_lifetime: for how many more seconds the document may be reused
 * (fa_cache_lifetime's answer for the server's headers, or what is left
 * of a stored copy's; 0: not at all). */
typedef fhirauth_rc (*fa_jwks_fetch_fn)(void *arg, const char *uri, int fresh,
                                        char **ret, size_t *retlen,
                                        int *ret_stored, long *ret_lifetime,
                                        struct fa_err *e);

/*
 * fa_jwt_verify with the JWKS from the process-wide cache, keyed by
 * jwks_uri: fetched (and checked) on first use and again once its
 * lifetime (from the fetch, at most FA_CACHE_MAX_LIFETIME; cachetime.h)
 * has passed, counted in x->now's seconds; a document that may not be
 * reused is not kept.  Fetched once more, fresh from the server, when no
 * key fits the token (the AS rotated its keys) and what was used did not
 * already come from the server.  Thread-safe.
 */
fhirauth_rc fa_jwt_verify_cached(const char *jwks_uri, fa_jwks_fetch_fn fetch,
                                 void *arg, const char *token,
                                 const struct fa_jwt_expect *x,
                                 char **ret_claims, struct fa_err *e);

/* Forget every cached JWKS (for tests). */
void fa_jwt_cache_clear(void);

/* The network operation (contract: fa_net_ops.verify_id_token in net.h):
 * iss = ep->issuer (else the configured issuer), aud = client_id, the
 * JWKS from ep->jwks_uri through fa_http_get. */
fhirauth_rc fa_net_verify_id_token(const struct fa_net_ctx *ctx,
                                   const struct fa_endpoints *ep,
                                   const char *id_token, const char *nonce,
                                   char **ret_claims, struct fa_err *e);

#pragma GCC visibility pop

#endif
