/*
 * session.c - pam_sm_open_session and pam_sm_close_session.
 *
 * open_session moves the session that auth verified into the user's
 * keyring: from the handle auth kept with pam_set_data (not root), or from
 * the stash key whose serial auth put into PAM_FHIR_STASH (root; the
 * library checks that the stash names this user, so an injected variable
 * cannot move another user's tokens).  The keyring work runs with real and
 * effective ids switched to the user (user.c).  Nothing stashed (a
 * public-key ssh login) -> PAM_IGNORE.
 *
 * close_session revokes and unlinks with revoke_on_close, on a handle
 * opened FHIRAUTH_OPEN_SYSTEM_ONLY (endpoints from the configuration and
 * discovery, never from the user-writable session metadata), bounded by
 * the configured timeout, and never fails the logout.
 */
#include "autoconf.h"

#include <keyutils.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "internal.h"

/*
 * keyring=session: the session keyring must be the user's own (pam_keyinit
 * ran before us), not one shared with root or other logins (sshd's).
 */
static int
check_session_keyring(struct pamfa *a, uid_t uid)
{
    char *desc = NULL, *p, *end;
    unsigned long owner;
    int ok;

    if (keyctl_describe_alloc(KEY_SPEC_SESSION_KEYRING, &desc) < 0
        || desc == NULL) {
        pamfa_log(a, LOG_ERR,
                  "keyring=session: no session keyring "
                  "(put pam_keyinit.so before pam_fhir.so)");
        return PAM_SESSION_ERR;
    }
    /* "keyring;UID;GID;PERM;DESCRIPTION" */
    p = strchr(desc, ';');
    ok = p != NULL && strncmp(desc, "keyring;", 8) == 0;
    if (ok) {
        owner = strtoul(p + 1, &end, 10);
        p = NULL;
        if (*end == ';')
            p = strchr(end + 1, ';');
        if (p != NULL)
            p = strchr(p + 1, ';');
        ok = *end == ';' && owner == (unsigned long) uid && p != NULL
            && strncmp(p + 1, "_uid_ses.", 9) != 0;
    }
    free(desc);
    if (!ok) {
        pamfa_log(a, LOG_ERR,
                  "keyring=session: the session keyring is not "
                  "the user's own (put pam_keyinit.so before pam_fhir.so "
                  "in the session stack); tokens not stored");
        return PAM_SESSION_ERR;
    }
    return PAM_SUCCESS;
}

/*
 * Move a pending session into the user's keyring.  fail is the PAM code
 * for errors (PAM_SESSION_ERR or PAM_CRED_ERR).
 */
static int
store_as_user(struct pamfa *a, fhirauth *h, int fail)
{
    struct pamfa_ids saved;
    uid_t uid;
    gid_t gid;
    fhirauth_rc rc;
    const char *anchor;
    int pamret, backret;
    fhirauth *keep = a->h;

    pamret = pamfa_lookup_user(a, &uid, &gid);
    if (pamret != PAM_SUCCESS)
        return fail;
    anchor = fhirauth_option(h, "keyring");
    if (anchor != NULL && strcmp(anchor, "session") == 0) {
        pamret = check_session_keyring(a, uid);
        if (pamret != PAM_SUCCESS)
            return fail;
    }
    pamret = pamfa_become_user(a, uid, gid, &saved);
    if (pamret != PAM_SUCCESS)
        return fail;
    rc = fhirauth_store_pending(h);
    backret = pamfa_restore_ids(a, &saved);
    if (rc != FHIRAUTH_OK) {
        a->h = h; /* for the detail */
        pamret = pamfa_map_rc(a, rc, "storing the tokens", fail);
        a->h = keep;
        return pamret == PAM_BUF_ERR ? PAM_BUF_ERR : fail;
    }
    if (backret != PAM_SUCCESS)
        return PAM_SYSTEM_ERR;
    /* Stored, but not all of it: the access token did not fit in the
     * user's keyring quota (the session is whole). */
    if (fhirauth_detail(h)[0] != '\0')
        pamfa_log(a, LOG_WARNING, "storing the tokens: %s",
                  fhirauth_detail(h));
    pamfa_log(a, LOG_INFO, "tokens stored in the %s keyring",
              anchor != NULL ? anchor : "user's");
    return PAM_SUCCESS;
}

int
pamfa_store_stashed(struct pamfa *a, int fail)
{
    const void *data = NULL;
    const char *env;
    char serial[32];
    fhirauth *h;
    fhirauth_rc rc;
    int pamret;

    /* Not root at auth: the handle itself. */
    if (pam_get_data(a->pamh, PAMFA_DATA_HANDLE, &data) == PAM_SUCCESS
        && data != NULL) {
        h = (fhirauth *) (uintptr_t) data;
        if (fhirauth_has_pending(h)) {
            pamfa_debug(a, "pending session from auth (pam_set_data)");
            return store_as_user(a, h, fail);
        }
    }
    env = pam_getenv(a->pamh, PAMFA_ENV_STASH);
    if (env == NULL || *env == '\0') {
        pamfa_debug(a, "nothing stashed");
        return PAM_IGNORE;
    }
    /* A copy: removing the variable frees the string PAM lent us. */
    if (strlen(env) >= sizeof(serial)) {
        pamfa_log(a, LOG_ERR, "refusing a malformed %s", PAMFA_ENV_STASH);
        pam_putenv(a->pamh, PAMFA_ENV_STASH);
        return fail;
    }
    memcpy(serial, env, strlen(env) + 1);
    pamret = pamfa_open(a, FHIRAUTH_OPEN_DEFER_STORE, &h);
    if (pamret != PAM_SUCCESS)
        return pamret;
    rc = fhirauth_stash_take(h, a->user, serial);
    /* The variable has done its job, whatever the outcome. */
    if (pam_putenv(a->pamh, PAMFA_ENV_STASH) != PAM_SUCCESS)
        pamfa_debug(a, "could not remove %s", PAMFA_ENV_STASH);
    switch (rc) {
    case FHIRAUTH_OK:
        break;
    case FHIRAUTH_ERR_LOGIN_NEEDED:
        pamfa_log(a, LOG_NOTICE, "stash %s is gone (taken or expired): %s",
                  serial, fhirauth_detail(h));
        return PAM_IGNORE;
    case FHIRAUTH_ERR_DENIED:
    case FHIRAUTH_ERR_INVALID_ARGUMENT:
        pamfa_log(a, LOG_ERR, "refusing stash %s: %s", serial,
                  fhirauth_detail(h));
        return fail;
    case FHIRAUTH_ERR_CONFIG:
    case FHIRAUTH_ERR_UNREACHABLE:
    case FHIRAUTH_ERR_TLS:
    case FHIRAUTH_ERR_PROTOCOL:
    case FHIRAUTH_ERR_KEYRING:
    case FHIRAUTH_ERR_QUOTA:
    case FHIRAUTH_ERR_LOCK:
    case FHIRAUTH_ERR_NOMEM:
    case FHIRAUTH_ERR_MODULE:
    case FHIRAUTH_ERR_UNSUPPORTED:
    case FHIRAUTH_ERR_INTERNAL:
    case FHIRAUTH_ERR_CANCELLED:
    case FHIRAUTH_ERR_DPOP_BOUND:
    default:
        pamret = pamfa_map_rc(a, rc, "taking the stash", fail);
        return pamret == PAM_BUF_ERR ? PAM_BUF_ERR : fail;
    }
    return store_as_user(a, h, fail);
}

int
pamfa_open_session(struct pamfa *a)
{
    int pamret = pamfa_get_user(a);

    if (pamret != PAM_SUCCESS)
        return PAM_SESSION_ERR;
    return pamfa_store_stashed(a, PAM_SESSION_ERR);
}

int
pamfa_close_session(struct pamfa *a)
{
    struct pamfa_ids saved;
    fhirauth *h;
    fhirauth_rc rc;
    uid_t uid;
    gid_t gid;
    int revoked = 0, pamret;

    if (pamfa_get_user(a) != PAM_SUCCESS)
        return PAM_SUCCESS;
    if (pamfa_open(a, 0, &h) != PAM_SUCCESS)
        return PAM_SUCCESS;
    if (!pamfa_option_bool(a, "revoke_on_close")) {
        pamfa_debug(a, "revoke_on_close is off: keys kept");
        return PAM_SUCCESS;
    }
    if (pamfa_lookup_user(a, &uid, &gid) != PAM_SUCCESS)
        return PAM_SUCCESS;
    /* Loaded now, as root: the user may not be able to enter the
     * directory the module lives in (a build tree below /root).  A failure
     * is only logged: the keys are still unlinked below. */
    if (fhirauth_load_network(h) != FHIRAUTH_OK)
        pamfa_log(a, LOG_WARNING, "logout: %s", fhirauth_detail(h));
    pamret = pamfa_become_user(a, uid, gid, &saved);
    if (pamret != PAM_SUCCESS)
        return PAM_SUCCESS;
    rc = fhirauth_logout(h, &revoked);
    pamfa_restore_ids(a, &saved);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        pamfa_debug(a, "no session to revoke");
    else if (rc != FHIRAUTH_OK)
        pamfa_log(a, LOG_WARNING, "logout: %s: %s", fhirauth_strerror(rc),
                  fhirauth_detail(h));
    else if (!revoked)
        pamfa_log(a, LOG_WARNING,
                  "keys unlinked, but the refresh token "
                  "was not revoked: %s",
                  fhirauth_detail(h));
    else
        pamfa_log(a, LOG_INFO, "refresh token revoked, keys unlinked");
    return PAM_SUCCESS;
}
