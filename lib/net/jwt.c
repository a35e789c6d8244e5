/* jwt.c - id_token verification (OIDC Core §3.1.3.7) with OpenSSL 3 EVP.
 *
 * Why not a JOSE library: see docs/ARCHITECTURE.md, "Library choices".
 * What is written here is the part no library did for us anyway (the
 * algorithm allow-list, key selection, the claims) plus three small uses
 * of OpenSSL: a JWK's public numbers to an EVP_PKEY (EVP_PKEY_fromdata,
 * then EVP_PKEY_public_check), EVP_DigestVerify, and an ES256 signature's
 * raw r||s to the DER that OpenSSL verifies.
 *
 * The rules, in the order they are applied:
 *  - compact serialisation: exactly three dot-separated parts, each strict
 *    base64url (RFC 7515 §2: no padding, no other characters, unused bits
 *    zero), none empty, the whole at most FA_JWT_MAX_TOKEN characters;
 *  - the header, a JSON object: "alg" in {RS256, PS256, ES256} (never
 *    "none", never HMAC: a public key is not a shared secret), no "crit"
 *    (we implement no extension), "kid" a string when present; keys the
 *    token names or carries itself (jku, jwk, x5u, x5c) are never used;
 *  - the key: from the JWKS only, matched by kid (without a kid, the one
 *    key that fits); it must fit the alg (RSA for RS256 and PS256, EC on
 *    P-256 for ES256), its "use", "alg" and "key_ops" must not exclude
 *    signing with this alg; RSA: a modulus of 2048 to 8192 bits, odd, an
 *    odd exponent >= 3; EC: OpenSSL's public key check must pass;
 *  - the signature over the first two parts as sent;
 *  - the claims: iss, aud (and azp), exp, iat, nbf, nonce, sub.
 * Messages may quote alg, kid, iss and aud (public, cleaned and capped),
 * never the token, the nonce or the subject. */
#include "autoconf.h"
#include "jwt.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "cachetime.h"
#include "http.h"
#include "rootcache.h"
#include "util.h"

/* Longest decoded payload: an id_token's claims are a few hundred bytes. */
#define FA_JWT_MAX_PAYLOAD (48 * 1024)
/* json-c nesting limits: a header is flat, claims may hold an address. */
#define FA_JWT_HEADER_DEPTH 4
#define FA_JWT_CLAIMS_DEPTH 16
#define FA_JWKS_DEPTH 8
/* RSA modulus bounds (bits); the upper one bounds the work a JWKS can
 * ask of us. */
#define FA_RSA_MIN_BITS 2048
#define FA_RSA_MAX_BITS 8192
/* OIDC Core §2: sub is at most 255 ASCII characters. */
#define FA_SUB_MAX 255
/* How many JWKS documents the process remembers (one per issuer). */
#define FA_JWKS_CACHE_MAX 8
/* Room for a message. */
#define FA_WHY_MAX 512

enum fa_alg { FA_RS256, FA_PS256, FA_ES256 };

static const struct {
    const char *name;
    enum fa_alg alg;
} allowed_algs[] = {
    { "RS256", FA_RS256 },
    { "PS256", FA_PS256 },
    { "ES256", FA_ES256 },
};

/* ---------------------------------------------------------------- text */

/* Server text for a message: printable ASCII, at most 64 characters. */
static void
clean(char *dst, size_t len, const char *src)
{
    size_t i, n = 0;

    if (len == 0)
        return;
    for (i = 0; src != NULL && src[i] != '\0' && n + 1 < len; i++) {
        unsigned char c = (unsigned char) src[i];

        if (i == 64) {
            if (n + 4 < len) {
                memcpy(dst + n, "...", 3);
                n += 3;
            }
            break;
        }
        dst[n++] = (c >= 0x20 && c <= 0x7e) ? (char) c : '?';
    }
    dst[n] = '\0';
}

/* ---------------------------------------------------------------- base64url */

static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * Strict base64url (RFC 7515 §2, RFC 4648 §5 without padding): only the
 * 64 characters, a length that is not 1 modulo 4, and zero unused bits in
 * the last character, so every byte string has exactly one encoding.
 * *ret is malloc()ed, NUL-terminated, of *retlen bytes (at most max).
 * 0 on success, -1 when malformed or too long, -2 when out of memory.
 */
static int
b64url_decode(const char *s, size_t n, size_t max, unsigned char **ret,
              size_t *retlen)
{
    unsigned char *out;
    size_t i, o = 0, outlen;
    uint32_t acc = 0;
    int bits = 0, v;

    if (n % 4 == 1)
        return -1;
    outlen = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (outlen > max)
        return -1;
    out = malloc(outlen + 1);
    if (out == NULL)
        return -2;
    for (i = 0; i < n; i++) {
        v = b64url_value((unsigned char) s[i]);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char) (acc >> bits);
            acc &= (1U << bits) - 1;
        }
    }
    if (acc != 0) /* unused bits of the last character */
        goto bad;
    out[o] = '\0';
    *ret = out;
    *retlen = o;
    return 0;
bad:
    free(out);
    return -1;
}

/* ---------------------------------------------------------------- JSON */

/*
 * Does JSON text hold a NUL byte, or a string with an escaped NUL
 * (\u0000)?  json-c keeps such a string whole, but every C string
 * comparison and copy after it would stop at the NUL: "root\u0000x"
 * would compare and copy as "root".  Outside strings JSON has no
 * backslashes, so skipping each escaped character is exact.
 */
static int
has_nul(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '\0')
            return 1;
        if (s[i] != '\\')
            continue;
        if (len - i > 5 && s[i + 1] == 'u' && s[i + 2] == '0'
            && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
            return 1;
        i++; /* the escaped character */
    }
    return 0;
}

/* One JSON object, strict, valid UTF-8, nothing after it, no NUL in any
 * string. */
static struct json_object *
parse_object(const char *text, size_t len, int depth)
{
    struct json_tokener *tok;
    struct json_object *obj;
    size_t end;

    if (len == 0 || len > INT_MAX || has_nul(text, len))
        return NULL;
    tok = json_tokener_new_ex(depth);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, text, (int) len);
    end = json_tokener_get_parse_end(tok);
    if (obj != NULL && json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    if (obj == NULL)
        return NULL;
    if (end != len || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* 1 with *ret for a string member, 0 when absent, -1 for another type. */
static int
get_string(struct json_object *o, const char *name, const char **ret)
{
    struct json_object *v;

    *ret = NULL;
    if (!json_object_object_get_ex(o, name, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *ret = json_object_get_string(v);
    /* parse_object refused embedded NULs; this keeps it so */
    if ((size_t) json_object_get_string_len(v) != strlen(*ret))
        return -1;
    return 1;
}

/* A NumericDate (RFC 7519 §2): 1 with *ret, 0 when absent, -1 otherwise.
 * Fractions are dropped; values beyond 64 bits are clamped. */
static int
get_time(struct json_object *o, const char *name, long long *ret)
{
    struct json_object *v;
    double d;

    if (!json_object_object_get_ex(o, name, &v))
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        *ret = (long long) json_object_get_int64(v);
        return 1;
    }
    if (json_object_is_type(v, json_type_double)) {
        d = json_object_get_double(v);
        if (d != d)
            return -1;
        if (d >= 9.0e18)
            *ret = LLONG_MAX;
        else if (d <= -9.0e18)
            *ret = LLONG_MIN;
        else
            *ret = (long long) d;
        return 1;
    }
    return -1;
}

/* ---------------------------------------------------------------- JWKS */

/* The "keys" array of a JWKS, or NULL (message in err). */
static struct json_object *
jwks_keys(struct json_object *jwks, struct fa_err *e)
{
    struct json_object *keys;

    if (!json_object_object_get_ex(jwks, "keys", &keys)
        || !json_object_is_type(keys, json_type_array)) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "the JWKS has no \"keys\" array");
        return NULL;
    }
    if (json_object_array_length(keys) > FA_JWT_MAX_KEYS) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "the JWKS has more than %d keys",
                   FA_JWT_MAX_KEYS);
        return NULL;
    }
    return keys;
}

fhirauth_rc
fa_jwt_jwks_check(const char *jwks, size_t len, struct fa_err *e)
{
    struct json_object *o;
    fhirauth_rc rc = FHIRAUTH_OK;

    o = jwks == NULL ? NULL : parse_object(jwks, len, FA_JWKS_DEPTH);
    if (o == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "the JWKS is not a JSON object");
    }
    if (jwks_keys(o, e) == NULL)
        rc = FHIRAUTH_ERR_PROTOCOL;
    json_object_put(o);
    return rc;
}

/* Does the JWK allow signature verification with alg?  RFC 7517 §4.2-4.4:
 * "use" must be "sig" when present, "key_ops" must list "verify" when
 * present, "alg" must be this alg when present. */
static int
key_allows(struct json_object *k, const char *alg)
{
    struct json_object *ops, *op;
    const char *s;
    size_t i, n;
    int r;

    r = get_string(k, "use", &s);
    if (r < 0 || (r > 0 && strcmp(s, "sig") != 0))
        return 0;
    r = get_string(k, "alg", &s);
    if (r < 0 || (r > 0 && strcmp(s, alg) != 0))
        return 0;
    if (json_object_object_get_ex(k, "key_ops", &ops)) {
        if (!json_object_is_type(ops, json_type_array))
            return 0;
        n = json_object_array_length(ops);
        for (i = 0; i < n; i++) {
            op = json_object_array_get_idx(ops, i);
            if (json_object_is_type(op, json_type_string)
                && strcmp(json_object_get_string(op), "verify") == 0)
                break;
        }
        if (i == n)
            return 0;
    }
    return 1;
}

/* Does the key's type fit the algorithm?  RSA for RS256 and PS256, EC on
 * P-256 for ES256. */
static int
key_fits(struct json_object *k, enum fa_alg alg)
{
    const char *kty, *crv;

    if (get_string(k, "kty", &kty) <= 0)
        return 0;
    switch (alg) {
    case FA_RS256:
    case FA_PS256:
        return strcmp(kty, "RSA") == 0;
    case FA_ES256:
        return strcmp(kty, "EC") == 0 && get_string(k, "crv", &crv) > 0
            && strcmp(crv, "P-256") == 0;
    }
    return 0;
}

/* A short description of a key's type for messages ("RSA", "EC P-384"). */
static void
key_type(struct json_object *k, char *buf, size_t len)
{
    const char *kty = NULL, *crv = NULL;
    char a[80], b[80];

    (void) get_string(k, "kty", &kty);
    (void) get_string(k, "crv", &crv);
    clean(a, sizeof(a), kty != NULL ? kty : "(no kty)");
    clean(b, sizeof(b), crv != NULL ? crv : "");
    fa_err(buf, len, "%s%s%s", a, b[0] != '\0' ? " " : "", b);
}

/*
 * Choose the JWK for a token with this alg and kid (kid may be NULL).
 * With a kid: the key so named that allows and fits the alg.  Without:
 * the only key that does.  NULL with a message otherwise; *no_key set
 * when a newer JWKS could help (no key with that kid; no fitting key).
 */
static struct json_object *
select_key(struct json_object *keys, const char *algname, enum fa_alg alg,
           const char *kid, int *no_key, struct fa_err *e)
{
    struct json_object *k, *chosen = NULL, *named = NULL;
    const char *kkid;
    size_t i, n = json_object_array_length(keys);
    int fitting = 0, r;
    char ckid[80], ktype[200];

    for (i = 0; i < n; i++) {
        k = json_object_array_get_idx(keys, i);
        if (!json_object_is_type(k, json_type_object))
            continue; /* RFC 7517 §5: ignore what we do not understand */
        r = get_string(k, "kid", &kkid);
        if (kid != NULL && (r <= 0 || strcmp(kkid, kid) != 0))
            continue;
        if (kid != NULL && named == NULL)
            named = k;
        if (!key_fits(k, alg) || !key_allows(k, algname))
            continue;
        if (kid != NULL) {
            chosen = k;
            break;
        }
        fitting++;
        chosen = k;
    }
    if (kid != NULL) {
        clean(ckid, sizeof(ckid), kid);
        if (chosen != NULL)
            return chosen;
        if (named != NULL) {
            key_type(named, ktype, sizeof(ktype));
            fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                       "the JWKS key \"%s\" (%s) cannot verify "
                       "%s signatures",
                       ckid, ktype, algname);
            return NULL;
        }
        *no_key = 1;
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "no key \"%s\" in the server's JWKS", ckid);
        return NULL;
    }
    if (fitting == 1)
        return chosen;
    if (fitting == 0) {
        *no_key = 1;
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the server's JWKS has no key for %s", algname);
    } else {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "it names no key (kid) and the JWKS "
                   "has %d keys for %s",
                   fitting, algname);
    }
    return NULL;
}

/* A base64url member of a JWK, decoded; -1 with a message when missing
 * or malformed, -2 out of memory. */
static int
jwk_bytes(struct json_object *k, const char *name, size_t max,
          unsigned char **ret, size_t *retlen, struct fa_err *e)
{
    const char *s;
    int r;

    if (get_string(k, name, &s) <= 0) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL, "the JWKS key has no \"%s\"",
                   name);
        return -1;
    }
    r = b64url_decode(s, strlen(s), max, ret, retlen);
    if (r == -1)
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS key's \"%s\" is malformed or too "
                   "long",
                   name);
    return r;
}

/* OpenSSL's own validation of an EC public key: on the curve, not the
 * point at infinity, of the group's order. */
static int
public_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    if (c == NULL)
        return 0;
    ok = EVP_PKEY_public_check(c) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* EVP_PKEY_fromdata for a public key of the named type. */
static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (c == NULL)
        return NULL;
    if (EVP_PKEY_fromdata_init(c) != 1
        || EVP_PKEY_fromdata(c, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(c);
    return pkey;
}

/* An RSA JWK (n, e) as an EVP_PKEY. */
static fhirauth_rc
rsa_key(struct json_object *k, EVP_PKEY **ret, struct fa_err *e)
{
    unsigned char *n = NULL, *ex = NULL;
    size_t nlen = 0, elen = 0;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    fhirauth_rc rc = FHIRAUTH_ERR_PROTOCOL;
    int bits, r;

    /* A leading zero byte is tolerated in n (some servers send one). */
    r = jwk_bytes(k, "n", FA_RSA_MAX_BITS / 8 + 1, &n, &nlen, e);
    if (r == 0)
        r = jwk_bytes(k, "e", 8, &ex, &elen, e);
    if (r == -2)
        goto nomem;
    if (r != 0)
        goto out;
    bn = BN_bin2bn(n, (int) nlen, NULL);
    be = BN_bin2bn(ex, (int) elen, NULL);
    if (bn == NULL || be == NULL)
        goto nomem;
    bits = BN_num_bits(bn);
    if (bits < FA_RSA_MIN_BITS || bits > FA_RSA_MAX_BITS) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS RSA key has %d bits (%d to %d "
                   "allowed)",
                   bits, FA_RSA_MIN_BITS, FA_RSA_MAX_BITS);
        goto out;
    }
    /* An odd modulus, an odd exponent of at least 3 (e = 1 would make
     * every padded message its own signature).  OpenSSL's full SP 800-56B
     * check (EVP_PKEY_public_check) costs ~5 ms of primality testing and
     * guards only against the AS's own broken keys. */
    if (!BN_is_odd(bn) || !BN_is_odd(be) || BN_num_bits(be) < 2) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS RSA key is not a valid public key");
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto nomem;
    pkey = pkey_fromdata("RSA", params);
    if (pkey == NULL) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS RSA key is not a valid public key");
        goto out;
    }
    *ret = pkey;
    rc = FHIRAUTH_OK;
    goto out;
nomem:
    rc = fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(ex);
    return rc;
}

/* An EC P-256 JWK (x, y) as an EVP_PKEY. */
static fhirauth_rc
ec_key(struct json_object *k, EVP_PKEY **ret, struct fa_err *e)
{
    unsigned char *x = NULL, *y = NULL, point[65];
    size_t xlen = 0, ylen = 0;
    char group[] = "prime256v1";
    OSSL_PARAM params[3];
    EVP_PKEY *pkey;
    fhirauth_rc rc = FHIRAUTH_ERR_PROTOCOL;
    int r;

    r = jwk_bytes(k, "x", 32, &x, &xlen, e);
    if (r == 0)
        r = jwk_bytes(k, "y", 32, &y, &ylen, e);
    if (r == -2) {
        rc = fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (r != 0)
        goto out;
    /* RFC 7518 §6.2.1.2: the full coordinate length, leading zeros kept */
    if (xlen != 32 || ylen != 32) {
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS EC key's coordinates are not 32 "
                   "bytes");
        goto out;
    }
    point[0] = 0x04; /* uncompressed (SEC 1 §2.3.3) */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    pkey = pkey_fromdata("EC", params);
    if (pkey == NULL || !public_check(pkey)) {
        EVP_PKEY_free(pkey);
        fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                   "the JWKS EC key is not a valid P-256 public "
                   "key");
        goto out;
    }
    *ret = pkey;
    rc = FHIRAUTH_OK;
out:
    free(x);
    free(y);
    return rc;
}

/* ---------------------------------------------------------------- signature */

/* RFC 7518 §3.4: an ES256 signature is r and s, 32 bytes each; OpenSSL
 * verifies the DER ECDSA-Sig-Value.  *ret is OPENSSL_free()d. */
static int
es256_der(const unsigned char *sig, size_t siglen, unsigned char **ret,
          size_t *retlen)
{
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    unsigned char *der = NULL;
    int len;

    if (siglen != 64)
        return -1;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return -2;
    }
    len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (len <= 0)
        return -2;
    *ret = der;
    *retlen = (size_t) len;
    return 0;
}

/* 1 when sig is a valid alg signature of input under pkey, 0 when not,
 * -2 out of memory or an OpenSSL failure. */
static int
verify_signature(EVP_PKEY *pkey, enum fa_alg alg, const char *input,
                 size_t inlen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    int r = -2;

    switch (alg) {
    case FA_RS256:
    case FA_PS256:
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            return 0;
        /* RFC 8017 §8.2.2 / §8.1.2: exactly the modulus length */
        if (siglen != (size_t) EVP_PKEY_get_size(pkey))
            return 0;
        break;
    case FA_ES256:
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return 0;
        r = es256_der(sig, siglen, &der, &derlen);
        if (r != 0)
            return r == -1 ? 0 : -2;
        sig = der;
        siglen = derlen;
        r = -2;
        break;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pkey, NULL)
            != 1)
        goto out;
    if (alg == FA_PS256
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1
            /* RFC 7518 §3.5: the salt is as long as the hash */
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                != 1))
        goto out;
    if (alg == FA_RS256
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    r = EVP_DigestVerify(md, sig, siglen, (const unsigned char *) input, inlen)
            == 1
        ? 1
        : 0;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return r;
}

/* ---------------------------------------------------------------- claims */

/* OIDC Core §3.1.3.7 steps 2-5 and 9-11, and RFC 7519 §4.1.5 (nbf). */
static fhirauth_rc
check_claims(struct json_object *c, const struct fa_jwt_expect *x,
             struct fa_err *e)
{
    struct json_object *aud, *v;
    const char *s, *azp;
    char a[80], b[80];
    long long exp, iat, nbf;
    size_t i, n, naud;
    int found = 0, r;

    r = get_string(c, "iss", &s);
    if (r <= 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "no issuer (iss)");
    }
    if (strcmp(s, x->issuer) != 0) {
        clean(a, sizeof(a), s);
        clean(b, sizeof(b), x->issuer);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "issued by \"%s\", not by "
                       "\"%s\"",
                       a, b);
    }

    if (!json_object_object_get_ex(c, "aud", &aud)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "no audience (aud)");
    }
    if (json_object_is_type(aud, json_type_string)) {
        naud = 1;
        found = strcmp(json_object_get_string(aud), x->client_id) == 0;
    } else if (json_object_is_type(aud, json_type_array)) {
        naud = n = json_object_array_length(aud);
        for (i = 0; i < n; i++) {
            v = json_object_array_get_idx(aud, i);
            if (!json_object_is_type(v, json_type_string)) {
                return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                               "its audience (aud) holds "
                               "something other than strings");
            }
            if (strcmp(json_object_get_string(v), x->client_id) == 0)
                found = 1;
        }
    } else {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "its audience (aud) is neither a "
                       "string nor an array");
    }
    clean(b, sizeof(b), x->client_id);
    if (!found) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "not meant for client \"%s\" "
                       "(aud)",
                       b);
    }
    r = get_string(c, "azp", &azp);
    if (r < 0 || (r == 0 && naud > 1)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "several audiences and no "
                       "authorized party (azp)");
    }
    if (r > 0 && strcmp(azp, x->client_id) != 0) {
        clean(a, sizeof(a), azp);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "issued to \"%s\" (azp), not to "
                       "client \"%s\"",
                       a, b);
    }

    if (get_time(c, "exp", &exp) <= 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "no valid expiry (exp)");
    }
    if (exp <= x->now - FA_JWT_SKEW) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "expired (exp %lld, now %lld, "
                       "%d s of clock skew allowed)",
                       exp, x->now, FA_JWT_SKEW);
    }
    if (get_time(c, "iat", &iat) <= 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "no valid issue time (iat)");
    }
    if (iat > x->now + FA_JWT_SKEW) {
        return fa_fail(
            e, FHIRAUTH_ERR_PROTOCOL,
            "issued in the future (iat "
            "%lld, now %lld, %d s of clock skew allowed): check the "
            "clocks",
            iat, x->now, FA_JWT_SKEW);
    }
    r = get_time(c, "nbf", &nbf);
    if (r < 0 || (r > 0 && nbf > x->now + FA_JWT_SKEW)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "not valid yet (nbf)");
    }

    if (x->nonce != NULL) {
        r = get_string(c, "nonce", &s);
        if (r <= 0 || strlen(s) != strlen(x->nonce)
            || CRYPTO_memcmp(s, x->nonce, strlen(s)) != 0) {
            return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                           r <= 0 ? "no nonce"
                                  : "its nonce is not the "
                                    "one this login sent");
        }
    }

    r = get_string(c, "sub", &s);
    if (r <= 0 || s[0] == '\0' || strlen(s) > FA_SUB_MAX) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "no valid subject (sub)");
    }
    return FHIRAUTH_OK;
}

/* ---------------------------------------------------------------- verify */

/* Prefix every message of fa_jwt_verify. */
static fhirauth_rc
rejected(fhirauth_rc rc, const char *why, struct fa_err *e)
{
    if (rc == FHIRAUTH_ERR_NOMEM)
        return fa_nomem(e);
    return fa_fail(e, rc, "id_token rejected: %s", why);
}

fhirauth_rc
fa_jwt_verify(const char *token, const char *jwks, size_t jwkslen,
              const struct fa_jwt_expect *x, char **ret_claims,
              int *ret_no_key, struct fa_err *e)
{
    const char *dot1, *dot2, *algname = NULL, *kid = NULL;
    unsigned char *hdr = NULL, *payload = NULL, *sig = NULL;
    size_t len, hlen = 0, plen = 0, slen = 0, i;
    struct json_object *h = NULL, *set = NULL, *keys, *key, *claims = NULL,
                       *crit;
    EVP_PKEY *pkey = NULL;
    enum fa_alg alg = FA_RS256;
    struct fa_err why;
    char calg[80];
    int no_key = 0, r;
    fhirauth_rc rc = FHIRAUTH_ERR_PROTOCOL;

    fa_err_clear(&why);
    if (ret_no_key != NULL)
        *ret_no_key = 0;
    if (token == NULL || x == NULL || x->issuer == NULL || x->client_id == NULL
        || ret_claims == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "verify id_token: missing argument");
    }

    /* Structure: three parts, strict base64url. */
    len = strnlen(token, FA_JWT_MAX_TOKEN + 1);
    if (len > FA_JWT_MAX_TOKEN) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL, "longer than %d characters",
                   FA_JWT_MAX_TOKEN);
        goto fail;
    }
    dot1 = memchr(token, '.', len);
    dot2 = dot1 == NULL
        ? NULL
        : memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
    if (dot1 == NULL || dot2 == NULL
        || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "not a signed JWT in compact form (three "
                   "parts separated by dots)");
        goto fail;
    }
    if (dot1 == token || dot2 == dot1 + 1
        || (size_t) (dot2 + 1 - token) == len) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL, "a part of the JWT is empty");
        goto fail;
    }
    r = b64url_decode(token, (size_t) (dot1 - token), FA_JWT_MAX_HEADER, &hdr,
                      &hlen);
    if (r == 0)
        r = b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1),
                          FA_JWT_MAX_PAYLOAD, &payload, &plen);
    if (r == 0)
        r = b64url_decode(dot2 + 1, len - (size_t) (dot2 + 1 - token), 1024,
                          &sig, &slen);
    if (r == -2) {
        rc = FHIRAUTH_ERR_NOMEM;
        goto fail;
    }
    if (r != 0) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "a part of the JWT is not base64url or "
                   "is too long");
        goto fail;
    }

    /* The header. */
    h = parse_object((const char *) hdr, hlen, FA_JWT_HEADER_DEPTH);
    if (h == NULL) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its header is not a JSON object");
        goto fail;
    }
    if (get_string(h, "alg", &algname) <= 0) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its header names no algorithm (alg)");
        goto fail;
    }
    for (i = 0; i < sizeof(allowed_algs) / sizeof(allowed_algs[0]); i++)
        if (strcmp(algname, allowed_algs[i].name) == 0)
            break;
    if (i == sizeof(allowed_algs) / sizeof(allowed_algs[0])) {
        clean(calg, sizeof(calg), algname);
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "algorithm \"%s\" is not allowed (RS256, "
                   "PS256 or ES256)",
                   calg);
        goto fail;
    }
    alg = allowed_algs[i].alg;
    if (json_object_object_get_ex(h, "crit", &crit)) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its header has critical extensions (crit) "
                   "we do not implement");
        goto fail;
    }
    if (get_string(h, "kid", &kid) < 0) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its key id (kid) is not a string");
        goto fail;
    }

    /* The key. */
    set = jwks == NULL ? NULL : parse_object(jwks, jwkslen, FA_JWKS_DEPTH);
    if (set == NULL) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "the server's JWKS is not a JSON object");
        goto fail;
    }
    keys = jwks_keys(set, &why);
    if (keys == NULL)
        goto fail;
    key = select_key(keys, algname, alg, kid, &no_key, &why);
    if (key == NULL)
        goto fail;
    rc =
        alg == FA_ES256 ? ec_key(key, &pkey, &why) : rsa_key(key, &pkey, &why);
    if (rc != FHIRAUTH_OK)
        goto fail;
    rc = FHIRAUTH_ERR_PROTOCOL;

    /* The signature, over the first two parts as sent. */
    r = verify_signature(pkey, alg, token, (size_t) (dot2 - token), sig, slen);
    if (r == -2) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "OpenSSL cannot verify %s signatures", algname);
        goto fail;
    }
    if (r != 1) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its %s signature does not verify with the "
                   "server's key",
                   algname);
        goto fail;
    }

    /* The claims. */
    claims = parse_object((const char *) payload, plen, FA_JWT_CLAIMS_DEPTH);
    if (claims == NULL) {
        fa_err_set(&why, FHIRAUTH_ERR_PROTOCOL,
                   "its payload is not a JSON object");
        goto fail;
    }
    rc = check_claims(claims, x, &why);
    if (rc != FHIRAUTH_OK)
        goto fail;

    *ret_claims = (char *) payload;
    payload = NULL;
    goto out;

fail:
    if (ret_no_key != NULL)
        *ret_no_key = no_key;
    rc = rejected(rc == FHIRAUTH_OK ? FHIRAUTH_ERR_PROTOCOL : rc, why.msg, e);
out:
    json_object_put(claims);
    json_object_put(set);
    json_object_put(h);
    EVP_PKEY_free(pkey);
    free(hdr);
    fa_secret_free_len(payload, plen);
    free(sig);
    return rc;
}

/* ---------------------------------------------------------------- cache */

struct jwks_entry {
    struct jwks_entry *next;
    char *uri;
    char *text;
    size_t len;
    long long expires; /* seconds since the epoch (fa_jwt_expect.now) */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jwks_entry *cache;

static void
entry_free(struct jwks_entry *e)
{
    if (e == NULL)
        return;
    free(e->uri);
    free(e->text);
    free(e);
}

void
fa_jwt_cache_clear(void)
{
    struct jwks_entry *e;

    pthread_mutex_lock(&cache_lock);
    while ((e = cache) != NULL) {
        cache = e->next;
        entry_free(e);
    }
    pthread_mutex_unlock(&cache_lock);
}

/* Is e still fresh at now?  A clock set back must not make an entry
 * live longer than any server may ask for. */
static int
entry_fresh(const struct jwks_entry *e, long long now)
{
    return now < e->expires && e->expires - now <= FA_CACHE_MAX_LIFETIME;
}

/* A copy of the cached JWKS for uri if it is fresh at now; NULL when
 * there is none (or no memory: then it is fetched again, which is
 * harmless). */
static char *
cache_get(const char *uri, long long now, size_t *len)
{
    struct jwks_entry *e;
    char *copy = NULL;

    pthread_mutex_lock(&cache_lock);
    for (e = cache; e != NULL; e = e->next) {
        if (strcmp(e->uri, uri) == 0) {
            if (!entry_fresh(e, now))
                break; /* replaced by the fetch that follows */
            copy = malloc(e->len + 1);
            if (copy != NULL) {
                memcpy(copy, e->text, e->len + 1);
                *len = e->len;
            }
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return copy;
}

/* Forget the entry for uri. */
static void
cache_drop(const char *uri)
{
    struct jwks_entry **pp, *old;

    pthread_mutex_lock(&cache_lock);
    for (pp = &cache; *pp != NULL;) {
        if (strcmp((*pp)->uri, uri) == 0) {
            old = *pp;
            *pp = old->next;
            entry_free(old);
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&cache_lock);
}

/* Remember text for uri (a copy) for lifetime seconds from now (at most
 * FA_CACHE_MAX_LIFETIME), replacing an older one; a lifetime of 0 keeps
 * nothing and drops the older one.  The list keeps the newest
 * FA_JWKS_CACHE_MAX documents.  Failure only costs a fetch. */
static void
cache_put(const char *uri, const char *text, size_t len, long long now,
          long lifetime)
{
    struct jwks_entry *e, **pp;
    unsigned n;

    if (lifetime <= 0) {
        cache_drop(uri);
        return;
    }
    if (lifetime > FA_CACHE_MAX_LIFETIME)
        lifetime = FA_CACHE_MAX_LIFETIME;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    e->uri = strdup(uri);
    e->text = malloc(len + 1);
    if (e->uri == NULL || e->text == NULL) {
        entry_free(e);
        return;
    }
    memcpy(e->text, text, len);
    e->text[len] = '\0';
    e->len = len;
    e->expires = now + lifetime;
    pthread_mutex_lock(&cache_lock);
    for (pp = &cache; *pp != NULL;) {
        if (strcmp((*pp)->uri, uri) == 0) {
            struct jwks_entry *old = *pp;

            *pp = old->next;
            entry_free(old);
        } else {
            pp = &(*pp)->next;
        }
    }
    e->next = cache;
    cache = e;
    for (n = 1, pp = &cache->next; *pp != NULL; n++) {
        if (n >= FA_JWKS_CACHE_MAX) {
            struct jwks_entry *old = *pp;

            *pp = old->next;
            entry_free(old);
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&cache_lock);
}

/* Fetch, check and cache the JWKS; *ret is the new text, *ret_stored
 * says whether it came from a store rather than the server. */
static fhirauth_rc
refresh_jwks(const char *uri, fa_jwks_fetch_fn fetch, void *arg, int fresh,
             long long now, char **ret, size_t *retlen, int *ret_stored,
             struct fa_err *e)
{
    char *text = NULL;
    size_t len = 0;
    struct fa_err why;
    long lifetime = 0;
    fhirauth_rc rc;

    *ret_stored = 0;
    rc = fetch(arg, uri, fresh, &text, &len, ret_stored, &lifetime, e);
    if (rc != FHIRAUTH_OK) {
        free(text);
        return rc;
    }
    fa_err_clear(&why);
    rc = fa_jwt_jwks_check(text, len, &why);
    if (rc != FHIRAUTH_OK) {
        free(text);
        return fa_fail(e, rc, "cannot verify the id_token: %s", why.msg);
    }
    cache_put(uri, text, len, now, lifetime);
    *ret = text;
    *retlen = len;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_jwt_verify_cached(const char *jwks_uri, fa_jwks_fetch_fn fetch, void *arg,
                     const char *token, const struct fa_jwt_expect *x,
                     char **ret_claims, struct fa_err *e)
{
    char *text;
    size_t len = 0;
    int no_key = 0, fresh = 0, stored = 0;
    fhirauth_rc rc;

    if (jwks_uri == NULL || fetch == NULL || x == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "verify id_token: missing argument");
    }
    text = cache_get(jwks_uri, x->now, &len);
    if (text == NULL) {
        rc = refresh_jwks(jwks_uri, fetch, arg, 0, x->now, &text, &len,
                          &stored, e);
        if (rc != FHIRAUTH_OK)
            return rc;
        fresh = !stored;
    }
    rc = fa_jwt_verify(token, text, len, x, ret_claims, &no_key, e);
    free(text);
    if (rc != FHIRAUTH_ERR_PROTOCOL || !no_key || fresh)
        return rc;
    /* No key fits: the AS may have rotated its keys since we cached. */
    rc =
        refresh_jwks(jwks_uri, fetch, arg, 1, x->now, &text, &len, &stored, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_jwt_verify(token, text, len, x, ret_claims, NULL, e);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- network */

/* fa_jwks_fetch_fn over the root-side cache (as root, unless fresh) and
 * the module's HTTP helper (HTTPS only, the configured CA, the body cap,
 * at most three redirects within the jwks_uri's https origin).  A JWKS
 * that passes fa_jwt_jwks_check is stored for as long as the server
 * allows, keyed by the jwks_uri asked for (never by a redirect's target);
 * a stored one that does not pass is ignored. */
static fhirauth_rc
http_fetch(void *arg, const char *uri, int fresh, char **ret, size_t *retlen,
           int *ret_stored, long *ret_lifetime, struct fa_err *e)
{
    const struct fa_net_ctx *ctx = arg;
    struct fa_http_resp resp;
    char *text = NULL;
    size_t len = 0;
    fhirauth_rc rc;

    if (!fresh && fa_rootcache_active(ctx->system_only)
        && fa_rootcache_get(FA_RC_JWKS, uri, &text, &len, ret_lifetime) == 0) {
        if (fa_jwt_jwks_check(text, len, NULL) == FHIRAUTH_OK) {
            *ret = text;
            *retlen = len;
            *ret_stored = 1;
            return FHIRAUTH_OK;
        }
        free(text);
    }
    rc = fa_http_get_metadata(ctx, uri, &resp, e);
    if (rc != FHIRAUTH_OK) {
        fa_http_resp_free(&resp);
        return rc;
    }
    if (resp.status < 200 || resp.status > 299) {
        rc = fa_fail(e,
                     resp.status >= 500 || resp.status == 429
                         ? FHIRAUTH_ERR_UNREACHABLE
                         : FHIRAUTH_ERR_PROTOCOL,
                     "JWKS at %s: %sHTTP %ld", uri,
                     resp.status >= 500 || resp.status == 429 ? "server error "
                                                              : "",
                     resp.status);
        fa_http_resp_free(&resp);
        return rc;
    }
    text = malloc(resp.body.len + 1);
    if (text == NULL) {
        fa_http_resp_free(&resp);
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    if (resp.body.len > 0)
        memcpy(text, resp.body.data, resp.body.len);
    text[resp.body.len] = '\0';
    if (fa_rootcache_active(ctx->system_only)
        && fa_jwt_jwks_check(text, resp.body.len, NULL) == FHIRAUTH_OK)
        fa_rootcache_put(FA_RC_JWKS, uri, text, resp.body.len, resp.lifetime);
    *ret = text;
    *retlen = resp.body.len;
    *ret_lifetime = resp.lifetime;
    fa_http_resp_free(&resp);
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_net_verify_id_token(const struct fa_net_ctx *ctx,
                       const struct fa_endpoints *ep, const char *id_token,
                       const char *nonce, char **ret_claims, struct fa_err *e)
{
    struct fa_jwt_expect x;
    fhirauth_rc rc;

    if (ctx == NULL || ctx->cfg == NULL || ep == NULL || id_token == NULL
        || ret_claims == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "verify id_token: missing argument");
    fa_err_clear(e);
    x.issuer = ep->issuer != NULL ? ep->issuer : ctx->cfg->issuer;
    x.client_id = ctx->cfg->client_id;
    x.nonce = nonce;
    x.now = (long long) time(NULL);
    if (x.issuer == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "cannot verify the id_token: no issuer is known "
                       "(set issuer in the configuration)");
    if (x.client_id == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "cannot verify the id_token: no client_id is "
                       "configured");
    if (ep->jwks_uri == NULL)
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "cannot verify the id_token: the server names "
                       "no jwks_uri (set jwks_uri in the configuration)");
    /* The cast drops const for the callback's generic argument only. */
    rc = fa_jwt_verify_cached(ep->jwks_uri, http_fetch,
                              (void *) (uintptr_t) ctx, id_token, &x,
                              ret_claims, e);
    return rc;
}
