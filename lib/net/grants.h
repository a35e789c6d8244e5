/* grants.h - the network module's operations: discovery (discovery.c),
 * the token endpoint and revocation calls (grants.c) and the device flow
 * (device.c).  Their contracts are those of struct fa_net_ops in net.h. */
#ifndef FHIRAUTH_GRANTS_H
#define FHIRAUTH_GRANTS_H

#include <stddef.h>

#include "fhirauth.h"
#include "net.h"
#include "oauth.h"

#pragma GCC visibility push(hidden)

fhirauth_rc fa_net_discover(const struct fa_net_ctx *ctx,
                            struct fa_endpoints *ret, struct fa_err *e);

fhirauth_rc fa_net_password_grant(const struct fa_net_ctx *ctx,
                                  const struct fa_endpoints *ep,
                                  const char *username, const char *password,
                                  struct fa_token_response *ret,
                                  char *oauth_error, size_t oelen,
                                  struct fa_err *e);

fhirauth_rc fa_net_refresh_grant(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const char *refresh_token,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen,
                                 struct fa_err *e);

/* RFC 6749 §4.4 (net.h's client_credentials_grant). */
fhirauth_rc fa_net_client_credentials_grant(const struct fa_net_ctx *ctx,
                                            const struct fa_endpoints *ep,
                                            struct fa_token_response *ret,
                                            char *oauth_error, size_t oelen,
                                            struct fa_err *e);

/* RFC 6749 §4.1.3 + RFC 7636: the authorization code exchange of the
 * browser flow (browser.c). */
fhirauth_rc fa_net_code_grant(const struct fa_net_ctx *ctx,
                              const struct fa_endpoints *ep, const char *code,
                              const char *redirect_uri,
                              const char *code_verifier,
                              struct fa_token_response *ret, char *oauth_error,
                              size_t oelen, struct fa_err *e);

/* The authorization code flow with PKCE and a loopback redirect
 * (browser.c; the contract of fa_net_ops.browser_login). */
fhirauth_rc fa_net_browser_login(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const struct fa_browser_io *io,
                                 const char *nonce,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen,
                                 struct fa_err *e);

fhirauth_rc fa_net_revoke(const struct fa_net_ctx *ctx,
                          const struct fa_endpoints *ep, const char *token,
                          const char *hint, struct fa_err *e);

/* OIDC Core §5.3: the UserInfo request (grants.c). */
fhirauth_rc fa_net_userinfo(const struct fa_net_ctx *ctx,
                            const struct fa_endpoints *ep,
                            const char *access_token, char **ret_claims,
                            struct fa_err *e);

/* The public JWK Set of client_key_file (net.h's client_jwks). */
fhirauth_rc fa_net_client_jwks(const struct fa_net_ctx *ctx, char **ret,
                               struct fa_err *e);

/* A new DPoP key in its keyring form (dpop.c; net.h's dpop_keygen). */
fhirauth_rc fa_net_dpop_keygen(char **ret, size_t *ret_len, struct fa_err *e);

/* The DPoP header line ("DPoP: proof") for a request of ctx's DPoP-bound
 * session (dpop.c): method and url, the session's current nonce, ath for
 * access_token when not NULL.  *ret freed with fa_secret_free(). */
fhirauth_rc fa_net_dpop_header(const struct fa_dpop *d, const char *method,
                               const char *url, const char *access_token,
                               char **ret, struct fa_err *e);

/* A resource request's proof (net.h's dpop_proof). */
fhirauth_rc fa_net_dpop_proof(const struct fa_dpop *d, const char *method,
                              const char *url, const char *nonce,
                              const char *access_token, char **ret,
                              struct fa_err *e);

/* Keep the DPoP-Nonce of an answer (empty: none came) as d's nonce.
 * 1 when it is new, else 0. */
int fa_net_dpop_nonce(struct fa_dpop *d, const char *nonce);

/* RFC 8628 (device.c). */
fhirauth_rc fa_net_device_start(const struct fa_net_ctx *ctx,
                                const struct fa_endpoints *ep,
                                struct fa_device_auth *ret, struct fa_err *e);
fhirauth_rc fa_net_device_poll(const struct fa_net_ctx *ctx,
                               const struct fa_endpoints *ep,
                               const struct fa_device_auth *d,
                               struct fa_token_response *ret,
                               char *oauth_error, size_t oelen,
                               struct fa_err *e);

/* Shared with the device flow (device.c).  Client authentication per
 * RFC 6749 §2.3 for a request to url: client_id in the form for a public
 * client, else the secret from client_secret_file as HTTP Basic
 * (*ret_header, freed with fa_secret_free) or in the form
 * (client_secret_post), or a private_key_jwt assertion in the form. */
struct fa_form;
fhirauth_rc fa_grant_client_auth(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const char *url, struct fa_form *form,
                                 char **ret_header, struct fa_err *e);
/* resource (RFC 8707) and aud, when configured. */
void fa_grant_audience(const struct fa_config *cfg, struct fa_form *form);
/* Add client authentication, POST form to the token endpoint, parse the
 * answer with fa_parse_token_response.  The caller wipes form. */
fhirauth_rc fa_grant_token_request(const struct fa_net_ctx *ctx,
                                   const struct fa_endpoints *ep,
                                   struct fa_form *form,
                                   struct fa_token_response *ret,
                                   char *oauth_error, size_t oelen,
                                   struct fa_err *e);

#pragma GCC visibility pop

#endif
