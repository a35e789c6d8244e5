/* session-t.c - session metadata survives a round trip through JSON and
 * damaged payloads are refused. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "tests/tap/basic.h"

int
main(void)
{
    struct fa_meta m, back;
    struct fa_token_response r;
    char scope[] = "openid";
    char *json = NULL;
    struct fa_err ectx;

    plan(27);
    memset(&m, 0, sizeof(m));
    m.ep.issuer = strdup("https://as.example");
    m.ep.token_endpoint = strdup("https://as.example/token");
    m.ep.revocation_endpoint = strdup("https://as.example/revoke");
    m.ep.client_auth = FA_AUTH_POST;
    m.client_id = strdup("cli");
    m.scope = strdup("openid offline_access");
    m.patient = strdup("p1");
    m.login_at = 1700000000;
    m.refresh_expires_at = 1700086400;

    is_int(FHIRAUTH_OK, fa_meta_encode(&m, &json), "encode");
    ok(json != NULL && strstr(json, "\"v\":1") != NULL, "versioned");
    is_int(FHIRAUTH_OK, fa_meta_decode(json, strlen(json), &back, &ectx),
           "decode");
    is_string("https://as.example", back.ep.issuer, "issuer");
    is_string("https://as.example/token", back.ep.token_endpoint, "token ep");
    is_string("https://as.example/revoke", back.ep.revocation_endpoint,
              "revocation ep");
    is_int(FA_AUTH_POST, back.ep.client_auth, "client auth");
    is_string("cli", back.client_id, "client id");
    is_string("p1", back.patient, "patient");
    ok(back.encounter == NULL, "absent stays absent");
    is_int(1700000000, back.login_at, "login time");
    is_int(1700086400, back.refresh_expires_at, "refresh expiry");
    free(json);

    /* A refresh that does not repeat the context keeps it. */
    memset(&r, 0, sizeof(r));
    r.scope = scope;
    is_int(1, fa_meta_merge_response(&back, &r), "scope change seen");
    is_string("p1", back.patient, "context kept across a refresh");
    is_int(0, fa_meta_merge_response(&back, &r), "no change, no write");
    ok(back.grant == NULL && !fa_meta_is_service(&back),
       "a user's session has no grant: not a service session");
    fa_meta_free(&back);

    is_int(FHIRAUTH_ERR_KEYRING, fa_meta_decode("{", 1, &back, &ectx),
           "truncated JSON refused");
    is_int(FHIRAUTH_ERR_KEYRING, fa_meta_decode("[]", 2, &back, &ectx),
           "non-object refused");
    is_int(FHIRAUTH_ERR_KEYRING, fa_meta_decode("{\"v\":1}", 7, &back, &ectx),
           "no token endpoint refused");
    is_int(FHIRAUTH_ERR_KEYRING,
           fa_meta_decode("{\"token_endpoint\":\"x\"} x", 24, &back, &ectx),
           "trailing garbage refused");
    is_int(FHIRAUTH_ERR_KEYRING,
           fa_meta_decode("{\"a\":[[[[[[[[1]]]]]]]]}", 22, &back, &ectx),
           "deep nesting refused");
    fa_meta_free(&m);

    /* A service session says so. */
    memset(&m, 0, sizeof(m));
    m.ep.token_endpoint = strdup("https://as.example/token");
    m.grant = strdup(FA_META_SERVICE_GRANT);
    json = NULL;
    is_int(FHIRAUTH_OK, fa_meta_encode(&m, &json), "encode a service session");
    ok(json != NULL
           && strstr(json, "\"grant\":\"client_credentials\"") != NULL,
       "  with grant client_credentials");
    is_int(FHIRAUTH_OK, fa_meta_decode(json, strlen(json), &back, &ectx),
           "  decoded");
    ok(fa_meta_is_service(&back), "  a service session");
    free(json);
    fa_meta_free(&back);
    fa_meta_free(&m);
    is_int(FHIRAUTH_OK,
           fa_meta_decode("{\"token_endpoint\":\"x\",\"grant\":\"password\"}",
                          41, &back, &ectx),
           "another grant value");
    ok(!fa_meta_is_service(&back), "  is no service session");
    fa_meta_free(&back);
    return test_status();
}
