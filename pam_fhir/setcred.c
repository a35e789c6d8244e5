/*
 * setcred.c - pam_sm_setcred.
 *
 * sshd calls setcred(PAM_ESTABLISH_CRED) before open_session and treats a
 * failure as fatal: ESTABLISH is a harmless success (open_session stores
 * the tokens).  REINITIALIZE and REFRESH (a screen unlock after a new
 * authentication) store a freshly stashed session, renewing the keys as
 * pam_krb5 renews tickets; nothing stashed is a success.  DELETE is a
 * success that leaves the keys: the persistent and user anchors are shared
 * by the user's other sessions (revoke_on_close in close_session, or
 * "fhir-token logout", ends the session at the server).
 */
#include "autoconf.h"

#include <syslog.h>

#include "internal.h"

int
pamfa_setcred(struct pamfa *a)
{
    int op = a->flags & ~PAM_SILENT;
    int pamret;

    if (op & PAM_ESTABLISH_CRED)
        return PAM_SUCCESS;
    if (op & PAM_DELETE_CRED) {
        pamfa_debug(a, "delete: keys left in place");
        return PAM_SUCCESS;
    }
    if (op & (PAM_REINITIALIZE_CRED | PAM_REFRESH_CRED)) {
        pamret = pamfa_get_user(a);
        if (pamret != PAM_SUCCESS)
            return PAM_CRED_ERR;
        pamret = pamfa_store_stashed(a, PAM_CRED_ERR);
        return pamret == PAM_IGNORE ? PAM_SUCCESS : pamret;
    }
    return PAM_SUCCESS;
}
