/*
 * logging.c - every message of the module goes through pam_syslog with a
 * "(user NAME)" prefix once the user is known (to the module, or already
 * to PAM as PAM_USER); LOG_DEBUG only with the debug argument (or debug =
 * yes in the configuration).  Callers never pass a password, code or
 * token: the library's details carry none.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "internal.h"

static void pamfa_vlog(const struct pamfa *a, int prio, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

static void
pamfa_vlog(const struct pamfa *a, int prio, const char *fmt, va_list ap)
{
    char msg[1024];
    const void *item = NULL;
    const char *user = a->user;
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);

    if (n < 0)
        return;
    /* Before pamfa_get_user() (the entry lines), the user the
     * application already gave PAM, if any: never a prompt here. */
    if (user == NULL && pam_get_item(a->pamh, PAM_USER, &item) == PAM_SUCCESS
        && item != NULL && *(const char *) item != '\0')
        user = item;
    if (user != NULL)
        pam_syslog(a->pamh, prio, "(user %s) %s", user, msg);
    else
        pam_syslog(a->pamh, prio, "%s", msg);
}

void
pamfa_log(const struct pamfa *a, int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pamfa_vlog(a, prio, fmt, ap);
    va_end(ap);
}

void
pamfa_debug(const struct pamfa *a, const char *fmt, ...)
{
    va_list ap;

    if (!a->debug)
        return;
    va_start(ap, fmt);
    pamfa_vlog(a, LOG_DEBUG, fmt, ap);
    va_end(ap);
}
