/* device-json-t.c - the device authorization answer parser (RFC 8628
 * §3.2), and the token parser's reading of the device flow's polling
 * answers (§3.5), fed well-formed, malformed and hostile answers. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "oauth.h"
#include "net/oauth_json.h"
#include "util.h"
#include "../tap/basic.h"

static struct fa_err ectx;
static char oerr[128];

/* The fields of a valid answer, each replaceable. */
#define F_DC "\"device_code\":\"SECRET-dc-0123\""
#define F_UC "\"user_code\":\"WDJB-MJHT\""
#define F_VU "\"verification_uri\":\"https://as.example/device\""
#define F_VUC                                                 \
 "\"verification_uri_complete\":\"https://as.example/device?" \
 "user_code=WDJB-MJHT\""
#define F_EX "\"expires_in\":600"

static fhirauth_rc
dev(long status, const char *body, struct fa_device_auth *d)
{
    fa_err_clear(&ectx);
    memset(d, 0, sizeof(*d));
    return fa_parse_device_response(status, body, strlen(body), d, oerr,
                                    sizeof(oerr), &ectx);
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

/* A refused answer: the code, a printable message without the device
 * code, and the result untouched. */
static void
refused(long status, const char *body, fhirauth_rc want, const char *what)
{
    struct fa_device_auth d;
    fhirauth_rc rc = dev(status, body, &d);

    is_int(want, rc, "%s: code", what);
    ok(ectx.msg[0] != '\0' && strstr(ectx.msg, "SECRET") == NULL
           && printable(ectx.msg),
       "%s: message without the device code (%s)", what, ectx.msg);
    ok(d.device_code == NULL && d.user_code == NULL
           && d.verification_uri == NULL,
       "%s: result untouched", what);
    fa_device_auth_free(&d);
}

static void
test_valid(void)
{
    struct fa_device_auth d;

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU "," F_VUC "," F_EX
               ",\"interval\":7}",
               &d),
           "full answer");
    is_string("SECRET-dc-0123", d.device_code, "full: device_code");
    is_string("WDJB-MJHT", d.user_code, "full: user_code");
    is_string("https://as.example/device", d.verification_uri,
              "full: verification_uri");
    is_string("https://as.example/device?user_code=WDJB-MJHT",
              d.verification_uri_complete, "full: verification_uri_complete");
    is_int(600, d.expires_in, "full: expires_in");
    is_int(7, d.interval, "full: interval");
    fa_device_auth_free(&d);
    ok(d.device_code == NULL && d.user_code == NULL && d.expires_in == 0,
       "free resets");

    is_int(FHIRAUTH_OK, dev(200, "{" F_DC "," F_UC "," F_VU "," F_EX "}", &d),
           "minimal answer");
    ok(d.verification_uri_complete == NULL,
       "minimal: no verification_uri_complete");
    is_int(5, d.interval, "minimal: interval defaults to 5");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU "," F_EX
               ",\"verification_uri_complete\":null,\"interval\":null,"
               "\"message\":\"Go to https://as.example/device\","
               "\"extra\":{\"a\":[1]}}",
               &d),
           "null optional members, unknown members");
    ok(d.verification_uri_complete == NULL && d.interval == 5,
       "null optional members: as absent");
    fa_device_auth_free(&d);

    /* Google's device endpoint: verification_url, numbers as given. */
    is_int(FHIRAUTH_OK,
           dev(200,
               "{\"device_code\":\"AH-1Ng\",\"user_code\":\"GQVQ-JKEC\","
               "\"verification_url\":\"https://www.google.com/device\","
               "\"expires_in\":1800,\"interval\":5}",
               &d),
           "verification_url (Google)");
    is_string("https://www.google.com/device", d.verification_uri,
              "verification_url taken as verification_uri");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU
               ",\"verification_url\":\"https://other.example/x\"," F_EX "}",
               &d),
           "both names");
    is_string("https://as.example/device", d.verification_uri,
              "both names: verification_uri wins");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU
               ",\"expires_in\":\"900\",\"interval\":\"3\"}",
               &d),
           "numbers as digit strings");
    ok(d.expires_in == 900 && d.interval == 3, "digit strings: values");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(200, "{" F_DC "," F_UC "," F_VU "," F_EX ",\"interval\":0}",
               &d),
           "interval 0");
    is_int(1, d.interval, "interval 0: at least a second");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(201,
               "{" F_DC ",\"user_code\":\"123 456\","
               "\"verification_uri\":\"HTTPS://AS.example:8443/d\"," F_EX "}",
               &d),
           "201, blank in user_code, upper-case scheme, port");
    is_string("123 456", d.user_code, "user_code with a blank kept");
    fa_device_auth_free(&d);
}

static void
test_huge(void)
{
    struct fa_device_auth d;
    char *big;
    size_t n;
    int r;

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU
               ",\"expires_in\":99999999999999999999,"
               "\"interval\":99999999999}",
               &d),
           "huge numbers");
    is_int(3600, d.expires_in, "huge expires_in clamped to an hour");
    is_int(300, d.interval, "huge interval clamped to 300");
    fa_device_auth_free(&d);

    is_int(FHIRAUTH_OK,
           dev(200,
               "{" F_DC "," F_UC "," F_VU
               ",\"expires_in\":\"99999999999999999999999\"}",
               &d),
           "huge expires_in as a string");
    is_int(3600, d.expires_in, "huge string clamped");
    fa_device_auth_free(&d);

    /* device_code: 4096 accepted, 4097 refused. */
    big = malloc(8192);
    if (big == NULL)
        bail("out of memory");
    for (n = 4096; n <= 4097; n++) {
        char *code = malloc(n + 1);

        if (code == NULL)
            bail("out of memory");
        memset(code, 'S', n);
        code[n] = '\0';
        r = snprintf(big, 8192,
                     "{\"device_code\":\"%s\"," F_UC "," F_VU "," F_EX "}",
                     code);
        if (r < 0 || r >= 8192)
            bail("snprintf");
        fa_err_clear(&ectx);
        memset(&d, 0, sizeof(d));
        is_int(n == 4096 ? FHIRAUTH_OK : FHIRAUTH_ERR_PROTOCOL,
               fa_parse_device_response(200, big, (size_t) r, &d, oerr,
                                        sizeof(oerr), &ectx),
               "device_code of %zu bytes", n);
        if (n > 4096)
            ok(strstr(ectx.msg, "SSSS") == NULL
                   && strstr(ectx.msg, "device_code"),
               "long device_code: message without it (%s)", ectx.msg);
        fa_device_auth_free(&d);
        free(code);
    }

    /* user_code: 64 accepted, 65 refused (it goes on a terminal). */
    for (n = 64; n <= 65; n++) {
        char code[80];

        memset(code, 'A', n);
        code[n] = '\0';
        r = snprintf(big, 8192,
                     "{" F_DC ",\"user_code\":\"%s\"," F_VU "," F_EX "}",
                     code);
        if (r < 0 || r >= 8192)
            bail("snprintf");
        is_int(n == 64 ? FHIRAUTH_OK : FHIRAUTH_ERR_PROTOCOL,
               dev(200, big, &d), "user_code of %zu bytes", n);
        fa_device_auth_free(&d);
    }

    /* A verification URI over 2048 bytes. */
    memset(big, 0, 8192);
    r = snprintf(big, 8192,
                 "{" F_DC "," F_UC ",\"verification_uri\":"
                 "\"https://as.example/");
    if (r < 0)
        bail("snprintf");
    n = (size_t) r;
    memset(big + n, 'p', 2100);
    n += 2100;
    memcpy(big + n, "\"," F_EX "}", sizeof("\"," F_EX "}"));
    refused(200, big, FHIRAUTH_ERR_PROTOCOL, "verification_uri too long");
    free(big);

    /* A body over the cap. */
    n = FA_HTTP_MAX_BODY + 16;
    big = malloc(n + 1);
    if (big == NULL)
        bail("out of memory");
    memset(big, ' ', n);
    memcpy(big, "{" F_DC "," F_UC "," F_VU "," F_EX "}",
           sizeof("{" F_DC "," F_UC "," F_VU "," F_EX "}") - 1);
    big[n] = '\0';
    refused(200, big, FHIRAUTH_ERR_PROTOCOL, "body over 256 KiB");
    free(big);
}

static void
test_missing_and_types(void)
{
    refused(200, "{" F_UC "," F_VU "," F_EX "}", FHIRAUTH_ERR_PROTOCOL,
            "no device_code");
    refused(200, "{\"device_code\":\"\"," F_UC "," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "empty device_code");
    refused(200, "{\"device_code\":42," F_UC "," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "numeric device_code");
    refused(200, "{\"device_code\":\"SECRET\\nx\"," F_UC "," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "newline in device_code");
    refused(200, "{" F_DC "," F_VU "," F_EX "}", FHIRAUTH_ERR_PROTOCOL,
            "no user_code");
    refused(200, "{" F_DC ",\"user_code\":\"\"," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "empty user_code");
    refused(200, "{" F_DC ",\"user_code\":[\"A\"]," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "array user_code");
    refused(200,
            "{" F_DC ",\"user_code\":\"AB\\u001b[2JCD\"," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "escape sequence in user_code");
    refused(200, "{" F_DC ",\"user_code\":\"AB\\r\\nCD\"," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "CR/LF in user_code");
    refused(200,
            "{" F_DC ",\"user_code\":\"\xc3\xa9t\xc3\xa9\"," F_VU "," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "non-ASCII user_code");
    refused(200, "{" F_DC "," F_UC "," F_EX "}", FHIRAUTH_ERR_PROTOCOL,
            "no verification_uri");
    refused(200, "{" F_DC "," F_UC ",\"verification_uri\":7," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "numeric verification_uri");
    refused(200,
            "{" F_DC "," F_UC ",\"verification_uri\":7,"
            "\"verification_url\":\"https://as.example/d\"," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL,
            "bad verification_uri not rescued by verification_url");
    refused(200,
            "{" F_DC "," F_UC "," F_VU ",\"verification_uri_complete\":"
            "true," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "boolean verification_uri_complete");
    refused(200, "{" F_DC "," F_UC "," F_VU "}", FHIRAUTH_ERR_PROTOCOL,
            "no expires_in");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":null}",
            FHIRAUTH_ERR_PROTOCOL, "null expires_in");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":0}",
            FHIRAUTH_ERR_PROTOCOL, "expires_in 0");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":-1}",
            FHIRAUTH_ERR_PROTOCOL, "negative expires_in");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":60.5}",
            FHIRAUTH_ERR_PROTOCOL, "fractional expires_in");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":\"10m\"}",
            FHIRAUTH_ERR_PROTOCOL, "expires_in \"10m\"");
    refused(200, "{" F_DC "," F_UC "," F_VU ",\"expires_in\":true}",
            FHIRAUTH_ERR_PROTOCOL, "boolean expires_in");
    refused(200, "{" F_DC "," F_UC "," F_VU "," F_EX ",\"interval\":-5}",
            FHIRAUTH_ERR_PROTOCOL, "negative interval");
    refused(200, "{" F_DC "," F_UC "," F_VU "," F_EX ",\"interval\":\"x\"}",
            FHIRAUTH_ERR_PROTOCOL, "interval \"x\"");
    refused(200, "{" F_DC "," F_UC "," F_VU "," F_EX ",\"interval\":{}}",
            FHIRAUTH_ERR_PROTOCOL, "object interval");
    refused(200, "[" F_DC "]", FHIRAUTH_ERR_PROTOCOL, "an array");
    refused(200, "{" F_DC "," F_UC "," F_VU "," F_EX, FHIRAUTH_ERR_PROTOCOL,
            "truncated JSON");
    refused(200, "{" F_DC "," F_UC "," F_VU "," F_EX "} x",
            FHIRAUTH_ERR_PROTOCOL, "data after the JSON");
    refused(200, "", FHIRAUTH_ERR_PROTOCOL, "empty body");
    refused(200, "<html>SECRET</html>", FHIRAUTH_ERR_PROTOCOL, "HTML");
}

static void
test_uris(void)
{
    static const char *const bad[] = {
        "http://as.example/device",
        "http://127.0.0.1:8080/device",
        "http://localhost/device",
        "ftp://as.example/device",
        "javascript:alert(1)",
        "https://",
        "https:///device",
        "https://user:pw@as.example/device",
        "https://as.example/device#frag",
        "https://as.example/de vice",
        "https://as.example:99999/device",
        "https://h%41st.example/device",
        "as.example/device",
        "//as.example/device",
    };
    char body[512], what[128];
    size_t i;
    int r;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = snprintf(body, sizeof(body),
                     "{" F_DC "," F_UC ",\"verification_uri\":\"%s\"," F_EX
                     "}",
                     bad[i]);
        if (r < 0 || (size_t) r >= sizeof(body))
            bail("snprintf");
        refused(200, body, FHIRAUTH_ERR_PROTOCOL, bad[i]);
        r = snprintf(body, sizeof(body),
                     "{" F_DC "," F_UC "," F_VU
                     ",\"verification_uri_complete\":\"%s\"," F_EX "}",
                     bad[i]);
        if (r < 0 || (size_t) r >= sizeof(body))
            bail("snprintf");
        r = snprintf(what, sizeof(what), "complete: %s", bad[i]);
        if (r < 0 || (size_t) r >= sizeof(what))
            bail("snprintf");
        refused(200, body, FHIRAUTH_ERR_PROTOCOL, what);
    }
    refused(200,
            "{" F_DC "," F_UC ",\"verification_url\":"
            "\"http://www.google.com/device\"," F_EX "}",
            FHIRAUTH_ERR_PROTOCOL, "http verification_url");
}

static void
test_errors(void)
{
    struct fa_device_auth d;

    is_int(FHIRAUTH_ERR_DENIED,
           dev(400,
               "{\"error\":\"unauthorized_client\",\"error_description"
               "\":\"device flow not allowed\"}",
               &d),
           "unauthorized_client");
    is_string("unauthorized_client", oerr, "unauthorized_client: code");
    ok(strstr(ectx.msg, "device flow not allowed") != NULL,
       "unauthorized_client: description (%s)", ectx.msg);
    ok(d.device_code == NULL, "error: result untouched");

    is_int(FHIRAUTH_ERR_DENIED, dev(400, "{\"error\":\"invalid_scope\"}", &d),
           "invalid_scope");
    is_string("invalid_scope", oerr, "invalid_scope: code");

    is_int(FHIRAUTH_ERR_DENIED, dev(400, "{\"error\":\"invalid_grant\"}", &d),
           "invalid_grant: denied, not login-needed");

    is_int(FHIRAUTH_ERR_DENIED, dev(401, "{\"error\":\"invalid_client\"}", &d),
           "invalid_client");
    is_int(FHIRAUTH_ERR_DENIED, dev(401, "Unauthorized", &d),
           "bare 401: client authentication failed");
    ok(strstr(ectx.msg, "client authentication") != NULL, "bare 401: %s",
       ectx.msg);
    is_int(FHIRAUTH_ERR_DENIED, dev(401, "{}", &d), "401 without error code");

    is_int(FHIRAUTH_ERR_DENIED, dev(200, "{\"error\":\"access_denied\"}", &d),
           "error object with 200");
    is_string("access_denied", oerr, "200 error: code");

    refused(400, "{\"error_description\":\"x\"}", FHIRAUTH_ERR_PROTOCOL,
            "400 without error code");
    refused(404, "<html>not found</html>", FHIRAUTH_ERR_PROTOCOL, "404 HTML");
    ok(strstr(ectx.msg, "404") != NULL
           && strstr(ectx.msg, "device authorization") != NULL,
       "404: message names status and endpoint (%s)", ectx.msg);
    refused(500, "{\"error\":\"server_error\"}", FHIRAUTH_ERR_UNREACHABLE,
            "500");
    refused(503, "", FHIRAUTH_ERR_UNREACHABLE, "503");
    refused(429, "", FHIRAUTH_ERR_UNREACHABLE, "429");
    refused(302, "", FHIRAUTH_ERR_PROTOCOL, "302");
    refused(100, "", FHIRAUTH_ERR_PROTOCOL, "100");

    /* Hostile error text: printable and capped. */
    refused(400,
            "{\"error\":\"bad\\u001b]0;x\\u0007\",\"error_description"
            "\":\"line1\\nline2\"}",
            FHIRAUTH_ERR_DENIED, "control characters in the error");
    ok(strchr(ectx.msg, '\n') == NULL && strchr(ectx.msg, 0x1b) == NULL,
       "error text sanitized (%s)", ectx.msg);

    is_int(FHIRAUTH_ERR_INTERNAL,
           fa_parse_device_response(200, "{}", 2, NULL, oerr, sizeof(oerr),
                                    &ectx),
           "NULL result");
}

/* §3.5: the polling answers go through the token parser. */
static void
test_poll_answers(void)
{
    static const struct {
        const char *code;
        fhirauth_rc want;
    } cases[] = {
        { "authorization_pending", FHIRAUTH_ERR_DENIED },
        { "slow_down", FHIRAUTH_ERR_DENIED },
        { "access_denied", FHIRAUTH_ERR_DENIED },
        { "expired_token", FHIRAUTH_ERR_DENIED },
        { "invalid_grant", FHIRAUTH_ERR_LOGIN_NEEDED },
    };
    struct fa_token_response r;
    char body[200];
    size_t i;
    int n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = snprintf(body, sizeof(body),
                     "{\"error\":\"%s\","
                     "\"error_description\":\"d\"}",
                     cases[i].code);
        if (n < 0 || (size_t) n >= sizeof(body))
            bail("snprintf");
        memset(&r, 0, sizeof(r));
        fa_err_clear(&ectx);
        is_int(cases[i].want,
               fa_parse_token_response(400, body, (size_t) n, &r, oerr,
                                       sizeof(oerr), &ectx),
               "poll answer %s", cases[i].code);
        is_string(cases[i].code, oerr, "poll answer %s: oauth_error",
                  cases[i].code);
        ok(r.access_token == NULL, "poll answer %s: no token", cases[i].code);
        fa_token_response_free(&r);
    }
}

int
main(void)
{
    plan_lazy();
    test_valid();
    test_huge();
    test_missing_and_types();
    test_uris();
    test_errors();
    test_poll_answers();
    return test_status();
}
