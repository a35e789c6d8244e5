/* qrdraw.c - draw a QR code as text into a caller's buffer.
 *
 * Shared by fhir-token (helper/qr.c prints it on the terminal) and
 * pam_fhir.so (pam_fhir/qr.c puts it into the device prompt's
 * conversation): libc and libdl only, no libfhirauth, no environment.
 * libqrencode is loaded with dlopen() only when a code is drawn: linking
 * it would add to the start-up of every cached-token call and make the
 * PAM module heavier for every host. */
#include "autoconf.h"

#include <dlfcn.h>
#include <string.h>

#include "qr.h"

/* The parts of libqrencode 4's ABI used here (qrencode.h). */
struct qrcode {
    /* cppcheck-suppress unusedStructMember ; libqrencode's layout, not ours */
    int version;
    int width;
    unsigned char *data; /* width * width modules; bit 0 set = dark */
};
enum { QR_ECLEVEL_L = 0, QR_MODE_8 = 2 };
typedef struct qrcode *(*encode_fn)(const char *, int, int, int, int);
typedef void (*free_fn)(struct qrcode *);

#define QUIET 2 /* light modules around the code, so scanners find it */

static int
dark(const struct qrcode *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->width)
        return 0;
    return c->data[y * c->width + x] & 1;
}

/* Append s to buf at *len; false when it does not fit (with the NUL). */
static int
put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n >= size)
        return 0;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return 1;
}

long
qr_render(char *buf, size_t size, const char *text, enum qr_style style)
{
    void *dl;
    encode_fn encode;
    free_fn release;
    struct qrcode *c;
    size_t len = 0;
    int x, y, top, bottom, ok = 1;

    if (buf == NULL || size == 0 || text == NULL)
        return -1;
    buf[0] = '\0';
    dl = dlopen("libqrencode.so.4", RTLD_NOW | RTLD_LOCAL);
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
    /* Light modules are drawn, as terminals are mostly light on dark.
     * UTF-8: two rows of modules per line of text with half blocks.
     * ASCII: one row per line, two characters per module (a character
     * cell is about twice as high as it is wide). */
    for (y = -QUIET; ok && y < c->width + QUIET;
         y += style == QR_STYLE_UTF8 ? 2 : 1) {
        for (x = -QUIET; ok && x < c->width + QUIET; x++) {
            top = dark(c, x, y);
            bottom = dark(c, x, y + 1);
            if (style == QR_STYLE_ASCII)
                ok = put(buf, size, &len, top ? "  " : "##");
            else if (!top && !bottom)
                ok = put(buf, size, &len, "\u2588");
            else if (!top)
                ok = put(buf, size, &len, "\u2580");
            else if (!bottom)
                ok = put(buf, size, &len, "\u2584");
            else
                ok = put(buf, size, &len, " ");
        }
        if (ok)
            ok = put(buf, size, &len, "\n");
    }
    release(c);
    dlclose(dl);
    if (!ok) {
        explicit_bzero(buf, size);
        buf[0] = '\0';
        return -1;
    }
    return (long) len;
}
