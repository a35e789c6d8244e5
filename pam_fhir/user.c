/*
 * user.c - the PAM user's uid and gid, and the switch of real and
 * effective ids to that user around library calls that touch the user's
 * keyrings (the kernel resolves the user and persistent keyrings from the
 * real uid and gives new keys the fsuid), as pam_keyinit does.  The saved
 * set-user-ID stays root so the switch back always works; callers switch
 * back on every path.  The supplementary groups become the user's own
 * (getgrouplist, as a login's initgroups): acting as the user must not
 * keep the host's groups (often root's), which would open files and lock
 * directories the user cannot, and must open what the user's own
 * processes can (a client credential file given to a group of users).
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "internal.h"

int
pamfa_lookup_user(const struct pamfa *a, uid_t *ret_uid, gid_t *ret_gid)
{
    struct passwd pw, *res = NULL;
    char *buf;
    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    int e;

    if (sz < 1024)
        sz = 16384;
    buf = malloc((size_t) sz);
    if (buf == NULL) {
        pamfa_log(a, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    e = getpwnam_r(a->user, &pw, buf, (size_t) sz, &res);
    if (e != 0 || res == NULL) {
        free(buf);
        if (e != 0)
            pamfa_log(a, LOG_ERR, "cannot look up the user: %s", strerror(e));
        else
            pamfa_log(a, LOG_NOTICE, "no such local user");
        return PAM_USER_UNKNOWN;
    }
    *ret_uid = pw.pw_uid;
    *ret_gid = pw.pw_gid;
    free(buf);
    return PAM_SUCCESS;
}

/* Save the caller's supplementary groups so restore can put them back. */
static int
save_groups(const struct pamfa *a, struct pamfa_ids *saved)
{
    int n = getgroups(0, NULL);

    if (n < 0) {
        pamfa_log(a, LOG_ERR, "cannot read the process groups: %s",
                  strerror(errno));
        return PAM_SYSTEM_ERR;
    }
    if (n == 0)
        return PAM_SUCCESS;
    saved->groups = calloc((size_t) n, sizeof(gid_t));
    if (saved->groups == NULL) {
        pamfa_log(a, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    n = getgroups(n, saved->groups);
    if (n < 0) {
        pamfa_log(a, LOG_ERR, "cannot read the process groups: %s",
                  strerror(errno));
        free(saved->groups);
        saved->groups = NULL;
        return PAM_SYSTEM_ERR;
    }
    saved->ngroups = n;
    return PAM_SUCCESS;
}

static void
forget_groups(struct pamfa_ids *saved)
{
    free(saved->groups);
    saved->groups = NULL;
    saved->ngroups = 0;
}

/* Back to the saved groups and gids; needs euid 0.  Logs what fails. */
static int
restore_groups(const struct pamfa *a, struct pamfa_ids *saved)
{
    int ret = PAM_SUCCESS;

    if (setgroups((size_t) saved->ngroups, saved->groups) != 0) {
        pamfa_log(a, LOG_CRIT, "cannot restore the process groups: %s",
                  strerror(errno));
        ret = PAM_SYSTEM_ERR;
    }
    if (setresgid(saved->rgid, saved->egid, saved->sgid) != 0) {
        pamfa_log(a, LOG_CRIT, "cannot switch the group back: %s",
                  strerror(errno));
        ret = PAM_SYSTEM_ERR;
    }
    forget_groups(saved);
    return ret;
}

/* The PAM user's groups: the primary one and those the group database
 * lists the user in (getgrouplist), in a new array.  When the database
 * cannot say, the primary group alone, with a warning: a group service
 * that is down must not fail the login step that needs no group (only a
 * credential file given to a group of users then fails to open). */
static int
user_groups(const struct pamfa *a, gid_t gid, gid_t **ret, int *ret_n)
{
    gid_t *g;
    int n = 16, tries;

    for (tries = 0; tries < 8; tries++) {
        int want = n;

        g = calloc((size_t) n, sizeof(gid_t));
        if (g == NULL) {
            pamfa_log(a, LOG_CRIT, "out of memory");
            return PAM_BUF_ERR;
        }
        if (getgrouplist(a->user, gid, g, &want) >= 0) {
            *ret = g;
            *ret_n = want;
            return PAM_SUCCESS;
        }
        free(g);
        if (want <= n || want > 65536)
            break;
        n = want;
    }
    pamfa_log(a, LOG_WARNING,
              "cannot list the user's groups: acting with the primary "
              "group only");
    g = calloc(1, sizeof(gid_t));
    if (g == NULL) {
        pamfa_log(a, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    g[0] = gid;
    *ret = g;
    *ret_n = 1;
    return PAM_SUCCESS;
}

int
pamfa_become_user(const struct pamfa *a, uid_t uid, gid_t gid,
                  struct pamfa_ids *saved)
{
    gid_t *groups = NULL;
    int ret, ngroups = 0;

    memset(saved, 0, sizeof(*saved));
    if (getresuid(&saved->ruid, &saved->euid, &saved->suid) != 0
        || getresgid(&saved->rgid, &saved->egid, &saved->sgid) != 0) {
        pamfa_log(a, LOG_ERR, "cannot read the process ids: %s",
                  strerror(errno));
        return PAM_SYSTEM_ERR;
    }
    if (saved->ruid == uid && saved->euid == uid)
        return PAM_SUCCESS; /* already the user (a screen locker) */
    if (saved->euid != 0) {
        pamfa_log(a, LOG_ERR, "not root: cannot act as the user");
        return PAM_PERM_DENIED;
    }
    ret = save_groups(a, saved);
    if (ret != PAM_SUCCESS)
        return ret;
    /* Groups first, while still root; keep root as the saved ids.  The
     * user's own groups (what their login gets from initgroups), never
     * the host's: a client_secret_file or client_key_file given to a
     * group of the users (SECURITY.md) must open here as in the user's
     * own refreshes, or revoke_on_close and the revocation of a replaced
     * session fail. */
    ret = user_groups(a, gid, &groups, &ngroups);
    if (ret != PAM_SUCCESS) {
        forget_groups(saved);
        return ret;
    }
    if (setgroups((size_t) ngroups, groups) != 0) {
        pamfa_log(a, LOG_ERR, "cannot set the user's groups: %s",
                  strerror(errno));
        free(groups);
        forget_groups(saved);
        return PAM_SYSTEM_ERR;
    }
    free(groups);
    if (setresgid(gid, gid, (gid_t) -1) != 0) {
        pamfa_log(a, LOG_ERR, "cannot switch to the user's group: %s",
                  strerror(errno));
        (void) restore_groups(a, saved);
        return PAM_SYSTEM_ERR;
    }
    if (setresuid(uid, uid, 0) != 0) {
        int e = errno;

        (void) restore_groups(a, saved);
        pamfa_log(a, LOG_ERR, "cannot switch to the user: %s", strerror(e));
        return PAM_SYSTEM_ERR;
    }
    saved->switched = true;
    pamfa_debug(a, "switched to uid %lu gid %lu", (unsigned long) uid,
                (unsigned long) gid);
    return PAM_SUCCESS;
}

int
pamfa_restore_ids(const struct pamfa *a, struct pamfa_ids *saved)
{
    int ret = PAM_SUCCESS;

    if (!saved->switched)
        return PAM_SUCCESS;
    if (setresuid(saved->ruid, saved->euid, saved->suid) != 0) {
        pamfa_log(a, LOG_CRIT, "cannot switch the user back: %s",
                  strerror(errno));
        ret = PAM_SYSTEM_ERR;
    }
    if (restore_groups(a, saved) != PAM_SUCCESS)
        ret = PAM_SYSTEM_ERR;
    saved->switched = false;
    return ret;
}
