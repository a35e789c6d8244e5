/* cli.h - shared by the fhir-token commands (helper/). */
#ifndef FHIR_TOKEN_CLI_H
#define FHIR_TOKEN_CLI_H

#include <stdio.h>

#include "fhirauth.h"

/* Exit statuses: fhir-token(1), EXIT STATUS. */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_LOGIN = 2,
    EXIT_SERVER = 3,
    EXIT_KEYRING = 4
};

extern const char *progname;

/* The exit status for a library result. */
int exit_status(fhirauth_rc rc);
/* "fhir-token: <what>: <detail>" on stderr; returns the exit status. */
int fail(fhirauth *h, fhirauth_rc rc, const char *what);
/* The handle's warning after a successful call, if any, on stderr. */
void warn_detail(fhirauth *h);
void usage(FILE *out);
/* "fhir-token: what[: arg]" and the usage on stderr; returns EXIT_USAGE. */
int usage_error(const char *what, const char *arg);

/* The commands: argv[0] is the command's name, options follow. */
int cmd_login(fhirauth *h, int argc, char **argv);

/* qr.c: should a QR code be shown?  qr is the profile's "qr" value (auto,
 * on, off); auto means only on a terminal of this machine, never over
 * ssh. */
int qr_wanted(const char *qr, FILE *out);

/* qr.c: print text as a QR code (qr/qr.h draws it); -1 (nothing printed)
 * when libqrencode is not installed or the text does not fit. */
int qr_print(FILE *out, const char *text);

#endif
