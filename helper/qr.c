/* qr.c - a QR code of the device flow's URI on the terminal.
 *
 * libqrencode is loaded with dlopen() only when a code is shown: linking
 * it would add to the start-up of every cached-token call. */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "qr.h"

/* The parts of libqrencode 4's ABI used here (qrencode.h). */
struct qrcode {
    int version;
    int width;
    unsigned char *data;   /* width * width modules; bit 0 set = dark */
};
enum { QR_ECLEVEL_L = 0, QR_MODE_8 = 2 };
typedef struct qrcode *(*encode_fn)(const char *, int, int, int, int);
typedef void (*free_fn)(struct qrcode *);

#define QUIET 2   /* light modules around the code, so scanners find it */

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

static int
dark(const struct qrcode *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->width)
        return 0;
    return c->data[y * c->width + x] & 1;
}

int
qr_print(FILE *out, const char *text)
{
    void *dl = dlopen("libqrencode.so.4", RTLD_NOW | RTLD_LOCAL);
    encode_fn encode;
    free_fn release;
    struct qrcode *c;
    int x, y, top, bottom;

    if (dl == NULL)
        return -1;
    encode = (encode_fn) dlsym(dl, "QRcode_encodeString");
    release = (free_fn) dlsym(dl, "QRcode_free");
    if (encode == NULL || release == NULL) {
        dlclose(dl);
        return -1;
    }
    c = encode(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (c == NULL) {
        dlclose(dl);
        return -1;
    }
    /* Two rows of modules per line of text with half blocks; light
     * modules are drawn, as terminals are mostly light on dark. */
    for (y = -QUIET; y < c->width + QUIET; y += 2) {
        for (x = -QUIET; x < c->width + QUIET; x++) {
            top = dark(c, x, y);
            bottom = dark(c, x, y + 1);
            if (!top && !bottom)
                fputs("\u2588", out);
            else if (!top)
                fputs("\u2580", out);
            else if (!bottom)
                fputs("\u2584", out);
            else
                fputc(' ', out);
        }
        fputc('\n', out);
    }
    release(c);
    dlclose(dl);
    return 0;
}
