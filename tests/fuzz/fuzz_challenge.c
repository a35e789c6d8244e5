/* fuzz_challenge.c - a WWW-Authenticate header value
 * (fhirauth_bearer_challenge_retry, lib/challenge.c). */
#include "autoconf.h"

#include "fhirauth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);

    if (s == NULL)
        return 0;
    (void) fhirauth_bearer_challenge_retry(s);
    free(s);
    return 0;
}
