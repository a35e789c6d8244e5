/* jws.h - the JWTs the client signs itself: private_key_jwt client
 * assertions (RFC 7523 §2.2, SMART App Launch "asymmetric" client
 * authentication) and DPoP proofs (RFC 9449, dpop.c).  A compact JWS made
 * with OpenSSL 3 EVP (RS256, RS384, ES256, ES384), the public JWK of the
 * key, and its RFC 7638 thumbprint. */
#ifndef FHIRAUTH_JWS_H
#define FHIRAUTH_JWS_H

#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "fhirauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

enum fa_sig_alg { FA_SIG_RS256, FA_SIG_RS384, FA_SIG_ES256, FA_SIG_ES384 };

/* The alg a client key signs with when client_key_alg is not set: the
 * one SMART App Launch asks servers to support for RSA keys. */
#define FA_SIG_DEFAULT FA_SIG_RS384
/* Largest key file we read (a 8192-bit RSA key in PEM is under 7 KiB). */
#define FA_KEY_FILE_MAX (16 * 1024)
/* An assertion's lifetime in seconds: SMART allows at most five minutes;
 * one less leaves room for a server whose clock is behind ours. */
#define FA_ASSERTION_LIFETIME 240
/* A base64url RFC 7638 thumbprint (SHA-256): 43 characters. */
#define FA_THUMBPRINT_LEN 43

/* 0 and *ret for a JOSE alg name this module signs with, -1 otherwise. */
int fa_sig_alg_from_name(const char *name, enum fa_sig_alg *ret);
const char *fa_sig_alg_name(enum fa_sig_alg alg);

/*
 * The private key of a PEM text (PKCS#8, or the traditional RSA or EC
 * form; never one that needs a passphrase), which must fit alg: RSA of
 * 2048 to 8192 bits for RS*, EC on P-256 for ES256, on P-384 for ES384.
 * what names the key's source in messages.  *ret is EVP_PKEY_free()d.
 * FHIRAUTH_ERR_CONFIG for a key that is not usable.
 */
fhirauth_rc fa_sign_key_from_pem(const char *pem, size_t len,
                                 enum fa_sig_alg alg, const char *what,
                                 EVP_PKEY **ret, struct fa_err *e);

/*
 * fa_sign_key_from_pem for the file at path, read with the checks a file
 * that lets its reader act as the client deserves: an absolute path whose
 * last component is not a symbolic link, a regular file of at most
 * FA_KEY_FILE_MAX bytes, owned by root or by the effective uid (root's
 * only, in a process running as root), writable by its owner only and not
 * readable by every user.  Read afresh at each use: a replaced key takes
 * effect at once.  FHIRAUTH_ERR_CONFIG for a file that fails a check.
 */
fhirauth_rc fa_sign_key_load(const char *path, enum fa_sig_alg alg,
                             EVP_PKEY **ret, struct fa_err *e);

/*
 * The public JWK of key (RFC 7517/7518: kty with n and e, or crv, x and
 * y; never a private member) as a new json-c object (json_object_put()),
 * with "use": "sig", "alg" and "kid" added when alg_name and kid are not
 * NULL.
 */
fhirauth_rc fa_sign_public_jwk(EVP_PKEY *key, const char *alg_name,
                               const char *kid, struct json_object **ret,
                               struct fa_err *e);

/* The key's RFC 7638 JWK thumbprint (SHA-256, base64url) into out, which
 * has room for FA_THUMBPRINT_LEN + 1 characters. */
fhirauth_rc fa_sign_thumbprint(EVP_PKEY *key, char *out, size_t outlen,
                               struct fa_err *e);

/*
 * A compact JWS of claims (a JSON object) signed with key: the header is
 * header (a JSON object, may be NULL) with "alg" set to alg's name.  *ret
 * is malloc()ed, NUL-terminated.
 */
fhirauth_rc fa_sign_compact(EVP_PKEY *key, enum fa_sig_alg alg,
                            struct json_object *header,
                            struct json_object *claims, char **ret,
                            struct fa_err *e);

/*
 * A private_key_jwt client assertion (RFC 7523 §3): iss and sub the
 * client_id, aud the token endpoint URL, a jti of 256 random bits, iat
 * now and exp FA_ASSERTION_LIFETIME later; "typ": "JWT" and kid in the
 * header (kid NULL: the key's thumbprint, as fhir-token client-jwks
 * prints it).  *ret is malloc()ed.
 */
fhirauth_rc fa_client_assertion(EVP_PKEY *key, enum fa_sig_alg alg,
                                const char *kid, const char *client_id,
                                const char *aud, long long now, char **ret,
                                struct fa_err *e);

/* A new jti of 256 random bits, base64url (free()): RFC 7523 §3 and RFC
 * 9449 §4.2 want a value no other JWT of the client carries. */
fhirauth_rc fa_jti_new(char **ret, struct fa_err *e);

/* Add a string member to o: 0, or -1 out of memory. */
int fa_jws_add_string(struct json_object *o, const char *name,
                      const char *value);

/* base64url without padding of n bytes into a new string (free()), or
 * NULL when out of memory. */
char *fa_b64url_encode(const unsigned char *in, size_t n);

#pragma GCC visibility pop

#endif
