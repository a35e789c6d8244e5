/* oauth.h - OAuth2 data the engine and the network module exchange, and
 * the JSON helpers both halves use (oauth.c; json-c objects kept
 * short-lived because json-c's internal buffers cannot be wiped).  The
 * parsers of the servers' answers are the network half's:
 * net/oauth_json.h. */
#ifndef FHIRAUTH_OAUTH_H
#define FHIRAUTH_OAUTH_H

#include <stddef.h>

#include "fhirauth.h"

#pragma GCC visibility push(hidden)

/* How the client authenticates at the token and revocation endpoints. */
enum fa_client_auth {
    FA_AUTH_NONE = 0, /* public client: client_id in the body */
    FA_AUTH_BASIC,    /* client_secret_basic (RFC 6749 §2.3.1) */
    FA_AUTH_POST      /* client_secret_post, only when the AS lists only it */
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
    char *userinfo_endpoint; /* OIDC Core §5.3 */
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
    char *refresh_token; /* NULL: keep the old one (no rotation) */
    char *id_token;
    char *scope;             /* NULL: as requested */
    long expires_in;         /* -1 when absent */
    long refresh_expires_in; /* -1 when absent (Keycloak extension) */
    char *patient;
    char *encounter;
    char *fhir_user;
    char *tenant;
};
void fa_token_response_free(struct fa_token_response *r);

/* Longest answer body we accept from any endpoint. */
#define FA_HTTP_MAX_BODY (256 * 1024)

/* The longest claim value (and claim name) kept from a server's answer. */
#define FA_CLAIM_MAX 1024
/*
 * The claim filter: is a claim value fit to store (keyring metadata,
 * environment variables) and to show (messages, logs)?  A non-empty
 * string of at most FA_CLAIM_MAX bytes of printable ASCII (RFC 6749
 * VSCHAR, %x20-7E).  Values that fail are dropped, not refused.
 */
int fa_claim_fit(const char *s, size_t len);

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

/* The characters a field may hold. */
enum fa_charset {
    FA_CS_NOSPACE, /* %x21-7E: access_token, which goes into a header */
    FA_CS_VSCHAR   /* %x20-7E (RFC 6749 Appendix A VSCHAR) */
};

/* Does s hold only characters of the set, with no NUL inside? */
int fa_charset_ok(const char *s, size_t len, enum fa_charset cs);

/* The longest DPoP nonce kept from a server (RFC 9449 sets no bound; the
 * servers we know send 43 characters). */
#define FA_DPOP_NONCE_MAX 512
/*
 * Is s (len bytes) a DPoP nonce we may put into a proof and keep in the
 * session metadata?  RFC 9449 §8.1: 1*NQCHAR, NQCHAR = %x21 / %x23-5B /
 * %x5D-7E (no space, quote or backslash), at most FA_DPOP_NONCE_MAX.
 * Anything else from a server is ignored, as if no nonce had come.
 */
int fa_dpop_nonce_fit(const char *s, size_t len);

/*
 * Look up a string member.  Returns 1 with *ret and *retlen pointing into obj,
 * 0 when absent or JSON null (servers send "refresh_token": null to mean
 * none), -1 when present with another type.
 */
int fa_json_string(struct json_object *obj, const char *key, const char **ret,
                   size_t *retlen);

/* Heap copy of len bytes; NULL on allocation failure. */
char *fa_memdup(const char *s, size_t len);

#pragma GCC visibility pop

#endif
