/* session.h - the session metadata kept in the pam_fhir:PROFILE:meta key:
 * where the tokens came from and what they grant, never a token. */
#ifndef FHIRAUTH_SESSION_H
#define FHIRAUTH_SESSION_H

#include <stddef.h>

#include "fhirauth.h"
#include "oauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

struct fa_meta {
    struct fa_endpoints ep; /* discovery result, so a refresh is 1 request */
    char *client_id;
    char *scope;    /* granted scope */
    char *username; /* who logged in (as typed or mapped) */
    char *subject;  /* id_token "sub" once verified */
    char *patient;  /* SMART launch context */
    char *encounter;
    char *fhir_user;
    char *tenant;
    char *grant;        /* "client_credentials": a service session; NULL: a
                  * user's login */
    long long login_at; /* epoch seconds */
    long long refresh_expires_at; /* 0: unknown */
    char *token_type; /* as the last token answer said ("DPoP", "Bearer") */
    char *dpop_nonce; /* the AS's last DPoP-Nonce (RFC 9449 §8), checked */
    /* The last resource server that sent a DPoP-Nonce: its origin
     * (scheme://host:port, lower case) and the nonce, checked.  A nonce
     * is one server's (RFC 9449 §9): a proof for another origin goes
     * without. */
    char *rs_origin;
    char *rs_dpop_nonce;
    /* Where the discovery of ep started: the configured issuer, or
     * without one the fhir_base; NULL when the configuration named the
     * endpoints (token_endpoint, no issuer) or an older version stored
     * the session. */
    char *discovered_from;
};

/* JSON text for the key; *ret_json freed by the caller with free(). */
fhirauth_rc fa_meta_encode(const struct fa_meta *m, char **ret_json);
/* Parse the key's payload; unknown members are ignored (newer writers). */
fhirauth_rc fa_meta_decode(const char *json, size_t len, struct fa_meta *m,
                           struct fa_err *e);
void fa_meta_free(struct fa_meta *m);

/* Fill the SMART context and scope of m from a token answer, keeping what
 * a refresh does not repeat.  Returns 1 if anything changed, 0 if not,
 * -1 out of memory. */
int fa_meta_merge_response(struct fa_meta *m,
                           const struct fa_token_response *r);

const char *fa_client_auth_name(enum fa_client_auth a);

struct fa_config;
/* The session belongs to cfg's server and client (1), or it is not ours
 * to renew (0: the configuration changed since it was stored).  A service
 * session must have been discovered where cfg starts discovery; a user's
 * session stored without discovered_from (by an older version) is
 * judged by its issuer and client alone. */
int fa_meta_matches(const struct fa_meta *m, const struct fa_config *cfg);

/* Record in m where cfg starts discovery (discovered_from), for a new
 * session.  0, or -1 out of memory. */
int fa_meta_note_discovery(struct fa_meta *m, const struct fa_config *cfg);

/* The grant member's value of a service session. */
#define FA_META_SERVICE_GRANT "client_credentials"

/* Is m a service profile's session (grant = client_credentials, no
 * login, no refresh token)?  1 or 0. */
int fa_meta_is_service(const struct fa_meta *m);

#pragma GCC visibility pop

#endif
