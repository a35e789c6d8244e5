/* qr.h - a QR code of the device flow's URI on the terminal. */
#ifndef FHIR_TOKEN_QR_H
#define FHIR_TOKEN_QR_H

#include <stddef.h>
#include <stdio.h>

/* Should a QR code be shown?  qr is the profile's "qr" value (auto, on,
 * off); auto means only on a terminal of this machine, never over ssh. */
int qr_wanted(const char *qr, FILE *out);

/* Print text as a QR code; -1 (nothing printed) when libqrencode is not
 * installed or the text does not fit. */
int qr_print(FILE *out, const char *text);

/* How a QR code is drawn: UTF-8 half blocks (two rows of modules per
 * line), or "##" per module for terminals whose character set has no
 * block characters. */
enum qr_style { QR_STYLE_UTF8, QR_STYLE_ASCII };

/* qrdraw.c: draw text as a QR code into buf (lines each ending in a
 * newline, NUL-terminated).  Returns the length, or -1 (buf empty) when
 * libqrencode 4 cannot be loaded, the text cannot be encoded, or the
 * drawing does not fit into size bytes.  No environment, no terminal: the
 * PAM module uses it too. */
long qr_render(char *buf, size_t size, const char *text, enum qr_style style);

#endif
