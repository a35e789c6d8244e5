/* fuzz_device_response.c - the device authorization endpoint's answer
 * (fa_parse_device_response, lib/net/oauth_json.c).  The first byte picks the
 * HTTP status; the rest is the body. */
#include "autoconf.h"

#include "fuzz.h"
#include "net.h"
#include "oauth.h"
#include "net/oauth_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 400, 429, 500, 201, 302, 403, 0 };
    struct fa_device_auth d;
    struct fa_err ectx;
    char oerr[64];
    char *body;

    if (size == 0)
        return 0;
    body = fuzz_body(data + 1, size - 1);
    if (body == NULL)
        return 0;
    memset(&d, 0, sizeof(d));
    if (fa_parse_device_response(statuses[data[0] % 8], body, size - 1, &d,
                                 oerr, sizeof(oerr), &ectx)
        == FHIRAUTH_OK)
        fa_device_auth_free(&d);
    free(body);
    return 0;
}
