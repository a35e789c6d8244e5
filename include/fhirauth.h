/*
 * fhirauth.h - libfhirauth, OAuth2 / OpenID Connect / SMART-on-FHIR tokens
 * kept in the Linux kernel keyring.
 *
 * Ownership rules, once for the whole API:
 *  - Outputs come back through ret_ pointers and are left untouched when a
 *    call fails.
 *  - A char * handed out by a function is owned by the caller. Strings that
 *    may hold a secret (tokens) are freed with fhirauth_free_secret(), which
 *    wipes them first; other strings with fhirauth_free_string().
 *  - const char * results are borrowed from the handle and valid until the
 *    next non-const call on that handle.
 *  - A handle is used by one thread at a time; separate handles may be used
 *    in separate threads at the same time.
 *  - The library never logs, never aborts and never exits: it returns a
 *    fhirauth_rc and keeps a detail message on the handle.
 */
#ifndef FHIRAUTH_H
#define FHIRAUTH_H

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden; these are its API. */
#if defined(__GNUC__)
# pragma GCC visibility push(default)
#endif

#define FHIRAUTH_API_VERSION 1

typedef struct fhirauth fhirauth;

/* Keep in step with fhirauth_strerror() (a switch without default:). */
typedef enum fhirauth_rc {
    FHIRAUTH_OK = 0,
    FHIRAUTH_ERR_INVALID_ARGUMENT, /* a caller passed something unusable */
    FHIRAUTH_ERR_CONFIG,           /* configuration file or option error */
    FHIRAUTH_ERR_LOGIN_NEEDED,     /* no session, or the session ended */
    FHIRAUTH_ERR_DENIED,           /* the authorization server said no */
    FHIRAUTH_ERR_UNREACHABLE,      /* network error, timeout, 5xx */
    FHIRAUTH_ERR_TLS,              /* certificate or TLS failure */
    FHIRAUTH_ERR_PROTOCOL,         /* the server's answer was malformed */
    FHIRAUTH_ERR_KEYRING,          /* kernel keyring failure */
    FHIRAUTH_ERR_QUOTA,            /* the user's keyring quota is exhausted */
    FHIRAUTH_ERR_LOCK,             /* the refresh lock could not be taken */
    FHIRAUTH_ERR_NOMEM,            /* out of memory */
    FHIRAUTH_ERR_MODULE,           /* the network module could not be loaded */
    FHIRAUTH_ERR_UNSUPPORTED,      /* the server does not offer that flow */
    FHIRAUTH_ERR_INTERNAL,         /* a bug: please report it */
    FHIRAUTH_ERR_CANCELLED,        /* the caller's callback gave up a login */
    FHIRAUTH_ERR_DPOP_BOUND        /* the token is DPoP-bound: this use
                                    * cannot send the proof it needs */
} fhirauth_rc;

/* Flags for fhirauth_open(). */
enum {
    /* Read only the system configuration (or the file given to
     * fhirauth_open_file()) and never consult the environment: no
     * PAM_FHIR_CONFIG, no ~/.config, no proxy variables.  The PAM module
     * opens every handle with this flag. */
    FHIRAUTH_OPEN_SYSTEM_ONLY = 1u << 0,
    /* 1u << 1 is taken by a flag of the library's own PAM module. */
};

/* A static English message for rc; never NULL. */
const char *fhirauth_strerror(fhirauth_rc rc);

/* The version of the library as loaded ("0.1.0"), a static string; never
 * NULL.  FHIRAUTH_API_VERSION is what a program was compiled against. */
const char *fhirauth_version(void);

/*
 * Open a handle for a profile (NULL: default_profile, else "default").
 * Reads $(sysconfdir)/pam_fhir.conf and ~/.config/pam_fhir/config, or only
 * the file named by $PAM_FHIR_CONFIG when set.  On failure *ret_h is left
 * untouched and, when ret_detail is given, *ret_detail receives a message
 * naming file and line (free it with fhirauth_free_string()).
 */
fhirauth_rc fhirauth_open(fhirauth **ret_h, const char *profile,
                          unsigned flags, char **ret_detail);

/* Like fhirauth_open(), but config_file replaces both configuration files. */
fhirauth_rc fhirauth_open_file(fhirauth **ret_h, const char *config_file,
                               const char *profile, unsigned flags,
                               char **ret_detail);

/* Close the handle and wipe what it holds; NULL is accepted. */
void fhirauth_close(fhirauth *h);

/*
 * Override one configuration key for this handle (the PAM module's
 * key=value arguments).  value NULL means a bare key: "true".  "profile"
 * and "config" choose what fhirauth_open() loads and are refused here.
 */
fhirauth_rc fhirauth_set_option(fhirauth *h, const char *key,
                                const char *value);

/* The profile name this handle uses.  Borrowed. */
const char *fhirauth_profile(const fhirauth *h);

/*
 * Detail of the last call on h: the server's error and error_description,
 * the failing file and line, or, after a call that returned FHIRAUTH_OK, a
 * warning (empty string when there is none).  Borrowed; never NULL.
 */
const char *fhirauth_detail(const fhirauth *h);

/*
 * An access token valid for at least min_valid seconds (a negative value
 * means the configured min_valid).  A cached token costs one keyring read;
 * otherwise the refresh token is exchanged, once across every process of
 * the user.  A token just obtained is returned even if the server gave it
 * a shorter life.  *ret_token is freed with fhirauth_free_secret();
 * ret_expiry may be NULL (when the server sent no expires_in, the expiry
 * assumes the configured assumed_lifetime).
 */
fhirauth_rc fhirauth_token(fhirauth *h, long min_valid, char **ret_token,
                           time_t *ret_expiry);

/*
 * After a resource server rejected token (401): forget the cached access
 * token, but only if it is still the one cached, so the next
 * fhirauth_token() refreshes.
 */
fhirauth_rc fhirauth_invalidate(fhirauth *h, const char *token);

/*
 * OAuth2 resource owner password grant (RFC 6749 §4.3, deprecated by the
 * OAuth 2.0 Security BCP; only for servers that allow it).  Stores the
 * session in the keyring, replacing (and revoking) an older one.
 */
fhirauth_rc fhirauth_login_password(fhirauth *h, const char *username,
                                    const char *password);

/* What a device login shows the user (RFC 8628 §3.3). */
typedef struct fhirauth_device_info {
    const char *verification_uri;
    const char *verification_uri_complete; /* NULL when the AS gave none */
    const char *user_code;
    long expires_in; /* seconds the code is valid */
} fhirauth_device_info;

enum fhirauth_device_event {
    FHIRAUTH_DEVICE_SHOW, /* once: show the URI and code to the user */
    FHIRAUTH_DEVICE_WAIT  /* before each poll */
};

/* Return 0 to go on, anything else to cancel the login.  info and its
 * strings are valid only during the call. */
typedef int (*fhirauth_device_cb)(enum fhirauth_device_event event,
                                  const fhirauth_device_info *info, void *arg);

/*
 * OAuth 2.0 device authorization grant (RFC 8628): cb shows the user where
 * to approve, the library polls within the code's lifetime.  A denied or
 * expired code -> FHIRAUTH_ERR_DENIED; cb cancelling ->
 * FHIRAUTH_ERR_CANCELLED; a server without a device authorization
 * endpoint -> FHIRAUTH_ERR_UNSUPPORTED.
 */
fhirauth_rc fhirauth_login_device(fhirauth *h, fhirauth_device_cb cb,
                                  void *arg);

/* How the browser login reaches the user. */
typedef struct fhirauth_browser_io {
    /* Open (or print) the authorization URL; return 0 on success,
     * anything else cancels the login (FHIRAUTH_ERR_CANCELLED). */
    int (*open_url)(const char *url, void *arg);
    /* NULL: the library listens on 127.0.0.1 for the redirect.  Else it
     * returns the redirect URL the user pasted (malloc()ed; the library
     * wipes and frees it), or NULL to give up (FHIRAUTH_ERR_CANCELLED). */
    char *(*read_redirect)(void *arg);
    void *arg;
} fhirauth_browser_io;

/*
 * Authorization code grant with PKCE S256 and a loopback redirect
 * (RFC 6749 §4.1, RFC 7636, RFC 8252).  SMART: sends aud=fhir_base.
 */
fhirauth_rc fhirauth_login_browser(fhirauth *h, const fhirauth_browser_io *io);

/*
 * Revoke the refresh token at the server (RFC 7009) and unlink the keys.
 * The keys are unlinked even when revocation fails; then *ret_revoked is 0
 * and fhirauth_detail() says why.  ret_revoked may be NULL.  A handle
 * opened with FHIRAUTH_OPEN_SYSTEM_ONLY takes the revocation endpoint from
 * the configuration and discovery, never from the (user-writable) session
 * metadata.
 */
fhirauth_rc fhirauth_logout(fhirauth *h, int *ret_revoked);

/*
 * Load the network half (libcurl, OpenSSL) now instead of on the first
 * cache miss.  A privileged caller about to switch to a user (the PAM
 * module before a revocation at close_session) calls it first: the module
 * is then read with the caller's rights, whatever directories the user may
 * enter.  Loading happens once per process; FHIRAUTH_ERR_MODULE (with the
 * reason in fhirauth_detail()) when it cannot be loaded.
 */
fhirauth_rc fhirauth_load_network(fhirauth *h);

/*
 * Session status as a JSON object (never a token): profile, keyring,
 * issuer, subject, scope, access_expires_at, refresh_expires_at,
 * has_refresh_token and the SMART context.  Returns
 * FHIRAUTH_ERR_LOGIN_NEEDED when there is no session.  Free the string with
 * fhirauth_free_string().
 */
fhirauth_rc fhirauth_status_json(fhirauth *h, char **ret_json);

/*
 * The public JWK Set of the profile's client_key_file (client_auth =
 * private_key_jwt), for registering the client at the server: one key,
 * with "use", "alg" and the "kid" its assertions carry, and no private
 * member.  FHIRAUTH_ERR_CONFIG when there is no usable key file.  Loads
 * the network module.  Free the string with fhirauth_free_string().
 */
fhirauth_rc fhirauth_client_jwks(fhirauth *h, char **ret_json);

/*
 * The profile whose "match" prefixes (space-separated URLs) cover url:
 * scheme, host (without case) and port equal, the default ports 443 for
 * https and 80 for http; a prefix with a path covers only URLs whose path
 * starts with it at a "/" boundary, or URLs without a path (git sends a
 * path only with credential.useHttpPath).  The most specific prefix wins:
 * a matching path, longest first, then a prefix without a path, then one
 * whose path was not compared; on a tie the default profile, else the
 * first profile of the configuration.  Configuration files as
 * fhirauth_open_file() (config_file NULL: as fhirauth_open()).
 * No match: FHIRAUTH_OK with *ret_profile NULL.  A malformed url:
 * FHIRAUTH_ERR_INVALID_ARGUMENT; a malformed match prefix:
 * FHIRAUTH_ERR_CONFIG.  *ret_profile is freed with fhirauth_free_string();
 * on failure *ret_detail (when ret_detail is given) receives a message,
 * freed the same way.
 */
fhirauth_rc fhirauth_profile_for_url(const char *config_file, const char *url,
                                     char **ret_profile, char **ret_detail);

/*
 * A configuration value of the handle as text: strings as they are,
 * booleans "yes" or "no", numbers in decimal, choices (keyring, grant, qr)
 * by name.  NULL for an unset string or an unknown key.  Borrowed: valid
 * until the next non-const call on h.
 */
const char *fhirauth_option(const fhirauth *h, const char *key);

/*
 * Is this WWW-Authenticate header value a Bearer challenge that a new
 * token may answer (RFC 6750 §3: no error, or error="invalid_token")?
 * The value is parsed as RFC 7235 challenges: a comma-separated list,
 * auth-schemes and parameter names compared without case, parameter values
 * as tokens or quoted strings with backslash escapes.  1 when any Bearer
 * challenge has no error parameter or error="invalid_token"; 0 otherwise
 * (only other schemes, insufficient_scope, invalid_request or another
 * error code, a Bearer token68 or a repeated error parameter), and 0 for
 * NULL, a value that does not parse, or one longer than 64 KiB.  Reads
 * nothing past the terminating NUL; linear in the length.
 */
int fhirauth_bearer_challenge_retry(const char *www_authenticate);

/*
 * The scheme of the token the last successful fhirauth_token() on h
 * returned: "DPoP" for a DPoP-bound session's token (RFC 9449, dpop =
 * yes), which a resource server takes only as "Authorization: DPoP
 * TOKEN" with a proof (fhirauth_dpop_proof()), else "Bearer" (also
 * before any token).  Costs nothing: the cached token carries its
 * scheme.  A static string; NULL for a NULL handle.
 */
const char *fhirauth_token_scheme(const fhirauth *h);

/*
 * A DPoP proof (RFC 9449 §4.2, §7) for one request of access_token, a
 * token of h's DPoP-bound session: method (GET, POST, ...) and url, the
 * https URL requested (its query and fragment are left out of the
 * proof).  The proof carries the last nonce this resource server (url's
 * origin) sent, as fhirauth_dpop_nonce() kept it.  Send it as "DPoP:
 * PROOF" with "Authorization: DPoP TOKEN", once: a server refuses a
 * proof it has seen.  Loads the network module to sign.  *ret_proof is a
 * credential for that request, freed with fhirauth_free_secret().
 * FHIRAUTH_ERR_INVALID_ARGUMENT for a session that is not DPoP-bound or
 * a URL that is not https; FHIRAUTH_ERR_LOGIN_NEEDED when there is no
 * session or its key is gone.
 */
fhirauth_rc fhirauth_dpop_proof(fhirauth *h, const char *access_token,
                                const char *method, const char *url,
                                char **ret_proof);

/*
 * Keep a resource server's DPoP-Nonce (RFC 9449 §9): nonce, the value of
 * the DPoP-Nonce header of an answer from url, goes into h's next proofs
 * for url's origin, and into the session metadata for other processes
 * (the last resource server's only).  FHIRAUTH_ERR_PROTOCOL for a value
 * that is not a nonce (RFC 9449 §8.1).
 */
fhirauth_rc fhirauth_dpop_nonce(fhirauth *h, const char *url,
                                const char *nonce);

/* What the DPoP challenges of a WWW-Authenticate value ask for (RFC 9449
 * §7.1, §9), parsed as fhirauth_bearer_challenge_retry() does. */
enum fhirauth_dpop_challenge {
    FHIRAUTH_DPOP_NONE = 0,      /* no DPoP challenge one can answer */
    FHIRAUTH_DPOP_USE_NONCE,     /* use_dpop_nonce: the same token with a
                                  * proof carrying the server's nonce */
    FHIRAUTH_DPOP_INVALID_PROOF, /* invalid_dpop_proof */
    FHIRAUTH_DPOP_RETRY          /* no error, or invalid_token: a new
                                  * token may answer */
};
/* One of enum fhirauth_dpop_challenge; FHIRAUTH_DPOP_NONE for NULL. */
int fhirauth_dpop_challenge(const char *www_authenticate);

/* Wipe then free a string returned by the library; NULL is accepted. */
void fhirauth_free_secret(char *s);
/* Free a non-secret string returned by the library; NULL is accepted. */
void fhirauth_free_string(char *s);

#if defined(__GNUC__)
# pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* FHIRAUTH_H */
