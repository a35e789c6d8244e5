/* fuzz_cache_control.c - the freshness headers of an answer
 * (fa_cache_lifetime and fa_http_date, lib/net/cachetime.c).  The input is
 * split at newlines into Cache-Control, Expires, Date and Age (missing
 * parts are absent headers); the result must stay within its bounds. */
#include "autoconf.h"

#include "net/cachetime.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_cache_headers h = { NULL, NULL, NULL, NULL };
    const char **slot[4] = { &h.cache_control, &h.expires, &h.date, &h.age };
    char *s = fuzz_cstr(data, size), *p, *nl;
    long long t;
    long life;
    int i;

    if (s == NULL)
        return 0;
    p = s;
    for (i = 0; i < 4 && p != NULL; i++) {
        nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        *slot[i] = p;
        p = nl != NULL ? nl + 1 : NULL;
    }
    life = fa_cache_lifetime(&h, 1796205600LL);
    if (life < 0 || life > FA_CACHE_MAX_LIFETIME)
        abort();
    (void) fa_http_date(s, &t);
    free(s);
    return 0;
}
