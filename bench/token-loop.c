/*
 * token-loop - fhirauth_token() on a cached token, many calls in one
 * process: the library's own cost per call, without process start-up.
 *
 *   token-loop CONFIG PROFILE CALLS ROUNDS
 *
 * Prints one statistics line (stats.h) over ROUNDS rounds of CALLS calls
 * each, in nanoseconds per call.  Exit status 1 when any call fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fhirauth.h>

#include "stats.h"

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    fhirauth *h = NULL;
    char *detail = NULL, *token;
    double *ns, t0;
    long calls, rounds, r, i;
    fhirauth_rc rc;

    if (argc != 5) {
        fputs("usage: token-loop CONFIG PROFILE CALLS ROUNDS\n", stderr);
        return 2;
    }
    calls = strtol(argv[3], NULL, 10);
    rounds = strtol(argv[4], NULL, 10);
    if (calls < 1 || rounds < 1)
        return 2;
    ns = calloc((size_t) rounds, sizeof(*ns));
    if (ns == NULL)
        return 1;
    rc = fhirauth_open_file(&h, argv[1], argv[2], 0, &detail);
    if (rc != FHIRAUTH_OK) {
        fprintf(stderr, "token-loop: %s: %s\n", fhirauth_strerror(rc),
                detail ? detail : "");
        return 1;
    }
    for (r = -1; r < rounds; r++) { /* round -1 warms up */
        t0 = now_ns();
        for (i = 0; i < calls; i++) {
            rc = fhirauth_token(h, -1, &token, NULL);
            if (rc != FHIRAUTH_OK) {
                fprintf(stderr, "token-loop: %s: %s\n", fhirauth_strerror(rc),
                        fhirauth_detail(h));
                return 1;
            }
            fhirauth_free_secret(token);
        }
        if (r >= 0)
            ns[r] = (now_ns() - t0) / (double) calls;
    }
    fhirauth_close(h);
    stats_print(stdout, "fhirauth_token() cached", ns, (size_t) rounds, 0, -1,
                -1);
    return 0;
}
