/* oauth-json-t.c - the parsers for token responses and discovery
 * documents, fed well-formed, malformed and hostile answers. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "net/oauth_json.h"
#include "util.h"
#include "../tap/basic.h"

static struct fa_err ectx;
static char oerr[128];

/* Parse a token response given as a C string. */
static fhirauth_rc
tok(long status, const char *body, struct fa_token_response *r)
{
    fa_err_clear(&ectx);
    memset(r, 0, sizeof(*r));
    r->expires_in = -1;
    r->refresh_expires_in = -1;
    return fa_parse_token_response(status, body, strlen(body), r, oerr,
                                   sizeof(oerr), &ectx);
}

static fhirauth_rc
disc(const char *body, const char *issuer, int has_secret,
     struct fa_endpoints *ep)
{
    fa_err_clear(&ectx);
    memset(ep, 0, sizeof(*ep));
    return fa_parse_discovery(body, strlen(body), issuer, has_secret, ep,
                              &ectx);
}

/* Is every byte of s printable ASCII? */
static int
printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
            return 0;
    return 1;
}

/* A rejected answer: the code, a message, and no token leaked into it. */
static void
rejected(long status, const char *body, fhirauth_rc want, const char *what)
{
    struct fa_token_response r;
    fhirauth_rc rc = tok(status, body, &r);

    is_int(want, rc, "%s: code", what);
    ok(ectx.msg[0] != '\0' && strstr(ectx.msg, "SECRET") == NULL,
       "%s: message without the body (%s)", what, ectx.msg);
    ok(r.access_token == NULL, "%s: result untouched", what);
    fa_token_response_free(&r);
}

static void
test_token_success(void)
{
    struct fa_token_response r;

    is_int(FHIRAUTH_OK,
           tok(200, "{\"access_token\":\"at1\",\"token_type\":\"Bearer\"}",
               &r),
           "minimal response");
    is_string("at1", r.access_token, "minimal: access_token");
    is_string("Bearer", r.token_type, "minimal: token_type");
    is_int(-1, r.expires_in, "minimal: no expires_in is -1");
    is_int(-1, r.refresh_expires_in, "minimal: no refresh_expires_in");
    ok(r.refresh_token == NULL && r.id_token == NULL && r.scope == NULL
           && r.patient == NULL,
       "minimal: optional fields NULL");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"eyJ.a-b_c~d+e/f=\",\"token_type\":"
               "\"bearer\",\"expires_in\":3600,\"refresh_token\":\"rt 1\","
               "\"scope\":\"openid patient/*.read\",\"id_token\":\"h.p.s\","
               "\"refresh_expires_in\":1800,\"patient\":\"123\","
               "\"encounter\":\"e-9\",\"fhirUser\":"
               "\"https://fhir.example/Practitioner/7\",\"tenant\":\"t1\","
               "\"need_patient_banner\":true,\"extra\":{\"a\":[1,2]}}\n",
               &r),
           "full response");
    is_string("eyJ.a-b_c~d+e/f=", r.access_token, "full: access_token");
    is_string("Bearer", r.token_type, "full: bearer normalized");
    is_int(3600, r.expires_in, "full: expires_in");
    is_int(1800, r.refresh_expires_in, "full: refresh_expires_in");
    is_string("rt 1", r.refresh_token, "full: refresh_token");
    is_string("openid patient/*.read", r.scope, "full: scope");
    is_string("h.p.s", r.id_token, "full: id_token");
    is_string("123", r.patient, "full: patient");
    is_string("e-9", r.encounter, "full: encounter");
    is_string("https://fhir.example/Practitioner/7", r.fhir_user,
              "full: fhirUser");
    is_string("t1", r.tenant, "full: tenant");
    fa_token_response_free(&r);
    ok(r.access_token == NULL && r.expires_in == -1, "free resets");

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"BEARER\","
               "\"expires_in\":\"300\"}",
               &r),
           "expires_in as digits");
    is_int(300, r.expires_in, "digits: value");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"expires_in\":0}",
               &r),
           "expires_in 0");
    is_int(0, r.expires_in, "expires_in 0 kept");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"expires_in\":99999999999999999999}",
               &r),
           "huge expires_in");
    is_int(2147483647L, r.expires_in, "huge expires_in clamped");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"expires_in\":\"99999999999999999999999\"}",
               &r),
           "huge expires_in string");
    is_int(2147483647L, r.expires_in, "huge string clamped");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(201,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"refresh_token\":null,\"id_token\":\"\",\"scope\":\"\"}",
               &r),
           "null and empty optional fields");
    ok(r.refresh_token == NULL, "null refresh_token is none");
    ok(r.id_token == NULL, "empty id_token is none");
    is_string("", r.scope, "empty scope kept");
    fa_token_response_free(&r);

    /* Context values with a wrong type or control characters are dropped,
     * the login goes on. */
    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"patient\":123,\"encounter\":[\"x\"],\"fhirUser\":"
               "\"a\\nb\",\"tenant\":\"\"}",
               &r),
           "mistyped SMART context is ignored");
    ok(r.patient == NULL && r.encounter == NULL && r.fhir_user == NULL
           && r.tenant == NULL,
       "mistyped context left NULL");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"refresh_expires_in\":\"soon\"}",
               &r),
           "malformed refresh_expires_in is ignored");
    is_int(-1, r.refresh_expires_in, "malformed refresh_expires_in is -1");
    fa_token_response_free(&r);

    is_int(FHIRAUTH_OK,
           tok(200,
               "  {\"token_type\":\"Bearer\",\"access_token\":\"x\","
               "\"access_token\":\"y\"}  \r\n\t",
               &r),
           "surrounding whitespace, duplicate member");
    is_string("y", r.access_token, "duplicate member: last wins");
    fa_token_response_free(&r);
}

static void
test_token_malformed(void)
{
    struct fa_token_response r;
    char *big;
    size_t n;

    rejected(200, "{\"token_type\":\"Bearer\"}", FHIRAUTH_ERR_PROTOCOL,
             "missing access_token");
    rejected(200, "{\"access_token\":\"\",\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "empty access_token");
    rejected(200, "{\"access_token\":42,\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "numeric access_token");
    rejected(200, "{\"access_token\":null,\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "null access_token");
    rejected(200,
             "{\"access_token\":\"SECRET\\r\\nX-Evil: 1\","
             "\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "CR/LF in access_token");
    rejected(200, "{\"access_token\":\"SECRET a\",\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "blank in access_token");
    rejected(200,
             "{\"access_token\":\"SECRET\\u0000x\","
             "\"token_type\":\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "NUL inside access_token");
    rejected(200, "{\"access_token\":\"SECRET\"}", FHIRAUTH_ERR_PROTOCOL,
             "missing token_type");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"mac\"}",
             FHIRAUTH_ERR_PROTOCOL, "token_type mac");
    ok(strstr(ectx.msg, "mac") != NULL && strstr(ectx.msg, "Bearer") != NULL,
       "token_type message names it: %s", ectx.msg);
    ok(tok(200, "{\"access_token\":\"a\",\"token_type\":\"dpop\"}", &r)
               == FHIRAUTH_OK
           && r.token_type != NULL && strcmp(r.token_type, "DPoP") == 0,
       "token_type DPoP taken, normalized (the request judges it)");
    fa_token_response_free(&r);
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"Bearerx\"}",
             FHIRAUTH_ERR_PROTOCOL, "token_type Bearerx");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":true}",
             FHIRAUTH_ERR_PROTOCOL, "boolean token_type");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":-5}",
             FHIRAUTH_ERR_PROTOCOL, "negative expires_in");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":\"-5\"}",
             FHIRAUTH_ERR_PROTOCOL, "negative expires_in string");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":\"12s\"}",
             FHIRAUTH_ERR_PROTOCOL, "expires_in string with a unit");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":\" 12\"}",
             FHIRAUTH_ERR_PROTOCOL, "expires_in string with a blank");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":\"\"}",
             FHIRAUTH_ERR_PROTOCOL, "empty expires_in string");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":3600.5}",
             FHIRAUTH_ERR_PROTOCOL, "fractional expires_in");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"expires_in\":true}",
             FHIRAUTH_ERR_PROTOCOL, "boolean expires_in");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"refresh_token\":7}",
             FHIRAUTH_ERR_PROTOCOL, "numeric refresh_token");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"refresh_token\":\"a\\u0001b\"}",
             FHIRAUTH_ERR_PROTOCOL, "control character in refresh_token");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"id_token\":{}}",
             FHIRAUTH_ERR_PROTOCOL, "object id_token");
    rejected(200,
             "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\","
             "\"scope\":[\"openid\"]}",
             FHIRAUTH_ERR_PROTOCOL, "array scope");

    /* Not JSON, or not quite. */
    rejected(200, "access_token=SECRET&token_type=bearer",
             FHIRAUTH_ERR_PROTOCOL, "form-encoded answer");
    rejected(200, "<html>SECRET</html>", FHIRAUTH_ERR_PROTOCOL, "HTML answer");
    rejected(200, "", FHIRAUTH_ERR_PROTOCOL, "empty body");
    rejected(200, "[\"SECRET\"]", FHIRAUTH_ERR_PROTOCOL, "array body");
    rejected(200, "\"SECRET\"", FHIRAUTH_ERR_PROTOCOL, "string body");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\"",
             FHIRAUTH_ERR_PROTOCOL, "truncated JSON");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\"}x",
             FHIRAUTH_ERR_PROTOCOL, "trailing garbage");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\"}{}",
             FHIRAUTH_ERR_PROTOCOL, "two objects");
    rejected(200, "{'access_token':'SECRET','token_type':'Bearer'}",
             FHIRAUTH_ERR_PROTOCOL, "single quotes (non-strict JSON)");
    rejected(200, "{\"access_token\":\"SECRET\",\"token_type\":\"Bearer\",}",
             FHIRAUTH_ERR_PROTOCOL, "trailing comma");
    rejected(200,
             "{\"access_token\":\"SECRET\xff\",\"token_type\":"
             "\"Bearer\"}",
             FHIRAUTH_ERR_PROTOCOL, "invalid UTF-8");

    /* A NUL byte inside the body (length counts past it). */
    {
        static const char nul[] = "{\"access_token\":\"SECRET\","
                                  "\"token_type\":\"Bearer\"}\0junk";

        memset(&r, 0, sizeof(r));
        is_int(FHIRAUTH_ERR_PROTOCOL,
               fa_parse_token_response(200, nul, sizeof(nul) - 1, &r, oerr,
                                       sizeof(oerr), &ectx),
               "NUL byte and data after the object");
        ok(r.access_token == NULL, "NUL byte: result untouched");
    }

    /* Deep nesting: refused by the depth limit, not by the stack. */
    n = 100000;
    big = malloc(2 * n + 64);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "{\"a\":", 5);
    memset(big + 5, '[', n);
    memset(big + 5 + n, ']', n);
    memcpy(big + 5 + 2 * n, "}", 2);
    rejected(200, big, FHIRAUTH_ERR_PROTOCOL, "deep nesting");
    ok(strstr(ectx.msg, "deep") != NULL, "deep nesting named: %s", ectx.msg);
    free(big);

    /* Just under the depth limit is fine. */
    is_int(FHIRAUTH_OK,
           tok(200,
               "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
               "\"x\":[[[[[[[[[[1]]]]]]]]]]}",
               &r),
           "moderate nesting");
    fa_token_response_free(&r);

    /* A huge but well-formed token is accepted whole. */
    n = 200 * 1024;
    big = malloc(n + 128);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "{\"token_type\":\"Bearer\",\"access_token\":\"", 39);
    memset(big + 39, 'A', n);
    memcpy(big + 39 + n, "\"}", 3);
    is_int(FHIRAUTH_OK, tok(200, big, &r), "200 KiB access_token");
    ok(r.access_token != NULL && strlen(r.access_token) == n,
       "huge token copied whole");
    fa_token_response_free(&r);
    free(big);

    /* Over the body cap: refused before parsing. */
    n = FA_HTTP_MAX_BODY + 1;
    big = malloc(n + 1);
    if (big == NULL)
        bail("out of memory");
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    rejected(200, big, FHIRAUTH_ERR_PROTOCOL, "body over the cap");
    free(big);
}

static void
test_token_errors(void)
{
    struct fa_token_response r;
    char *big;
    size_t n;

    is_int(FHIRAUTH_ERR_DENIED,
           tok(400,
               "{\"error\":\"invalid_client\",\"error_description\":"
               "\"Client authentication failed\"}",
               &r),
           "error with description");
    is_string("invalid_client: Client authentication failed", ectx.msg,
              "error: description message");
    is_string("invalid_client", oerr, "bare error code");
    ok(r.access_token == NULL, "error: result untouched");

    is_int(FHIRAUTH_ERR_DENIED,
           tok(401, "{\"error\":\"unauthorized_client\"}", &r),
           "error without description");
    is_string("unauthorized_client", ectx.msg, "message is the bare code");
    is_string("unauthorized_client", oerr, "oauth_error");

    is_int(FHIRAUTH_ERR_LOGIN_NEEDED,
           tok(400,
               "{\"error\":\"invalid_grant\",\"error_description\":"
               "\"Token is not active\"}",
               &r),
           "invalid_grant");
    is_string("invalid_grant: Token is not active", ectx.msg,
              "invalid_grant message");
    is_string("invalid_grant", oerr, "invalid_grant code");

    is_int(FHIRAUTH_ERR_LOGIN_NEEDED,
           tok(200, "{\"error\":\"invalid_grant\"}", &r),
           "error object with status 200");

    is_int(FHIRAUTH_ERR_DENIED, tok(403, "{\"error\":\"access_denied\"}", &r),
           "error object with status 403");

    is_int(FHIRAUTH_ERR_DENIED,
           tok(400,
               "{\"error\":\"invalid_request\",\"error_description\":"
               "\"bad\\r\\nFAKE LOG LINE\\u001b[31m\\u00e9\"}",
               &r),
           "control characters in error_description");
    ok(printable(ectx.msg), "sanitized to printable ASCII: %s", ectx.msg);
    ok(strstr(ectx.msg, "bad??FAKE LOG LINE?[31m?") != NULL,
       "control characters replaced: %s", ectx.msg);

    n = 10000;
    big = malloc(n + 100);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "{\"error\":\"invalid_scope\",\"error_description\":\"", 46);
    memset(big + 46, 'd', n);
    memcpy(big + 46 + n, "\"}", 3);
    is_int(FHIRAUTH_ERR_DENIED, tok(400, big, &r), "huge error_description");
    ok(strlen(ectx.msg) < 260, "error_description capped (%zu chars)",
       strlen(ectx.msg));
    ok(strstr(ectx.msg, "...") != NULL, "cut marked");
    free(big);

    n = 10000;
    big = malloc(n + 100);
    if (big == NULL)
        bail("out of memory");
    memcpy(big, "{\"error\":\"", 10);
    memset(big + 10, 'e', n);
    memcpy(big + 10 + n, "\"}", 3);
    is_int(FHIRAUTH_ERR_DENIED, tok(400, big, &r), "huge error code");
    ok(strlen(oerr) < sizeof(oerr) && strlen(ectx.msg) < 260,
       "error code capped");
    free(big);

    is_int(FHIRAUTH_ERR_UNREACHABLE, tok(500, "oops", &r), "HTTP 500");
    is_string("server error HTTP 500", ectx.msg, "500 message");
    is_int(FHIRAUTH_ERR_UNREACHABLE,
           tok(503, "{\"error\":\"temporarily_unavailable\"}", &r),
           "HTTP 503");
    is_string("server error HTTP 503", ectx.msg, "503 message");
    is_int(FHIRAUTH_ERR_UNREACHABLE, tok(429, "", &r), "HTTP 429");

    rejected(400, "<html>SECRET</html>", FHIRAUTH_ERR_PROTOCOL,
             "400 with HTML");
    rejected(400, "{\"error\":42}", FHIRAUTH_ERR_PROTOCOL,
             "400 with numeric error");
    rejected(400, "{\"error\":\"\"}", FHIRAUTH_ERR_PROTOCOL,
             "400 with empty error");
    rejected(404, "SECRET", FHIRAUTH_ERR_PROTOCOL, "404 HTML");
    rejected(401, "", FHIRAUTH_ERR_DENIED, "bare 401");
    /* Glewlwyd: a wrong password is a bare 403, a used refresh token a
     * bare 400: refusals without a reason, not protocol errors. */
    rejected(403, "", FHIRAUTH_ERR_DENIED, "bare 403");
    ok(strstr(ectx.msg, "HTTP 403 with an empty body") != NULL,
       "bare 403: the message says so (%s)", ectx.msg);
    rejected(400, "\r\n", FHIRAUTH_ERR_DENIED, "bare 400 (a blank line)");
    rejected(404, "", FHIRAUTH_ERR_PROTOCOL, "bare 404");
    rejected(302, "", FHIRAUTH_ERR_PROTOCOL, "redirect status");
    rejected(100, "", FHIRAUTH_ERR_PROTOCOL, "1xx status");
    rejected(0, "", FHIRAUTH_ERR_PROTOCOL, "no status");
    is_string("", oerr, "no oauth_error for non-OAuth failures");

    is_int(FHIRAUTH_ERR_INTERNAL,
           fa_parse_token_response(200, "{}", 2, NULL, NULL, 0, NULL),
           "NULL result pointer, NULL buffers");
}

static const char oidc_doc[] =
    "{\"issuer\":\"https://as.example/realms/x\","
    "\"authorization_endpoint\":\"https://as.example/auth\","
    "\"token_endpoint\":\"https://as.example/token\","
    "\"revocation_endpoint\":\"https://as.example/revoke\","
    "\"device_authorization_endpoint\":\"https://as.example/device\","
    "\"introspection_endpoint\":\"https://as.example/introspect\","
    "\"jwks_uri\":\"https://as.example/certs\","
    "\"userinfo_endpoint\":\"https://as.example/me\","
    "\"response_types_supported\":[\"code\"]}";

static void
test_discovery(void)
{
    struct fa_endpoints ep;
    char doc[1024];

    is_int(FHIRAUTH_OK, disc(oidc_doc, "https://as.example/realms/x", 0, &ep),
           "OIDC document, issuer matches");
    is_string("https://as.example/realms/x", ep.issuer, "issuer");
    is_string("https://as.example/token", ep.token_endpoint, "token_endpoint");
    is_string("https://as.example/revoke", ep.revocation_endpoint,
              "revocation_endpoint");
    is_string("https://as.example/auth", ep.authorization_endpoint,
              "authorization_endpoint");
    is_string("https://as.example/device", ep.device_authorization_endpoint,
              "device_authorization_endpoint");
    is_string("https://as.example/introspect", ep.introspection_endpoint,
              "introspection_endpoint");
    is_string("https://as.example/certs", ep.jwks_uri, "jwks_uri");
    is_string("https://as.example/me", ep.userinfo_endpoint,
              "userinfo_endpoint");
    is_int(FA_AUTH_NONE, ep.client_auth, "public client: no client auth");
    fa_endpoints_free(&ep);
    ok(ep.issuer == NULL && ep.token_endpoint == NULL, "free resets");

    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc(oidc_doc, "https://evil.example/realms/x", 0, &ep),
           "issuer mismatch");
    is_string("issuer mismatch: expected https://evil.example/realms/x, got "
              "https://as.example/realms/x",
              ectx.msg, "mismatch message");
    ok(ep.token_endpoint == NULL, "mismatch: result untouched");

    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc(oidc_doc, "https://as.example/realms/x/", 0, &ep),
           "trailing slash difference is a mismatch");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc(oidc_doc, "https://AS.example/realms/x", 0, &ep),
           "case difference is a mismatch");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"token_endpoint\":\"https://as.example/token\"}",
                "https://as.example", 0, &ep),
           "issuer missing");
    ok(strstr(ectx.msg, "(none)") != NULL, "missing issuer named: %s",
       ectx.msg);
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":[\"https://as.example\"]}", "https://as.example",
                0, &ep),
           "issuer not a string");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\\u0000x\"}",
                "https://as.example", 0, &ep),
           "issuer with NUL");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"x\\r\\ny\"}", "https://as.example", 0, &ep),
           "issuer with CR/LF");
    ok(printable(ectx.msg), "mismatch message sanitized: %s", ectx.msg);

    /* SMART: no expected issuer. */
    is_int(FHIRAUTH_OK,
           disc("{\"token_endpoint\":\"https://as.example/token\","
                "\"capabilities\":[\"launch-standalone\"]}",
                NULL, 0, &ep),
           "SMART document without issuer");
    ok(ep.issuer == NULL, "SMART: issuer stays NULL");
    is_string("https://as.example/token", ep.token_endpoint,
              "SMART: token_endpoint");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://as.example/token\"}",
                NULL, 0, &ep),
           "SMART document with issuer");
    is_string("https://as.example", ep.issuer, "SMART: issuer taken");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"http://as.example\"}", NULL, 0, &ep),
           "SMART: http issuer refused");
    is_int(FHIRAUTH_OK, disc("{}", NULL, 0, &ep),
           "empty document parses (discovery requires the token endpoint)");
    ok(ep.token_endpoint == NULL, "empty: no token_endpoint");
    fa_endpoints_free(&ep);

    /* Endpoints must be https. */
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"http://as.example/token\"}",
                "https://as.example", 0, &ep),
           "http:// token_endpoint rejected");
    ok(strstr(ectx.msg, "token_endpoint") != NULL, "field named: %s",
       ectx.msg);
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"jwks_uri\":"
                "\"file:///etc/passwd\"}",
                "https://as.example", 0, &ep),
           "file: jwks_uri rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://\"}",
                "https://as.example", 0, &ep),
           "https:// without host rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://user:pw@as.example/token\"}",
                "https://as.example", 0, &ep),
           "userinfo rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://as.example/token#frag\"}",
                "https://as.example", 0, &ep),
           "fragment rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://as.example/to ken\"}",
                "https://as.example", 0, &ep),
           "blank in URL rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"revocation_endpoint\":"
                "17}",
                "https://as.example", 0, &ep),
           "numeric endpoint rejected");
    /* The rules of every URL (lib/url.c), not a looser set of their own. */
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"https://as.example:0/token\"}",
                "https://as.example", 0, &ep),
           "port 0 rejected");
    ok(strstr(ectx.msg, "token_endpoint") != NULL
           && strstr(ectx.msg, "bad port") != NULL,
       "  field and rule named: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example\",\"jwks_uri\":"
                "\"https://as.example/a/../certs\"}",
                "https://as.example", 0, &ep),
           "'..' segment rejected");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc("{\"issuer\":\"https://as.example?x=1\"}", NULL, 0, &ep),
           "SMART: issuer with a query refused");
    is_int(FHIRAUTH_OK,
           disc("{\"issuer\":\"https://as.example\",\"token_endpoint\":"
                "\"HTTPS://as.example:8443/t?x=1\",\"revocation_endpoint\":"
                "null}",
                "https://as.example", 0, &ep),
           "upper-case scheme, port and query accepted, null ignored");
    ok(ep.revocation_endpoint == NULL, "null endpoint is absent");
    fa_endpoints_free(&ep);

    /* Client authentication method. */
    is_int(FHIRAUTH_OK, disc(oidc_doc, "https://as.example/realms/x", 1, &ep),
           "confidential, no methods listed");
    is_int(FA_AUTH_BASIC, ep.client_auth, "default client_secret_basic");
    fa_endpoints_free(&ep);
#define METHODS(list)                  \
 "{\"issuer\":\"https://as.example\"," \
 "\"token_endpoint_auth_methods_supported\":" list "}"
    is_int(FHIRAUTH_OK,
           disc(METHODS("[\"private_key_jwt\",\"client_secret_post\"]"),
                "https://as.example", 1, &ep),
           "only post listed");
    is_int(FA_AUTH_POST, ep.client_auth, "client_secret_post chosen");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc(METHODS("[\"client_secret_post\",\"client_secret_basic\"]"),
                "https://as.example", 1, &ep),
           "both listed");
    is_int(FA_AUTH_BASIC, ep.client_auth, "basic preferred when both");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc(METHODS("[\"client_secret_post\"]"), "https://as.example", 0,
                &ep),
           "post listed, public client");
    is_int(FA_AUTH_NONE, ep.client_auth, "public client stays none");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc(METHODS("[\"private_key_jwt\"]"), "https://as.example", 1,
                &ep),
           "neither listed");
    is_int(FA_AUTH_BASIC, ep.client_auth, "neither: basic");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc(METHODS("\"client_secret_post\""), "https://as.example", 1,
                &ep),
           "methods not an array");
    is_int(FA_AUTH_BASIC, ep.client_auth, "malformed methods: basic");
    fa_endpoints_free(&ep);
    is_int(FHIRAUTH_OK,
           disc(METHODS("[1,null,\"client_secret_post\"]"),
                "https://as.example", 1, &ep),
           "non-string methods skipped");
    is_int(FA_AUTH_POST, ep.client_auth, "post found among junk");
    fa_endpoints_free(&ep);

    /* Malformed documents. */
    is_int(FHIRAUTH_ERR_PROTOCOL, disc("[]", NULL, 0, &ep), "array document");
    is_int(FHIRAUTH_ERR_PROTOCOL, disc("<html></html>", NULL, 0, &ep),
           "HTML document");
    is_int(FHIRAUTH_ERR_PROTOCOL, disc("", NULL, 0, &ep), "empty document");
    snprintf(doc, sizeof(doc), "%s trailing", oidc_doc);
    is_int(FHIRAUTH_ERR_PROTOCOL,
           disc(doc, "https://as.example/realms/x", 0, &ep),
           "trailing garbage after the document");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           fa_parse_discovery(NULL, 0, NULL, 0, &ep, NULL),
           "NULL body, NULL ectx.msg");
    is_int(FHIRAUTH_ERR_INTERNAL,
           fa_parse_discovery("{}", 2, NULL, 0, NULL, &ectx),
           "NULL result pointer");
}

/* fa_parse_userinfo on a NUL-terminated body. */
static fhirauth_rc
ui(long status, const char *body, char **ret)
{
    struct fa_err uerr;

    *ret = NULL;
    return fa_parse_userinfo(status, body, strlen(body), ret, &uerr);
}

static void
test_userinfo(void)
{
    char *c = NULL, *big;
    size_t n;

    is_int(FHIRAUTH_OK,
           ui(200,
              "{\"sub\":\"alice-0001\","
              "\"preferred_username\":\"alice\","
              "\"email_verified\":true,\"n\":1,"
              "\"address\":{\"country\":\"x\"},"
              "\"bad\":\"a\\u0007b\",\"empty\":\"\","
              "\"utf\":\"j\\u00fcrgen\","
              "\"url\":\"https://x/y\"}",
              &c),
           "userinfo: accepted");
    ok(c != NULL && strstr(c, "\"preferred_username\":\"alice\"") != NULL
           && strstr(c, "\"sub\":\"alice-0001\"") != NULL,
       "string claims kept: %s", c ? c : "(null)");
    ok(c != NULL && strstr(c, "email_verified") == NULL
           && strstr(c, "address") == NULL && strstr(c, "\"n\"") == NULL,
       "non-string claims dropped");
    ok(c != NULL && strstr(c, "bad") == NULL && strstr(c, "empty") == NULL
           && strstr(c, "utf") == NULL,
       "control characters, empty and non-ASCII values dropped");
    ok(c != NULL && strstr(c, "\"url\"") != NULL, "a URL is kept");
    free(c);

    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "{\"name\":\"x\"}", &c),
           "userinfo without sub");
    ok(c == NULL, "nothing returned on failure");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "{\"sub\":7}", &c), "a number sub");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "{\"sub\":\"a\\nb\"}", &c),
           "a sub with a newline");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "{\"sub\":\"\"}", &c),
           "an empty sub");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "eyJhbGciOiJSUzI1NiJ9.e30.sig", &c),
           "a signed (JWT) answer");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "[\"sub\"]", &c), "an array");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(200, "{\"sub\":\"a\"} x", &c),
           "trailing data");
    is_int(FHIRAUTH_ERR_PROTOCOL,
           ui(200,
              "{\"sub\":\"a\",\"d\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
              &c),
           "nested too deeply");
    is_int(FHIRAUTH_ERR_UNREACHABLE, ui(503, "", &c), "503: unreachable");
    is_int(FHIRAUTH_ERR_UNREACHABLE, ui(429, "", &c), "429: unreachable");
    is_int(FHIRAUTH_ERR_DENIED, ui(401, "", &c), "401: denied");
    is_int(FHIRAUTH_ERR_DENIED, ui(403, "{}", &c), "403: denied");
    is_int(FHIRAUTH_ERR_PROTOCOL, ui(404, "{\"sub\":\"a\"}", &c),
           "404: protocol");

    n = FA_USERINFO_MAX_BODY + 16;
    big = malloc(n + 1);
    if (big == NULL)
        bail("out of memory");
    memset(big, ' ', n);
    memcpy(big, "{\"sub\":\"a\"}", 11);
    big[n] = '\0';
    is_int(FHIRAUTH_ERR_PROTOCOL, fa_parse_userinfo(200, big, n, &c, &ectx),
           "a body over the cap");
    free(big);
    is_int(FHIRAUTH_ERR_INTERNAL, fa_parse_userinfo(200, "{}", 2, NULL, &ectx),
           "NULL result pointer");

    ok(fa_claim_fit("alice", 5), "claim filter: plain text fits");
    ok(!fa_claim_fit("", 0), "claim filter: empty does not");
    ok(!fa_claim_fit("a\tb", 3), "claim filter: a tab does not");
    ok(!fa_claim_fit("a\x7f", 2), "claim filter: DEL does not");
}

int
main(void)
{
    plan_lazy();
    test_userinfo();
    test_token_success();
    test_token_malformed();
    test_token_errors();
    test_discovery();
    fa_token_response_free(NULL);
    fa_endpoints_free(NULL);
    ok(1, "free functions accept NULL");
    return test_status();
}
