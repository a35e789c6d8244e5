/* fuzz_profile_url.c - URLs and "match" prefixes as a profile is chosen
 * for a URL (url_parse and profile_score, static in lib/profiles.c, which
 * this target compiles into itself).  The input is "MATCH\nURL"; without
 * a newline it is one URL, parsed as a URL and as a prefix. */
#include "autoconf.h"

#include "../../lib/profiles.c"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct url_parts u;
    char why[128], err[512];
    char *s = fuzz_cstr(data, size), *nl;

    if (s == NULL)
        return 0;
    nl = strchr(s, '\n');
    if (nl == NULL) {
        (void) url_parse(s, true, &u, why, sizeof(why));
        (void) url_parse(s, false, &u, why, sizeof(why));
    } else {
        *nl = '\0';
        if (url_parse(nl + 1, false, &u, why, sizeof(why)) == 0)
            (void) profile_score("fuzz", s, &u, err, sizeof(err));
    }
    free(s);
    return 0;
}
