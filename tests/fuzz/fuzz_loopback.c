/* fuzz_loopback.c - what comes back from the browser (lib/net/loopback.c): the
 * first byte picks the parser: 0, an HTTP request line
 * (fa_lb_parse_request, path /callback); 1, a query (fa_lb_parse_query);
 * 2, a pasted URL (fa_lb_parse_pasted, redirect_uri
 * http://127.0.0.1:8765/callback). */
#include "autoconf.h"

#include "fuzz.h"
#include "net/loopback.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_redirect r;
    struct fa_err ectx;
    char *s;
    enum fa_lb_result rc;

    if (size == 0)
        return 0;
    s = fuzz_cstr(data + 1, size - 1);
    if (s == NULL)
        return 0;
    memset(&r, 0, sizeof(r));
    switch (data[0] % 3) {
    case 0:
        rc = fa_lb_parse_request(s, size - 1, FA_LB_PATH, &r, &ectx);
        break;
    case 1:
        rc = fa_lb_parse_query(s, size - 1, &r, &ectx);
        break;
    default:
        rc = fa_lb_parse_pasted(s, "http://127.0.0.1:8765" FA_LB_PATH, &r,
                                &ectx);
        break;
    }
    if (rc == FA_LB_OK)
        fa_redirect_free(&r);
    free(s);
    return 0;
}
