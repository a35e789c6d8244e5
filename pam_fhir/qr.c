/*
 * qr.c - the QR code of the device flow's verification URI for the
 * device prompt (qr=on|auto|off: pam_fhir.conf(5), pam_fhir(8)).
 *
 * auto: only when PAM_TTY names a terminal of this machine and there is
 * no PAM_RHOST: never over ssh (sshd sets PAM_TTY to "ssh" and PAM_RHOST
 * to the peer), never for a graphical greeter (PAM_TTY ":0").  The module
 * never looks at the environment or its own file descriptors: the host's
 * terminal is not the module's.  The drawing itself is qr/qrdraw.c,
 * shared with fhir-token; libqrencode is dlopen()ed there.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <security/pam_modules.h>

#include "internal.h"
#include "qr.h"

/* Bigger codes (long URIs) are left out: the prompt stays readable and
 * within PAM_MAX_NUM_MSG messages of PAM_MAX_MSG_SIZE bytes. */
#define QR_MAX_TEXT 12288
#define QR_MAX_LINE (PAM_MAX_MSG_SIZE - 1)

static bool
local_tty(const struct pamfa *a)
{
    const void *tty = NULL, *rhost = NULL;
    const char *t;

    if (pam_get_item(a->pamh, PAM_RHOST, &rhost) == PAM_SUCCESS
        && rhost != NULL && ((const char *) rhost)[0] != '\0')
        return false;
    if (pam_get_item(a->pamh, PAM_TTY, &tty) != PAM_SUCCESS || tty == NULL)
        return false;
    t = tty;
    if (strcmp(t, "ssh") == 0 || strchr(t, ':') != NULL)
        return false;
    /* login(1) and agetty: "/dev/tty1" or "tty1"; terminal emulators'
     * hosts: "/dev/pts/3" or "pts/3". */
    if (strncmp(t, "/dev/", 5) == 0)
        t += 5;
    return strncmp(t, "tty", 3) == 0 || strncmp(t, "pts/", 4) == 0
        || strncmp(t, "console", 7) == 0;
}

char *
pamfa_qr(const struct pamfa *a, const char *uri)
{
    const char *qr = pamfa_option(a, "qr");
    const char *p;
    char *buf;
    long n;

    if (uri == NULL || uri[0] == '\0')
        return NULL;
    if (qr != NULL && strcasecmp(qr, "off") == 0)
        return NULL;
    if ((qr == NULL || strcasecmp(qr, "on") != 0) && !local_tty(a)) {
        pamfa_debug(a, "qr=auto: not a local terminal, no QR code");
        return NULL;
    }
    buf = malloc(QR_MAX_TEXT);
    if (buf == NULL)
        return NULL;
    n = qr_render(buf, QR_MAX_TEXT, uri, QR_STYLE_UTF8);
    if (n < 0) {
        pamfa_debug(a,
                    "no QR code (libqrencode.so.4 missing or the URI "
                    "too long)");
        free(buf);
        return NULL;
    }
    for (p = buf; *p != '\0';) {
        size_t len = strcspn(p, "\n");

        if (len > QR_MAX_LINE) {
            free(buf);
            return NULL;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return buf;
}
