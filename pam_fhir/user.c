/*
 * user.c - the PAM user's uid and gid, and the switch of real and
 * effective ids to that user around library calls that touch the user's
 * keyrings (the kernel resolves the user and persistent keyrings from the
 * real uid and gives new keys the fsuid), as pam_keyinit does.  The saved
 * set-user-ID stays root so the switch back always works; callers switch
 * back on every path.
 */
#include "autoconf.h"

#include <errno.h>
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
            pamfa_log(a, LOG_ERR, "cannot look up the user: %s",
                      strerror(e));
        else
            pamfa_log(a, LOG_NOTICE, "no such local user");
        return PAM_USER_UNKNOWN;
    }
    *ret_uid = pw.pw_uid;
    *ret_gid = pw.pw_gid;
    free(buf);
    return PAM_SUCCESS;
}

int
pamfa_become_user(const struct pamfa *a, uid_t uid, gid_t gid,
                  struct pamfa_ids *saved)
{
    memset(saved, 0, sizeof(*saved));
    if (getresuid(&saved->ruid, &saved->euid, &saved->suid) != 0 ||
        getresgid(&saved->rgid, &saved->egid, &saved->sgid) != 0) {
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
    /* Groups first, while still root; keep root as the saved ids. */
    if (setresgid(gid, gid, (gid_t) -1) != 0) {
        pamfa_log(a, LOG_ERR, "cannot switch to the user's group: %s",
                  strerror(errno));
        return PAM_SYSTEM_ERR;
    }
    if (setresuid(uid, uid, 0) != 0) {
        int e = errno;

        if (setresgid(saved->rgid, saved->egid, saved->sgid) != 0) {
            pamfa_log(a, LOG_CRIT, "cannot switch the group back: %s",
                      strerror(errno));
        }
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
    if (setresgid(saved->rgid, saved->egid, saved->sgid) != 0) {
        pamfa_log(a, LOG_CRIT, "cannot switch the group back: %s",
                  strerror(errno));
        ret = PAM_SYSTEM_ERR;
    }
    saved->switched = false;
    return ret;
}
