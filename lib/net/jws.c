/* jws.c - signing the client's own JWTs with OpenSSL 3 EVP.
 *
 * The signature (RFC 7518 §3.3, §3.4): RSASSA-PKCS1-v1_5 for RS256 and
 * RS384; for ES256 and ES384 ECDSA, whose DER ECDSA-Sig-Value from
 * OpenSSL is rewritten as r and s, each padded to the curve's size.
 * Messages name the key file, never its contents. */
#include "autoconf.h"
#include "jws.h"
#include "credfile.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

static const struct {
    const char *name;
    enum fa_sig_alg alg;
    const char *digest;
    const char *curve; /* NULL: RSA */
    const char *crv;   /* the JWK's name of the curve */
    size_t half;       /* bytes of r and of s */
} algs[] = {
    { "RS256", FA_SIG_RS256, "SHA256", NULL, NULL, 0 },
    { "RS384", FA_SIG_RS384, "SHA384", NULL, NULL, 0 },
    { "ES256", FA_SIG_ES256, "SHA256", "prime256v1", "P-256", 32 },
    { "ES384", FA_SIG_ES384, "SHA384", "secp384r1", "P-384", 48 },
};

#define FA_RSA_SIGN_MIN_BITS 2048
#define FA_RSA_SIGN_MAX_BITS 8192
/* Random bytes in a jti: RFC 7523 §3 and RFC 9449 §4.2 ask for a value
 * no other JWT of the client carries; 256 random bits make a repeat
 * beyond reach. */
#define FA_JTI_BYTES 32

int
fa_sig_alg_from_name(const char *name, enum fa_sig_alg *ret)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0) {
            *ret = algs[i].alg;
            return 0;
        }
    return -1;
}

const char *
fa_sig_alg_name(enum fa_sig_alg alg)
{
    return algs[alg].name;
}

char *
fa_b64url_encode(const unsigned char *in, size_t n)
{
    size_t cap, i, len;
    unsigned char *tmp;
    char *out;
    int got;

    if (n > (size_t) 1 << 28)
        return NULL;
    cap = 4 * ((n + 2) / 3) + 1;
    tmp = malloc(cap);
    if (tmp == NULL)
        return NULL;
    got = EVP_EncodeBlock(tmp, in, (int) n);
    if (got < 0) {
        free(tmp);
        return NULL;
    }
    len = (size_t) got;
    while (len > 0 && tmp[len - 1] == '=')
        len--;
    out = (char *) tmp;
    for (i = 0; i < len; i++)
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char) tmp[i];
    out[len] = '\0';
    return out;
}

/* ---------------------------------------------------------------- keys */

/* Never ask for a passphrase: a key that needs one is refused, and a PAM
 * module must not read from a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return -1;
}

/* Does key fit alg? 1 yes, 0 no (why says how). */
static int
key_fits(EVP_PKEY *key, enum fa_sig_alg alg, char *why, size_t whylen)
{
    char group[64];
    size_t glen = 0;
    int bits;

    if (algs[alg].curve == NULL) {
        if (!EVP_PKEY_is_a(key, "RSA")) {
            fa_err(why, whylen, "is not an RSA key, as %s needs",
                   algs[alg].name);
            return 0;
        }
        bits = EVP_PKEY_get_bits(key);
        if (bits < FA_RSA_SIGN_MIN_BITS || bits > FA_RSA_SIGN_MAX_BITS) {
            fa_err(why, whylen, "is an RSA key of %d bits (%d to %d wanted)",
                   bits, FA_RSA_SIGN_MIN_BITS, FA_RSA_SIGN_MAX_BITS);
            return 0;
        }
        return 1;
    }
    if (!EVP_PKEY_is_a(key, "EC")
        || EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), &glen)
            != 1
        || strcmp(group, algs[alg].curve) != 0) {
        fa_err(why, whylen, "is not an EC key on %s, as %s needs",
               algs[alg].crv, algs[alg].name);
        return 0;
    }
    return 1;
}

fhirauth_rc
fa_sign_key_from_pem(const char *pem, size_t len, enum fa_sig_alg alg,
                     const char *what, EVP_PKEY **ret, struct fa_err *e)
{
    char why[160];
    EVP_PKEY *key;
    BIO *bio;

    *ret = NULL;
    if (len > FA_KEY_FILE_MAX)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s is larger than %d bytes",
                       what, FA_KEY_FILE_MAX);
    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL)
        return fa_nomem(e);
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    /* What the decoders tried and refused stays in the thread's error
     * queue otherwise, where the host process (sshd) would find it. */
    ERR_clear_error();
    if (key == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s holds no private key in PEM without a passphrase",
                       what);
    if (!key_fits(key, alg, why, sizeof(why))) {
        ERR_clear_error();
        EVP_PKEY_free(key);
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s %s", what, why);
    }
    *ret = key;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_sign_key_load(const char *path, enum fa_sig_alg alg, EVP_PKEY **ret,
                 struct fa_err *e)
{
    char what[96 + 16];
    char *pem = NULL;
    size_t len = 0;
    fhirauth_rc rc;

    *ret = NULL;
    rc = fa_credfile_read("client_key_file", path, FA_KEY_FILE_MAX, &pem, &len,
                          e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (snprintf(what, sizeof(what), "client_key_file %s", path)
        >= (int) sizeof(what))
        memcpy(what + sizeof(what) - 4, "...", 4);
    rc = fa_sign_key_from_pem(pem, len, alg, what, ret, e);
    fa_secret_free_len(pem, FA_CREDFILE_SIZE(FA_KEY_FILE_MAX));
    return rc;
}

/* ---------------------------------------------------------------- JWK */

/* A BIGNUM parameter of key as base64url of exactly pad bytes (0: its
 * minimal length).  NULL when out of memory or missing. */
static char *
bn_param_b64(EVP_PKEY *key, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char *bytes;
    size_t len;
    char *out = NULL;

    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return NULL;
    len = pad > 0 ? pad : (size_t) BN_num_bytes(bn);
    if (len == 0)
        len = 1;
    bytes = malloc(len);
    if (bytes != NULL && BN_bn2binpad(bn, bytes, (int) len) == (int) len)
        out = fa_b64url_encode(bytes, len);
    free(bytes);
    BN_free(bn);
    return out;
}

/* The members RFC 7638 §3.2 requires, as base64url strings: RSA e, n; EC
 * x, y with crv.  0, or -1 out of memory or a key of another kind. */
struct jwk_parts {
    const char *kty;
    const char *crv; /* EC only */
    char *a;         /* RSA: e; EC: x */
    char *b;         /* RSA: n; EC: y */
};

static void
jwk_parts_free(struct jwk_parts *p)
{
    free(p->a);
    free(p->b);
    p->a = p->b = NULL;
}

static int
jwk_parts(EVP_PKEY *key, struct jwk_parts *p)
{
    size_t i;
    char group[64];
    size_t glen = 0;

    memset(p, 0, sizeof(*p));
    if (EVP_PKEY_is_a(key, "RSA")) {
        p->kty = "RSA";
        p->a = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
        p->b = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
    } else if (EVP_PKEY_is_a(key, "EC")
               && EVP_PKEY_get_utf8_string_param(key,
                                                 OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, sizeof(group), &glen)
                   == 1) {
        for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
            if (algs[i].curve != NULL && strcmp(group, algs[i].curve) == 0)
                break;
        if (i == sizeof(algs) / sizeof(algs[0]))
            return -1;
        p->kty = "EC";
        p->crv = algs[i].crv;
        /* RFC 7518 §6.2.1.2: x and y are the full size of the field. */
        p->a = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, algs[i].half);
        p->b = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, algs[i].half);
    } else {
        return -1;
    }
    if (p->a == NULL || p->b == NULL) {
        jwk_parts_free(p);
        return -1;
    }
    return 0;
}

/* json_object_object_add with a new string; 0 or -1. */
int
fa_jws_add_string(struct json_object *o, const char *name, const char *value)
{
    struct json_object *v = json_object_new_string(value);

    if (v == NULL || json_object_object_add(o, name, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

fhirauth_rc
fa_sign_public_jwk(EVP_PKEY *key, const char *alg_name, const char *kid,
                   struct json_object **ret, struct fa_err *e)
{
    struct jwk_parts p;
    struct json_object *o;
    int bad;

    *ret = NULL;
    if (jwk_parts(key, &p) != 0)
        return fa_nomem(e);
    o = json_object_new_object();
    bad = o == NULL || fa_jws_add_string(o, "kty", p.kty) != 0;
    if (!bad && p.crv != NULL)
        bad = fa_jws_add_string(o, "crv", p.crv) != 0
            || fa_jws_add_string(o, "x", p.a) != 0
            || fa_jws_add_string(o, "y", p.b) != 0;
    else if (!bad)
        bad = fa_jws_add_string(o, "n", p.b) != 0
            || fa_jws_add_string(o, "e", p.a) != 0;
    if (!bad && alg_name != NULL)
        bad = fa_jws_add_string(o, "use", "sig") != 0
            || fa_jws_add_string(o, "alg", alg_name) != 0;
    if (!bad && kid != NULL)
        bad = fa_jws_add_string(o, "kid", kid) != 0;
    jwk_parts_free(&p);
    if (bad) {
        json_object_put(o);
        return fa_nomem(e);
    }
    *ret = o;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_sign_thumbprint(EVP_PKEY *key, char *out, size_t outlen, struct fa_err *e)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    struct jwk_parts p;
    struct fa_buf b;
    char *t;
    int bad;

    if (outlen < FA_THUMBPRINT_LEN + 1)
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "thumbprint buffer too small");
    if (jwk_parts(key, &p) != 0)
        return fa_nomem(e);
    /* RFC 7638 §3.3: the required members only, in lexicographic order,
     * no white space; the values are base64url and need no escaping. */
    fa_buf_init(&b, 4096);
    if (p.crv != NULL)
        bad = fa_buf_append(&b, "{\"crv\":\"", 8) != 0
            || fa_buf_append(&b, p.crv, strlen(p.crv)) != 0
            || fa_buf_append(&b, "\",\"kty\":\"EC\",\"x\":\"", 18) != 0
            || fa_buf_append(&b, p.a, strlen(p.a)) != 0
            || fa_buf_append(&b, "\",\"y\":\"", 7) != 0
            || fa_buf_append(&b, p.b, strlen(p.b)) != 0
            || fa_buf_append(&b, "\"}", 2) != 0;
    else
        bad = fa_buf_append(&b, "{\"e\":\"", 6) != 0
            || fa_buf_append(&b, p.a, strlen(p.a)) != 0
            || fa_buf_append(&b, "\",\"kty\":\"RSA\",\"n\":\"", 19) != 0
            || fa_buf_append(&b, p.b, strlen(p.b)) != 0
            || fa_buf_append(&b, "\"}", 2) != 0;
    jwk_parts_free(&p);
    if (bad
        || EVP_Digest(b.data, b.len, digest, &dlen, EVP_sha256(), NULL) != 1
        || (t = fa_b64url_encode(digest, dlen)) == NULL) {
        fa_buf_wipe(&b);
        return fa_nomem(e);
    }
    fa_buf_wipe(&b);
    fa_strlcpy(out, t, outlen);
    free(t);
    return FHIRAUTH_OK;
}

/* ---------------------------------------------------------------- signing */

/* ECDSA's DER signature as r || s, each half bytes.  NULL on failure. */
static unsigned char *
ecdsa_raw(const unsigned char *der, size_t derlen, size_t half)
{
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    ECDSA_SIG *sig;
    unsigned char *raw;

    sig = d2i_ECDSA_SIG(NULL, &p, (long) derlen);
    if (sig == NULL)
        return NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    raw = malloc(2 * half);
    if (raw != NULL
        && (BN_bn2binpad(r, raw, (int) half) != (int) half
            || BN_bn2binpad(s, raw + half, (int) half) != (int) half)) {
        fa_secret_free_len(raw, 2 * half);
        raw = NULL;
    }
    ECDSA_SIG_free(sig);
    return raw;
}

/* The signature of input (base64url, a new string), or NULL. */
static char *
sign_input(EVP_PKEY *key, enum fa_sig_alg alg, const char *input)
{
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL, *raw;
    size_t siglen = 0, sigcap = 0;
    char *out = NULL;

    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestSignInit_ex(md, &pctx, algs[alg].digest, NULL, NULL, key,
                                 NULL)
            != 1)
        goto out;
    if (algs[alg].curve == NULL
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    if (EVP_DigestSign(md, NULL, &siglen, (const unsigned char *) input,
                       strlen(input))
            != 1
        || (sig = malloc(sigcap = siglen)) == NULL
        || EVP_DigestSign(md, sig, &siglen, (const unsigned char *) input,
                          strlen(input))
            != 1)
        goto out;
    if (algs[alg].curve == NULL) {
        out = fa_b64url_encode(sig, siglen);
    } else if ((raw = ecdsa_raw(sig, siglen, algs[alg].half)) != NULL) {
        out = fa_b64url_encode(raw, 2 * algs[alg].half);
        fa_secret_free_len(raw, 2 * algs[alg].half);
    }
out:
    /* The signature is what makes an assertion a credential. */
    EVP_MD_CTX_free(md);
    if (sig != NULL)
        fa_secret_free_len(sig, sigcap);
    if (out == NULL)
        ERR_clear_error();
    return out;
}

/* base64url of a JSON object's plain text, or NULL. */
static char *
json_b64(struct json_object *o)
{
    const char *text =
        json_object_to_json_string_ext(o,
                                       JSON_C_TO_STRING_PLAIN
                                           | JSON_C_TO_STRING_NOSLASHESCAPE);

    return text == NULL
        ? NULL
        : fa_b64url_encode((const unsigned char *) text, strlen(text));
}

fhirauth_rc
fa_sign_compact(EVP_PKEY *key, enum fa_sig_alg alg, struct json_object *header,
                struct json_object *claims, char **ret, struct fa_err *e)
{
    struct json_object *h;
    char *hb = NULL, *cb = NULL, *sb = NULL, *out = NULL;
    size_t hlen, clen, slen;
    fhirauth_rc rc = FHIRAUTH_OK;

    *ret = NULL;
    if (key == NULL || claims == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "nothing to sign");
    h = header != NULL ? json_object_get(header) : json_object_new_object();
    if (h == NULL || fa_jws_add_string(h, "alg", algs[alg].name) != 0
        || (hb = json_b64(h)) == NULL || (cb = json_b64(claims)) == NULL) {
        rc = fa_nomem(e);
        goto out;
    }
    hlen = strlen(hb);
    clen = strlen(cb);
    /* The signing input, then with the signature appended in place. */
    out = malloc(hlen + clen + 2);
    if (out == NULL) {
        rc = fa_nomem(e);
        goto out;
    }
    memcpy(out, hb, hlen);
    out[hlen] = '.';
    memcpy(out + hlen + 1, cb, clen + 1);
    sb = sign_input(key, alg, out);
    if (sb == NULL) {
        rc = fa_fail(e, FHIRAUTH_ERR_INTERNAL, "cannot sign with the %s key",
                     algs[alg].name);
        goto out;
    }
    slen = strlen(sb);
    {
        char *grown = realloc(out, hlen + clen + slen + 3);

        if (grown == NULL) {
            rc = fa_nomem(e);
            goto out;
        }
        out = grown;
    }
    out[hlen + 1 + clen] = '.';
    memcpy(out + hlen + clen + 2, sb, slen + 1);
    *ret = out;
    out = NULL;
out:
    json_object_put(h);
    free(hb);
    free(cb);
    fa_secret_free(sb);
    free(out);
    return rc;
}

fhirauth_rc
fa_jti_new(char **ret, struct fa_err *e)
{
    unsigned char raw[FA_JTI_BYTES];

    *ret = NULL;
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "no random bytes for a jti");
    *ret = fa_b64url_encode(raw, sizeof(raw));
    return *ret == NULL ? fa_nomem(e) : FHIRAUTH_OK;
}

fhirauth_rc
fa_client_assertion(EVP_PKEY *key, enum fa_sig_alg alg, const char *kid,
                    const char *client_id, const char *aud, long long now,
                    char **ret, struct fa_err *e)
{
    char thumb[FA_THUMBPRINT_LEN + 1];
    struct json_object *h = NULL, *c = NULL;
    char *jti = NULL;
    fhirauth_rc rc;
    int bad;

    *ret = NULL;
    if (client_id == NULL || aud == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "a client assertion needs client_id and a token "
                       "endpoint");
    if (kid == NULL) {
        rc = fa_sign_thumbprint(key, thumb, sizeof(thumb), e);
        if (rc != FHIRAUTH_OK)
            return rc;
        kid = thumb;
    }
    rc = fa_jti_new(&jti, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    h = json_object_new_object();
    c = json_object_new_object();
    bad = h == NULL || c == NULL || fa_jws_add_string(h, "typ", "JWT") != 0
        || fa_jws_add_string(h, "kid", kid) != 0
        || fa_jws_add_string(c, "iss", client_id) != 0
        || fa_jws_add_string(c, "sub", client_id) != 0
        || fa_jws_add_string(c, "aud", aud) != 0
        || fa_jws_add_string(c, "jti", jti) != 0
        || json_object_object_add(c, "iat", json_object_new_int64(now)) != 0
        || json_object_object_add(c, "exp",
                                  json_object_new_int64(
                                      now + FA_ASSERTION_LIFETIME))
            != 0;
    rc = bad ? fa_nomem(e) : fa_sign_compact(key, alg, h, c, ret, e);
    json_object_put(h);
    json_object_put(c);
    free(jti);
    return rc;
}
