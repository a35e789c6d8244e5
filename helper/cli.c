/* cli.c - what every fhir-token command shares: exit statuses, messages
 * and usage. */
#include "autoconf.h"

#include <stdio.h>

#include "cli.h"

const char *progname = "fhir-token";

int
exit_status(fhirauth_rc rc)
{
    switch (rc) {
    case FHIRAUTH_OK:
        return EXIT_OK;
    case FHIRAUTH_ERR_INVALID_ARGUMENT:
    case FHIRAUTH_ERR_CONFIG:
    case FHIRAUTH_ERR_UNSUPPORTED:
    case FHIRAUTH_ERR_DPOP_BOUND: /* the format cannot carry a proof */
        return EXIT_USAGE;
    case FHIRAUTH_ERR_LOGIN_NEEDED:
    case FHIRAUTH_ERR_DENIED:
    case FHIRAUTH_ERR_CANCELLED: /* still no (new) session */
        return EXIT_LOGIN;
    case FHIRAUTH_ERR_UNREACHABLE:
    case FHIRAUTH_ERR_TLS:
    case FHIRAUTH_ERR_PROTOCOL:
    case FHIRAUTH_ERR_MODULE:
    case FHIRAUTH_ERR_NOMEM:
    case FHIRAUTH_ERR_INTERNAL:
        return EXIT_SERVER;
    case FHIRAUTH_ERR_KEYRING:
    case FHIRAUTH_ERR_QUOTA:
    case FHIRAUTH_ERR_LOCK:
        return EXIT_KEYRING;
    }
    return EXIT_SERVER;
}

/* "fhir-token: <what>: <detail>" on stderr; returns the exit status. */
int
fail(fhirauth *h, fhirauth_rc rc, const char *what)
{
    const char *detail = h != NULL ? fhirauth_detail(h) : "";

    if (detail[0] != '\0')
        fprintf(stderr, "%s: %s: %s\n", progname, what, detail);
    else
        fprintf(stderr, "%s: %s: %s\n", progname, what, fhirauth_strerror(rc));
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        fprintf(stderr, "%s: log in with 'fhir-token login'\n", progname);
    return exit_status(rc);
}

void
warn_detail(fhirauth *h)
{
    if (fhirauth_detail(h)[0] != '\0')
        fprintf(stderr, "%s: %s\n", progname, fhirauth_detail(h));
}

void
usage(FILE *out)
{
    fprintf(out,
            "usage: %s [--config FILE] [--profile NAME] [COMMAND] "
            "[OPTIONS]\n"
            "commands:\n"
            "  token [--min-valid S] [--format F]  print a valid access "
            "token (default)\n"
            "      formats: token header curl env json exec-credential\n"
            "  exec [--min-valid S] [--] CMD [ARGS...]\n"
            "                                run CMD with the token in its "
            "environment\n"
            "  login [--device | --browser [--no-browser] |\n"
            "         --password [--username USER] [--password-stdin]]\n"
            "  status [--json]               show the session, never a "
            "token\n"
            "  logout                        revoke and remove the "
            "session\n"
            "  client-jwks                   print the client's public key "
            "(private_key_jwt)\n",
            progname);
}

/* "fhir-token: what[: arg]" and the usage on stderr. */
int
usage_error(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "%s: %s: %s\n", progname, what, arg);
    else
        fprintf(stderr, "%s: %s\n", progname, what);
    usage(stderr);
    return EXIT_USAGE;
}
