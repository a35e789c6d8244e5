/* config.h - pam_fhir.conf(5): grammar, typed option table, precedence. */
#ifndef FHIRAUTH_CONFIG_H
#define FHIRAUTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#pragma GCC visibility push(hidden)

enum fa_anchor { FA_ANCHOR_PERSISTENT = 0, FA_ANCHOR_USER, FA_ANCHOR_SESSION };
/* grant: how a user logs in (the PAM module's device or password), or
 * client_credentials: a service profile, whose tokens fhirauth_token()
 * obtains with the client's own credential and no login. */
enum fa_grant {
    FA_GRANT_DEVICE = 0,
    FA_GRANT_PASSWORD,
    FA_GRANT_CLIENT_CREDENTIALS
};
enum fa_qr { FA_QR_AUTO = 0, FA_QR_ON, FA_QR_OFF };
/* client_auth: how the client proves itself; auto follows the files
 * (fa_client_auth_method, below). */
enum fa_auth_method {
    FA_METHOD_AUTO = 0,
    FA_METHOD_NONE,
    FA_METHOD_SECRET_BASIC,
    FA_METHOD_SECRET_POST,
    FA_METHOD_PRIVATE_KEY_JWT
};
/* client_key_alg: the JOSE alg of the client's assertions. */
enum fa_key_alg {
    FA_KEY_ALG_RS384 = 0,
    FA_KEY_ALG_RS256,
    FA_KEY_ALG_ES384,
    FA_KEY_ALG_ES256
};
/* client_key_aud: the aud of the client's assertions, the token endpoint
 * wherever they go or the URL each one is posted to. */
enum fa_key_aud { FA_KEY_AUD_TOKEN_ENDPOINT = 0, FA_KEY_AUD_ENDPOINT };

#define FA_CONFIG_MAX_BYTES (64 * 1024) /* a larger file is refused */
/* At least the number of options in config.c's table (checked there at
 * compile time): number_text has a slot per option. */
#define FA_CONFIG_OPTIONS 48

/* One profile's settings after defaults, files and overrides are applied.
 * Strings are heap copies owned by the struct (NULL when unset). */
struct fa_config {
    char *profile; /* the profile name in use */
    char *issuer;
    char *fhir_base;
    char *client_id;
    char *client_secret_file;
    enum fa_auth_method client_auth; /* default auto */
    char *client_key_file;           /* private_key_jwt's PEM key */
    enum fa_key_alg client_key_alg;  /* default RS384 */
    enum fa_key_aud client_key_aud;  /* default token_endpoint */
    char *client_key_id;             /* NULL: the key's thumbprint */
    char *scope;
    char *aud;
    char *resource;
    char *ca_file;
    char *ca_path;
    char *proxy;            /* "none" disables the environment */
    long timeout;           /* seconds, total per request; default 30 */
    long min_valid;         /* seconds; default 60 */
    long assumed_lifetime;  /* when no expires_in; default 300 */
    enum fa_anchor keyring; /* default persistent */
    enum fa_grant grant;    /* default device */
    char *username_claim;   /* default "preferred_username" */
    bool require_id_token;  /* refuse logins without a verified
                                   * id_token (default no: UserInfo) */
    char *usermap;
    char *match;        /* space-separated URL prefixes */
    char *git_username; /* default "oauth2" */
    long redirect_port; /* 0 = random */
    bool revoke_on_close;
    bool dpop; /* bind tokens to a per-session key (RFC 9449) */
    long minimum_uid;
    char *ignore_users; /* space-separated */
    enum fa_qr qr;
    bool debug;
    /* Endpoint overrides for servers without discovery. */
    char *authorization_endpoint;
    char *token_endpoint;
    char *revocation_endpoint;
    char *device_authorization_endpoint;
    char *introspection_endpoint;
    char *jwks_uri;
    char *userinfo_endpoint;
    /* PAM module arguments that are not file keys. */
    bool use_first_pass;
    bool try_first_pass;
    char *config; /* module argument config=FILE */
    /* The number options as decimal text, indexed by table position and
     * kept in step by config.c so fa_config_text() can lend them out; not
     * for direct use. */
    char number_text[FA_CONFIG_OPTIONS][24];
};

/* Where configuration comes from. */
struct fa_config_sources {
    const char *system_file;   /* NULL: the compiled-in default */
    const char *user_file;     /* NULL: none (PAM, or --config given) */
    const char *explicit_file; /* replaces both when non-NULL */
    bool require_root_owned;   /* the system/explicit file must be root's */
};

/*
 * Load the profile (NULL: default_profile, else "default") from the
 * sources.  FHIRAUTH_OK, or FHIRAUTH_ERR_CONFIG with a message naming
 * file and line in e, or FHIRAUTH_ERR_NOMEM.  A missing user file
 * is not an error; a missing system file is an error only when no other
 * file supplied the profile.
 */
fhirauth_rc fa_config_load(struct fa_config *cfg,
                           const struct fa_config_sources *src,
                           const char *profile, struct fa_err *e);

/*
 * The client authentication cfg asks for (endpoints.c: both halves call
 * it): client_auth, or with it unset (FA_METHOD_AUTO) private_key_jwt for
 * a client_key_file, the secret for a client_secret_file (*ret stays
 * FA_METHOD_AUTO: Basic unless discovery found that the server takes only
 * the body), none otherwise.  FHIRAUTH_ERR_CONFIG when a method lacks its
 * file, or when auto meets both files.
 */
fhirauth_rc fa_client_auth_method(const struct fa_config *cfg,
                                  enum fa_auth_method *ret, struct fa_err *e);

/* Parse one "key=value" or bare "key" override (PAM arguments) into cfg.
 * FHIRAUTH_OK; FHIRAUTH_ERR_INVALID_ARGUMENT for an unknown key (or none);
 * FHIRAUTH_ERR_CONFIG for a value the key does not take;
 * FHIRAUTH_ERR_NOMEM.  The message in e. */
fhirauth_rc fa_config_set(struct fa_config *cfg, const char *key,
                          const char *value, struct fa_err *e);

/* Parse configuration text (for tests and fuzzing): as fa_config_load
 * with one file of the given name and contents. */
fhirauth_rc fa_config_parse_text(struct fa_config *cfg, const char *name,
                                 const char *text, size_t len,
                                 const char *profile, struct fa_err *e);

/* Set every field to its default (strings NULL or their default copy). */
int fa_config_init(struct fa_config *cfg);
/* Free every string and zero the struct. */
void fa_config_free(struct fa_config *cfg);

const char *fa_anchor_name(enum fa_anchor a);

/*
 * The value of option key as text: strings as they are, booleans "yes" or
 * "no", numbers in decimal, choices by name.  NULL for an unset string or
 * an unknown key.  Borrowed from cfg: valid until cfg changes.
 */
const char *fa_config_text(const struct fa_config *cfg, const char *key);

/* One profile the configuration defines, with its effective "match" value
 * (defaults, then each file's section, as fa_config_load applies them). */
struct fa_profile_entry {
    char *name;
    char *match; /* NULL when the profile has none */
};

struct fa_profile_list {
    struct fa_profile_entry *v; /* in order of first appearance */
    size_t n;
    char *default_profile; /* default_profile in effect, or "default" */
};

/*
 * Every profile of the sources: the [profile NAME] sections of each file,
 * and "default" for a file without sections.  Reads and checks the files
 * as fa_config_load does (same errors), but does not require a profile to
 * name a server.  On success *ret is filled (free it with
 * fa_profile_list_free); else the failure, with its message in e.
 */
fhirauth_rc fa_config_profiles(const struct fa_config_sources *src,
                               struct fa_profile_list *ret, struct fa_err *e);
/* The same for configuration text (tests). */
fhirauth_rc fa_config_profiles_text(const char *name, const char *text,
                                    size_t len, struct fa_profile_list *ret,
                                    struct fa_err *e);
/* Free the list's strings and zero it; NULL is accepted. */
void fa_profile_list_free(struct fa_profile_list *l);

#pragma GCC visibility pop

#endif
