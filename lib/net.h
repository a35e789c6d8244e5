/* net.h - the network half of libfhirauth: libcurl and OpenSSL live only
 * in the module fhirauth-net.so, loaded with dlopen on the first cache miss
 * so the cached-token path never pays for them. */
#ifndef FHIRAUTH_NET_H
#define FHIRAUTH_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "fhirauth.h"
#include "oauth.h"

#pragma GCC visibility push(hidden)

/* 2: userinfo; 3: the handshake of fhirauth_net_open(); 4: the
 * operations report into the caller's struct fa_err (util.h); 5:
 * client_jwks, and the client key settings in struct fa_config; 6: DPoP
 * (struct fa_dpop, dpop_keygen, the dpop key in struct fa_config); 7:
 * dpop_proof; 8: client_credentials_grant, and grant's value
 * client_credentials; 9: client_key_aud in struct fa_config */
#define FA_NET_ABI 9

/*
 * A DPoP-bound session (RFC 9449) for the calls of one handle: its key,
 * and the authorization server's last nonce, which the module puts into
 * each proof and replaces with each DPoP-Nonce the server sends (checked
 * with fa_dpop_nonce_fit, oauth.h).  Token requests then carry a proof
 * and answer one use_dpop_nonce with a second try.
 */
struct fa_dpop {
    char *key; /* the private key, PKCS#8 PEM: a secret */
    size_t keylen;
    char nonce[FA_DPOP_NONCE_MAX + 1]; /* "" none */
};

/* What every network call needs to know about its caller. */
struct fa_net_ctx {
    const struct fa_config *cfg;
    bool system_only;     /* PAM: no proxy (or any) environment variables */
    struct fa_dpop *dpop; /* NULL: bearer tokens */
};

/* RFC 8628 §3.2: what the device authorization endpoint answered. */
struct fa_device_auth {
    char *device_code; /* a secret: wiped when freed */
    char *user_code;
    char *verification_uri;
    char *verification_uri_complete; /* NULL when not given */
    long expires_in;
    long interval; /* 5 when not given (§3.2) */
};
void fa_device_auth_free(struct fa_device_auth *d);

/* How the browser flow reaches the user (see fhirauth_browser_io). */
struct fa_browser_io {
    int (*open_url)(const char *url, void *arg);
    char *(*read_redirect)(void *arg); /* NULL: listen on 127.0.0.1 */
    void *arg;
    long wait_seconds; /* bound on the whole wait */
};

/* An operation the loaded module does not provide is NULL. */
struct fa_net_ops {
    unsigned abi; /* FA_NET_ABI */
    /* Discovery: the OIDC document at {issuer}/.well-known/openid-
     * configuration, RFC 8414's path as fallback, or with only fhir_base
     * the SMART document; config endpoint overrides win. */
    fhirauth_rc (*discover)(const struct fa_net_ctx *ctx,
                            struct fa_endpoints *ret, struct fa_err *e);
    fhirauth_rc (*password_grant)(const struct fa_net_ctx *ctx,
                                  const struct fa_endpoints *ep,
                                  const char *username, const char *password,
                                  struct fa_token_response *ret,
                                  char *oauth_error, size_t oelen,
                                  struct fa_err *e);
    fhirauth_rc (*refresh_grant)(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const char *refresh_token,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen,
                                 struct fa_err *e);
    /* RFC 7009; hint "refresh_token" or "access_token" (may be NULL). */
    fhirauth_rc (*revoke)(const struct fa_net_ctx *ctx,
                          const struct fa_endpoints *ep, const char *token,
                          const char *hint, struct fa_err *e);
    /* RFC 8628 §3.1-3.2: start a device authorization. */
    fhirauth_rc (*device_start)(const struct fa_net_ctx *ctx,
                                const struct fa_endpoints *ep,
                                struct fa_device_auth *ret, struct fa_err *e);
    /* RFC 8628 §3.4-3.5: one poll of the token endpoint.  Pending,
     * slow_down, access_denied and expired_token come back as
     * FHIRAUTH_ERR_DENIED with the code in oauth_error; the caller owns
     * the polling loop (interval, slow_down, cancel, overall bound). */
    fhirauth_rc (*device_poll)(const struct fa_net_ctx *ctx,
                               const struct fa_endpoints *ep,
                               const struct fa_device_auth *d,
                               struct fa_token_response *ret,
                               char *oauth_error, size_t oelen,
                               struct fa_err *e);
    /* Authorization code + PKCE S256 (RFC 7636) with a loopback redirect
     * (RFC 8252 §7.3), a state of >= 128 random bits, the nonce in the
     * request, SMART aud=fhir_base; then the code exchange. */
    fhirauth_rc (*browser_login)(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const struct fa_browser_io *io,
                                 const char *nonce,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen,
                                 struct fa_err *e);
    /* Verify an id_token (OIDC Core §3.1.3.7): signature against the
     * AS's JWKS (RS256, ES256, PS256; never none or HMAC), iss, aud =
     * client_id, azp, exp/iat with a small skew, nonce when given.  On
     * success *ret_claims is the payload as JSON text (free()). */
    fhirauth_rc (*verify_id_token)(const struct fa_net_ctx *ctx,
                                   const struct fa_endpoints *ep,
                                   const char *id_token, const char *nonce,
                                   char **ret_claims, struct fa_err *e);
    /* OIDC Core §5.3: GET ep->userinfo_endpoint with the access token as
     * a bearer token (no redirects, the usual TLS rules), the answer
     * parsed by fa_parse_userinfo (net/oauth_json.h): on success *ret_claims is a
     * JSON object of the answer's filtered string claims (free()). */
    fhirauth_rc (*userinfo)(const struct fa_net_ctx *ctx,
                            const struct fa_endpoints *ep,
                            const char *access_token, char **ret_claims,
                            struct fa_err *e);
    /* The public JWK Set of the configured client_key_file, to register
     * the client with (RFC 7517: its one key with use, alg and the kid
     * the assertions carry; never a private member), JSON text in *ret
     * (free()). */
    fhirauth_rc (*client_jwks)(const struct fa_net_ctx *ctx, char **ret,
                               struct fa_err *e);
    /* RFC 6749 §4.4: a token for the client itself (a service profile,
     * grant = client_credentials), with the configured scope, resource
     * and aud; FHIRAUTH_ERR_CONFIG for a client without a credential.
     * Every refusal is FHIRAUTH_ERR_DENIED with the code in oauth_error
     * (invalid_grant too: no grant of the caller's was presented). */
    fhirauth_rc (*client_credentials_grant)(const struct fa_net_ctx *ctx,
                                            const struct fa_endpoints *ep,
                                            struct fa_token_response *ret,
                                            char *oauth_error, size_t oelen,
                                            struct fa_err *e);
    /* A new DPoP key (P-256) in its keyring form, PKCS#8 PEM: *ret (len
     * bytes) freed with fa_secret_free_len(). */
    fhirauth_rc (*dpop_keygen)(char **ret, size_t *ret_len, struct fa_err *e);
    /* A proof of d's key for a resource request (RFC 9449 §7): method,
     * url, ath of access_token, and nonce, the resource server's (not
     * d's, the AS's; NULL: none; checked with fa_dpop_nonce_fit).  *ret,
     * the bare JWT, freed with fa_secret_free(). */
    fhirauth_rc (*dpop_proof)(const struct fa_dpop *d, const char *method,
                              const char *url, const char *nonce,
                              const char *access_token, char **ret,
                              struct fa_err *e);
};

/*
 * The handshake: what the engine hands fhirauth_net_open(), so that the
 * module can refuse an engine it was not built with (another version, or
 * the same version whose structures differ in size: a change of layout
 * that keeps every size is not seen) before any structure crosses
 * between them.  abi and size come first and never
 * move: a module reads nothing else unless both match.  The sizes are of
 * every structure passed across (fa_config through fa_net_ctx, and the
 * error context every operation writes into).
 */
struct fa_net_hello {
    unsigned abi;               /* FA_NET_ABI */
    unsigned size;              /* sizeof(struct fa_net_hello) */
    const char *version;        /* the engine's PACKAGE_VERSION */
    size_t ctx_size;            /* sizeof(struct fa_net_ctx) */
    size_t config_size;         /* sizeof(struct fa_config) */
    size_t endpoints_size;      /* sizeof(struct fa_endpoints) */
    size_t token_response_size; /* sizeof(struct fa_token_response) */
    size_t device_auth_size;    /* sizeof(struct fa_device_auth) */
    size_t browser_io_size;     /* sizeof(struct fa_browser_io) */
    size_t ops_size;            /* sizeof(struct fa_net_ops) */
    size_t err_size;            /* sizeof(struct fa_err) */
    size_t dpop_size;           /* sizeof(struct fa_dpop) */
};

/* This side's hello: each half fills it as it was compiled. */
static inline void
fa_net_hello_init(struct fa_net_hello *h, const char *version)
{
    h->abi = FA_NET_ABI;
    h->size = (unsigned) sizeof(*h);
    h->version = version;
    h->ctx_size = sizeof(struct fa_net_ctx);
    h->config_size = sizeof(struct fa_config);
    h->endpoints_size = sizeof(struct fa_endpoints);
    h->token_response_size = sizeof(struct fa_token_response);
    h->device_auth_size = sizeof(struct fa_device_auth);
    h->browser_io_size = sizeof(struct fa_browser_io);
    h->ops_size = sizeof(struct fa_net_ops);
    h->err_size = sizeof(struct fa_err);
    h->dpop_size = sizeof(struct fa_dpop);
}

/* Load the module once per process (pthread_once) and return its ops. */
fhirauth_rc fa_net_load(const struct fa_net_ops **ret, struct fa_err *e);

/* netload.c: the network half for h's calls, loaded on first use;
 * h's detail set on failure. */
fhirauth_rc fa_handle_net(fhirauth *h, const struct fa_net_ops **ret_ops,
                          struct fa_net_ctx *ret_ctx);

#pragma GCC visibility pop

/*
 * The one symbol the module exports.  The table of operations when hello
 * is the module's own (fa_net_hello_init() with its PACKAGE_VERSION);
 * otherwise NULL, and err says which part differs.  Never reads past
 * hello->size, nor anything but abi and size while they differ.
 */
const struct fa_net_ops *fhirauth_net_open(const struct fa_net_hello *hello,
                                           char *err, size_t errlen);

#endif
