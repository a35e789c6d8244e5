/* fuzz_access.c - the access token key's payload, "EXPIRY TOKEN"
 * (fa_access_decode, lib/keystore.c). */
#include "autoconf.h"

#include <time.h>

#include "fuzz.h"
#include "keystore.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *token;
    time_t expiry;
    char *s = fuzz_cstr(data, size);

    if (s == NULL)
        return 0;
    if (fa_access_decode(s, &expiry, &token) == 0 && strlen(token) > size)
        abort(); /* the token must point into the payload */
    free(s);
    return 0;
}
