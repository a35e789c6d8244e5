/* errors-t.c - every error code has its own message. */
#include "autoconf.h"

#include <string.h>

#include "fhirauth.h"
#include "tests/tap/basic.h"

int
main(void)
{
    int rc, other;
    const char *msg;

    plan(2 * (FHIRAUTH_ERR_INTERNAL + 1) + 1);
    for (rc = FHIRAUTH_OK; rc <= FHIRAUTH_ERR_INTERNAL; rc++) {
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
    return test_status();
}
