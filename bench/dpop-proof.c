/*
 * dpop-proof - fhirauth_dpop_proof() for the cached token of a DPoP-bound
 * session, many proofs in one process: the library's own cost per proof
 * (the session's metadata and key read from the keyring, the proof
 * signed), without process start-up or loading the network module.
 *
 *   dpop-proof CONFIG PROFILE URL CALLS ROUNDS
 *
 * Prints one statistics line (stats.h) over ROUNDS rounds of CALLS proofs
 * each, in nanoseconds per proof; the first round, which loads the
 * network module, is not counted.  Exit status 1 when any call fails or
 * the session is not DPoP-bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int
failed(fhirauth *h, fhirauth_rc rc, const char *what)
{
    fprintf(stderr, "dpop-proof: %s: %s: %s\n", what, fhirauth_strerror(rc),
            fhirauth_detail(h) ? fhirauth_detail(h) : "");
    return 1;
}

int
main(int argc, char **argv)
{
    fhirauth *h = NULL;
    char *detail = NULL, *token = NULL, *proof;
    double *ns, t0;
    long calls, rounds, r, i;
    fhirauth_rc rc;

    if (argc != 6) {
        fputs("usage: dpop-proof CONFIG PROFILE URL CALLS ROUNDS\n", stderr);
        return 2;
    }
    calls = strtol(argv[4], NULL, 10);
    rounds = strtol(argv[5], NULL, 10);
    if (calls < 1 || rounds < 1)
        return 2;
    ns = calloc((size_t) rounds, sizeof(*ns));
    if (ns == NULL)
        return 1;
    rc = fhirauth_open_file(&h, argv[1], argv[2], 0, &detail);
    if (rc != FHIRAUTH_OK) {
        fprintf(stderr, "dpop-proof: %s: %s\n", fhirauth_strerror(rc),
                detail ? detail : "");
        return 1;
    }
    rc = fhirauth_token(h, -1, &token, NULL);
    if (rc != FHIRAUTH_OK)
        return failed(h, rc, "token");
    if (strcmp(fhirauth_token_scheme(h), "DPoP") != 0) {
        fprintf(stderr, "dpop-proof: profile %s is not DPoP-bound\n", argv[2]);
        return 1;
    }
    for (r = -1; r < rounds; r++) { /* round -1 warms up */
        t0 = now_ns();
        for (i = 0; i < calls; i++) {
            rc = fhirauth_dpop_proof(h, token, "GET", argv[3], &proof);
            if (rc != FHIRAUTH_OK)
                return failed(h, rc, "proof");
            fhirauth_free_secret(proof);
        }
        if (r >= 0)
            ns[r] = (now_ns() - t0) / (double) calls;
    }
    fhirauth_free_secret(token);
    fhirauth_close(h);
    stats_print(stdout, "fhirauth_dpop_proof()", ns, (size_t) rounds, 0, -1,
                -1);
    free(ns);
    return 0;
}
