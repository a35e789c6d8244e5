/* fuzz_challenge.c - a WWW-Authenticate header value
 * (fhirauth_bearer_challenge_retry and fa_challenges_parse,
 * lib/challenge.c).  Both must read the value alike: a Bearer answer
 * that differs, or a DPoP answer outside the enum, aborts. */
#include "autoconf.h"

#include "challenge.h"
#include "fhirauth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct fa_challenges c;
    int bearer, parsed;

    if (s == NULL)
        return 0;
    bearer = fhirauth_bearer_challenge_retry(s);
    parsed = fa_challenges_parse(s, &c);
    if ((parsed == 0 ? c.bearer_retry : 0) != bearer
        || (unsigned) c.dpop > FA_DPOP_RETRY
        || (parsed != 0 && c.dpop != FA_DPOP_NONE))
        abort();
    free(s);
    return 0;
}
