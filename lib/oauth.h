/* oauth.h - OAuth2 data the engine and the network module exchange, and
 * the JSON parsers for servers' answers (json-c; objects kept short-lived
 * because json-c's internal buffers cannot be wiped). */
#ifndef FHIRAUTH_OAUTH_H
#define FHIRAUTH_OAUTH_H

#include <stddef.h>

#include "fhirauth.h"

#pragma GCC visibility push(hidden)

/* How the client authenticates at the token and revocation endpoints. */
enum fa_client_auth {
    FA_AUTH_NONE = 0,   /* public client: client_id in the body */
    FA_AUTH_BASIC,      /* client_secret_basic (RFC 6749 §2.3.1) */
    FA_AUTH_POST        /* client_secret_post, only when the AS lists only it */
};

/* What discovery found (or the config overrode).  Heap strings. */
struct fa_endpoints {
    char *issuer;
    char *token_endpoint;
    char *revocation_endpoint;
    char *authorization_endpoint;
    char *device_authorization_endpoint;
    char *introspection_endpoint;
    char *jwks_uri;
    char *userinfo_endpoint;      /* OIDC Core §5.3 */
    enum fa_client_auth client_auth;
};
void fa_endpoints_free(struct fa_endpoints *ep);

struct fa_config;
/* Let the configuration's endpoint keys win over discovered or saved
 * endpoints.  0, or -1 when out of memory. */
int fa_endpoints_apply_config(struct fa_endpoints *ep,
                              const struct fa_config *cfg);

/* A token endpoint's successful answer (RFC 6749 §5.1, SMART context).
 * Every string is a secret or may be: freed with fa_token_response_free. */
struct fa_token_response {
    char *access_token;
    char *token_type;
    char *refresh_token;      /* NULL: keep the old one (no rotation) */
    char *id_token;
    char *scope;              /* NULL: as requested */
    long expires_in;          /* -1 when absent */
    long refresh_expires_in;  /* -1 when absent (Keycloak extension) */
    char *patient;
    char *encounter;
    char *fhir_user;
    char *tenant;
};
void fa_token_response_free(struct fa_token_response *r);

/* Longest answer body we accept from any endpoint. */
#define FA_HTTP_MAX_BODY (256 * 1024)

/*
 * Parse a token endpoint answer.  status is the HTTP status.  200 with a
 * JSON object carrying a string access_token and token_type "Bearer"
 * (case-insensitive, RFC 6750) -> FHIRAUTH_OK.  An OAuth error object
 * (RFC 6749 §5.2) -> FHIRAUTH_ERR_DENIED (or FHIRAUTH_ERR_LOGIN_NEEDED for
 * invalid_grant), with "error: description" in err and the bare error
 * code in oauth_error.  5xx -> FHIRAUTH_ERR_UNREACHABLE.  Anything else
 * malformed -> FHIRAUTH_ERR_PROTOCOL.
 */
fhirauth_rc fa_parse_token_response(long status, const char *body, size_t len,
                                    struct fa_token_response *ret,
                                    char *oauth_error, size_t oelen,
                                    char *err, size_t errlen);

/*
 * Parse a discovery document (OIDC, RFC 8414 or SMART).  The "issuer"
 * member must equal expected_issuer exactly when that is non-NULL (SMART
 * documents without an issuer are accepted only when expected_issuer is
 * NULL).  has_secret says whether the client is confidential, to choose
 * client_auth from token_endpoint_auth_methods_supported.
 */
fhirauth_rc fa_parse_discovery(const char *body, size_t len,
                               const char *expected_issuer, int has_secret,
                               struct fa_endpoints *ret, char *err,
                               size_t errlen);

/*
 * Parse a device authorization endpoint answer (RFC 8628 §3.2).  2xx with
 * a JSON object carrying string device_code, user_code and
 * verification_uri (Google's older "verification_url" is accepted when
 * verification_uri is absent), an optional verification_uri_complete,
 * a positive expires_in (required) and an optional interval (5 when
 * absent) -> FHIRAUTH_OK with *ret filled (freed with
 * fa_device_auth_free).  The verification URIs must be https URLs without
 * userinfo or fragment: the user is sent there to type a code and log in.
 * user_code must be printable ASCII (it is shown on terminals), lengths
 * are capped, expires_in is clamped to an hour and interval to [1, 300].
 * An OAuth error object (RFC 6749 §5.2) -> FHIRAUTH_ERR_DENIED with the
 * code in oauth_error; 5xx and 429 -> FHIRAUTH_ERR_UNREACHABLE; anything
 * else malformed -> FHIRAUTH_ERR_PROTOCOL.  No message ever holds the
 * device_code.  *ret is untouched on failure.
 */
struct fa_device_auth;
fhirauth_rc fa_parse_device_response(long status, const char *body,
                                     size_t len, struct fa_device_auth *ret,
                                     char *oauth_error, size_t oelen,
                                     char *err, size_t errlen);

/* The longest claim value (and claim name) kept from a server's answer. */
#define FA_CLAIM_MAX 1024
/* Longest UserInfo answer accepted: a few hundred bytes are usual. */
#define FA_USERINFO_MAX_BODY (64 * 1024)

/*
 * The claim filter: is a claim value fit to store (keyring metadata,
 * environment variables) and to show (messages, logs)?  A non-empty
 * string of at most FA_CLAIM_MAX bytes of printable ASCII (RFC 6749
 * VSCHAR, %x20-7E).  Values that fail are dropped, not refused.
 */
int fa_claim_fit(const char *s, size_t len);

/*
 * Parse a UserInfo answer (OIDC Core §5.3.2), untrusted input.  2xx with a
 * JSON object (FA_USERINFO_MAX_BODY bytes at most, depth-capped, strict)
 * carrying a string "sub" that passes fa_claim_fit -> FHIRAUTH_OK, with
 * *ret_claims (free()) the JSON text of an object holding only the
 * top-level string claims that pass fa_claim_fit.  401 and 403 ->
 * FHIRAUTH_ERR_DENIED; 5xx and 429 -> FHIRAUTH_ERR_UNREACHABLE; anything
 * else (another status, not JSON, no usable sub) -> FHIRAUTH_ERR_PROTOCOL.
 * *ret_claims is untouched on failure.
 */
fhirauth_rc fa_parse_userinfo(long status, const char *body, size_t len,
                              char **ret_claims, char *err, size_t errlen);

/*
 * Release a parsed json object after wiping the bytes of every string
 * value in it (at any depth): the copies json-c holds of tokens, codes and
 * secrets.  What this cannot reach is said in SECURITY.md: the tokener's
 * scratch buffer, blocks json-c freed while growing, and object keys.
 */
struct json_object;
void fa_json_put_wiped(struct json_object *obj);

/*
 * The filter for server text that is stored and shown (the SMART launch
 * context, the id_token's sub, username_claim and fhirUser): member key of
 * obj, when it is a non-empty string of printable ASCII (%x20-7E), copied
 * into *dst; anything else leaves *dst untouched (NULL), as if absent.
 * FHIRAUTH_ERR_NOMEM when the copy fails, else FHIRAUTH_OK.
 */
fhirauth_rc fa_json_shown_string(struct json_object *obj, const char *key,
                                 char **dst);

#pragma GCC visibility pop

#endif
