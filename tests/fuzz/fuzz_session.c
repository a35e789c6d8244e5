/* fuzz_session.c - the session metadata key's payload (fa_meta_decode,
 * lib/session.c); what decodes is encoded again. */
#include "autoconf.h"

#include "fuzz.h"
#include "session.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_meta m;
    struct fa_err ectx;
    char *json = fuzz_body(data, size), *again = NULL;

    if (json == NULL)
        return 0;
    memset(&m, 0, sizeof(m));
    if (fa_meta_decode(json, size, &m, &ectx) == FHIRAUTH_OK) {
        if (fa_meta_encode(&m, &again) == FHIRAUTH_OK)
            free(again);
        fa_meta_free(&m);
    }
    free(json);
    return 0;
}
