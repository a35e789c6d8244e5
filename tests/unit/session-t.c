/* session-t.c - session metadata survives a round trip through JSON and
 * damaged payloads are refused; a session matches only the configuration
 * whose server it was discovered at. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
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
    struct fa_config cfg;
    char fhir_a[] = "https://fhir.example/a",
         fhir_b[] = "https://fhir.example/b";
    char iss[] = "https://as.example", tep[] = "https://as.example/token";
    char cli[] = "cli";

    plan(47);
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

    /* Where discovery started is recorded and must match (SMART only:
     * no issuer to compare). */
    memset(&cfg, 0, sizeof(cfg));
    cfg.fhir_base = fhir_a;
    cfg.client_id = cli;
    memset(&m, 0, sizeof(m));
    m.ep.token_endpoint = strdup("https://as.example/token");
    m.client_id = strdup("cli");
    m.grant = strdup(FA_META_SERVICE_GRANT);
    is_int(0, fa_meta_note_discovery(&m, &cfg), "note where discovery began");
    is_string(fhir_a, m.discovered_from, "  the fhir_base");
    json = NULL;
    is_int(FHIRAUTH_OK, fa_meta_encode(&m, &json), "  encoded");
    is_int(FHIRAUTH_OK, fa_meta_decode(json, strlen(json), &back, &ectx),
           "  decoded");
    is_string(fhir_a, back.discovered_from, "  kept in the key");
    free(json);
    fa_meta_free(&back);
    ok(fa_meta_matches(&m, &cfg), "a service session matches its fhir_base");
    cfg.fhir_base = fhir_b;
    ok(!fa_meta_matches(&m, &cfg), "  not another fhir_base");
    free(m.grant);
    m.grant = NULL;
    ok(!fa_meta_matches(&m, &cfg), "  nor does a user's session");
    cfg.fhir_base = fhir_a;
    cfg.issuer = iss;
    m.ep.issuer = strdup(iss);
    ok(fa_meta_matches(&m, &cfg),
       "  one from the fhir_base matches a configured issuer it names");
    free(m.ep.issuer);
    m.ep.issuer = strdup("https://other.example");
    ok(!fa_meta_matches(&m, &cfg), "  but not another issuer");
    free(m.ep.issuer);
    m.ep.issuer = strdup(iss);
    is_int(0, fa_meta_note_discovery(&m, &cfg), "an issuer's session");
    is_string(iss, m.discovered_from, "  began at the issuer");
    ok(fa_meta_matches(&m, &cfg), "  and matches it");
    cfg.token_endpoint = tep;
    ok(fa_meta_matches(&m, &cfg), "  with a token_endpoint override too");
    cfg.issuer = NULL;
    ok(!fa_meta_matches(&m, &cfg), "  not without the issuer");
    is_int(0, fa_meta_note_discovery(&m, &cfg),
           "configured endpoints, no issuer");
    ok(m.discovered_from == NULL, "  no discovery recorded");

    /* Stored by an older version: a user's session is kept, a service
     * session is discovered anew. */
    cfg.token_endpoint = NULL;
    ok(fa_meta_matches(&m, &cfg), "an older user's session still matches");
    m.grant = strdup(FA_META_SERVICE_GRANT);
    ok(!fa_meta_matches(&m, &cfg), "an older service session does not");
    cfg.token_endpoint = tep;
    ok(fa_meta_matches(&m, &cfg), "  unless no discovery is configured");
    fa_meta_free(&m);
    return test_status();
}
