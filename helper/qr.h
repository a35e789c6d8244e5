/* qr.h - a QR code of the device flow's URI on the terminal. */
#ifndef FHIR_TOKEN_QR_H
#define FHIR_TOKEN_QR_H

#include <stdio.h>

/* Should a QR code be shown?  qr is the profile's "qr" value (auto, on,
 * off); auto means only on a terminal of this machine, never over ssh. */
int qr_wanted(const char *qr, FILE *out);

/* Print text as a QR code; -1 (nothing printed) when libqrencode is not
 * installed or the text does not fit. */
int qr_print(FILE *out, const char *text);

#endif
