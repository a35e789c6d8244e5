/*
 * logging.c - every message of the module goes through pam_syslog with a
 * "(user NAME)" prefix once the user is known; LOG_DEBUG only with the
 * debug argument (or debug = yes in the configuration).  Callers never
 * pass a password, code or token: the library's details carry none.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "internal.h"

static void
pamfa_vlog(const struct pamfa *a, int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
pamfa_vlog(const struct pamfa *a, int prio, const char *fmt, va_list ap)
{
    char msg[1024];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);

    if (n < 0)
        return;
    if (a->user != NULL)
        pam_syslog(a->pamh, prio, "(user %s) %s", a->user, msg);
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
