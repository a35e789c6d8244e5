/* fuzz_token_response.c - the token endpoint's answer
 * (fa_parse_token_response, lib/net/oauth_json.c).  The first byte picks the
 * HTTP status; the rest is the body, as received (not NUL-terminated). */
#include "autoconf.h"

#include "fuzz.h"
#include "oauth.h"
#include "net/oauth_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 400, 401, 500, 503, 302, 201, 0 };
    struct fa_token_response r;
    struct fa_err ectx;
    char oerr[64];
    char *body;

    if (size == 0)
        return 0;
    body = fuzz_body(data + 1, size - 1);
    if (body == NULL)
        return 0;
    memset(&r, 0, sizeof(r));
    if (fa_parse_token_response(statuses[data[0] % 8], body, size - 1, &r,
                                oerr, sizeof(oerr), &ectx)
        == FHIRAUTH_OK)
        fa_token_response_free(&r);
    free(body);
    return 0;
}
