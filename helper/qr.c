/* qr.c - a QR code of the device flow's URI on the terminal.
 *
 * The drawing is in qr/qrdraw.c (shared with pam_fhir.so), which loads
 * libqrencode with dlopen() only when a code is shown. */
#include "autoconf.h"

#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
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

/* A version 40 code is 177 modules a side, 181 with the quiet zone: in
 * ASCII, 181 lines of 2 * 181 characters, more than the UTF-8 drawing's
 * 91 lines of 181 characters of up to 3 bytes. */
#define QR_TEXT_MAX (181 * (181 * 2 + 1) + 1024)

/* Block characters only where the user's locale (LC_ALL, LC_CTYPE, LANG)
 * says the terminal takes UTF-8; the program's own locale stays "C". */
static enum qr_style
terminal_style(void)
{
    enum qr_style style = QR_STYLE_ASCII;
    locale_t loc = newlocale(LC_CTYPE_MASK, "", (locale_t) 0);

    if (loc != (locale_t) 0) {
        if (strcmp(nl_langinfo_l(CODESET, loc), "UTF-8") == 0)
            style = QR_STYLE_UTF8;
        freelocale(loc);
    }
    return style;
}

int
qr_print(FILE *out, const char *text)
{
    char *buf = malloc(QR_TEXT_MAX);
    int ret = -1;

    if (buf == NULL)
        return -1;
    if (qr_render(buf, QR_TEXT_MAX, text, terminal_style()) >= 0) {
        fputs(buf, out);
        ret = 0;
    }
    free(buf);
    return ret;
}
