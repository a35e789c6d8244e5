/* oauth_json.c - parse the authorization server's JSON answers: token
 * responses (RFC 6749 §5.1/§5.2, SMART launch context) and discovery
 * documents (OpenID Connect Discovery, RFC 8414, SMART configuration).
 *
 * Everything a server says is untrusted: types are checked strictly, and
 * any server text that may reach a log (error, error_description, a wrong
 * issuer) is reduced to printable ASCII and capped.  json-c's internal
 * buffers cannot be wiped, so each json object lives only for the length of
 * one call: strings are copied out (and wiped when freed) and the tree is
 * released before returning. */
#include "autoconf.h"
#include "net.h"
#include "oauth.h"
#include "oauth_json.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"
#include "util.h"

/* Depth of nesting we parse; real answers are two or three levels deep, and
 * a small limit keeps hostile input from costing stack or time. */
#define FA_JSON_MAX_DEPTH 16
/* Longest piece of server text we copy into an error message. */
#define FA_SERVER_TEXT_MAX 200
/* Lifetimes are clamped here so that now + lifetime cannot overflow a
 * time_t or a long anywhere downstream (about 68 years). */
#define FA_LIFETIME_MAX 2147483647L

/*
 * Copy server-controlled text for a message: printable ASCII only (anything
 * else, including control characters that could forge log lines, becomes
 * '?'), at most max characters, "..." marking a cut.
 */
static void
sanitize(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max)
{
    size_t i, o = 0;
    int cut = 0;

    if (dst == NULL || dstlen == 0)
        return;
    if (srclen > max) {
        srclen = max;
        cut = 1;
    }
    for (i = 0; i < srclen && o + 1 < dstlen; i++) {
        unsigned char c = (unsigned char) src[i];
        dst[o++] = (c >= 0x20 && c <= 0x7e) ? (char) c : '?';
    }
    if (cut || i < srclen) {
        /* Mark the cut even when dst was the limit. */
        size_t k;

        for (k = 0; k < 3 && o + 1 < dstlen; k++)
            dst[o++] = '.';
    }
    dst[o] = '\0';
}

/*
 * Parse body as one JSON object, with a depth limit and json-c's strict
 * mode; the whole body must be consumed (whitespace may follow).  what names
 * the document for messages.  The body itself never appears in a message:
 * it may hold a token.
 */
static fhirauth_rc
parse_object(const char *body, size_t len, const char *what,
             struct json_object **ret, struct fa_err *e)
{
    struct json_tokener *tok;
    struct json_object *obj;
    enum json_tokener_error jerr;
    size_t end;

    if (body == NULL || len == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "empty answer from the %s",
                       what);
    }
    if (len > FA_HTTP_MAX_BODY) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s larger than %d bytes", what,
                       FA_HTTP_MAX_BODY);
    }
    tok = json_tokener_new_ex(FA_JSON_MAX_DEPTH);
    if (tok == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, body, (int) len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (obj == NULL || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_error_depth)
            fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s is nested too deeply", what);
        else if (jerr == json_tokener_continue)
            fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s is truncated JSON", what);
        else
            fa_err_set(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s is not valid JSON (%s)", what,
                       json_tokener_error_desc(jerr));
        return FHIRAUTH_ERR_PROTOCOL;
    }
    while (end < len
           && (body[end] == ' ' || body[end] == '\t' || body[end] == '\n'
               || body[end] == '\r'))
        end++;
    if (end != len) {
        json_object_put(obj);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s has data after the JSON", what);
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the %s is not a JSON object", what);
    }
    *ret = obj;
    return FHIRAUTH_OK;
}

/*
 * Copy an optional token-related string member into *dst.  A wrong type or
 * a character outside the set is a protocol error: these values are
 * credentials or go into requests and headers, so a malformed one must not
 * be stored.  An empty string counts as absent when empty_is_absent.
 */
static fhirauth_rc
copy_token_field(struct json_object *obj, const char *key, enum fa_charset cs,
                 int empty_is_absent, char **dst, struct fa_err *e)
{
    const char *s;
    size_t len;
    int r;

    r = fa_json_string(obj, key, &s, &len);
    if (r == 0)
        return FHIRAUTH_OK;
    if (r < 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: %s is not a string", key);
    }
    if (len == 0 && empty_is_absent)
        return FHIRAUTH_OK;
    if (!fa_charset_ok(s, len, cs)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: %s holds invalid characters", key);
    }
    *dst = fa_memdup(s, len);
    if (*dst == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    return FHIRAUTH_OK;
}

/*
 * A lifetime in seconds.  RFC 6749 says expires_in is a number; some
 * servers send a string of digits, which is accepted too (digits only: no
 * sign, no blanks, no fraction).  Returns 1 with *ret set (clamped to
 * FA_LIFETIME_MAX), 0 when absent or null, -1 for a wrong type or form,
 * -2 for a negative number.
 */
static int
get_lifetime(struct json_object *obj, const char *key, long *ret)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);

        if (n < 0)
            return -2;
        *ret = n > FA_LIFETIME_MAX ? FA_LIFETIME_MAX : (long) n;
        return 1;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t) json_object_get_string_len(v), i;
        long n = 0;

        if (len == 0)
            return -1;
        for (i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return s[i] == '-' && i == 0 ? -2 : -1;
            /* Saturate rather than overflow. */
            if (n <= FA_LIFETIME_MAX / 10)
                n = n * 10 + (s[i] - '0');
            else
                n = FA_LIFETIME_MAX;
        }
        *ret = n > FA_LIFETIME_MAX ? FA_LIFETIME_MAX : n;
        return 1;
    }
    return -1;
}

/*
 * An OAuth error object (RFC 6749 §5.2): the bare code into oauth_error,
 * "error: description" into err, both reduced to printable ASCII and
 * capped, since error_description is server-controlled text that ends up
 * in logs.  invalid_grant means the refresh token (or password) is no good
 * any more: the session is over.  Returns FHIRAUTH_ERR_PROTOCOL when the
 * object carries no string "error".
 */
static fhirauth_rc
oauth_error_object(struct json_object *obj, long status, char *oauth_error,
                   size_t oelen, struct fa_err *e)
{
    const char *code, *desc;
    size_t clen, dlen;
    char scode[FA_SERVER_TEXT_MAX / 2 + 8];
    char sdesc[FA_SERVER_TEXT_MAX + 8];
    fhirauth_rc rc;

    if (fa_json_string(obj, "error", &code, &clen) != 1 || clen == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "HTTP %ld from the token endpoint without an "
                       "OAuth error code",
                       status);
    }
    sanitize(scode, sizeof(scode), code, clen, FA_SERVER_TEXT_MAX / 2);
    sanitize(oauth_error, oelen, code, clen, FA_SERVER_TEXT_MAX / 2);
    rc = clen == strlen("invalid_grant") && strcmp(code, "invalid_grant") == 0
        ? FHIRAUTH_ERR_LOGIN_NEEDED
        : FHIRAUTH_ERR_DENIED;
    if (fa_json_string(obj, "error_description", &desc, &dlen) == 1
        && dlen > 0) {
        sanitize(sdesc, sizeof(sdesc), desc, dlen, FA_SERVER_TEXT_MAX);
        return fa_fail(e, rc, "%s: %s", scode, sdesc);
    }
    return fa_fail(e, rc, "%s", scode);
}

/* The success case of a token response, from a parsed object. */
static fhirauth_rc
token_success(struct json_object *obj, struct fa_token_response *r,
              struct fa_err *e)
{
    static const struct {
        const char *key;
        size_t off;
        enum fa_charset cs;
        int empty_is_absent;
    } fields[] = {
        /* An empty refresh or id token is unusable: treat it as none. */
        { "refresh_token", offsetof(struct fa_token_response, refresh_token),
          FA_CS_VSCHAR, 1 },
        { "id_token", offsetof(struct fa_token_response, id_token),
          FA_CS_NOSPACE, 1 },
        /* An empty scope is meaningful (nothing granted): keep it. */
        { "scope", offsetof(struct fa_token_response, scope), FA_CS_VSCHAR,
          0 },
    };
    static const struct {
        const char *key;
        size_t off;
    } context[] = {
        { "patient", offsetof(struct fa_token_response, patient) },
        { "encounter", offsetof(struct fa_token_response, encounter) },
        { "fhirUser", offsetof(struct fa_token_response, fhir_user) },
        { "tenant", offsetof(struct fa_token_response, tenant) },
    };
    const char *s;
    size_t len, i;
    char stype[40];
    fhirauth_rc rc;
    int lr;

    switch (fa_json_string(obj, "access_token", &s, &len)) {
    case 1:
        break;
    case 0:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response without access_token");
    default:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: access_token is not a string");
    }
    if (len == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: access_token is empty");
    }
    /* It goes into "Authorization: Bearer ...": no blanks, no CR/LF. */
    if (!fa_charset_ok(s, len, FA_CS_NOSPACE)) {
        return fa_fail(
            e, FHIRAUTH_ERR_PROTOCOL,
            "token response: access_token holds invalid characters");
    }
    r->access_token = fa_memdup(s, len);
    if (r->access_token == NULL)
        goto nomem;

    switch (fa_json_string(obj, "token_type", &s, &len)) {
    case 1:
        break;
    case 0:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response without token_type");
    default:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: token_type is not a string");
    }
    /* RFC 6750 §4 and RFC 6749 §5.1: case-insensitive.  DPoP (RFC 9449)
     * only counts where a proof was sent: the token request checks that
     * (grants.c).  MAC and the rest need proof-of-possession support we
     * do not have: such a token sent as a bearer token would be refused
     * by every resource server, so refuse it here with a clear message
     * instead. */
    if (len == 4 && strncasecmp(s, "DPoP", 4) == 0) {
        r->token_type = fa_strdup("DPoP");
    } else if (len == 6 && strncasecmp(s, "Bearer", 6) == 0) {
        /* Stored normalized: every later user builds a "Bearer" header. */
        r->token_type = fa_strdup("Bearer");
    } else {
        sanitize(stype, sizeof(stype), s, len, 32);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: token_type \"%s\" is not "
                       "supported (only Bearer and DPoP)",
                       stype);
    }
    if (r->token_type == NULL)
        goto nomem;

    lr = get_lifetime(obj, "expires_in", &r->expires_in);
    if (lr == -1) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: expires_in is not a number");
    }
    if (lr == -2) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "token response: expires_in is negative");
    }
    /* Keycloak's refresh_expires_in is an extension (0 there means an
     * offline token without a limit) and only informational for us: a
     * malformed one is ignored rather than failing the login. */
    if (get_lifetime(obj, "refresh_expires_in", &r->refresh_expires_in) != 1)
        r->refresh_expires_in = -1;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char **dst = (char **) (void *) ((char *) r + fields[i].off);

        rc = copy_token_field(obj, fields[i].key, fields[i].cs,
                              fields[i].empty_is_absent, dst, e);
        if (rc != FHIRAUTH_OK)
            return rc;
    }
    for (i = 0; i < sizeof(context) / sizeof(context[0]); i++) {
        char **dst = (char **) (void *) ((char *) r + context[i].off);

        if (fa_json_shown_string(obj, context[i].key, dst) != FHIRAUTH_OK)
            goto nomem;
    }
    return FHIRAUTH_OK;

nomem:
    return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
}

/* Is the body empty, or only blanks? */
static int
blank(const char *body, size_t len)
{
    size_t i;

    if (body == NULL)
        return 1;
    for (i = 0; i < len; i++)
        if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n'
            && body[i] != '\r')
            return 0;
    return 1;
}

fhirauth_rc
fa_parse_token_response(long status, const char *body, size_t len,
                        struct fa_token_response *ret, char *oauth_error,
                        size_t oelen, struct fa_err *e)
{
    struct fa_token_response r;
    struct json_object *obj = NULL;
    fhirauth_rc rc;

    if (oauth_error != NULL && oelen > 0)
        oauth_error[0] = '\0';
    if (ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "fa_parse_token_response: no result pointer");
    }
    /* Server trouble: transient, nothing is lost, retry later. */
    if (status >= 500 && status <= 599) {
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE, "server error HTTP %ld",
                       status);
    }
    if (status == 429) {
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE, "server busy HTTP 429");
    }
    if (status >= 400 && status <= 499) {
        /* RFC 6749 §5.2 names 400 and 401; 403 and friends carrying an
         * OAuth error object are read the same way.  Some servers refuse
         * with an empty body instead (Glewlwyd: a wrong password is a
         * bare 403, a used or revoked refresh token a bare 400): that is
         * a refusal too, only without a reason.  (Callers that hold a
         * session keep it: nothing says the grant is over.) */
        if ((status == 400 || status == 403) && blank(body, len)) {
            return fa_fail(
                e, FHIRAUTH_ERR_DENIED,
                "HTTP %ld with an empty body from the token "
                "endpoint: the authorization server refused without "
                "saying why (no OAuth error)",
                status);
        }
        rc = parse_object(body, len, "token endpoint", &obj, e);
        if (rc == FHIRAUTH_ERR_PROTOCOL && status == 401) {
            /* A bare 401 is the AS refusing the client's credentials
             * (RFC 6749 §5.2 invalid_client with HTTP authentication). */
            return fa_fail(e, FHIRAUTH_ERR_DENIED,
                           "HTTP 401 from the token endpoint: client "
                           "authentication failed");
        }
        if (rc != FHIRAUTH_OK) {
            if (rc == FHIRAUTH_ERR_PROTOCOL)
                fa_err_set(e, rc,
                           "HTTP %ld from the token endpoint "
                           "without an OAuth error",
                           status);
            return rc;
        }
        rc = oauth_error_object(obj, status, oauth_error, oelen, e);
        json_object_put(obj);
        if (rc == FHIRAUTH_ERR_PROTOCOL && status == 401) {
            return fa_fail(e, FHIRAUTH_ERR_DENIED,
                           "HTTP 401 from the token endpoint: client "
                           "authentication failed");
        }
        return rc;
    }
    if (status < 200 || status > 299) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "unexpected HTTP status %ld from the token "
                       "endpoint",
                       status);
    }

    rc = parse_object(body, len, "token endpoint", &obj, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    /* A few servers answer errors with 200: an "error" member and no
     * access_token is an error object whatever the status. */
    if (!json_object_object_get_ex(obj, "access_token", NULL)
        && json_object_object_get_ex(obj, "error", NULL)) {
        rc = oauth_error_object(obj, status, oauth_error, oelen, e);
        json_object_put(obj);
        return rc;
    }
    memset(&r, 0, sizeof(r));
    r.expires_in = -1;
    r.refresh_expires_in = -1;
    rc = token_success(obj, &r, e);
    fa_json_put_wiped(obj);
    if (rc != FHIRAUTH_OK) {
        fa_token_response_free(&r);
        return rc;
    }
    *ret = r;
    return FHIRAUTH_OK;
}

/* Copy an optional endpoint member, which must be an endpoint URL
 * (url.h: FA_URL_ENDPOINT, as the configuration's endpoint keys). */
static fhirauth_rc
copy_endpoint(struct json_object *obj, const char *key, char **dst,
              struct fa_err *e)
{
    const char *s;
    char why[128];
    size_t len;
    int r;

    r = fa_json_string(obj, key, &s, &len);
    if (r == 0)
        return FHIRAUTH_OK;
    if (r < 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "discovery document: %s is not a string", key);
    }
    if (fa_url_parse(s, len, FA_URL_ENDPOINT, NULL, why, sizeof(why)) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "discovery document: %s is not a usable URL: %s", key,
                       why);
    }
    *dst = fa_memdup(s, len);
    if (*dst == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    return FHIRAUTH_OK;
}

/*
 * client_secret_basic unless the AS lists client_secret_post and not
 * client_secret_basic.  RFC 8414 §2: when the member is absent the default
 * is client_secret_basic.  A malformed member is treated as absent: the
 * choice only affects how we present a secret, and a wrong guess gives a
 * clear invalid_client from the AS.
 */
static enum fa_client_auth
choose_client_auth(struct json_object *obj, int has_secret)
{
    struct json_object *methods, *m;
    size_t i, n;
    int basic = 0, post = 0;

    if (!has_secret)
        return FA_AUTH_NONE;
    if (!json_object_object_get_ex(obj,
                                   "token_endpoint_auth_methods_supported",
                                   &methods)
        || !json_object_is_type(methods, json_type_array))
        return FA_AUTH_BASIC;
    n = json_object_array_length(methods);
    for (i = 0; i < n; i++) {
        m = json_object_array_get_idx(methods, i);
        if (!json_object_is_type(m, json_type_string))
            continue;
        if (strcmp(json_object_get_string(m), "client_secret_basic") == 0)
            basic = 1;
        else if (strcmp(json_object_get_string(m), "client_secret_post") == 0)
            post = 1;
    }
    return post && !basic ? FA_AUTH_POST : FA_AUTH_BASIC;
}

/* The issuer member, checked against the configured one. */
static fhirauth_rc
check_issuer(struct json_object *obj, const char *expected, char **dst,
             struct fa_err *e)
{
    const char *s = NULL;
    size_t len = 0;
    int r;
    char sexp[FA_SERVER_TEXT_MAX + 8], sgot[FA_SERVER_TEXT_MAX + 8];
    char why[128];

    r = fa_json_string(obj, "issuer", &s, &len);
    if (expected == NULL) {
        /* SMART: the issuer is optional (required only with
         * sso-openid-connect); when present it must still be usable as an
         * issuer, since id_token "iss" checks are made against it. */
        if (r == 0)
            return FHIRAUTH_OK;
        if (r < 0) {
            return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                           "discovery document: issuer is not a "
                           "string");
        }
        if (fa_url_parse(s, len, FA_URL_BASE, NULL, why, sizeof(why)) != 0) {
            return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                           "discovery document: issuer is not a "
                           "usable URL: %s",
                           why);
        }
    } else if (r != 1 || len != strlen(expected)
               || memcmp(s, expected, len) != 0) {
        /* RFC 8414 §3.3 and OIDC Discovery §4.3: identical, byte for byte;
         * no normalization (a trailing slash makes another issuer). */
        sanitize(sexp, sizeof(sexp), expected, strlen(expected),
                 FA_SERVER_TEXT_MAX);
        if (r == 1)
            sanitize(sgot, sizeof(sgot), s, len, FA_SERVER_TEXT_MAX);
        else
            fa_strlcpy(sgot, r == 0 ? "(none)" : "(not a string)",
                       sizeof(sgot));
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "issuer mismatch: expected %s, got %s", sexp, sgot);
    }
    *dst = fa_memdup(s, len);
    if (*dst == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_parse_discovery(const char *body, size_t len, const char *expected_issuer,
                   int has_secret, struct fa_endpoints *ret, struct fa_err *e)
{
    static const struct {
        const char *key;
        size_t off;
    } endpoints[] = {
        { "token_endpoint", offsetof(struct fa_endpoints, token_endpoint) },
        { "revocation_endpoint",
          offsetof(struct fa_endpoints, revocation_endpoint) },
        { "authorization_endpoint",
          offsetof(struct fa_endpoints, authorization_endpoint) },
        { "device_authorization_endpoint",
          offsetof(struct fa_endpoints, device_authorization_endpoint) },
        { "introspection_endpoint",
          offsetof(struct fa_endpoints, introspection_endpoint) },
        { "jwks_uri", offsetof(struct fa_endpoints, jwks_uri) },
        { "userinfo_endpoint",
          offsetof(struct fa_endpoints, userinfo_endpoint) },
    };
    struct fa_endpoints ep;
    struct json_object *obj = NULL;
    fhirauth_rc rc;
    size_t i;

    if (ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "fa_parse_discovery: no result pointer");
    }
    rc = parse_object(body, len, "discovery endpoint", &obj, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    memset(&ep, 0, sizeof(ep));
    rc = check_issuer(obj, expected_issuer, &ep.issuer, e);
    for (i = 0;
         rc == FHIRAUTH_OK && i < sizeof(endpoints) / sizeof(endpoints[0]);
         i++) {
        char **dst = (char **) (void *) ((char *) &ep + endpoints[i].off);

        rc = copy_endpoint(obj, endpoints[i].key, dst, e);
    }
    if (rc == FHIRAUTH_OK)
        ep.client_auth = choose_client_auth(obj, has_secret);
    json_object_put(obj);
    if (rc != FHIRAUTH_OK) {
        fa_endpoints_free(&ep);
        return rc;
    }
    *ret = ep;
    return FHIRAUTH_OK;
}

/* Device authorization answers (RFC 8628 §3.2).  The caps are far above
 * what real servers send (Azure's device_code, the longest seen, is under
 * 1 KiB; user codes are 8 or 9 characters) and keep a hostile answer from
 * filling a terminal or a PAM prompt. */
#define FA_DEVICE_CODE_MAX 4096
#define FA_USER_CODE_MAX 64
#define FA_VERIFICATION_URI_MAX 2048
/* A code nobody approved within an hour is not going to be: the polling
 * loop ends there whatever the server says. */
#define FA_DEVICE_LIFETIME_MAX 3600L
#define FA_DEVICE_INTERVAL_DEFAULT 5L /* §3.2 */
#define FA_DEVICE_INTERVAL_MAX 300L

/*
 * A required string member of a device answer: present, a string, not
 * empty, at most max bytes, every byte in the set.  The value never
 * reaches a message (device_code is a credential).
 */
static fhirauth_rc
device_string(struct json_object *obj, const char *key, size_t max,
              enum fa_charset cs, const char **ret, size_t *retlen,
              struct fa_err *e)
{
    switch (fa_json_string(obj, key, ret, retlen)) {
    case 1:
        break;
    case 0:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response without %s", key);
    default:
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: %s is not a "
                       "string",
                       key);
    }
    if (*retlen == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: %s is empty", key);
    }
    if (*retlen > max) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: %s is longer "
                       "than %zu bytes",
                       key, max);
    }
    if (!fa_charset_ok(*ret, *retlen, cs)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: %s holds "
                       "invalid characters",
                       key);
    }
    return FHIRAUTH_OK;
}

/*
 * A verification URI: where the user is told to go and log in, so only
 * an endpoint URL (url.h: https, no userinfo, no fragment) is shown.
 * Loopback http is not accepted either: nothing legitimate serves the
 * page there, and the test AS is https too.
 */
static fhirauth_rc
device_uri(struct json_object *obj, const char *key, char **dst,
           struct fa_err *e)
{
    const char *s;
    char why[128];
    size_t len;
    fhirauth_rc rc;

    rc = device_string(obj, key, FA_VERIFICATION_URI_MAX, FA_CS_NOSPACE, &s,
                       &len, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (fa_url_parse(s, len, FA_URL_ENDPOINT, NULL, why, sizeof(why)) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: %s is not a "
                       "usable URL: %s",
                       key, why);
    }
    *dst = fa_memdup(s, len);
    if (*dst == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    return FHIRAUTH_OK;
}

/* The success case of a device answer, from a parsed object. */
static fhirauth_rc
device_success(struct json_object *obj, struct fa_device_auth *d,
               struct fa_err *e)
{
    const char *s;
    size_t len;
    fhirauth_rc rc;
    int lr;

    /* Opaque to us; it goes into a form body, percent-encoded. */
    rc = device_string(obj, "device_code", FA_DEVICE_CODE_MAX, FA_CS_VSCHAR,
                       &s, &len, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    d->device_code = fa_memdup(s, len);
    if (d->device_code == NULL)
        goto nomem;

    /* Shown on terminals and in PAM prompts: printable ASCII only, so no
     * escape sequence or line break can forge what the user reads. */
    rc = device_string(obj, "user_code", FA_USER_CODE_MAX, FA_CS_VSCHAR, &s,
                       &len, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    d->user_code = fa_memdup(s, len);
    if (d->user_code == NULL)
        goto nomem;

    /* verification_uri; Google's device endpoint predates the RFC's name
     * and sends verification_url.  A malformed verification_uri is an
     * error even when verification_url is present. */
    if (json_object_object_get_ex(obj, "verification_uri", NULL)
        || !json_object_object_get_ex(obj, "verification_url", NULL))
        rc = device_uri(obj, "verification_uri", &d->verification_uri, e);
    else
        rc = device_uri(obj, "verification_url", &d->verification_uri, e);
    if (rc != FHIRAUTH_OK)
        return rc;

    /* Optional, but when present it must be as good as the other. */
    if (fa_json_string(obj, "verification_uri_complete", &s, &len) != 0) {
        rc = device_uri(obj, "verification_uri_complete",
                        &d->verification_uri_complete, e);
        if (rc != FHIRAUTH_OK)
            return rc;
    }

    lr = get_lifetime(obj, "expires_in", &d->expires_in);
    if (lr == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response without "
                       "expires_in");
    }
    if (lr < 0 || d->expires_in == 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: expires_in is "
                       "not a positive number");
    }
    if (d->expires_in > FA_DEVICE_LIFETIME_MAX)
        d->expires_in = FA_DEVICE_LIFETIME_MAX;

    lr = get_lifetime(obj, "interval", &d->interval);
    if (lr == 0) {
        d->interval = FA_DEVICE_INTERVAL_DEFAULT;
    } else if (lr < 0) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "device authorization response: interval is "
                       "not a number of seconds");
    }
    /* Never poll more than once a second, nor wait longer than the cap
     * between polls, whatever the server asks. */
    if (d->interval < 1)
        d->interval = 1;
    if (d->interval > FA_DEVICE_INTERVAL_MAX)
        d->interval = FA_DEVICE_INTERVAL_MAX;
    return FHIRAUTH_OK;

nomem:
    return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
}

fhirauth_rc
fa_parse_device_response(long status, const char *body, size_t len,
                         struct fa_device_auth *ret, char *oauth_error,
                         size_t oelen, struct fa_err *e)
{
    static const char what[] = "device authorization endpoint";
    struct fa_device_auth d;
    struct json_object *obj = NULL;
    const char *code;
    size_t clen;
    fhirauth_rc rc;

    if (oauth_error != NULL && oelen > 0)
        oauth_error[0] = '\0';
    if (ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "fa_parse_device_response: no result pointer");
    }
    if ((status >= 500 && status <= 599) || status == 429) {
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE, "%s HTTP %ld from the %s",
                       status == 429 ? "server busy" : "server error", status,
                       what);
    }
    if ((status < 200 || status > 299) && (status < 400 || status > 499)) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "unexpected HTTP status %ld from the %s", status, what);
    }
    rc = parse_object(body, len, what, &obj, e);
    if (rc != FHIRAUTH_OK) {
        if (rc == FHIRAUTH_ERR_PROTOCOL && status == 401) {
            return fa_fail(e, FHIRAUTH_ERR_DENIED,
                           "HTTP 401 from the %s: client "
                           "authentication failed",
                           what);
        }
        if (rc == FHIRAUTH_ERR_PROTOCOL && status >= 400)
            fa_err_set(e, rc,
                       "HTTP %ld from the %s without an OAuth "
                       "error",
                       status, what);
        return rc;
    }
    /* §3.2: errors as RFC 6749 §5.2 (invalid_client, unauthorized_client
     * when the client may not use this grant, invalid_scope, ...); a few
     * servers answer them with 200. */
    if (status >= 400
        || (!json_object_object_get_ex(obj, "device_code", NULL)
            && json_object_object_get_ex(obj, "error", NULL))) {
        if (fa_json_string(obj, "error", &code, &clen) != 1 || clen == 0) {
            json_object_put(obj);
            if (status == 401) {
                return fa_fail(e, FHIRAUTH_ERR_DENIED,
                               "HTTP 401 from the %s: client "
                               "authentication failed",
                               what);
            }
            return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                           "HTTP %ld from the %s without an OAuth "
                           "error",
                           status, what);
        }
        rc = oauth_error_object(obj, status, oauth_error, oelen, e);
        json_object_put(obj);
        /* invalid_grant means nothing here (no grant was presented): the
         * AS refused, which is all the caller needs to know. */
        return rc == FHIRAUTH_ERR_LOGIN_NEEDED ? FHIRAUTH_ERR_DENIED : rc;
    }
    memset(&d, 0, sizeof(d));
    rc = device_success(obj, &d, e);
    fa_json_put_wiped(obj);
    if (rc != FHIRAUTH_OK) {
        fa_device_auth_free(&d);
        return rc;
    }
    *ret = d;
    return FHIRAUTH_OK;
}

/* ------------------------------------------------------------ userinfo */

fhirauth_rc
fa_parse_userinfo(long status, const char *body, size_t len, char **ret_claims,
                  struct fa_err *e)
{
    struct json_object *obj = NULL, *out = NULL, *v;
    const char *s, *text;
    size_t slen;
    char *copy = NULL;
    fhirauth_rc rc;

    if (ret_claims == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "fa_parse_userinfo: no result pointer");
    }
    if ((status >= 500 && status <= 599) || status == 429) {
        return fa_fail(e, FHIRAUTH_ERR_UNREACHABLE,
                       "userinfo endpoint: server error HTTP %ld", status);
    }
    if (status == 401 || status == 403) {
        /* RFC 6750 §3.1: invalid_token or insufficient_scope.  A token
         * the AS has just issued: the server does not vouch for anyone. */
        return fa_fail(e, FHIRAUTH_ERR_DENIED,
                       "the userinfo endpoint refused the new access "
                       "token (HTTP %ld)",
                       status);
    }
    if (status < 200 || status > 299) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "unexpected HTTP status %ld from the userinfo "
                       "endpoint",
                       status);
    }
    if (len > FA_USERINFO_MAX_BODY) {
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the userinfo endpoint larger than "
                       "%d bytes",
                       FA_USERINFO_MAX_BODY);
    }
    /* A signed or encrypted answer (application/jwt, OIDC Core §5.3.2) is
     * never asked for: it fails here as "not valid JSON". */
    rc = parse_object(body, len, "userinfo endpoint", &obj, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (fa_json_string(obj, "sub", &s, &slen) != 1 || !fa_claim_fit(s, slen)) {
        fa_json_put_wiped(obj);
        return fa_fail(e, FHIRAUTH_ERR_PROTOCOL,
                       "answer from the userinfo endpoint has no "
                       "usable sub");
    }
    out = json_object_new_object();
    if (out == NULL)
        goto nomem;
    /* Keep the top-level string claims fit to store and show, as for
     * every other claim; drop the rest (objects, numbers, booleans,
     * control characters, over-long values). */
    {
        json_object_object_foreach(obj, key, val)
        {
            if (!json_object_is_type(val, json_type_string))
                continue;
            s = json_object_get_string(val);
            slen = (size_t) json_object_get_string_len(val);
            if (strlen(key) > FA_CLAIM_MAX || !fa_claim_fit(s, slen))
                continue;
            v = json_object_new_string_len(s, (int) slen);
            if (v == NULL || json_object_object_add(out, key, v) != 0) {
                json_object_put(v);
                goto nomem;
            }
        }
    }
    text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    if (text != NULL)
        copy = strdup(text);
    if (copy == NULL)
        goto nomem;
    fa_json_put_wiped(out);
    fa_json_put_wiped(obj);
    *ret_claims = copy;
    return FHIRAUTH_OK;

nomem:
    if (out != NULL)
        fa_json_put_wiped(out);
    fa_json_put_wiped(obj);
    return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
}
