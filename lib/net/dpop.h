/* dpop.h - DPoP (RFC 9449): the session's P-256 key, made at login and
 * kept in the keyring as PKCS#8 PEM text (never on disk), and the proofs
 * it signs for token and resource requests. */
#ifndef FHIRAUTH_DPOP_H
#define FHIRAUTH_DPOP_H

#include <stddef.h>

#include <openssl/evp.h>

#include "fhirauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

/* The longest method name a proof carries (RFC 9110 §9.1 method token). */
#define FA_DPOP_METHOD_MAX 32
/* The longest URL a proof is made for. */
#define FA_DPOP_URL_MAX 8192

/* A new P-256 key pair (EVP_PKEY_free()). */
fhirauth_rc fa_dpop_key_new(EVP_PKEY **ret, struct fa_err *e);

/* key's private part as PKCS#8 PEM, the keyring payload: *ret (len
 * bytes, NUL-terminated) is a secret, freed with fa_secret_free_len(). */
fhirauth_rc fa_dpop_key_encode(EVP_PKEY *key, char **ret, size_t *ret_len,
                               struct fa_err *e);

/* The key of a keyring payload (EVP_PKEY_free()).  A payload OpenSSL
 * cannot read as a P-256 private key is FHIRAUTH_ERR_KEYRING, never
 * LOGIN_NEEDED: only the server ends a session (the key is kept). */
fhirauth_rc fa_dpop_key_decode(const char *pem, size_t len, EVP_PKEY **ret,
                               struct fa_err *e);

/* RFC 9449 §4.2 htu: url without its query and fragment, into a new
 * string (free()).  FHIRAUTH_ERR_INVALID_ARGUMENT for anything but an
 * https URL of printable characters. */
fhirauth_rc fa_dpop_htu(const char *url, char **ret, struct fa_err *e);

/*
 * A DPoP proof (RFC 9449 §4.2) for the request method url, signed with
 * key (ES256): header typ "dpop+jwt", alg, the public jwk; claims jti (256
 * random bits), htm, htu (fa_dpop_htu), iat now, nonce when not NULL (it
 * must pass fa_dpop_nonce_fit, oauth.h: it came from a server), ath =
 * base64url(SHA-256(access_token)) when access_token is not NULL (a
 * resource request, §4.3).  *ret is malloc()ed: it is a credential for
 * that one request, freed with fa_secret_free().
 */
fhirauth_rc fa_dpop_proof(EVP_PKEY *key, const char *method, const char *url,
                          const char *nonce, const char *access_token,
                          long long now, char **ret, struct fa_err *e);

#pragma GCC visibility pop

#endif
