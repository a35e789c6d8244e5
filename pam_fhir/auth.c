/*
 * auth.c - pam_sm_authenticate: log the user in at the authorization
 * server (device grant by default, or the password grant), check that the
 * identity that came back is the PAM user, and keep the session for the
 * session phase: running as root (sshd, login, gdm) in a stash key of
 * root's user keyring whose serial travels in the PAM environment (sshd
 * authenticates in a forked child, so pam_set_data would be lost); not
 * running as root (a screen locker) in the handle itself, via
 * pam_set_data.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "internal.h"

/* Is the user in the space-separated ignore_users list? */
static bool
user_ignored(const char *list, const char *user)
{
    size_t n = strlen(user);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        size_t len;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        len = strcspn(p, " \t,");
        if (len == n && len > 0 && strncmp(p, user, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* PAM_IGNORE for users the module leaves alone, else PAM_SUCCESS. */
static int
check_skip(struct pamfa *a)
{
    const char *v = pamfa_option(a, "minimum_uid");
    uid_t uid;
    gid_t gid;
    int pamret;

    if (user_ignored(pamfa_option(a, "ignore_users"), a->user)) {
        pamfa_debug(a, "in ignore_users: ignored");
        return PAM_IGNORE;
    }
    pamret = pamfa_lookup_user(a, &uid, &gid);
    if (pamret != PAM_SUCCESS)
        return pamret;
    if (v != NULL) {
        char *end;
        long min = strtol(v, &end, 10);

        if (*end == '\0' && min > 0
            && (unsigned long) uid < (unsigned long) min) {
            pamfa_debug(a, "uid %lu below minimum_uid %ld: ignored",
                        (unsigned long) uid, min);
            return PAM_IGNORE;
        }
    }
    return PAM_SUCCESS;
}

/* ---------------------------------------------------------- password */

static int
get_password(struct pamfa *a, bool from_stack, char **ret_pass)
{
    const void *item = NULL;
    char *pass = NULL;
    int pamret;

    if (from_stack) {
        pamret = pam_get_item(a->pamh, PAM_AUTHTOK, &item);
        if (pamret == PAM_SUCCESS && item != NULL) {
            *ret_pass = strdup(item);
            return *ret_pass != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
        }
        return PAM_AUTHTOK_RECOVERY_ERR;
    }
    pamret = pamfa_prompt(a, PAM_PROMPT_ECHO_OFF, "Password: ", &pass);
    if (pamret != PAM_SUCCESS)
        return pamret;
    pamret = pam_set_item(a->pamh, PAM_AUTHTOK, pass);
    if (pamret != PAM_SUCCESS) {
        pamfa_wipe_free(pass);
        return pamret;
    }
    *ret_pass = pass;
    return PAM_SUCCESS;
}

static fhirauth_rc
login_password(struct pamfa *a, int *ret_pamret)
{
    char *pass = NULL;
    fhirauth_rc rc;
    bool stack = a->use_first_pass || a->try_first_pass;
    int pamret = get_password(a, stack, &pass);

    if (pamret != PAM_SUCCESS && stack && !a->use_first_pass) {
        stack = false;
        pamret = get_password(a, false, &pass);
    }
    if (pamret != PAM_SUCCESS) {
        if (pamret == PAM_AUTHTOK_RECOVERY_ERR)
            pamfa_log(a, LOG_ERR,
                      "use_first_pass: no password from an "
                      "earlier module");
        *ret_pamret =
            pamret == PAM_AUTHTOK_RECOVERY_ERR ? PAM_AUTH_ERR : pamret;
        return FHIRAUTH_ERR_LOGIN_NEEDED;
    }
    pamfa_debug(a, "password grant%s",
                stack ? " (password from the stack)" : "");
    rc = fhirauth_login_password(a->h, a->user, pass);
    pamfa_wipe_free(pass);
    pass = NULL;
    if (rc == FHIRAUTH_ERR_DENIED && stack && a->try_first_pass) {
        pamfa_debug(a, "stacked password refused, asking");
        pamret = get_password(a, false, &pass);
        if (pamret != PAM_SUCCESS) {
            *ret_pamret = pamret;
            return FHIRAUTH_ERR_LOGIN_NEEDED;
        }
        rc = fhirauth_login_password(a->h, a->user, pass);
        pamfa_wipe_free(pass);
    }
    *ret_pamret = PAM_SUCCESS;
    return rc;
}

/* ---------------------------------------------------------- device */

struct device_ctx {
    struct pamfa *a;
    int pamret; /* a conversation failure, else PAM_SUCCESS */
};

static int
device_cb(enum fhirauth_device_event event, const fhirauth_device_info *info,
          void *arg)
{
    struct device_ctx *ctx = arg;
    struct pamfa *a = ctx->a;
    const char *client = pamfa_option(a, "client_id");
    const char *uri;
    char host[HOST_NAME_MAX + 1];
    char text[2048];
    char *qr;
    int n, pamret;

    if (event != FHIRAUTH_DEVICE_SHOW)
        return 0;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "this computer");
    host[sizeof(host) - 1] = '\0';
    uri = info->verification_uri != NULL ? info->verification_uri : "";
    if (info->verification_uri_complete != NULL)
        n = snprintf(text, sizeof(text),
                     "Sign-in request from \"%s\" on %s.\n"
                     "Open %s\n(or %s and enter the code %s),\n"
                     "approve, then press Enter: ",
                     client != NULL ? client : "?", host,
                     info->verification_uri_complete, uri,
                     info->user_code != NULL ? info->user_code : "");
    else
        n = snprintf(text, sizeof(text),
                     "Sign-in request from \"%s\" on %s.\n"
                     "Open %s and enter the code %s,\n"
                     "approve, then press Enter: ",
                     client != NULL ? client : "?", host, uri,
                     info->user_code != NULL ? info->user_code : "");
    if (n < 0 || (size_t) n >= sizeof(text)) {
        ctx->pamret = PAM_BUF_ERR;
        return 1;
    }
    /* The QR code goes as information text in the same conversation
     * call as the prompt: it does not fit into one message. */
    qr = pamfa_qr(a,
                  info->verification_uri_complete != NULL
                      ? info->verification_uri_complete
                      : info->verification_uri);
    pamret = pamfa_prompt_info(a, qr, text, NULL);
    free(qr);
    explicit_bzero(text, sizeof(text));
    if (pamret != PAM_SUCCESS) {
        ctx->pamret = pamret;
        return 1;
    }
    pamfa_debug(a, "device code shown, polling");
    return 0;
}

/* ---------------------------------------------------------- results */

static void
handle_cleanup(pam_handle_t *pamh, void *data, int status)
{
    (void) pamh;
    (void) status;
    fhirauth_close(data);
}

/* Keep the verified pending session for the session phase. */
static int
keep_session(struct pamfa *a)
{
    char *serial = NULL;
    char env[64];
    fhirauth_rc rc;
    int n, pamret;

    /* Only a process that is root through and through stashes: under su
     * (real uid the caller's) root's user keyring is not ours to use, and
     * the same process runs the session phase anyway. */
    if (geteuid() != 0 || getuid() != 0) {
        pamret =
            pam_set_data(a->pamh, PAMFA_DATA_HANDLE, a->h, handle_cleanup);
        if (pamret != PAM_SUCCESS) {
            pamfa_log(a, LOG_ERR, "cannot keep the session: %s",
                      pam_strerror(a->pamh, pamret));
            return pamret;
        }
        a->h = NULL; /* PAM owns it now */
        pamfa_debug(a, "session kept with pam_set_data");
        return PAM_SUCCESS;
    }
    rc = fhirauth_stash_put(a->h, a->user, &serial);
    if (rc != FHIRAUTH_OK)
        return pamfa_map_rc(a, rc, "stashing the session", PAM_AUTH_ERR);
    n = snprintf(env, sizeof(env), "%s=%s", PAMFA_ENV_STASH, serial);
    fhirauth_free_string(serial);
    if (n < 0 || (size_t) n >= sizeof(env)) {
        pamfa_log(a, LOG_ERR, "stash serial too long");
        return PAM_SERVICE_ERR;
    }
    pamret = pam_putenv(a->pamh, env);
    if (pamret != PAM_SUCCESS) {
        pamfa_log(a, LOG_ERR, "cannot pass the stash on: %s",
                  pam_strerror(a->pamh, pamret));
        return pamret;
    }
    pamfa_debug(a, "session stashed (%s)", env);
    return PAM_SUCCESS;
}

int
pamfa_authenticate(struct pamfa *a)
{
    fhirauth *h;
    fhirauth_rc rc;
    const char *grant;
    int pamret;

    pamret = pamfa_get_user(a);
    if (pamret != PAM_SUCCESS)
        return pamret;
    pamret = pamfa_open(a, FHIRAUTH_OPEN_DEFER_STORE, &h);
    if (pamret != PAM_SUCCESS)
        return pamret;
    grant = pamfa_option(a, "grant");
    /* A service profile's tokens are the client's own (no user logs in):
     * a stack that names one is a configuration error, for every user. */
    if (grant != NULL && strcmp(grant, "client_credentials") == 0) {
        pamfa_log(a, LOG_ALERT,
                  "configuration error: profile %s is a service profile "
                  "(grant = client_credentials): no user logs in with it",
                  fhirauth_profile(h));
        return PAM_SERVICE_ERR;
    }
    pamret = check_skip(a);
    if (pamret != PAM_SUCCESS)
        return pamret;

    if (grant != NULL && strcmp(grant, "password") == 0) {
        int convret = PAM_SUCCESS;

        rc = login_password(a, &convret);
        if (convret != PAM_SUCCESS)
            return convret;
    } else {
        struct device_ctx ctx = { a, PAM_SUCCESS };

        pamfa_debug(a, "device grant");
        rc = fhirauth_login_device(h, device_cb, &ctx);
        /* The conversation failed at the prompt (no answer, the user
         * pressed Ctrl-C or Ctrl-D): the login is cancelled, and the
         * module returns the conversation's failure, as pam_unix does. */
        if (rc == FHIRAUTH_ERR_CANCELLED) {
            pamfa_log(a, LOG_NOTICE, "device login cancelled: %s",
                      ctx.pamret != PAM_SUCCESS
                          ? pam_strerror(a->pamh, ctx.pamret)
                          : fhirauth_detail(h));
            return ctx.pamret == PAM_BUF_ERR ? PAM_BUF_ERR : PAM_CONV_ERR;
        }
    }
    if (rc != FHIRAUTH_OK)
        return pamfa_map_rc(a, rc, "login", PAM_SERVICE_ERR);

    rc = fhirauth_identity_check(h, a->user);
    if (rc == FHIRAUTH_ERR_PROTOCOL || rc == FHIRAUTH_ERR_DENIED) {
        pamfa_log(a, LOG_NOTICE, "identity check failed: %s: %s",
                  fhirauth_strerror(rc), fhirauth_detail(h));
        return PAM_AUTH_ERR;
    }
    if (rc != FHIRAUTH_OK)
        return pamfa_map_rc(a, rc, "identity check", PAM_SERVICE_ERR);

    pamret = keep_session(a);
    if (pamret == PAM_SUCCESS)
        pamfa_log(a, LOG_INFO, "authenticated at the authorization server");
    return pamret;
}
