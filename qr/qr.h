/* qr.h - a QR code drawn as text (qrdraw.c), for the device flow's URI:
 * shared by pam_fhir.so (pam_fhir/qr.c) and fhir-token (helper/qr.c),
 * built as the convenience library qr/libfaqr.la and installed nowhere. */
#ifndef FHIRAUTH_QR_H
#define FHIRAUTH_QR_H

#include <stddef.h>

/* How a QR code is drawn: UTF-8 half blocks (two rows of modules per
 * line), or "##" per module for terminals whose character set has no
 * block characters. */
enum qr_style { QR_STYLE_UTF8, QR_STYLE_ASCII };

/* Draw text as a QR code into buf (lines each ending in a
 * newline, NUL-terminated).  Returns the length, or -1 (buf empty) when
 * libqrencode 4 cannot be loaded, the text cannot be encoded, or the
 * drawing does not fit into size bytes.  No environment, no terminal: the
 * PAM module uses it too. */
long qr_render(char *buf, size_t size, const char *text, enum qr_style style);

#endif
