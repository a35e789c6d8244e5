/* jwt-t.c - id_token verification (lib/net/jwt.c): tokens and JWKS built here
 * with OpenSSL (RSA keys made once per build, testkeys.h; EC keys fresh each
 * run), valid tokens of each allowed algorithm, the classic attacks (alg
 * none, HMAC keyed with the public key, key substitution), every claim rule,
 * malformed input, the JWKS cache with its one refetch, and a mutation loop.
 *
 * Built with -DFA_JWT_FUZZ it is a libFuzzer target instead of a test:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DFA_JWT_FUZZ \
 *     -I. -Iinclude -Ilib -Itests/.. tests/unit/jwt-t.c tests/unit/testkeys.c \
 *     lib/net/jwt.c lib/net/http.c lib/net/rootcache.c lib/net/cachetime.c lib/util.c \
 *     lib/oauth.c lib/net/oauth_json.c lib/endpoints.c lib/url.c \
 *     -ljson-c -lcrypto -lssl -lcurl */
#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "net/cachetime.h"
#include "config.h"
#include "net/jwt.h"
#include "util.h"
#include "../tap/basic.h"
#include "testkeys.h"

#define ISS "https://as.example.test"
#define CLIENT "fhir-cli"
#define NONCE "n-0S6_WzA2Mj"

/* ---------------------------------------------------------------- memory */

/* Everything the test allocates is kept here and freed at the end. */
static char **kept;
static size_t nkept, capkept;

static char *
keep(char *s)
{
    char **n;

    if (s == NULL)
        bail("out of memory");
    if (nkept == capkept) {
        capkept = capkept ? capkept * 2 : 64;
        n = realloc(kept, capkept * sizeof(*kept));
        if (n == NULL)
            bail("out of memory");
        kept = n;
    }
    kept[nkept++] = s;
    return s;
}

static void
free_kept(void)
{
    size_t i;

    for (i = 0; i < nkept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL;
    nkept = capkept = 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    if (n < 0)
        bail("vsnprintf");
    s = malloc((size_t) n + 1);
    if (s == NULL)
        bail("out of memory");
    va_start(ap, f);
    if (vsnprintf(s, (size_t) n + 1, f, ap) != n)
        bail("vsnprintf");
    va_end(ap);
    return keep(s);
}

/* ---------------------------------------------------------------- encoding */

static char *
b64u(const unsigned char *p, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789-_";
    char *o = malloc(n / 3 * 4 + 5);
    size_t i, j = 0;
    uint32_t v;

    if (o == NULL)
        bail("out of memory");
    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        o[j++] = a[v >> 18 & 63];
        o[j++] = a[v >> 12 & 63];
        o[j++] = a[v >> 6 & 63];
        o[j++] = a[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t) p[i] << 16;
        o[j++] = a[v >> 18 & 63];
        o[j++] = a[v >> 12 & 63];
    } else if (n - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        o[j++] = a[v >> 18 & 63];
        o[j++] = a[v >> 12 & 63];
        o[j++] = a[v >> 6 & 63];
    }
    o[j] = '\0';
    return keep(o);
}

static char *
b64s(const char *s)
{
    return b64u((const unsigned char *) s, strlen(s));
}

/* ---------------------------------------------------------------- keys */

static EVP_PKEY *rsa1, *rsa2, *rsa_small, *ec1, *ec2, *ec384;

static char *
bn_b64u(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;

    if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
        bail("EVP_PKEY_get_bn_param %s", param);
    n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0)
        bail("BN_bn2bin");
    return b64u(buf, (size_t) n);
}

/* A public JWK; extra is more members ("" or ",\"use\":\"sig\""). */
static char *
jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
    char kidm[200] = "";

    if (kid != NULL)
        snprintf(kidm, sizeof(kidm), "\"kid\":\"%s\",", kid);
    if (EVP_PKEY_is_a(k, "RSA"))
        return fmt("{\"kty\":\"RSA\",%s\"n\":\"%s\",\"e\":\"%s\"%s}", kidm,
                   bn_b64u(k, OSSL_PKEY_PARAM_RSA_N, 0),
                   bn_b64u(k, OSSL_PKEY_PARAM_RSA_E, 0), extra);
    if (k == ec384)
        return fmt("{\"kty\":\"EC\",%s\"crv\":\"P-384\",\"x\":\"%s\","
                   "\"y\":\"%s\"%s}",
                   kidm, bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_X, 48),
                   bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_Y, 48), extra);
    return fmt("{\"kty\":\"EC\",%s\"crv\":\"P-256\",\"x\":\"%s\","
               "\"y\":\"%s\"%s}",
               kidm, bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_X, 32),
               bn_b64u(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32), extra);
}

static void
make_keys(void)
{
    rsa1 = testkey(TESTKEY_RSA2048_A);
    rsa2 = testkey(TESTKEY_RSA2048_B);
    rsa_small = testkey(TESTKEY_RSA1024);
    ec1 = EVP_EC_gen("P-256");
    ec2 = EVP_EC_gen("P-256");
    ec384 = EVP_EC_gen("P-384");
    if (rsa1 == NULL || rsa2 == NULL || rsa_small == NULL || ec1 == NULL
        || ec2 == NULL || ec384 == NULL)
        bail("cannot generate keys");
}

static void
free_keys(void)
{
    EVP_PKEY_free(rsa1);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec1);
    EVP_PKEY_free(ec2);
    EVP_PKEY_free(ec384);
}

/* ---------------------------------------------------------------- signing */

/* The public key as PEM: what the "HMAC with the public key" attack uses
 * as the secret. */
static char *
pem_of(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *s;
    long n;

    if (b == NULL || PEM_write_bio_PUBKEY(b, k) != 1)
        bail("PEM_write_bio_PUBKEY");
    n = BIO_get_mem_data(b, &p);
    s = malloc((size_t) n + 1);
    if (s == NULL)
        bail("out of memory");
    memcpy(s, p, (size_t) n);
    s[n] = '\0';
    BIO_free(b);
    return keep(s);
}

/*
 * Sign input; how: "RS256", "PS256", "ES256" (raw r||s), "ES256-DER" (the
 * DER form, which JOSE does not use), "HS256-PEM" (HMAC-SHA256 keyed with
 * the PEM public key), "PS256-SALT0" (PSS with an empty salt).
 */
static char *
sign(EVP_PKEY *k, const char *how, const char *input)
{
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char sig[1024], raw[96];
    int half;
    size_t siglen = sizeof(sig);
    unsigned int hlen = 0;
    const unsigned char *p;
    ECDSA_SIG *es;
    char *pem;

    if (strcmp(how, "HS256-PEM") == 0) {
        pem = pem_of(k);
        if (HMAC(EVP_sha256(), pem, (int) strlen(pem),
                 (const unsigned char *) input, strlen(input), sig, &hlen)
            == NULL)
            bail("HMAC");
        return b64u(sig, hlen);
    }
    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL, NULL, k, NULL)
            != 1)
        bail("EVP_DigestSignInit_ex");
    if (strncmp(how, "PS256", 5) == 0
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                strcmp(how, "PS256-SALT0") == 0
                                                    ? 0
                                                    : RSA_PSS_SALTLEN_DIGEST)
                != 1))
        bail("PSS");
    if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *) input,
                       strlen(input))
        != 1)
        bail("EVP_DigestSign");
    EVP_MD_CTX_free(md);
    if (strcmp(how, "ES256") == 0) {
        p = sig;
        es = d2i_ECDSA_SIG(NULL, &p, (long) siglen);
        half = (EVP_PKEY_get_bits(k) + 7) / 8; /* 32, or 48 for P-384 */
        if (es == NULL || half > 48
            || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half) != half
            || BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half) != half)
            bail("ECDSA_SIG");
        ECDSA_SIG_free(es);
        return b64u(raw, 2 * (size_t) half);
    }
    return b64u(sig, siglen);
}

/* A compact JWS of header and payload (JSON text), signed as how says. */
static char *
jws(const char *header, const char *payload, EVP_PKEY *k, const char *how)
{
    char *input = fmt("%s.%s", b64s(header), b64s(payload));

    return fmt("%s.%s", input, sign(k, how, input));
}

/* ---------------------------------------------------------------- verifying */

static long long now;
static struct fa_err ectx;
static char *claims;
static int no_key;

/* The claims of a good token, with iss, aud and the times as given. */
static char *
payload(const char *iss, const char *aud, long long exp, long long iat,
        const char *extra)
{
    return fmt("{\"iss\":\"%s\",\"sub\":\"alice-0001\",\"aud\":%s,"
               "\"exp\":%lld,\"iat\":%lld,\"nonce\":\"" NONCE "\","
               "\"preferred_username\":\"alice\"%s}",
               iss, aud, exp, iat, extra);
}

static char *
good_payload(void)
{
    return payload(ISS, "\"" CLIENT "\"", now + 300, now, "");
}

static fhirauth_rc
verify_n(const char *token, const char *jwks, const char *nonce)
{
    struct fa_jwt_expect x;
    fhirauth_rc rc;

    x.issuer = ISS;
    x.client_id = CLIENT;
    x.nonce = nonce;
    x.now = now;
    free(claims);
    claims = NULL;
    fa_err_clear(&ectx);
    no_key = -1;
    rc = fa_jwt_verify(token, jwks, jwks == NULL ? 0 : strlen(jwks), &x,
                       &claims, &no_key, &ectx);
    return rc;
}

static fhirauth_rc
verify(const char *token, const char *jwks)
{
    return verify_n(token, jwks, NONCE);
}

/* The parts of a token that must never appear in a message. */
static int
leaks(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2;
    char part[64];
    size_t n;

    if (d1 == NULL)
        return strlen(token) > 8 && strstr(ectx.msg, token) != NULL;
    d2 = strchr(d1 + 1, '.');
    /* a stretch of the payload and of the signature */
    n = (d2 != NULL ? (size_t) (d2 - d1 - 1) : strlen(d1 + 1));
    if (n > 16) {
        snprintf(part, sizeof(part), "%.16s", d1 + 1);
        if (strstr(ectx.msg, part) != NULL)
            return 1;
    }
    if (d2 != NULL && strlen(d2 + 1) > 16) {
        snprintf(part, sizeof(part), "%.16s", d2 + 1);
        if (strstr(ectx.msg, part) != NULL)
            return 1;
    }
    return 0;
}

static void
accepted(const char *token, const char *jwks, const char *what)
{
    fhirauth_rc rc = verify(token, jwks);

    if (!is_int(FHIRAUTH_OK, rc, "%s: accepted", what))
        diag("message: %s", ectx.msg);
}

/* Refused with FHIRAUTH_ERR_PROTOCOL, a message containing want, no
 * claims, and nothing of the token in the message. */
static void
refused_n(const char *token, const char *jwks, const char *nonce,
          const char *want, const char *what)
{
    fhirauth_rc rc = verify_n(token, jwks, nonce);

    is_int(FHIRAUTH_ERR_PROTOCOL, rc, "%s: refused", what);
    if (!ok(strstr(ectx.msg, want) != NULL
                && strncmp(ectx.msg, "id_token rejected: ", 19) == 0,
            "%s: says \"%s\"", what, want))
        diag("message: %s", ectx.msg);
    ok(claims == NULL && !leaks(token), "%s: no claims, token not quoted",
       what);
    if (getenv("FA_JWT_VERBOSE") != NULL)
        diag("%s", ectx.msg);
}

static void
refused(const char *token, const char *jwks, const char *want,
        const char *what)
{
    refused_n(token, jwks, NONCE, want, what);
}

/* ---------------------------------------------------------------- cases */

static char *jwks_main; /* rsa1 "r1", ec1 "e1" */
static const char *hdr_rs, *hdr_ps, *hdr_es;

static void
test_valid(void)
{
    char *pl = good_payload(), *t, *set;

    t = jws(hdr_rs, pl, rsa1, "RS256");
    accepted(t, jwks_main, "RS256");
    is_string(pl, claims, "RS256: the claims come back as sent");
    ok(no_key == 0, "RS256: no_key clear");
    accepted(jws(hdr_es, pl, ec1, "ES256"), jwks_main, "ES256");
    accepted(jws(hdr_ps, pl, rsa1, "PS256"), jwks_main, "PS256");

    /* no kid: the only key of the right type */
    accepted(jws("{\"alg\":\"RS256\"}", pl, rsa1, "RS256"), jwks_main,
             "RS256 without kid, one RSA key in the JWKS");
    accepted(jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pl, ec1, "ES256"),
             jwks_main, "ES256 without kid, one P-256 key in the JWKS");
    set = fmt("{\"keys\":[%s,%s,%s]}", jwk(rsa1, "r1", ""),
              jwk(rsa2, "r2", ""), jwk(ec1, "e1", ""));
    refused(jws("{\"alg\":\"RS256\"}", pl, rsa1, "RS256"), set,
            "names no key (kid) and the JWKS has 2 keys",
            "no kid, two RSA keys");
    ok(no_key == 0, "no kid, two RSA keys: no refetch would help");

    /* JWK members that allow the use; the kid picks among several */
    set = fmt("{\"keys\":[%s,%s,%s]}",
              jwk(rsa2, "r2", ",\"use\":\"sig\",\"alg\":\"RS256\""),
              jwk(rsa1, "r1",
                  ",\"use\":\"sig\",\"alg\":\"RS256\","
                  "\"key_ops\":[\"verify\"]"),
              jwk(ec1, "e1", ""));
    accepted(t, set, "use sig, alg RS256, key_ops verify, picked by kid");
    /* members the JWKS may carry that we do not understand */
    set = fmt("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\","
              "\"kid\":\"x\"},7,%s],\"extra\":{\"a\":[1]}}",
              jwk(rsa1, "r1", ",\"x5t\":\"abc\""));
    accepted(t, set, "unknown key types and members ignored");
    /* the skew, both ways */
    accepted(jws(hdr_rs,
                 payload(ISS, "\"" CLIENT "\"", now - 60, now - 400, ""), rsa1,
                 "RS256"),
             jwks_main, "expired 60 s ago: within the skew");
    accepted(jws(hdr_rs,
                 payload(ISS, "\"" CLIENT "\"", now + 300, now + 60, ""), rsa1,
                 "RS256"),
             jwks_main, "issued 60 s ahead: within the skew");
    accepted(jws(hdr_rs,
                 payload(ISS, "\"" CLIENT "\"", now + 300, now,
                         ",\"nbf\":1.5"),
                 rsa1, "RS256"),
             jwks_main, "nbf in the past (a fraction)");
    /* audiences */
    accepted(jws(hdr_rs, payload(ISS, "[\"" CLIENT "\"]", now + 300, now, ""),
                 rsa1, "RS256"),
             jwks_main, "aud an array of one");
    accepted(jws(hdr_rs,
                 payload(ISS, "[\"other\",\"" CLIENT "\"]", now + 300, now,
                         ",\"azp\":\"" CLIENT "\""),
                 rsa1, "RS256"),
             jwks_main, "several audiences with azp = client_id");
    /* nonce not asked for */
    is_int(FHIRAUTH_OK,
           verify_n(jws(hdr_rs,
                        payload(ISS, "\"" CLIENT "\"", now + 300, now, ""),
                        rsa1, "RS256"),
                    jwks_main, NULL),
           "no nonce expected: the token's nonce is not checked");
    /* a leading zero byte on n */
    {
        BIGNUM *bn = NULL;
        unsigned char buf[300];
        int n;

        if (EVP_PKEY_get_bn_param(rsa1, OSSL_PKEY_PARAM_RSA_N, &bn) != 1)
            bail("n");
        buf[0] = 0;
        n = BN_bn2bin(bn, buf + 1);
        BN_free(bn);
        set = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\","
                  "\"e\":\"AQAB\"}]}",
                  b64u(buf, (size_t) n + 1));
        accepted(t, set, "n with a leading zero byte");
    }
}

static void
test_alg(void)
{
    char *pl = good_payload(), *in;
    char *pem = pem_of(rsa1);

    /* alg none, with and without a signature */
    in = fmt("%s.%s", b64s("{\"alg\":\"none\",\"kid\":\"r1\"}"), b64s(pl));
    refused(fmt("%s.", in), jwks_main, "part of the JWT is empty",
            "alg none, empty signature");
    refused(fmt("%s.%s", in, b64s("x")), jwks_main,
            "algorithm \"none\" is not allowed", "alg none, some signature");
    refused(fmt("%s.%s", in, sign(rsa1, "RS256", in)), jwks_main,
            "algorithm \"none\" is not allowed", "alg none, RSA signature");
    /* HMAC keyed with the public key: the classic confusion */
    refused(jws("{\"alg\":\"HS256\",\"kid\":\"r1\"}", pl, rsa1, "HS256-PEM"),
            jwks_main, "algorithm \"HS256\" is not allowed",
            "HS256 keyed with the RSA public key (PEM)");
    refused(jws("{\"alg\":\"HS256\"}", pl, rsa1, "HS256-PEM"),
            fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}", b64s(pem)),
            "algorithm \"HS256\" is not allowed",
            "HS256 with an oct key in the JWKS");
    refused(jws("{\"alg\":\"RS512\",\"kid\":\"r1\"}", pl, rsa1, "RS256"),
            jwks_main, "\"RS512\" is not allowed", "RS512");
    refused(jws("{\"alg\":\"ES384\",\"kid\":\"e1\"}", pl, ec1, "ES256"),
            jwks_main, "\"ES384\" is not allowed", "ES384");
    refused(jws("{\"alg\":\"rs256\",\"kid\":\"r1\"}", pl, rsa1, "RS256"),
            jwks_main, "not allowed", "alg in lower case");
    refused(jws("{\"alg\":\"RS256 \",\"kid\":\"r1\"}", pl, rsa1, "RS256"),
            jwks_main, "not allowed", "alg with a trailing space");
    refused(jws("{\"kid\":\"r1\"}", pl, rsa1, "RS256"), jwks_main,
            "names no algorithm", "no alg");
    refused(jws("{\"alg\":[\"RS256\"],\"kid\":\"r1\"}", pl, rsa1, "RS256"),
            jwks_main, "names no algorithm", "alg not a string");
    refused(jws("{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"exp\"],"
                "\"exp\":1}",
                pl, rsa1, "RS256"),
            jwks_main, "critical extensions", "crit");
    refused(jws("{\"alg\":\"RS256\",\"kid\":7}", pl, rsa1, "RS256"), jwks_main,
            "kid) is not a string", "kid a number");
    /* one RSA key, two paddings: no cross-use */
    refused(jws(hdr_rs, pl, rsa1, "PS256"), jwks_main, "does not verify",
            "PS256 signature labelled RS256");
    refused(jws(hdr_ps, pl, rsa1, "RS256"), jwks_main, "does not verify",
            "RS256 signature labelled PS256");
    refused(jws(hdr_ps, pl, rsa1, "PS256-SALT0"), jwks_main, "does not verify",
            "PS256 with an empty salt");
    /* the token cannot bring its own key */
    refused(jws(fmt("{\"alg\":\"RS256\",\"kid\":\"r9\",\"jwk\":%s,"
                    "\"jku\":\"https://evil.test/jwks\"}",
                    jwk(rsa2, "r9", "")),
                pl, rsa2, "RS256"),
            jwks_main, "no key \"r9\"", "an embedded jwk or jku is not used");
}

static void
test_keys(void)
{
    char *pl = good_payload(), *set, *t_rs, *t_es;

    t_rs = jws(hdr_rs, pl, rsa1, "RS256");
    t_es = jws(hdr_es, pl, ec1, "ES256");
    refused(jws("{\"alg\":\"RS256\",\"kid\":\"zz\"}", pl, rsa1, "RS256"),
            jwks_main, "no key \"zz\" in the server's JWKS", "unknown kid");
    ok(no_key == 1, "unknown kid: no_key set (a refetch may help)");
    refused(jws("{\"alg\":\"ES256\"}", pl, ec1, "ES256"),
            fmt("{\"keys\":[%s]}", jwk(rsa1, "r1", "")),
            "has no key for ES256", "no kid, no key of the type");
    ok(no_key == 1, "no key of the type: no_key set");
    /* wrong key type for the alg */
    refused(jws("{\"alg\":\"ES256\",\"kid\":\"r1\"}", pl, ec1, "ES256"),
            jwks_main, "key \"r1\" (RSA) cannot verify ES256",
            "ES256 token, kid names an RSA key");
    ok(no_key == 0, "wrong key type: no_key clear");
    refused(jws("{\"alg\":\"RS256\",\"kid\":\"e1\"}", pl, rsa1, "RS256"),
            jwks_main, "key \"e1\" (EC P-256) cannot verify RS256",
            "RS256 token, kid names an EC key");
    set = fmt("{\"keys\":[%s]}", jwk(ec384, "e1", ""));
    refused(jws(hdr_es, pl, ec384, "ES256"), set,
            "(EC P-384) cannot verify ES256", "ES256 with a P-384 key");
    set = fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"r1\",\"k\":\"%s\"}]}",
              b64s("secret"));
    refused(t_rs, set, "(oct) cannot verify RS256", "kid names an oct key");
    /* the key's own restrictions */
    set = fmt("{\"keys\":[%s]}", jwk(rsa1, "r1", ",\"use\":\"enc\""));
    refused(t_rs, set, "cannot verify RS256", "key for encryption only");
    set = fmt("{\"keys\":[%s]}", jwk(rsa1, "r1", ",\"alg\":\"PS256\""));
    refused(t_rs, set, "cannot verify RS256", "key for PS256 only");
    set = fmt("{\"keys\":[%s]}", jwk(rsa1, "r1", ",\"key_ops\":[\"sign\"]"));
    refused(t_rs, set, "cannot verify RS256", "key_ops without verify");
    /* key substitution: the right kid, another key */
    set = fmt("{\"keys\":[%s,%s]}", jwk(rsa2, "r1", ""), jwk(ec2, "e1", ""));
    refused(t_rs, set, "does not verify",
            "RS256, another RSA key under the kid");
    refused(t_es, set, "does not verify",
            "ES256, another EC key under the kid");
    /* weak or broken keys */
    set = fmt("{\"keys\":[%s]}", jwk(rsa_small, "r1", ""));
    refused(jws(hdr_rs, pl, rsa_small, "RS256"), set, "RSA key has 1024 bits",
            "RSA-1024 refused");
    set = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\","
              "\"e\":\"AQ==\"}]}",
              bn_b64u(rsa1, OSSL_PKEY_PARAM_RSA_N, 0));
    refused(t_rs, set, "\"e\" is malformed", "JWK e with padding");
    set = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"A===\","
              "\"e\":\"AQAB\"}]}");
    refused(t_rs, set, "\"n\" is malformed",
            "JWK n \"A===\" (aborts Debian 12's cjose 0.6.2.1)");
    set = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"e\":\"AQAB\"}]}");
    refused(t_rs, set, "has no \"n\"", "JWK without n");
    set = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\","
              "\"e\":\"AQ\"}]}",
              bn_b64u(rsa1, OSSL_PKEY_PARAM_RSA_N, 0));
    refused(t_rs, set, "not a valid public key", "RSA exponent 1");
    {
        /* an EC point off the curve: y + 1 */
        BIGNUM *y = NULL;
        unsigned char buf[32];

        if (EVP_PKEY_get_bn_param(ec1, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1
            || BN_add_word(y, 1) != 1 || BN_bn2binpad(y, buf, 32) != 32)
            bail("y");
        BN_free(y);
        set =
            fmt("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\","
                "\"x\":\"%s\",\"y\":\"%s\"}]}",
                bn_b64u(ec1, OSSL_PKEY_PARAM_EC_PUB_X, 32), b64u(buf, 32));
        refused(t_es, set, "not a valid P-256 public key",
                "EC point not on the curve");
        set =
            fmt("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\","
                "\"x\":\"%s\",\"y\":\"%s\"}]}",
                bn_b64u(ec1, OSSL_PKEY_PARAM_EC_PUB_X, 0), b64u(buf + 1, 31));
        refused(t_es, set, "not 32 bytes", "EC coordinate too short");
    }
    /* JWKS documents that are not */
    refused(t_rs, "[]", "JWKS is not a JSON object", "JWKS an array");
    refused(t_rs, "{\"keys\":", "JWKS is not a JSON object", "JWKS truncated");
    refused(t_rs, "{}", "no \"keys\" array", "JWKS without keys");
    refused(t_rs, "{\"keys\":{}}", "no \"keys\" array", "keys an object");
    {
        char *many = fmt("{\"keys\":[%s", jwk(rsa1, "r1", ""));
        int i;

        for (i = 0; i < 64; i++)
            many = fmt("%s,{}", many);
        refused(t_rs, fmt("%s]}", many), "more than 64 keys",
                "JWKS with 65 keys");
    }
    is_int(FHIRAUTH_OK, fa_jwt_jwks_check(jwks_main, strlen(jwks_main), &ectx),
           "fa_jwt_jwks_check: a good JWKS");
    is_int(FHIRAUTH_ERR_PROTOCOL, fa_jwt_jwks_check("{\"keys\":1}", 10, &ectx),
           "fa_jwt_jwks_check: keys not an array");
    is_int(FHIRAUTH_ERR_PROTOCOL, fa_jwt_jwks_check("<html>", 6, &ectx),
           "fa_jwt_jwks_check: not JSON");
}

/* Flip one bit of the decoded signature and encode it again. */
static char *
flip_sig_bit(const char *token, size_t byte, int bit)
{
    const char *d2 = strrchr(token, '.');
    unsigned char raw[1024];
    size_t n = 0, i;
    uint32_t acc = 0;
    int bits = 0;
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_";

    for (i = 0; d2[1 + i] != '\0'; i++) {
        acc = acc << 6 | (uint32_t) (strchr(a, d2[1 + i]) - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[n++] = (unsigned char) (acc >> bits);
            acc &= (1U << bits) - 1;
        }
    }
    raw[byte % n] ^= (unsigned char) (1 << bit);
    return fmt("%.*s.%s", (int) (d2 - token), token, b64u(raw, n));
}

static void
test_signature(void)
{
    char *pl = good_payload(), *t_rs, *t_es, *t_ps, *t, *in;

    t_rs = jws(hdr_rs, pl, rsa1, "RS256");
    t_es = jws(hdr_es, pl, ec1, "ES256");
    t_ps = jws(hdr_ps, pl, rsa1, "PS256");
    refused(flip_sig_bit(t_rs, 100, 3), jwks_main,
            "RS256 signature does not "
            "verify",
            "RS256, one signature bit flipped");
    refused(flip_sig_bit(t_es, 40, 0), jwks_main,
            "ES256 signature does not "
            "verify",
            "ES256, one signature bit flipped");
    refused(flip_sig_bit(t_ps, 7, 7), jwks_main,
            "PS256 signature does not "
            "verify",
            "PS256, one signature bit flipped");
    /* a changed payload under the old signature */
    in = fmt("%s.%s", b64s(hdr_rs),
             b64s(payload(ISS, "\"" CLIENT "\"", now + 300, now,
                          ",\"admin\":true")));
    refused(fmt("%s.%s", in, strrchr(t_rs, '.') + 1), jwks_main,
            "does not verify", "RS256, payload changed");
    /* ES256 signature shapes */
    refused(jws(hdr_es, pl, ec1, "ES256-DER"), jwks_main, "does not verify",
            "ES256 signature in DER form");
    t = fmt("%.*s", (int) strlen(t_es) - 2, t_es); /* 64 -> 63 bytes */
    refused(t, jwks_main, "does not verify", "ES256 signature shortened");
    refused(
        fmt("%s.%s", fmt("%s.%s", b64s(hdr_es), b64s(pl)),
            b64u(
                (const unsigned char
                     *) "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                        "\0\0\0\0\0\0\0\0",
                64)),
        jwks_main, "does not verify", "ES256 signature r = s = 0");
    /* RSA signature of the wrong length */
    t = fmt("%sAAAA", t_rs);
    refused(t, jwks_main, "does not verify", "RS256 signature 3 bytes longer");
}

static void
test_claims(void)
{
    const char *aud = "\"" CLIENT "\"";

#define CL(pl) jws(hdr_rs, (pl), rsa1, "RS256")
    refused(CL(payload(ISS, aud, now - 121, now - 400, "")), jwks_main,
            "expired (exp", "expired beyond the skew");
    refused(CL(fmt("{\"iss\":\"" ISS
                   "\",\"sub\":\"a\",\"aud\":%s,\"iat\":%lld,"
                   "\"nonce\":\"" NONCE "\"}",
                   aud, now)),
            jwks_main, "no valid expiry", "no exp");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":%s,\"exp\":"
                   "\"%lld\",\"iat\":%lld,\"nonce\":\"" NONCE "\"}",
                   aud, now + 300, now)),
            jwks_main, "no valid expiry", "exp a string");
    refused(CL(payload(ISS, aud, now + 300, now + 121, "")), jwks_main,
            "issued in the future", "iat beyond the skew");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":%s,\"exp\":"
                   "%lld,\"nonce\":\"" NONCE "\"}",
                   aud, now + 300)),
            jwks_main, "no valid issue time", "no iat");
    refused(CL(payload(ISS, aud, now + 300, now,
                       fmt(",\"nbf\":%lld", now + 500))),
            jwks_main, "not valid yet", "nbf in the future");
    refused(CL(payload("https://evil.test", aud, now + 300, now, "")),
            jwks_main, "issued by \"https://evil.test\", not by \"" ISS "\"",
            "wrong iss");
    refused(CL(payload(ISS "/", aud, now + 300, now, "")), jwks_main,
            "issued by", "iss with a trailing slash");
    refused(CL(fmt("{\"sub\":\"a\",\"aud\":%s,\"exp\":%lld,\"iat\":%lld}", aud,
                   now + 300, now)),
            jwks_main, "no issuer", "no iss");
    refused(CL(payload(ISS, "\"other-client\"", now + 300, now, "")),
            jwks_main, "not meant for client \"" CLIENT "\"", "wrong aud");
    refused(CL(payload(ISS, "[\"other\",\"another\"]", now + 300, now, "")),
            jwks_main, "not meant for client", "aud array without us");
    refused(CL(payload(ISS, "[\"other\",\"" CLIENT "\"]", now + 300, now, "")),
            jwks_main, "several audiences and no authorized party (azp)",
            "aud array without azp");
    refused(CL(payload(ISS, "[\"other\",\"" CLIENT "\"]", now + 300, now,
                       ",\"azp\":\"other\"")),
            jwks_main, "issued to \"other\" (azp)", "azp another client");
    refused(CL(payload(ISS, aud, now + 300, now, ",\"azp\":\"other\"")),
            jwks_main, "(azp)", "one aud, azp another client");
    refused(CL(payload(ISS, "[\"" CLIENT "\",7]", now + 300, now, "")),
            jwks_main, "other than strings", "aud with a number");
    refused(CL(payload(ISS, "7", now + 300, now, "")), jwks_main,
            "neither a string nor an array", "aud a number");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"a\",\"exp\":%lld,"
                   "\"iat\":%lld}",
                   now + 300, now)),
            jwks_main, "no audience", "no aud");
    refused_n(CL(good_payload()), jwks_main, "n-other",
              "nonce is not the one this login sent", "nonce mismatch");
    refused_n(CL(good_payload()), jwks_main, NONCE "x", "nonce is not the one",
              "nonce longer");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":%s,\"exp\":"
                   "%lld,\"iat\":%lld}",
                   aud, now + 300, now)),
            jwks_main, "no nonce", "nonce missing");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"aud\":%s,\"exp\":%lld,\"iat\":%lld,"
                   "\"nonce\":\"" NONCE "\"}",
                   aud, now + 300, now)),
            jwks_main, "no valid subject (sub)", "no sub");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"\",\"aud\":%s,\"exp\":"
                   "%lld,\"iat\":%lld,\"nonce\":\"" NONCE "\"}",
                   aud, now + 300, now)),
            jwks_main, "no valid subject", "empty sub");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":42,\"aud\":%s,\"exp\":%lld,"
                   "\"iat\":%lld,\"nonce\":\"" NONCE "\"}",
                   aud, now + 300, now)),
            jwks_main, "no valid subject", "sub a number");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"%0256d\",\"aud\":%s,"
                   "\"exp\":%lld,\"iat\":%lld,\"nonce\":\"" NONCE "\"}",
                   0, aud, now + 300, now)),
            jwks_main, "no valid subject", "sub of 256 characters");
    refused(CL(fmt("{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"aud\":%s,"
                   "\"exp\":%lld,\"iat\":%lld,\"nonce\":\"" NONCE "\","
                   "\"preferred_username\":\"root\\u0000x\"}",
                   aud, now + 300, now)),
            jwks_main, "payload is not a JSON object",
            "an escaped NUL in a claim");
#undef CL
}

static void
test_malformed(void)
{
    char *pl = good_payload(), *t = jws(hdr_rs, pl, rsa1, "RS256");
    char *h = b64s(hdr_rs), *p = b64s(pl), *s = strrchr(t, '.') + 1;
    char big[3000];

    refused("", jwks_main, "compact form", "empty token");
    refused(fmt("%s.%s", h, p), jwks_main, "compact form", "two parts");
    refused(fmt("%s.%s.%s.%s", h, p, s, s), jwks_main, "compact form",
            "four parts");
    refused(fmt("%s.%s.%s.", h, p, s), jwks_main, "compact form",
            "a trailing dot");
    refused(fmt(".%s.%s", p, s), jwks_main, "is empty", "empty header");
    refused(fmt("%s..%s", h, s), jwks_main, "is empty", "empty payload");
    refused(fmt("%s=.%s.%s", h, p, s), jwks_main, "not base64url",
            "padding in the header");
    refused(fmt("%s.%s.%s==", h, p, s), jwks_main, "not base64url",
            "padding on the signature");
    refused(fmt("%s.%s+.%s", h, p, s), jwks_main, "not base64url",
            "a '+' in the payload");
    refused(fmt("%s.%s.%s\n", h, p, s), jwks_main, "not base64url",
            "a newline after the signature");
    refused(fmt(" %s.%s.%s", h, p, s), jwks_main, "not base64url",
            "a space before the token");
    /* "e30" is "{}"; "e31" decodes the same with a non-zero unused bit */
    refused(fmt("%s.e31.%s", h, s), jwks_main, "not base64url",
            "non-canonical base64url");
    refused(fmt("%s.%sA.%s", h, p, s), jwks_main, "",
            "payload length 1 mod 4");
    refused(fmt("%s.%s.%s", b64s("not json"), p, s), jwks_main,
            "header is not a JSON object", "header not JSON");
    refused(fmt("%s.%s.%s", b64s("[\"RS256\"]"), p, s), jwks_main,
            "header is not a JSON object", "header a JSON array");
    refused(fmt("%s.%s.%s", b64s("{\"alg\":\"RS256\",\"kid\":\"r1\"} x"), p,
                s),
            jwks_main, "header is not a JSON object",
            "header with trailing data");
    refused(fmt("%s.%s.%s", b64s("{\"alg\":\"RS256\",\"kid\":\"r1\",}"), p, s),
            jwks_main, "header is not a JSON object",
            "header with a trailing comma");
    refused(fmt("%s.%s.%s", b64s("{\"a\":[[[[[[[[[[1]]]]]]]]]]}"), p, s),
            jwks_main, "header is not a JSON object", "header nested deeply");
    refused(fmt("%s.%s.%s",
                b64u((const unsigned char *) "{\"alg\":\"RS\xff\"}", 14), p,
                s),
            jwks_main, "header is not a JSON object", "header not UTF-8");
    refused(jws(hdr_rs, "not json", rsa1, "RS256"), jwks_main,
            "payload is not a JSON object", "payload not JSON (signed)");
    refused(jws(hdr_rs, "[1,2]", rsa1, "RS256"), jwks_main,
            "payload is not a JSON object", "payload an array (signed)");
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x\":\"", 31);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    refused(jws(big, pl, rsa1, "RS256"), jwks_main, "too long",
            "huge header (3000 bytes)");
    {
        size_t n = FA_JWT_MAX_TOKEN + 10;
        char *huge = malloc(n + 1);

        if (huge == NULL)
            bail("out of memory");
        memset(huge, 'A', n);
        huge[100] = '.';
        huge[200] = '.';
        huge[n] = '\0';
        refused(keep(huge), jwks_main, "longer than", "a 64 KiB token");
    }
    is_int(FHIRAUTH_ERR_PROTOCOL, verify(t, NULL), "no JWKS at all");
    {
        struct fa_jwt_expect x = { NULL, CLIENT, NULL, 0 };

        is_int(FHIRAUTH_ERR_INTERNAL,
               fa_jwt_verify(t, jwks_main, strlen(jwks_main), &x, &claims,
                             NULL, &ectx),
               "no issuer to check against: an internal error");
    }
}

/* ---------------------------------------------------------------- cache */

struct fake {
    int calls;
    int fresh_calls;     /* calls that had to reach the server */
    int stored;          /* non-fresh calls answer from a store */
    const char *docs[4]; /* what each call returns (the last repeats) */
    long lifetime;       /* what the server allows; 0: the default */
    int no_store;        /* the server allows no reuse at all */
    fhirauth_rc rc;
};

static fhirauth_rc
fake_fetch(void *arg, const char *uri, int fresh, char **ret, size_t *retlen,
           int *ret_stored, long *ret_lifetime, struct fa_err *e)
{
    struct fake *f = arg;
    const char *doc;
    int i = f->calls < 4 ? f->calls : 3;

    (void) uri;
    f->calls++;
    *ret_lifetime = f->no_store ? 0
        : f->lifetime > 0       ? f->lifetime
                                : FA_CACHE_DEFAULT_LIFETIME;
    /* With f->stored, answers other than fresh ones play a stored copy. */
    *ret_stored = f->stored && !fresh;
    if (fresh)
        f->fresh_calls++;
    if (f->rc != FHIRAUTH_OK)
        return fa_fail(e, f->rc, "cannot reach the server");
    while (i > 0 && f->docs[i] == NULL)
        i--;
    doc = f->docs[i];
    *ret = strdup(doc);
    if (*ret == NULL)
        return fa_nomem(e);
    *retlen = strlen(doc);
    return FHIRAUTH_OK;
}

static fhirauth_rc
cached(const char *uri, struct fake *f, const char *token)
{
    struct fa_jwt_expect x = { ISS, CLIENT, NONCE, 0 };

    x.now = now;
    free(claims);
    claims = NULL;
    fa_err_clear(&ectx);
    return fa_jwt_verify_cached(uri, fake_fetch, f, token, &x, &claims, &ectx);
}

/* A token signed with rsa1 (kid r1), issued at the current "now". */
static char *
t1_at_now(void)
{
    return jws(hdr_rs, good_payload(), rsa1, "RS256");
}

static void
test_cache(void)
{
    const long long saved_now = now;
    char *pl = good_payload();
    char *t1 = jws(hdr_rs, pl, rsa1, "RS256");
    char *t2 = jws("{\"alg\":\"RS256\",\"kid\":\"r2\"}", pl, rsa2, "RS256");
    char *tz = jws("{\"alg\":\"RS256\",\"kid\":\"zz\"}", pl, rsa2, "RS256");
    char *set1 = fmt("{\"keys\":[%s]}", jwk(rsa1, "r1", ""));
    char *set2 = fmt("{\"keys\":[%s]}", jwk(rsa2, "r2", ""));
    struct fake f, g;

    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.docs[0] = set1;
    f.docs[1] = set2;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1),
           "cache: first verification");
    is_int(1, f.calls, "cache: one fetch");
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1),
           "cache: second verification");
    is_int(1, f.calls, "cache: still one fetch");
    /* rotation: the AS now signs with r2, which a refetch finds */
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t2),
           "cache: a rotated key found by one refetch");
    is_int(2, f.calls, "cache: two fetches");
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t2),
           "cache: the new JWKS is cached");
    is_int(2, f.calls, "cache: still two fetches");
    /* an unknown kid: one refetch per verification, then refused */
    is_int(FHIRAUTH_ERR_PROTOCOL, cached("https://a.test/jwks", &f, tz),
           "cache: unknown kid refused");
    is_int(3, f.calls, "cache: after exactly one refetch");
    ok(strstr(ectx.msg, "no key \"zz\"") != NULL, "cache: says so (%s)",
       ectx.msg);
    /* a bad signature is not a reason to refetch */
    is_int(FHIRAUTH_ERR_PROTOCOL,
           cached("https://a.test/jwks", &f, flip_sig_bit(t2, 1, 1)),
           "cache: bad signature refused");
    is_int(3, f.calls, "cache: without a refetch");
    /* another URI, another entry */
    memset(&g, 0, sizeof(g));
    g.docs[0] = set1;
    is_int(FHIRAUTH_OK, cached("https://b.test/jwks", &g, t1),
           "cache: keyed by URI");
    is_int(1, g.calls, "cache: the other URI fetched once");
    is_int(FHIRAUTH_ERR_PROTOCOL, cached("https://b.test/jwks", &g, t2),
           "cache: the other URI's keys are its own");
    is_int(2, g.calls, "cache: (after its one refetch)");
    /* fetch failures and bad documents are not cached */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.docs[0] = set1;
    f.rc = FHIRAUTH_ERR_UNREACHABLE;
    is_int(FHIRAUTH_ERR_UNREACHABLE, cached("https://a.test/jwks", &f, t1),
           "cache: a fetch failure is passed on");
    f.rc = FHIRAUTH_OK;
    f.calls = 0;
    f.docs[0] = "<html>";
    f.docs[1] = set1;
    is_int(FHIRAUTH_ERR_PROTOCOL, cached("https://a.test/jwks", &f, t1),
           "cache: a JWKS that is not JSON is refused");
    ok(strstr(ectx.msg, "not a JSON object") != NULL, "cache: says so (%s)",
       ectx.msg);
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1),
           "cache: nothing bad was cached");
    is_int(2, f.calls, "cache: one fetch each");
    /* a stored copy (the root-side cache) that lacks the token's key:
     * one fetch from the server, then success */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.stored = 1;
    f.docs[0] = set1;
    f.docs[1] = set2;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t2),
           "cache: a stored JWKS without the kid: refetched, accepted");
    is_int(1, f.fresh_calls, "cache: exactly one fetch from the server");
    /* and an unknown kid after a stored copy: one fetch, then refused */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.stored = 1;
    f.docs[0] = set1;
    is_int(FHIRAUTH_ERR_PROTOCOL, cached("https://a.test/jwks", &f, tz),
           "cache: a kid in neither the stored nor the fresh JWKS: refused");
    is_int(1, f.fresh_calls, "cache: after one fetch from the server");
    /* a stored copy that fits needs no server */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.stored = 1;
    f.docs[0] = set1;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1),
           "cache: a stored JWKS with the kid is used");
    is_int(0, f.fresh_calls, "cache: without asking the server");

    /* The lifetime the server gave: the JWKS is fetched again once it
     * has passed, however long the process lives.  (Each verification
     * gets a token issued at that "now".) */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.docs[0] = set1;
    f.lifetime = 60;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: first verification");
    now += 59;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: within max-age=60");
    is_int(1, f.calls, "expiry: from the cache");
    now += 2;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: past max-age=60");
    is_int(2, f.calls, "expiry: fetched again");
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: and then");
    is_int(2, f.calls, "expiry: cached again");
    /* A server that asks for more than the cap gets the cap. */
    fa_jwt_cache_clear();
    f.calls = 0;
    f.lifetime = 10 * FA_CACHE_MAX_LIFETIME;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: a lifetime over the cap");
    now += FA_CACHE_MAX_LIFETIME - 1;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: within the cap");
    is_int(1, f.calls, "expiry: from the cache");
    now += 2;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: past the cap");
    is_int(2, f.calls, "expiry: fetched again");
    /* A clock set back far does not keep an entry alive. */
    now -= 2 * FA_CACHE_MAX_LIFETIME;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1_at_now()),
           "expiry: the clock set back past the cap");
    is_int(3, f.calls, "expiry: fetched again");
    now = saved_now;
    /* A document the server says not to keep is not kept, and replaces
     * what was cached. */
    fa_jwt_cache_clear();
    memset(&f, 0, sizeof(f));
    f.docs[0] = set1;
    f.docs[1] = set2;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t1),
           "no-store: cached at first");
    f.no_store = 1;
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t2),
           "no-store: a rotated key, refetched");
    is_int(2, f.calls, "no-store: two fetches");
    is_int(FHIRAUTH_OK, cached("https://a.test/jwks", &f, t2),
           "no-store: the next verification");
    is_int(3, f.calls, "no-store: fetches again");
    fa_jwt_cache_clear();
}

/* The network operation's checks that come before any request. */
static void
test_net_op(void)
{
    struct fa_config cfg;
    struct fa_net_ctx ctx;
    struct fa_endpoints ep;
    char *c = NULL;
    char issuer[] = ISS, client[] = CLIENT, uri[] = "https://as.test/jwks";

    memset(&cfg, 0, sizeof(cfg));
    memset(&ctx, 0, sizeof(ctx));
    memset(&ep, 0, sizeof(ep));
    ctx.cfg = &cfg;
    cfg.client_id = client;
    ep.jwks_uri = uri;
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_net_verify_id_token(&ctx, &ep, "a.b.c", NULL, &c, &ectx),
           "net op: no issuer known");
    ep.issuer = issuer;
    ep.jwks_uri = NULL;
    is_int(FHIRAUTH_ERR_PROTOCOL,
           fa_net_verify_id_token(&ctx, &ep, "a.b.c", NULL, &c, &ectx),
           "net op: no jwks_uri");
    ok(strstr(ectx.msg, "jwks_uri") != NULL, "net op: says so (%s)", ectx.msg);
    ep.jwks_uri = uri;
    /* cppcheck-suppress redundantAssignment ; read through ctx.cfg */
    cfg.client_id = NULL;
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_net_verify_id_token(&ctx, &ep, "a.b.c", NULL, &c, &ectx),
           "net op: no client_id");
    ok(c == NULL, "net op: no claims");
}

/* ---------------------------------------------------------------- mutations */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 * Random changes to valid tokens and JWKS documents: nothing crashes, and
 * a changed token is never accepted (base64url is canonical, so any other
 * string is other bytes under the signature).
 */
static void
test_mutations(unsigned iterations)
{
    const char *alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789-_.=+/ \"{}[],:\\";
    char *pl = good_payload();
    char *tokens[3];
    unsigned i, bad_accept = 0, handled = 0;
    size_t n, k, j;

    tokens[0] = jws(hdr_rs, pl, rsa1, "RS256");
    tokens[1] = jws(hdr_es, pl, ec1, "ES256");
    tokens[2] = jws(hdr_ps, pl, rsa1, "PS256");
    for (i = 0; i < iterations; i++) {
        const char *orig = tokens[i % 3];
        char *m;
        fhirauth_rc rc;

        n = strlen(orig);
        m = malloc(n + 2);
        if (m == NULL)
            bail("out of memory");
        memcpy(m, orig, n + 1);
        k = 1 + next_rand() % 3;
        for (j = 0; j < k; j++) {
            size_t at = (size_t) (next_rand() % n);

            switch (next_rand() % 3) {
            case 0: /* replace a character */
                m[at] = alphabet[next_rand() % strlen(alphabet)];
                break;
            case 1: /* delete one */
                memmove(m + at, m + at + 1, n - at);
                break;
            default: /* truncate */
                m[at] = '\0';
                break;
            }
            n = strlen(m);
            if (n == 0)
                break;
        }
        rc = verify(m, jwks_main);
        if (rc == FHIRAUTH_OK && strcmp(m, orig) != 0) {
            bad_accept++;
            diag("accepted a changed token: %s", m);
        }
        free(m);
    }
    is_int(0, bad_accept, "mutations: %u changed tokens, none accepted",
           iterations);
    /* JWKS documents with random changes: refused or used, never a crash */
    for (i = 0; i < iterations / 4; i++) {
        char *m = strdup(jwks_main);

        if (m == NULL)
            bail("out of memory");
        n = strlen(m);
        for (j = 0; j < 1 + next_rand() % 4; j++)
            m[next_rand() % n] = alphabet[next_rand() % strlen(alphabet)];
        (void) verify(tokens[i % 3], m);
        free(m);
        handled++;
    }
    ok(handled == iterations / 4,
       "mutations: %u changed JWKS "
       "documents handled",
       handled);
}

static void
setup(void)
{
    now = (long long) time(NULL);
    make_keys();
    jwks_main = fmt("{\"keys\":[%s,%s]}", jwk(rsa1, "r1", ",\"use\":\"sig\""),
                    jwk(ec1, "e1", ",\"use\":\"sig\",\"alg\":\"ES256\""));
    hdr_rs = "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}";
    hdr_ps = "{\"alg\":\"PS256\",\"kid\":\"r1\"}";
    hdr_es = "{\"alg\":\"ES256\",\"kid\":\"e1\"}";
}

static void
teardown(void)
{
    free(claims);
    claims = NULL;
    fa_jwt_cache_clear();
    free_keys();
    free_kept();
}

#ifndef FA_JWT_FUZZ
int
main(void)
{
    const char *iter = getenv("FA_JWT_MUTATIONS");
    long iterations = 600;

    if (iter != NULL && fa_parse_long(iter, 0, 10000000, &iterations) != 0)
        bail("FA_JWT_MUTATIONS: not a number");
    plan_lazy();
    setup();
    test_valid();
    test_alg();
    test_keys();
    test_signature();
    test_claims();
    test_malformed();
    test_cache();
    test_net_op();
    test_mutations((unsigned) iterations);
    teardown();
    return test_status();
}
#else
/* libFuzzer: the first byte chooses what the rest is.  Even: a token
 * checked against a fixed JWKS (RS256 r1, ES256 e1).  Odd: "JWKS\nTOKEN".
 * Any accepted token must have come out of the fuzzer's own corpus
 * signature-free, which cannot happen: so acceptance is a crash. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char *buf, *nl;
    fhirauth_rc rc;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0)
        return 0;
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    if (data[0] % 2 == 0) {
        rc = verify(buf, jwks_main);
    } else {
        nl = strchr(buf, '\n');
        if (nl == NULL) {
            free(buf);
            return 0;
        }
        *nl = '\0';
        rc = verify(nl + 1, buf);
    }
    if (rc == FHIRAUTH_OK && data[0] % 2 == 0)
        abort(); /* a token nobody signed was accepted */
    free(claims);
    claims = NULL;
    free(buf);
    return 0;
}
#endif
