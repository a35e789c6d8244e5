/* testprofile.h - a throw-away profile for the unit tests that need a
 * library handle on the user keyring but no server (save-t, dpop-nonce-t,
 * curl-prepare-t).
 *
 * The profile is named PREFIX followed by the process id, so that runs side
 * by side never share keys; its issuer is a port nobody listens on. */
#ifndef TESTS_UNIT_TESTPROFILE_H
#define TESTS_UNIT_TESTPROFILE_H

#include <stddef.h>

#include "fhirauth.h"

/* Write a configuration holding the profile (keyring = user, plus EXTRA:
 * more "key = value" lines, or NULL), open *H on it and, when OTHER is not
 * NULL, a second handle *OTHER as another process would; the file is gone
 * when this returns.  The profile's name goes into NAME (SIZE bytes).
 * Bails out of the test on any failure.  The caller closes the handles. */
void testprofile_open(const char *prefix, const char *extra, char *name,
                      size_t size, fhirauth **h, fhirauth **other);

#endif
