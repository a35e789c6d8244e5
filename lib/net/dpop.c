/* dpop.c - DPoP (RFC 9449): the session's key and its proofs.
 *
 * The key is P-256 (ES256, the algorithm every DPoP server we know takes)
 * and made afresh at each login, so that a session's tokens are bound to
 * a key no other session shares.  Its keyring payload is PKCS#8 PEM,
 * read back through the same checks as a client key file (jws.c). */
#include "autoconf.h"
#include "dpop.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "grants.h"
#include "jws.h"
#include "net.h"
#include "oauth.h"

fhirauth_rc
fa_dpop_key_new(EVP_PKEY **ret, struct fa_err *e)
{
    *ret = EVP_EC_gen("P-256");
    if (*ret == NULL) {
        ERR_clear_error();
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "cannot make a DPoP key");
    }
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_dpop_key_encode(EVP_PKEY *key, char **ret, size_t *ret_len,
                   struct fa_err *e)
{
    BIO *bio;
    char *data, *out;
    long n;

    *ret = NULL;
    *ret_len = 0;
    /* secmem: OpenSSL wipes the buffer that held the private key when it
     * frees it. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return fa_nomem(e);
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1
        || (n = BIO_get_mem_data(bio, &data)) <= 0) {
        BIO_free(bio);
        ERR_clear_error();
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "cannot write the DPoP key");
    }
    out = malloc((size_t) n + 1);
    if (out == NULL) {
        BIO_free(bio);
        return fa_nomem(e);
    }
    memcpy(out, data, (size_t) n);
    out[n] = '\0';
    BIO_free(bio);
    *ret = out;
    *ret_len = (size_t) n;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_dpop_key_decode(const char *pem, size_t len, EVP_PKEY **ret,
                   struct fa_err *e)
{
    fhirauth_rc rc;

    rc = fa_sign_key_from_pem(pem, len, FA_SIG_ES256, "the DPoP key", ret,
                              NULL);
    if (rc == FHIRAUTH_ERR_NOMEM)
        return fa_nomem(e);
    /* Not LOGIN_NEEDED: OpenSSL failing here (memory, a broken
     * OPENSSL_CONF) looks the same as a damaged key, and the session is
     * not over until the server says so.  The key stays; a damaged one
     * fails every call until the user logs in again. */
    if (rc != FHIRAUTH_OK)
        return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                       "the session's DPoP key in the keyring cannot be "
                       "read as a P-256 private key (it is kept): log in "
                       "again if this persists");
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_dpop_htu(const char *url, char **ret, struct fa_err *e)
{
    size_t n;

    *ret = NULL;
    if (url == NULL || strncasecmp(url, "https://", 8) != 0)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof is made for an https URL only");
    n = strnlen(url, FA_DPOP_URL_MAX + 1);
    if (n > FA_DPOP_URL_MAX || !fa_charset_ok(url, n, FA_CS_NOSPACE))
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof's URL must be at most %d printable "
                       "characters without spaces",
                       FA_DPOP_URL_MAX);
    n = strcspn(url, "?#");
    if (n <= 8)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof's URL has no host");
    *ret = fa_memdup(url, n);
    return *ret == NULL ? fa_nomem(e) : FHIRAUTH_OK;
}

/* RFC 9110 §9.1: a method is a token. */
static int
method_ok(const char *m)
{
    size_t i, n;

    if (m == NULL)
        return 0;
    n = strnlen(m, FA_DPOP_METHOD_MAX + 1);
    if (n == 0 || n > FA_DPOP_METHOD_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) m[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

/* base64url(SHA-256(token)): RFC 9449 §4.2 ath. */
static char *
token_hash(const char *token)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (EVP_Digest(token, strlen(token), digest, &dlen, EVP_sha256(), NULL)
        != 1) {
        ERR_clear_error();
        return NULL;
    }
    return fa_b64url_encode(digest, dlen);
}

fhirauth_rc
fa_dpop_proof(EVP_PKEY *key, const char *method, const char *url,
              const char *nonce, const char *access_token, long long now,
              char **ret, struct fa_err *e)
{
    struct json_object *h = NULL, *c = NULL, *jwk = NULL;
    char *htu = NULL, *jti = NULL, *ath = NULL;
    fhirauth_rc rc;
    int bad;

    *ret = NULL;
    if (key == NULL || !method_ok(method))
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof needs a key and an HTTP method");
    if (nonce != NULL && !fa_dpop_nonce_fit(nonce, strlen(nonce)))
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the server's DPoP nonce is not one (RFC 9449 §8.1)");
    if (access_token != NULL && access_token[0] == '\0')
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a DPoP proof for an empty access token");
    rc = fa_dpop_htu(url, &htu, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_jti_new(&jti, e);
    if (rc != FHIRAUTH_OK)
        goto out;
    rc = fa_sign_public_jwk(key, NULL, NULL, &jwk, e);
    if (rc != FHIRAUTH_OK)
        goto out;
    if (access_token != NULL && (ath = token_hash(access_token)) == NULL) {
        rc = fa_nomem(e);
        goto out;
    }
    h = json_object_new_object();
    c = json_object_new_object();
    bad = h == NULL || c == NULL
        || fa_jws_add_string(h, "typ", "dpop+jwt") != 0
        || json_object_object_add(h, "jwk", jwk) != 0;
    if (!bad)
        jwk = NULL; /* h owns it now */
    bad = bad || fa_jws_add_string(c, "jti", jti) != 0
        || fa_jws_add_string(c, "htm", method) != 0
        || fa_jws_add_string(c, "htu", htu) != 0
        || json_object_object_add(c, "iat", json_object_new_int64(now)) != 0
        || (nonce != NULL && fa_jws_add_string(c, "nonce", nonce) != 0)
        || (ath != NULL && fa_jws_add_string(c, "ath", ath) != 0);
    rc = bad ? fa_nomem(e) : fa_sign_compact(key, FA_SIG_ES256, h, c, ret, e);
out:
    json_object_put(jwk);
    json_object_put(h);
    json_object_put(c);
    free(htu);
    free(jti);
    free(ath);
    return rc;
}

/* ---------------------------------------------------- the network module */

fhirauth_rc
fa_net_dpop_keygen(char **ret, size_t *ret_len, struct fa_err *e)
{
    EVP_PKEY *key = NULL;
    fhirauth_rc rc;

    rc = fa_dpop_key_new(&key, e);
    if (rc == FHIRAUTH_OK)
        rc = fa_dpop_key_encode(key, ret, ret_len, e);
    EVP_PKEY_free(key);
    return rc;
}

fhirauth_rc
fa_net_dpop_header(const struct fa_dpop *d, const char *method,
                   const char *url, const char *access_token, char **ret,
                   struct fa_err *e)
{
    static const char prefix[] = "DPoP: ";
    EVP_PKEY *key = NULL;
    char *proof = NULL, *line;
    size_t n;
    fhirauth_rc rc;

    *ret = NULL;
    rc = fa_dpop_key_decode(d->key, d->keylen, &key, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_dpop_proof(key, method, url, d->nonce[0] != '\0' ? d->nonce : NULL,
                       access_token, (long long) time(NULL), &proof, e);
    EVP_PKEY_free(key);
    if (rc != FHIRAUTH_OK)
        return rc;
    n = sizeof(prefix) + strlen(proof);
    line = malloc(n);
    if (line == NULL) {
        fa_secret_free(proof);
        return fa_nomem(e);
    }
    memcpy(line, prefix, sizeof(prefix) - 1);
    memcpy(line + sizeof(prefix) - 1, proof, n - sizeof(prefix) + 1);
    fa_secret_free(proof);
    *ret = line;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_net_dpop_proof(const struct fa_dpop *d, const char *method, const char *url,
                  const char *nonce, const char *access_token, char **ret,
                  struct fa_err *e)
{
    EVP_PKEY *key = NULL;
    fhirauth_rc rc;

    *ret = NULL;
    if (access_token == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a resource request's DPoP proof needs its token");
    rc = fa_dpop_key_decode(d->key, d->keylen, &key, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_dpop_proof(key, method, url, nonce, access_token,
                       (long long) time(NULL), ret, e);
    EVP_PKEY_free(key);
    return rc;
}

int
fa_net_dpop_nonce(struct fa_dpop *d, const char *nonce)
{
    if (d == NULL || nonce == NULL || nonce[0] == '\0'
        || strcmp(d->nonce, nonce) == 0)
        return 0;
    fa_strlcpy(d->nonce, nonce, sizeof(d->nonce));
    return 1;
}
