/*
 * args.c - module arguments and the library handle.
 *
 * Arguments use the configuration file's key names: "config=FILE" and
 * "profile=NAME" choose what is loaded (only the system file or that
 * root-owned file: the handle is opened FHIRAUTH_OPEN_SYSTEM_ONLY, so the
 * environment is never consulted); every other "key=value" or bare "key"
 * overrides the file through fhirauth_set_option().  use_first_pass,
 * try_first_pass and debug are the module's own.  An unknown argument is
 * logged at LOG_ERR and ignored; a bad value of a known key is a
 * configuration error (LOG_ALERT, PAM_SERVICE_ERR: fail closed).
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "internal.h"

static bool
arg_is(const char *arg, const char *key, const char **ret_value)
{
    size_t n = strlen(key);

    if (strncmp(arg, key, n) != 0)
        return false;
    if (arg[n] == '\0') {
        if (ret_value != NULL)
            *ret_value = NULL;
        return true;
    }
    if (arg[n] == '=') {
        if (ret_value != NULL)
            *ret_value = arg + n + 1;
        return true;
    }
    return false;
}

/* "yes" unless the value is an explicit false. */
static bool
arg_bool(const char *value)
{
    return value == NULL
        || !(strcmp(value, "no") == 0 || strcmp(value, "false") == 0
             || strcmp(value, "0") == 0);
}

int
pamfa_args_init(struct pamfa *a, pam_handle_t *pamh, int flags, int argc,
                const char **argv)
{
    int i;
    const char *v;

    memset(a, 0, sizeof(*a));
    a->pamh = pamh;
    a->flags = flags;
    a->argc = argc;
    a->argv = argv;
    if (pamh == NULL)
        return PAM_SYSTEM_ERR;
    for (i = 0; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (arg_is(argv[i], "debug", &v))
            a->debug = arg_bool(v);
        else if (arg_is(argv[i], "use_first_pass", &v))
            a->use_first_pass = arg_bool(v);
        else if (arg_is(argv[i], "try_first_pass", &v))
            a->try_first_pass = arg_bool(v);
        else if (arg_is(argv[i], "config", &v) && v != NULL)
            a->config = v;
        else if (arg_is(argv[i], "profile", &v) && v != NULL)
            a->profile = v;
    }
    return PAM_SUCCESS;
}

int
pamfa_get_user(struct pamfa *a)
{
    const char *user = NULL;
    int pamret = pam_get_user(a->pamh, &user, NULL);

    if (pamret != PAM_SUCCESS || user == NULL || *user == '\0') {
        pamfa_log(a, LOG_ERR, "cannot get the user name: %s",
                  pam_strerror(a->pamh, pamret));
        return pamret == PAM_SUCCESS ? PAM_USER_UNKNOWN : pamret;
    }
    a->user = user;
    return PAM_SUCCESS;
}

/*
 * Map a library result to a PAM code, logging it.  fallback is what the
 * remaining codes (keyring, quota, lock, unsupported, internal) become.
 */
int
pamfa_map_rc(struct pamfa *a, fhirauth_rc rc, const char *what, int fallback)
{
    const char *detail = a->h != NULL ? fhirauth_detail(a->h) : "";
    const char *sep = *detail != '\0' ? ": " : "";

    switch (rc) {
    case FHIRAUTH_OK:
        return PAM_SUCCESS;
    case FHIRAUTH_ERR_DENIED:
    case FHIRAUTH_ERR_LOGIN_NEEDED:
        pamfa_log(a, LOG_NOTICE, "%s failed: %s%s%s", what,
                  fhirauth_strerror(rc), sep, detail);
        return PAM_AUTH_ERR;
    case FHIRAUTH_ERR_UNREACHABLE:
    case FHIRAUTH_ERR_TLS:
    case FHIRAUTH_ERR_PROTOCOL:
    case FHIRAUTH_ERR_MODULE:
        pamfa_log(a, LOG_ERR, "%s failed: %s%s%s", what, fhirauth_strerror(rc),
                  sep, detail);
        return PAM_AUTHINFO_UNAVAIL;
    case FHIRAUTH_ERR_CONFIG:
    case FHIRAUTH_ERR_INVALID_ARGUMENT:
    case FHIRAUTH_ERR_DPOP_BOUND:
        pamfa_log(a, LOG_ALERT, "%s failed: %s%s%s", what,
                  fhirauth_strerror(rc), sep, detail);
        return PAM_SERVICE_ERR;
    case FHIRAUTH_ERR_NOMEM:
        pamfa_log(a, LOG_CRIT, "%s failed: %s", what, fhirauth_strerror(rc));
        return PAM_BUF_ERR;
    case FHIRAUTH_ERR_CANCELLED:
        /* As pam_unix when its conversation fails: the user gave up. */
        pamfa_log(a, LOG_NOTICE, "%s cancelled%s%s", what, sep, detail);
        return PAM_CONV_ERR;
    case FHIRAUTH_ERR_KEYRING:
    case FHIRAUTH_ERR_QUOTA:
    case FHIRAUTH_ERR_LOCK:
    case FHIRAUTH_ERR_UNSUPPORTED:
    case FHIRAUTH_ERR_INTERNAL:
        pamfa_log(a, LOG_ERR, "%s failed: %s%s%s", what, fhirauth_strerror(rc),
                  sep, detail);
        return fallback;
    }
    pamfa_log(a, LOG_ERR, "%s failed: unknown error %d", what, (int) rc);
    return fallback;
}

/*
 * Open a handle (SYSTEM_ONLY plus extra_flags) and apply the module
 * arguments.  *ret_h is also kept in a->h and closed by pamfa_args_free()
 * unless the caller takes it (sets a->h to NULL).
 */
int
pamfa_open(struct pamfa *a, unsigned extra_flags, fhirauth **ret_h)
{
    fhirauth *h = NULL;
    char *detail = NULL;
    fhirauth_rc rc;
    int i;

    /* Without config= the system file (FHIRAUTH_OPEN_SYSTEM_ONLY keeps the
     * user's file and the environment out). */
    if (a->config != NULL)
        rc = fhirauth_open_file(&h, a->config, a->profile,
                                FHIRAUTH_OPEN_SYSTEM_ONLY | extra_flags,
                                &detail);
    else
        rc = fhirauth_open(&h, a->profile,
                           FHIRAUTH_OPEN_SYSTEM_ONLY | extra_flags, &detail);
    if (rc != FHIRAUTH_OK) {
        if (rc == FHIRAUTH_ERR_NOMEM) {
            pamfa_log(a, LOG_CRIT, "out of memory");
            fhirauth_free_string(detail);
            return PAM_BUF_ERR;
        }
        pamfa_log(a, LOG_ALERT, "configuration error: %s%s%s",
                  fhirauth_strerror(rc), detail != NULL ? ": " : "",
                  detail != NULL ? detail : "");
        fhirauth_free_string(detail);
        return PAM_SERVICE_ERR;
    }
    fhirauth_free_string(detail);
    a->h = h;
    for (i = 0; i < a->argc; i++) {
        const char *arg = a->argv[i], *eq;
        char key[64];
        size_t n;

        if (arg == NULL || arg_is(arg, "debug", NULL)
            || arg_is(arg, "use_first_pass", NULL)
            || arg_is(arg, "try_first_pass", NULL)
            || arg_is(arg, "config", NULL) || arg_is(arg, "profile", NULL))
            continue;
        eq = strchr(arg, '=');
        n = eq != NULL ? (size_t) (eq - arg) : strlen(arg);
        if (n == 0 || n >= sizeof(key)) {
            pamfa_log(a, LOG_ERR, "unknown argument '%.*s' ignored",
                      (int) (n < 64 ? n : 64), arg);
            continue;
        }
        memcpy(key, arg, n);
        key[n] = '\0';
        rc = fhirauth_set_option(h, key, eq != NULL ? eq + 1 : NULL);
        if (rc == FHIRAUTH_ERR_INVALID_ARGUMENT) {
            pamfa_log(a, LOG_ERR, "unknown argument '%s' ignored", key);
        } else if (rc != FHIRAUTH_OK) {
            pamfa_log(a, LOG_ALERT,
                      "configuration error in argument "
                      "'%s': %s",
                      key, fhirauth_detail(h));
            return rc == FHIRAUTH_ERR_NOMEM ? PAM_BUF_ERR : PAM_SERVICE_ERR;
        }
    }
    if (pamfa_option_bool(a, "debug"))
        a->debug = true;
    pamfa_debug(a, "profile %s", fhirauth_profile(h));
    *ret_h = h;
    return PAM_SUCCESS;
}

const char *
pamfa_option(const struct pamfa *a, const char *key)
{
    return a->h != NULL ? fhirauth_option(a->h, key) : NULL;
}

bool
pamfa_option_bool(const struct pamfa *a, const char *key)
{
    const char *v = pamfa_option(a, key);

    return v != NULL && strcmp(v, "yes") == 0;
}

void
pamfa_args_free(struct pamfa *a)
{
    fhirauth_close(a->h);
    a->h = NULL;
}
