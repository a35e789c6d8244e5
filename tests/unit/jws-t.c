/* jws-t.c - the JWTs the client signs (lib/net/jws.c, lib/net/dpop.c):
 * keys of each kind taken or refused for each alg, a key with a passphrase
 * refused without a prompt, the key file's checks, base64url, the public
 * JWK (no private member), RFC 7638's own thumbprint example, compact JWS
 * and client assertions verified here with OpenSSL; the DPoP key's
 * keyring form and back, and DPoP proofs (RFC 9449 §4.2) verified under
 * the key their header carries, claim by claim. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "net/dpop.h"
#include "net/jws.h"
#include "oauth.h"
#include "util.h"
#include "../tap/basic.h"
#include "testkeys.h"

static char dir[] = "/tmp/jws-t.XXXXXX";

/* ---------------------------------------------------------------- helpers */

/* The RSA keys are made once per build (testkeys.h). */
static EVP_PKEY *
rsa_key(enum testkey which)
{
    EVP_PKEY *k = testkey(which);

    if (k == NULL)
        bail("cannot make an RSA key");
    return k;
}

static EVP_PKEY *
gen_ec(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);

    if (k == NULL)
        bail("cannot make an EC key on %s", curve);
    return k;
}

/* The private key as PEM text (PKCS#8, or encrypted with a passphrase). */
static char *
pem_of(EVP_PKEY *k, int encrypted, size_t *len)
{
    static unsigned char pw[] = "pw";
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    if (b == NULL
        || PEM_write_bio_PrivateKey(b, k, encrypted ? EVP_aes_128_cbc() : NULL,
                                    encrypted ? pw : NULL, encrypted ? 2 : 0,
                                    NULL, NULL)
            != 1)
        bail("cannot write PEM");
    n = BIO_get_mem_data(b, &data);
    out = malloc((size_t) n + 1);
    if (out == NULL)
        bail("out of memory");
    memcpy(out, data, (size_t) n);
    out[n] = '\0';
    *len = (size_t) n;
    BIO_free(b);
    return out;
}

/* base64url to bytes (test side: a different route from the encoder). */
static unsigned char *
b64url_decode(const char *s, size_t *len)
{
    size_t n = strlen(s), padded = (n + 3) / 4 * 4, i;
    unsigned char *in = malloc(padded + 1), *out = malloc(padded);
    int got;

    if (in == NULL || out == NULL)
        bail("out of memory");
    for (i = 0; i < n; i++)
        in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : (unsigned char) s[i];
    for (; i < padded; i++)
        in[i] = '=';
    in[padded] = '\0';
    got = EVP_DecodeBlock(out, in, (int) padded);
    free(in);
    if (got < 0) {
        free(out);
        return NULL;
    }
    *len = (size_t) got - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    return out;
}

/* Part i (0, 1, 2) of a compact JWS, decoded; *len its length. */
static unsigned char *
part(const char *jws, int i, size_t *len)
{
    const char *p = jws, *end;
    char *copy;
    unsigned char *out;

    for (; i > 0; i--) {
        p = strchr(p, '.');
        if (p == NULL)
            return NULL;
        p++;
    }
    end = strchr(p, '.');
    copy = strndup(p, end != NULL ? (size_t) (end - p) : strlen(p));
    if (copy == NULL)
        bail("out of memory");
    out = b64url_decode(copy, len);
    free(copy);
    return out;
}

static struct json_object *
part_json(const char *jws, int i)
{
    size_t len = 0;
    unsigned char *p = part(jws, i, &len);
    struct json_object *o;
    char *text;

    if (p == NULL)
        return NULL;
    text = strndup((char *) p, len);
    free(p);
    if (text == NULL)
        bail("out of memory");
    o = json_tokener_parse(text);
    free(text);
    return o;
}

static const char *
member(struct json_object *o, const char *name)
{
    struct json_object *v;

    return json_object_object_get_ex(o, name, &v) ? json_object_get_string(v)
                                                  : NULL;
}

/* Does the compact JWS verify under key with alg? */
static int
verifies(EVP_PKEY *key, const char *alg, const char *jws)
{
    const char *dot2 = strrchr(jws, '.');
    const char *digest = strstr(alg, "384") != NULL ? "SHA384" : "SHA256";
    unsigned char *sig, *der = NULL;
    size_t siglen = 0, derlen;
    EVP_MD_CTX *md;
    int r = 0, dl;

    sig = part(jws, 2, &siglen);
    if (sig == NULL || dot2 == NULL)
        return 0;
    if (alg[0] == 'E') {
        ECDSA_SIG *es = ECDSA_SIG_new();
        size_t half = siglen / 2;

        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int) half, NULL),
                       BN_bin2bn(sig + half, (int) half, NULL));
        dl = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (dl <= 0) {
            free(sig);
            return 0;
        }
        derlen = (size_t) dl;
    } else {
        der = OPENSSL_memdup(sig, siglen);
        derlen = siglen;
    }
    md = EVP_MD_CTX_new();
    if (md != NULL
        && EVP_DigestVerifyInit_ex(md, NULL, digest, NULL, NULL, key, NULL)
            == 1)
        r = EVP_DigestVerify(md, der, derlen, (const unsigned char *) jws,
                             (size_t) (dot2 - jws))
            == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    free(sig);
    return r;
}

static char *
path_in_dir(const char *name)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

static void
write_file(const char *name, const char *text, size_t len, mode_t mode)
{
    int fd = open(path_in_dir(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd < 0 || write(fd, text, len) != (ssize_t) len || close(fd) != 0
        || chmod(path_in_dir(name), mode) != 0)
        bail("cannot write %s", name);
}

/* ---------------------------------------------------------------- tests */

static void
test_b64url(void)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } v[] = {
        { "", 0, "" },           { "f", 1, "Zg" },
        { "fo", 2, "Zm8" },      { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" }, { "\xfb\xff\xbf", 3, "-_-_" },
    };
    size_t i;
    char *s;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        s = fa_b64url_encode((const unsigned char *) v[i].in, v[i].n);
        is_string(v[i].out, s, "base64url of %zu bytes", v[i].n);
        free(s);
    }
}

static void
test_algs(void)
{
    enum fa_sig_alg a;

    ok(fa_sig_alg_from_name("RS384", &a) == 0 && a == FA_SIG_RS384, "RS384");
    ok(fa_sig_alg_from_name("ES256", &a) == 0 && a == FA_SIG_ES256, "ES256");
    ok(fa_sig_alg_from_name("HS256", &a) != 0, "HS256 is no signing alg");
    ok(fa_sig_alg_from_name("none", &a) != 0, "none is refused");
    ok(fa_sig_alg_from_name("rs384", &a) != 0, "names are case-sensitive");
    ok(fa_sig_alg_from_name(NULL, &a) != 0, "NULL is refused");
    is_string("RS384", fa_sig_alg_name(FA_SIG_DEFAULT),
              "the default alg is RS384");
}

/* Which keys fit which alg. */
static void
test_key_fit(EVP_PKEY *rsa, EVP_PKEY *p256, EVP_PKEY *p384)
{
    static const char *names[] = { "RS256", "RS384", "ES256", "ES384" };
    struct {
        const char *what;
        EVP_PKEY *key;
        int fits[4];
    } k[] = {
        { "RSA-2048", rsa, { 1, 1, 0, 0 } },
        { "P-256", p256, { 0, 0, 1, 0 } },
        { "P-384", p384, { 0, 0, 0, 1 } },
        { "RSA-1024", rsa_key(TESTKEY_RSA1024), { 0, 0, 0, 0 } },
        { "P-521", gen_ec("P-521"), { 0, 0, 0, 0 } },
        { "Ed25519",
          EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
          { 0, 0, 0, 0 } },
    };
    struct fa_err e;
    EVP_PKEY *got;
    size_t i, len;
    char *pem;
    int a;

    for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        if (k[i].key == NULL)
            bail("cannot make %s", k[i].what);
        pem = pem_of(k[i].key, 0, &len);
        for (a = 0; a < 4; a++) {
            fa_err_clear(&e);
            got = NULL;
            if (k[i].fits[a])
                ok(fa_sign_key_from_pem(pem, len, (enum fa_sig_alg) a,
                                        "the key", &got, &e)
                           == FHIRAUTH_OK
                       && got != NULL,
                   "%s signs %s", k[i].what, names[a]);
            else
                ok(fa_sign_key_from_pem(pem, len, (enum fa_sig_alg) a,
                                        "the key", &got, &e)
                           == FHIRAUTH_ERR_CONFIG
                       && got == NULL && strstr(e.msg, "the key ") == e.msg,
                   "%s is refused for %s (%s)", k[i].what, names[a], e.msg);
            EVP_PKEY_free(got);
        }
        free(pem);
        if (i >= 3)
            EVP_PKEY_free(k[i].key);
    }

    /* Not PEM at all, and a public key only. */
    fa_err_clear(&e);
    ok(fa_sign_key_from_pem("hello", 5, FA_SIG_RS256, "the key", &got, &e)
           == FHIRAUTH_ERR_CONFIG,
       "text that is no PEM is refused: %s", e.msg);
    {
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        PEM_write_bio_PUBKEY(b, rsa);
        n = BIO_get_mem_data(b, &data);
        fa_err_clear(&e);
        ok(fa_sign_key_from_pem(data, (size_t) n, FA_SIG_RS256, "the key",
                                &got, &e)
               == FHIRAUTH_ERR_CONFIG,
           "a public key is no client key: %s", e.msg);
        BIO_free(b);
    }
}

static void
test_passphrase(EVP_PKEY *rsa)
{
    struct fa_err e;
    EVP_PKEY *got = NULL;
    size_t len;
    char *pem = pem_of(rsa, 1, &len);

    /* OpenSSL's default would prompt on the terminal (a test run from one
     * would hang here). */
    fa_err_clear(&e);
    ok(fa_sign_key_from_pem(pem, len, FA_SIG_RS256, "the key", &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && got == NULL,
       "a key with a passphrase is refused");
    ok(strstr(e.msg, "passphrase") != NULL, "... saying so: %s", e.msg);
    free(pem);
}

static void
test_key_file(EVP_PKEY *rsa)
{
    struct fa_err e;
    EVP_PKEY *got = NULL;
    size_t len;
    char *pem = pem_of(rsa, 0, &len), *big;

    write_file("good.pem", pem, len, 0600);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("good.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_OK
           && got != NULL,
       "a key file of mode 0600 is read");
    ok(got != NULL && EVP_PKEY_eq(got, rsa) == 1,
       "... and is the key written");
    EVP_PKEY_free(got);

    write_file("group.pem", pem, len, 0640);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("group.pem"), FA_SIG_RS384, &got, &e)
           == FHIRAUTH_OK,
       "a key file its group may read is read (a key shared by a group)");
    EVP_PKEY_free(got);
    write_file("world.pem", pem, len, 0644);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("world.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "readable by every user") != NULL,
       "a key file every user may read is refused: %s", e.msg);
    fa_err_clear(&e);
    ok(fa_sign_key_load("good.pem", FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "absolute") != NULL,
       "a relative path is refused: %s", e.msg);

    write_file("gw.pem", pem, len, 0620);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("gw.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "writable") != NULL,
       "a group-writable key file is refused: %s", e.msg);
    write_file("ow.pem", pem, len, 0602);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("ow.pem"), FA_SIG_RS384, &got, &e)
           == FHIRAUTH_ERR_CONFIG,
       "a world-writable key file is refused");

    if (symlink("good.pem", path_in_dir("link.pem")) != 0)
        bail("symlink");
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("link.pem"), FA_SIG_RS384, &got, &e)
           == FHIRAUTH_ERR_CONFIG,
       "a symbolic link is refused: %s", e.msg);

    if (mkfifo(path_in_dir("fifo.pem"), 0600) != 0)
        bail("mkfifo");
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("fifo.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "not a regular file") != NULL,
       "a FIFO is refused at once: %s", e.msg);

    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("missing.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "missing.pem") != NULL,
       "a missing file is named: %s", e.msg);
    fa_err_clear(&e);
    ok(fa_sign_key_load(NULL, FA_SIG_RS384, &got, &e) == FHIRAUTH_ERR_CONFIG,
       "no file configured: %s", e.msg);

    big = malloc(FA_KEY_FILE_MAX + 2);
    if (big == NULL)
        bail("out of memory");
    memset(big, 'A', FA_KEY_FILE_MAX + 1);
    write_file("big.pem", big, FA_KEY_FILE_MAX + 1, 0600);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("big.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "larger") != NULL,
       "a file over %d bytes is refused", FA_KEY_FILE_MAX);
    free(big);

    /* Messages name the file, never what is in it. */
    write_file("garbage.pem", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n", 38,
               0600);
    fa_err_clear(&e);
    ok(fa_sign_key_load(path_in_dir("garbage.pem"), FA_SIG_RS384, &got, &e)
               == FHIRAUTH_ERR_CONFIG
           && strstr(e.msg, "c2VjcmV0") == NULL,
       "a broken key's content is not quoted: %s", e.msg);

    if (geteuid() == 0) {
        if (chown(path_in_dir("good.pem"), 1, 1) != 0)
            bail("chown");
        fa_err_clear(&e);
        ok(fa_sign_key_load(path_in_dir("good.pem"), FA_SIG_RS384, &got, &e)
                   == FHIRAUTH_ERR_CONFIG
               && strstr(e.msg, "owned by root") != NULL,
           "as root, a key file of another owner is refused: %s", e.msg);
    } else {
        skip("the owner check needs root to chown");
    }
    free(pem);
}

static void
test_jwk(EVP_PKEY *rsa, EVP_PKEY *p256, EVP_PKEY *p384)
{
    static const char *private_members[] = { "d", "p", "q", "dp", "dq", "qi" };
    struct json_object *j = NULL;
    struct fa_err e;
    size_t i;
    int clean = 1;

    ok(fa_sign_public_jwk(rsa, "RS384", "k1", &j, &e) == FHIRAUTH_OK,
       "the RSA key's public JWK");
    is_string("RSA", member(j, "kty"), "... kty RSA");
    is_string("AQAB", member(j, "e"), "... e 65537");
    is_int(342, (long long) strlen(member(j, "n")), "... n of 2048 bits");
    is_string("sig", member(j, "use"), "... use sig");
    is_string("RS384", member(j, "alg"), "... alg");
    is_string("k1", member(j, "kid"), "... kid");
    for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
        if (member(j, private_members[i]) != NULL)
            clean = 0;
    ok(clean, "... and no private member");
    json_object_put(j);

    ok(fa_sign_public_jwk(p256, NULL, NULL, &j, &e) == FHIRAUTH_OK,
       "the P-256 key's public JWK");
    is_string("P-256", member(j, "crv"), "... crv P-256");
    is_int(43, (long long) strlen(member(j, "x")), "... x of 32 bytes");
    is_int(43, (long long) strlen(member(j, "y")), "... y of 32 bytes");
    ok(member(j, "d") == NULL && member(j, "alg") == NULL
           && member(j, "kid") == NULL,
       "... no d, and no alg or kid when none is asked");
    json_object_put(j);

    ok(fa_sign_public_jwk(p384, "ES384", NULL, &j, &e) == FHIRAUTH_OK,
       "the P-384 key's public JWK");
    is_string("P-384", member(j, "crv"), "... crv P-384");
    is_int(64, (long long) strlen(member(j, "x")), "... x of 48 bytes");
    ok(member(j, "d") == NULL, "... no d");
    json_object_put(j);
}

/* RFC 7638 §3.1: the example RSA key and its thumbprint. */
static void
test_thumbprint(EVP_PKEY *p256)
{
    static const char n64[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7"
        "aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yB"
        "XArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnY"
        "b9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu"
        "0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    char tp[FA_THUMBPRINT_LEN + 1], tp2[FA_THUMBPRINT_LEN + 1];
    unsigned char *n;
    size_t nlen = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;
    BIGNUM *bn_n, *bn_e;
    struct fa_err e;

    n = b64url_decode(n64, &nlen);
    bn_n = BN_bin2bn(n, (int) nlen, NULL);
    bn_e = BN_new();
    BN_set_word(bn_e, 65537);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(c) != 1
        || EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        bail("cannot make RFC 7638's key");
    ok(fa_sign_thumbprint(k, tp, sizeof(tp), &e) == FHIRAUTH_OK,
       "a thumbprint of RFC 7638's example key");
    is_string("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", tp,
              "... is the RFC's");
    ok(fa_sign_thumbprint(k, tp, FA_THUMBPRINT_LEN, &e) != FHIRAUTH_OK,
       "a buffer one short is refused");
    ok(fa_sign_thumbprint(p256, tp, sizeof(tp), &e) == FHIRAUTH_OK
           && fa_sign_thumbprint(p256, tp2, sizeof(tp2), &e) == FHIRAUTH_OK
           && strcmp(tp, tp2) == 0 && strlen(tp) == FA_THUMBPRINT_LEN,
       "an EC key's thumbprint: 43 characters, the same each time");
    EVP_PKEY_free(k);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(c);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
}

static void
test_sign(EVP_PKEY *rsa, EVP_PKEY *p256, EVP_PKEY *p384)
{
    static const struct {
        const char *name;
        enum fa_sig_alg alg;
        int which;
        size_t siglen;
    } v[] = {
        { "RS256", FA_SIG_RS256, 0, 256 },
        { "RS384", FA_SIG_RS384, 0, 256 },
        { "ES256", FA_SIG_ES256, 1, 64 },
        { "ES384", FA_SIG_ES384, 2, 96 },
    };
    EVP_PKEY *keys[3] = { rsa, p256, p384 };
    struct json_object *h, *c, *got;
    struct fa_err e;
    unsigned char *sig;
    size_t i, siglen = 0;
    char *jws;
    int n;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        h = json_object_new_object();
        json_object_object_add(h, "typ", json_object_new_string("dpop+jwt"));
        c = json_object_new_object();
        json_object_object_add(c, "htu",
                               json_object_new_string("https://a.test/x/y"));
        /* ECDSA's r and s are padded: sign several times so that a short
         * one is met. */
        for (n = 0; n < 8; n++) {
            jws = NULL;
            if (fa_sign_compact(keys[v[i].which], v[i].alg, h, c, &jws, &e)
                != FHIRAUTH_OK)
                break;
            sig = part(jws, 2, &siglen);
            free(sig);
            if (siglen != v[i].siglen
                || !verifies(keys[v[i].which], v[i].name, jws))
                break;
            if (n < 7)
                free(jws);
        }
        ok(n == 8, "%s: eight signatures of %zu bytes that verify", v[i].name,
           v[i].siglen);
        got = part_json(jws, 0);
        is_string(v[i].name, member(got, "alg"), "... the header's alg");
        is_string("dpop+jwt", member(got, "typ"), "... the caller's typ kept");
        json_object_put(got);
        got = part_json(jws, 1);
        is_string("https://a.test/x/y", member(got, "htu"),
                  "... claims as given (no escaped slashes)");
        json_object_put(got);
        ok(strstr(jws, "=") == NULL, "... no padding");
        free(jws);
        json_object_put(h);
        json_object_put(c);
    }
    ok(!verifies(p256, "ES256", "e30.e30.AAAA"), "(the verifier can say no)");
}

static void
test_assertion(EVP_PKEY *rsa, EVP_PKEY *p384)
{
    const char *aud = "https://as.test/oidc/token";
    char tp[FA_THUMBPRINT_LEN + 1];
    struct json_object *h, *c;
    struct fa_err e;
    char *a1 = NULL, *a2 = NULL;
    const char *jti1;

    ok(fa_client_assertion(rsa, FA_SIG_RS384, NULL, "cli\"ent", aud,
                           1700000000, &a1, &e)
           == FHIRAUTH_OK,
       "an RS384 client assertion");
    ok(verifies(rsa, "RS384", a1), "... that verifies");
    h = part_json(a1, 0);
    c = part_json(a1, 1);
    is_string("RS384", member(h, "alg"), "... alg RS384");
    is_string("JWT", member(h, "typ"), "... typ JWT");
    fa_sign_thumbprint(rsa, tp, sizeof(tp), &e);
    is_string(tp, member(h, "kid"),
              "... kid: the key's thumbprint by default");
    ok(member(h, "jwk") == NULL, "... no key in the header");
    is_string("cli\"ent", member(c, "iss"), "... iss the client_id");
    is_string("cli\"ent", member(c, "sub"), "... sub the client_id");
    is_string(aud, member(c, "aud"), "... aud the token endpoint");
    is_string("1700000000", member(c, "iat"), "... iat now");
    is_string("1700000240", member(c, "exp"), "... exp four minutes on");
    jti1 = member(c, "jti");
    is_int(43, jti1 != NULL ? (long long) strlen(jti1) : 0,
           "... a jti of 256 bits");
    json_object_put(h);

    ok(fa_client_assertion(p384, FA_SIG_ES384, "key-2", "client", aud,
                           1700000000, &a2, &e)
           == FHIRAUTH_OK,
       "an ES384 client assertion");
    ok(verifies(p384, "ES384", a2), "... that verifies");
    h = part_json(a2, 0);
    is_string("key-2", member(h, "kid"), "... with the configured kid");
    json_object_put(h);
    h = part_json(a2, 1);
    ok(strcmp(member(h, "jti"), jti1) != 0, "... and a jti of its own");
    json_object_put(h);
    json_object_put(c);
    free(a1);
    free(a2);

    fa_err_clear(&e);
    ok(fa_client_assertion(rsa, FA_SIG_RS384, NULL, NULL, aud, 1, &a1, &e)
               == FHIRAUTH_ERR_CONFIG
           && a1 == NULL,
       "no client_id: no assertion (%s)", e.msg);
}

/* The public key of a proof's header jwk (EC P-256), or NULL. */
static EVP_PKEY *
key_of_jwk(struct json_object *jwk)
{
    unsigned char pub[65], *x, *y;
    size_t xl = 0, yl = 0;
    OSSL_PARAM_BLD *bld;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *c;
    EVP_PKEY *k = NULL;

    if (member(jwk, "x") == NULL || member(jwk, "y") == NULL)
        return NULL;
    x = b64url_decode(member(jwk, "x"), &xl);
    y = b64url_decode(member(jwk, "y"), &yl);
    if (x != NULL && y != NULL && xl == 32 && yl == 32) {
        pub[0] = 0x04;
        memcpy(pub + 1, x, 32);
        memcpy(pub + 33, y, 32);
        bld = OSSL_PARAM_BLD_new();
        c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (bld != NULL && c != NULL
            && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                               "prime256v1", 0)
                == 1
            && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                                pub, sizeof(pub))
                == 1
            && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
            && EVP_PKEY_fromdata_init(c) == 1)
            (void) EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        EVP_PKEY_CTX_free(c);
    }
    free(x);
    free(y);
    return k;
}

static void
test_dpop_key(EVP_PKEY *rsa, EVP_PKEY *p384)
{
    EVP_PKEY *k = NULL, *back = NULL;
    char t1[FA_THUMBPRINT_LEN + 1], t2[FA_THUMBPRINT_LEN + 1];
    char *pem = NULL, *other;
    size_t len = 0, olen = 0;
    struct fa_err e;

    ok(fa_dpop_key_new(&k, &e) == FHIRAUTH_OK && k != NULL
           && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 256,
       "DPoP: a new key is P-256");
    ok(fa_dpop_key_encode(k, &pem, &len, &e) == FHIRAUTH_OK
           && len == strlen(pem)
           && strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0,
       "DPoP: its keyring form is PKCS#8 PEM");
    ok(len < 512, "... of %zu bytes, small next to the keyring quota", len);
    ok(fa_dpop_key_decode(pem, len, &back, &e) == FHIRAUTH_OK
           && EVP_PKEY_eq(k, back) == 1,
       "DPoP: read back, the same key");
    ok(fa_sign_thumbprint(k, t1, sizeof(t1), &e) == FHIRAUTH_OK
           && fa_sign_thumbprint(back, t2, sizeof(t2), &e) == FHIRAUTH_OK
           && strcmp(t1, t2) == 0,
       "... with the same thumbprint");
    EVP_PKEY_free(back);
    back = NULL;
    pem[40] ^= 1;
    /* A keyring error, never LOGIN_NEEDED: only the server ends a
     * session, and OpenSSL failing looks the same as a damaged key. */
    ok(fa_dpop_key_decode(pem, len, &back, &e) == FHIRAUTH_ERR_KEYRING
           && back == NULL && strstr(e.msg, "log in again") != NULL,
       "DPoP: a damaged payload: a keyring error, log in again (%s)", e.msg);
    ok(strstr(e.msg, "PRIVATE") == NULL, "... the message shows no key");
    fa_secret_free_len(pem, len);
    other = pem_of(rsa, 0, &olen);
    ok(fa_dpop_key_decode(other, olen, &back, &e) == FHIRAUTH_ERR_KEYRING,
       "DPoP: an RSA key is refused");
    free(other);
    other = pem_of(p384, 0, &olen);
    ok(fa_dpop_key_decode(other, olen, &back, &e) == FHIRAUTH_ERR_KEYRING,
       "DPoP: a P-384 key is refused");
    free(other);
    ok(fa_dpop_key_decode("", 0, &back, &e) == FHIRAUTH_ERR_KEYRING,
       "DPoP: an empty payload is refused");
    EVP_PKEY_free(k);
}

static void
test_dpop_htu(void)
{
    static const struct {
        const char *url, *want;
    } v[] = {
        { "https://fhir.test/r4/Patient/1", "https://fhir.test/r4/Patient/1" },
        { "https://fhir.test/r4/Patient?name=x#top",
          "https://fhir.test/r4/Patient" },
        { "https://fhir.test:8443/a#frag?not-query",
          "https://fhir.test:8443/a" },
        { "HTTPS://fhir.test/", "HTTPS://fhir.test/" },
        { "http://fhir.test/a", NULL },
        { "https://", NULL },
        { "https://?q", NULL },
        { "https://fhir.test/a b", NULL },
        { "https://fhir.test/a\nDPoP: x", NULL },
        { "fhir.test/a", NULL },
    };
    struct fa_err e;
    char *got;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        got = NULL;
        if (v[i].want != NULL)
            ok(fa_dpop_htu(v[i].url, &got, &e) == FHIRAUTH_OK && got != NULL
                   && strcmp(got, v[i].want) == 0,
               "htu of %s: %s", v[i].url, got != NULL ? got : "(none)");
        else
            ok(fa_dpop_htu(v[i].url, &got, &e) == FHIRAUTH_ERR_INVALID_ARGUMENT
                   && got == NULL,
               "htu: %zu refused (%s)", i, e.msg);
        free(got);
    }
}

static void
test_dpop_proof(void)
{
    static const char token[] = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    EVP_PKEY *k = NULL, *pub;
    struct json_object *h, *c, *jwk;
    char t1[FA_THUMBPRINT_LEN + 1], t2[FA_THUMBPRINT_LEN + 1];
    char *p1 = NULL, *p2 = NULL, *ath, *bad;
    unsigned char digest[32];
    unsigned int dlen = 0;
    struct fa_err e;

    if (fa_dpop_key_new(&k, &e) != FHIRAUTH_OK)
        bail("no DPoP key: %s", e.msg);
    ok(fa_dpop_proof(k, "POST", "https://as.test/token?x=1", NULL, NULL,
                     1700000000, &p1, &e)
           == FHIRAUTH_OK,
       "DPoP: a proof for a token request");
    h = part_json(p1, 0);
    c = part_json(p1, 1);
    is_string("dpop+jwt", member(h, "typ"), "... typ dpop+jwt");
    is_string("ES256", member(h, "alg"), "... alg ES256");
    ok(json_object_object_get_ex(h, "jwk", &jwk)
           && json_object_is_type(jwk, json_type_object),
       "... a jwk in the header");
    is_string("EC", member(jwk, "kty"), "... an EC key");
    is_string("P-256", member(jwk, "crv"), "... on P-256");
    ok(!json_object_object_get_ex(jwk, "d", NULL), "... without its d");
    pub = key_of_jwk(jwk);
    ok(pub != NULL && verifies(pub, "ES256", p1),
       "... the signature verifies under the header's key");
    ok(pub != NULL
           && fa_sign_thumbprint(pub, t1, sizeof(t1), &e) == FHIRAUTH_OK
           && fa_sign_thumbprint(k, t2, sizeof(t2), &e) == FHIRAUTH_OK
           && strcmp(t1, t2) == 0,
       "... which is the session's key (same RFC 7638 thumbprint)");
    EVP_PKEY_free(pub);
    is_string("POST", member(c, "htm"), "... htm");
    is_string("https://as.test/token", member(c, "htu"),
              "... htu without the query");
    ok(json_object_get_int64(json_object_object_get(c, "iat")) == 1700000000,
       "... iat");
    ok(member(c, "jti") != NULL && strlen(member(c, "jti")) >= 22,
       "... a jti of at least 128 bits");
    ok(!json_object_object_get_ex(c, "nonce", NULL)
           && !json_object_object_get_ex(c, "ath", NULL)
           && json_object_object_length(c) == 4,
       "... no nonce, no ath, nothing else");
    json_object_put(h);
    json_object_put(c);

    ok(fa_dpop_proof(k, "GET", "https://fhir.test/r4/Patient/1#x", "n-1.A~z",
                     token, 1700000001, &p2, &e)
           == FHIRAUTH_OK,
       "DPoP: a proof for a resource request, with a nonce");
    ok(verifies(k, "ES256", p2), "... verifies");
    c = part_json(p2, 1);
    is_string("GET", member(c, "htm"), "... htm");
    is_string("https://fhir.test/r4/Patient/1", member(c, "htu"),
              "... htu without the fragment");
    is_string("n-1.A~z", member(c, "nonce"), "... the nonce");
    EVP_Digest(token, strlen(token), digest, &dlen, EVP_sha256(), NULL);
    ath = fa_b64url_encode(digest, dlen);
    is_string(ath, member(c, "ath"), "... ath = base64url(SHA-256(token))");
    free(ath);
    ok(strstr(p2, token) == NULL, "... the token is not in the proof");
    c = (json_object_put(c), part_json(p1, 1));
    h = part_json(p2, 1);
    ok(strcmp(member(c, "jti"), member(h, "jti")) != 0,
       "DPoP: two proofs, two jti");
    json_object_put(c);
    json_object_put(h);
    free(p1);
    free(p2);

    bad = NULL;
    ok(fa_dpop_proof(k, "GET", "https://a.test/", "a b", NULL, 1, &bad, &e)
               == FHIRAUTH_ERR_PROTOCOL
           && bad == NULL,
       "DPoP: a nonce with a space is refused (%s)", e.msg);
    ok(fa_dpop_proof(k, "GET", "https://a.test/", "a\"b", NULL, 1, &bad, &e)
           == FHIRAUTH_ERR_PROTOCOL,
       "DPoP: a nonce with a quote is refused");
    ok(fa_dpop_proof(k, "GET", "https://a.test/", "", NULL, 1, &bad, &e)
           == FHIRAUTH_ERR_PROTOCOL,
       "DPoP: an empty nonce is refused");
    ok(fa_dpop_proof(k, "G T", "https://a.test/", NULL, NULL, 1, &bad, &e)
           == FHIRAUTH_ERR_INVALID_ARGUMENT,
       "DPoP: a method that is not a token is refused");
    ok(fa_dpop_proof(k, "GET", "https://a.test/", NULL, "", 1, &bad, &e)
           == FHIRAUTH_ERR_INVALID_ARGUMENT,
       "DPoP: an empty access token is refused");
    ok(fa_dpop_proof(k, "GET", "http://a.test/", NULL, NULL, 1, &bad, &e)
               == FHIRAUTH_ERR_INVALID_ARGUMENT
           && bad == NULL,
       "DPoP: an http URL is refused");
    EVP_PKEY_free(k);
}

static void
test_dpop_nonce(void)
{
    static const char all[] = "eyJ7S_zG.9~!#$%&'()*+,/:;<=>?@[]^`{|}";
    char big[FA_DPOP_NONCE_MAX + 2];

    ok(fa_dpop_nonce_fit(all, sizeof(all) - 1), "nonce: every NQCHAR");
    ok(!fa_dpop_nonce_fit("a\\b", 3), "nonce: no backslash");
    ok(!fa_dpop_nonce_fit("a\"b", 3), "nonce: no quote");
    ok(!fa_dpop_nonce_fit("a b", 3), "nonce: no space");
    ok(!fa_dpop_nonce_fit("a\x7f", 2), "nonce: no DEL");
    ok(!fa_dpop_nonce_fit("a\0b", 3), "nonce: no NUL");
    ok(!fa_dpop_nonce_fit("", 0) && !fa_dpop_nonce_fit(NULL, 1),
       "nonce: not empty");
    memset(big, 'n', sizeof(big));
    ok(fa_dpop_nonce_fit(big, FA_DPOP_NONCE_MAX), "nonce: %d bytes",
       FA_DPOP_NONCE_MAX);
    ok(!fa_dpop_nonce_fit(big, FA_DPOP_NONCE_MAX + 1), "nonce: no more");
}

int
main(void)
{
    EVP_PKEY *rsa, *p256, *p384;
    char cmd[64];

    plan_lazy();
    if (mkdtemp(dir) == NULL)
        bail("mkdtemp");
    rsa = rsa_key(TESTKEY_RSA2048_A);
    p256 = gen_ec("P-256");
    p384 = gen_ec("P-384");

    test_b64url();
    test_algs();
    test_key_fit(rsa, p256, p384);
    test_passphrase(rsa);
    test_key_file(rsa);
    test_jwk(rsa, p256, p384);
    test_thumbprint(p256);
    test_sign(rsa, p256, p384);
    test_assertion(rsa, p384);
    test_dpop_key(rsa, p384);
    test_dpop_htu();
    test_dpop_proof();
    test_dpop_nonce();

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("cannot remove %s", dir);
    return test_status();
}
