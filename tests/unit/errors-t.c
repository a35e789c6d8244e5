/* errors-t.c - every error code has its own message; fhirauth_version()
 * is the package's version. */
#include "autoconf.h"

#include <string.h>

#include "fhirauth.h"
#include "tests/tap/basic.h"

int
main(void)
{
    int rc, other;
    const char *msg;

    /* FHIRAUTH_ERR_DPOP_BOUND is the last code. */
    plan(2 * (FHIRAUTH_ERR_DPOP_BOUND + 1) + 3);
    for (rc = FHIRAUTH_OK; rc <= FHIRAUTH_ERR_DPOP_BOUND; rc++) {
        msg = fhirauth_strerror((fhirauth_rc) rc);
        ok(msg != NULL && strcmp(msg, "unknown error") != 0,
           "code %d has a message: %s", rc, msg ? msg : "(null)");
        for (other = FHIRAUTH_OK; other < rc; other++)
            if (strcmp(msg, fhirauth_strerror((fhirauth_rc) other)) == 0)
                break;
        ok(other == rc, "code %d's message is its own", rc);
    }
    is_string("unknown error", fhirauth_strerror((fhirauth_rc) 999),
              "an unknown code still gets a message");
    is_string(PACKAGE_VERSION, fhirauth_version(),
              "fhirauth_version() is the package version");
    ok(fhirauth_version() == fhirauth_version(),
       "... a static string, the same each time");
    return test_status();
}
