/* fuzz_profile_url.c - URLs and "match" prefixes: fa_url_parse (lib/url.c,
 * the one URL parser) under every set of flags its callers use, and a
 * profile chosen for a URL (split_url and profile_score, static in
 * lib/profiles.c, which this target compiles into itself).  The input is
 * "MATCH\nURL"; without a newline it is one URL, parsed under each set of
 * flags (the bytes as they are, NULs included) and as a prefix and a
 * URL to look up. */
#include "autoconf.h"

#include "../../lib/profiles.c"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned flags[] = {
        FA_URL_ENDPOINT,
        FA_URL_BASE,
        FA_URL_MATCH,
        FA_URL_LOOKUP,
        FA_URL_HTTP | FA_URL_ANY_SCHEME | FA_URL_USERINFO | FA_URL_FRAGMENT
            | FA_URL_NO_QUERY,
    };
    struct fa_url u;
    struct fa_err ectx;
    char why[128];
    long score;
    char *s = fuzz_cstr(data, size), *b = fuzz_body(data, size), *nl;
    size_t i;

    if (s == NULL || b == NULL) {
        free(s);
        free(b);
        return 0;
    }
    nl = strchr(s, '\n');
    if (nl == NULL) {
        /* A URL accepted has a host, and every part lies inside it. */
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
            if (fa_url_parse(b, size, flags[i], &u, why, sizeof(why)) == 0
                && (u.host_len == 0 || u.host < b || u.path < u.host
                    || u.path + u.path_len > b + size
                    || (u.query != NULL && u.query + u.query_len > b + size)))
                abort();
        (void) split_url(s, true, &u, why, sizeof(why));
        (void) split_url(s, false, &u, why, sizeof(why));
    } else {
        *nl = '\0';
        if (split_url(nl + 1, false, &u, why, sizeof(why)) == 0)
            (void) profile_score("fuzz", s, &u, &score, &ectx);
    }
    free(s);
    free(b);
    return 0;
}
