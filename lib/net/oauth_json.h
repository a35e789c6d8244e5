/* oauth_json.h - the parsers of the authorization server's JSON answers
 * (oauth_json.c), the network half's: the engine never sees a server's
 * answer, only what the module made of it (net.h).  Untrusted input,
 * every one fuzzed (tests/fuzz). */
#ifndef FHIRAUTH_OAUTH_JSON_H
#define FHIRAUTH_OAUTH_JSON_H

#include <stddef.h>

#include "fhirauth.h"
#include "oauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

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
                                    struct fa_err *e);

/*
 * Parse a discovery document (OIDC, RFC 8414 or SMART).  The "issuer"
 * member must equal expected_issuer exactly when that is non-NULL (SMART
 * documents without an issuer are accepted only when expected_issuer is
 * NULL).  has_secret says whether the client is confidential, to choose
 * client_auth from token_endpoint_auth_methods_supported.
 */
fhirauth_rc fa_parse_discovery(const char *body, size_t len,
                               const char *expected_issuer, int has_secret,
                               struct fa_endpoints *ret, struct fa_err *e);

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
fhirauth_rc fa_parse_device_response(long status, const char *body, size_t len,
                                     struct fa_device_auth *ret,
                                     char *oauth_error, size_t oelen,
                                     struct fa_err *e);

/* Longest UserInfo answer accepted: a few hundred bytes are usual. */
#define FA_USERINFO_MAX_BODY (64 * 1024)

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
                              char **ret_claims, struct fa_err *e);

#pragma GCC visibility pop

#endif
