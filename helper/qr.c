/* qr.c - a QR code of the device flow's URI on the terminal.
 *
 * The drawing is in qrdraw.c (shared with pam_fhir.so), which loads
 * libqrencode with dlopen() only when a code is shown. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "qr.h"

int
qr_wanted(const char *qr, FILE *out)
{
    const char *ssh = getenv("SSH_CONNECTION");

    if (qr != NULL && strcasecmp(qr, "on") == 0)
        return 1;
    if (qr != NULL && strcasecmp(qr, "off") == 0)
        return 0;
    return isatty(fileno(out)) && (ssh == NULL || ssh[0] == '\0');
}

/* A version 40 code is 181 lines of 181 characters of up to 3 bytes. */
#define QR_TEXT_MAX (181 * (181 * 3 + 1) / 2 + 1024)

int
qr_print(FILE *out, const char *text)
{
    char *buf = malloc(QR_TEXT_MAX);
    int ret = -1;

    if (buf == NULL)
        return -1;
    if (qr_render(buf, QR_TEXT_MAX, text) >= 0) {
        fputs(buf, out);
        ret = 0;
    }
    free(buf);
    return ret;
}
