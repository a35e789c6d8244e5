/* fuzz_dpop_nonce.c - a DPoP-Nonce header value, as a server sends it,
 * through fa_dpop_nonce_fit (lib/oauth.c) into a proof (fa_dpop_proof,
 * lib/net/dpop.c).  A value the check takes must come back unchanged as
 * the proof's nonce claim; one it refuses must make no proof. */
#include "autoconf.h"

#include <json-c/json.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "net/dpop.h"
#include "net/jws.h"
#include "oauth.h"

static EVP_PKEY *key;

/* The claims of a compact JWS, parsed. */
static struct json_object *
claims_of(const char *jws)
{
    const char *p = strchr(jws, '.'), *end;
    unsigned char *dec;
    char *in;
    size_t n, padded, i;
    int got;
    struct json_object *o;

    if (p == NULL || (end = strchr(++p, '.')) == NULL)
        abort();
    n = (size_t) (end - p);
    padded = (n + 3) / 4 * 4;
    in = malloc(padded + 1);
    dec = malloc(padded + 1);
    if (in == NULL || dec == NULL)
        abort();
    for (i = 0; i < n; i++)
        in[i] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
    for (; i < padded; i++)
        in[i] = '=';
    in[padded] = '\0';
    got = EVP_DecodeBlock(dec, (unsigned char *) in, (int) padded);
    if (got < 0)
        abort();
    dec[got] = '\0';
    o = json_tokener_parse((char *) dec);
    free(in);
    free(dec);
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *nonce = fuzz_body(data, size), *s, *proof = NULL;
    struct json_object *c, *v;
    fhirauth_rc rc;
    int fit;

    if (nonce == NULL)
        return 0;
    if (key == NULL && fa_dpop_key_new(&key, NULL) != FHIRAUTH_OK)
        abort();
    fit = fa_dpop_nonce_fit(nonce, size);
    s = fuzz_cstr(data, size);
    if (s == NULL)
        abort();
    rc = fa_dpop_proof(key, "POST", "https://as.test/token", s, NULL, 1,
                       &proof, NULL);
    if (fit && rc == FHIRAUTH_OK) {
        c = claims_of(proof);
        if (c == NULL || !json_object_object_get_ex(c, "nonce", &v)
            || strcmp(json_object_get_string(v), s) != 0)
            abort();
        json_object_put(c);
    } else if (rc == FHIRAUTH_OK && memchr(nonce, '\0', size) == NULL) {
        abort(); /* a nonce the check refused went into a proof */
    } else if (fit && rc != FHIRAUTH_ERR_NOMEM) {
        abort();
    }
    free(proof);
    free(s);
    free(nonce);
    return 0;
}
