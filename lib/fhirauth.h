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
    FHIRAUTH_ERR_INTERNAL          /* a bug: please report it */
} fhirauth_rc;

/* Flags for fhirauth_open(). */
enum {
    /* Read only the system configuration (or the file given to
     * fhirauth_open_file()) and never consult the environment: no
     * PAM_FHIR_CONFIG, no ~/.config, no proxy variables.  The PAM module
     * opens every handle with this flag. */
    FHIRAUTH_OPEN_SYSTEM_ONLY = 1u << 0,
};

/* A static English message for rc; never NULL. */
const char *fhirauth_strerror(fhirauth_rc rc);

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

/*
 * Revoke the refresh token at the server (RFC 7009) and unlink the keys.
 * The keys are unlinked even when revocation fails; then *ret_revoked is 0
 * and fhirauth_detail() says why.  ret_revoked may be NULL.
 */
fhirauth_rc fhirauth_logout(fhirauth *h, int *ret_revoked);

/*
 * Session status as a JSON object (never a token): profile, keyring,
 * issuer, subject, scope, access_expires_at, refresh_expires_at,
 * has_refresh_token and the SMART context.  Returns
 * FHIRAUTH_ERR_LOGIN_NEEDED when there is no session.  Free the string with
 * fhirauth_free_string().
 */
fhirauth_rc fhirauth_status_json(fhirauth *h, char **ret_json);

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
