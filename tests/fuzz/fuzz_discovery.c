/* fuzz_discovery.c - a discovery document, OIDC, RFC 8414 or SMART
 * (fa_parse_discovery, lib/net/oauth_json.c).  The first byte: bit 0, a
 * confidential client; bit 1, an expected issuer ("https://as.example.test"). */
#include "autoconf.h"

#include "fuzz.h"
#include "oauth.h"
#include "net/oauth_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_endpoints ep;
    struct fa_err ectx;
    char *body;

    if (size == 0)
        return 0;
    body = fuzz_body(data + 1, size - 1);
    if (body == NULL)
        return 0;
    memset(&ep, 0, sizeof(ep));
    if (fa_parse_discovery(body, size - 1,
                           (data[0] & 2) ? "https://as.example.test" : NULL,
                           data[0] & 1, &ep, &ectx)
        == FHIRAUTH_OK)
        fa_endpoints_free(&ep);
    free(body);
    return 0;
}
