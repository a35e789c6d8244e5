/*
 * token-loop - many calls of one library function on a cached token in one
 * process: the library's own cost per call, without process start-up.
 *
 *   token-loop CONFIG PROFILE CALLS ROUNDS
 *       fhirauth_token() on the cached token.
 *   token-loop CONFIG PROFILE CALLS ROUNDS URL
 *       fhirauth_dpop_proof() for a GET of URL with the cached token of a
 *       DPoP-bound session: the session's metadata and key read from the
 *       keyring and the proof signed, without loading the network module
 *       again (the warm-up round loads it).
 *
 * Prints one statistics line (stats.h) over ROUNDS rounds of CALLS calls
 * each, in nanoseconds per call; a first round warms up and is not
 * counted.  Exit status 1 when any call fails or, with URL, when the
 * session is not DPoP-bound.
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
    fprintf(stderr, "token-loop: %s: %s: %s\n", what, fhirauth_strerror(rc),
            fhirauth_detail(h) ? fhirauth_detail(h) : "");
    return 1;
}

/* One call of the function measured; the result freed. */
static fhirauth_rc
one_call(fhirauth *h, const char *token, const char *url)
{
    char *out = NULL;
    fhirauth_rc rc;

    if (url == NULL)
        rc = fhirauth_token(h, -1, &out, NULL);
    else
        rc = fhirauth_dpop_proof(h, token, "GET", url, &out);
    fhirauth_free_secret(out);
    return rc;
}

int
main(int argc, char **argv)
{
    fhirauth *h = NULL;
    char *detail = NULL, *token = NULL;
    const char *url;
    double *ns, t0;
    long calls, rounds, r, i;
    fhirauth_rc rc;

    if (argc != 5 && argc != 6) {
        fputs("usage: token-loop CONFIG PROFILE CALLS ROUNDS [URL]\n", stderr);
        return 2;
    }
    calls = strtol(argv[3], NULL, 10);
    rounds = strtol(argv[4], NULL, 10);
    url = argc == 6 ? argv[5] : NULL;
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
    if (url != NULL) {
        rc = fhirauth_token(h, -1, &token, NULL);
        if (rc != FHIRAUTH_OK)
            return failed(h, rc, "token");
        if (strcmp(fhirauth_token_scheme(h), "DPoP") != 0) {
            fprintf(stderr, "token-loop: profile %s is not DPoP-bound\n",
                    argv[2]);
            return 1;
        }
    }
    for (r = -1; r < rounds; r++) { /* round -1 warms up */
        t0 = now_ns();
        for (i = 0; i < calls; i++) {
            rc = one_call(h, token, url);
            if (rc != FHIRAUTH_OK)
                return failed(h, rc, url == NULL ? "token" : "proof");
        }
        if (r >= 0)
            ns[r] = (now_ns() - t0) / (double) calls;
    }
    fhirauth_free_secret(token);
    fhirauth_close(h);
    stats_print(stdout,
                url == NULL ? "fhirauth_token() cached"
                            : "fhirauth_dpop_proof()",
                ns, (size_t) rounds, 0, -1, -1);
    free(ns);
    return 0;
}
