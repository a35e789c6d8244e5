/* fuzz_jwks.c - a JWKS document on its own (fa_jwt_jwks_check,
 * lib/net/jwt.c): what the cache accepts before any token is checked. */
#include "autoconf.h"

#include "fuzz.h"
#include "net/jwt.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_err ectx;
    char *body = fuzz_body(data, size);

    if (body == NULL)
        return 0;
    (void) fa_jwt_jwks_check(body, size, &ectx);
    free(body);
    return 0;
}
