/*
 * fhir-get.c - fetch a FHIR resource with a token from the kernel keyring
 * (a bearer token, or a DPoP-bound one with a proof per request), using libfhirauth's prepare / should-retry pair for libcurl
 * (<fhirauth-curl.h>).
 *
 *   cc -o fhir-get fhir-get.c -pthread \
 *       $(pkg-config --cflags --libs fhirauth libcurl)
 *   fhir-token login
 *   ./fhir-get https://fhir.example.org/r4/Patient/example
 *
 * Options: --config FILE and --profile NAME choose the session as for
 * fhir-token(1); --cacert FILE trusts that CA for the FHIR server;
 * --threads N makes N requests at once, each thread with its own
 * libfhirauth handle and its own libcurl handle (a handle belongs to one
 * thread at a time), all sent together once every thread has its token.
 *
 * stdout gets the response body (not with --threads); stderr gets one
 * line per request with the HTTP status and how many times it was retried
 * after a 401 ("fhir-get: HTTP 200, retries 1").  Exit status 0 when every
 * answer was 2xx, 1 otherwise, 2 for a usage error.
 *
 * How a 401 heals: fhirauth_curl_prepare_request() sets the token (cached
 * in the keyring, or refreshed): a bearer token with CURLOPT_XOAUTH2_BEARER
 * and this program's header list as it is; a DPoP-bound token on a copy
 * of that list with its Authorization and DPoP proof lines.  After the
 * request,
 * fhirauth_curl_should_retry() looks at the answer: a 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` makes it forget that
 * token, get a new one (one refresh, however many threads and processes
 * ask at once) and set it; it returns 1 and the program empties its body
 * buffer and performs the request once more.  A GET can always be sent
 * again; a program that uploads a body must rewind it, or decide that it
 * cannot and stop.  A DPoP resource server's use_dpop_nonce is answered
 * the same way, with its nonce in a new proof and no refresh.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fhirauth.h>
#include <fhirauth-curl.h>

#define BODY_MAX (16L * 1024 * 1024) /* refuse larger answers */
#define THREADS_MAX 64

struct body {
    char *data;
    size_t len;
};

/* One request and what came of it. */
struct job {
    const char *url, *config, *profile, *cacert;
    pthread_barrier_t *start; /* NULL: a single request */
    int index;
    long status; /* HTTP status, 0 when none */
    int retries;
    char msg[512]; /* why it failed, empty when it did not */
    struct body body;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    char *p;

    if (n > (size_t) BODY_MAX - b->len)
        return 0; /* libcurl reports CURLE_WRITE_ERROR */
    p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

/* The handle's detail when it has one, else the code's message. */
static const char *
why(const fhirauth *h, fhirauth_rc rc)
{
    const char *d = h != NULL ? fhirauth_detail(h) : "";

    return d[0] != '\0' ? d : fhirauth_strerror(rc);
}

/* Everything but the token: HTTPS only, verified, bounded. */
static int
setup(CURL *curl, struct job *j, struct curl_slist *headers)
{
    if (curl_easy_setopt(curl, CURLOPT_URL, j->url) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEDATA, &j->body) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L) != CURLE_OK)
        return -1;
    if (j->cacert != NULL
        && curl_easy_setopt(curl, CURLOPT_CAINFO, j->cacert) != CURLE_OK)
        return -1;
    return 0;
}

static void *
fetch(void *arg)
{
    struct job *j = arg;
    fhirauth *h = NULL;
    fhirauth_curl_state st = FHIRAUTH_CURL_STATE_INIT;
    struct curl_slist *headers = NULL;
    CURL *curl = NULL;
    CURLcode cc;
    char *detail = NULL;
    fhirauth_rc rc;
    int ready = 0, had_retried, performs = 0;

    if (j->config != NULL)
        rc = fhirauth_open_file(&h, j->config, j->profile, 0, &detail);
    else
        rc = fhirauth_open(&h, j->profile, 0, &detail);
    if (rc != FHIRAUTH_OK) {
        snprintf(j->msg, sizeof(j->msg), "%s",
                 detail != NULL ? detail : fhirauth_strerror(rc));
        fhirauth_free_string(detail);
        goto wait;
    }
    headers = curl_slist_append(NULL, "Accept: application/fhir+json");
    curl = curl_easy_init();
    if (headers == NULL || curl == NULL || setup(curl, j, headers) != 0) {
        snprintf(j->msg, sizeof(j->msg), "cannot set up the request");
        goto wait;
    }
    rc = fhirauth_curl_prepare_request(h, curl, &st, "GET", j->url, headers);
    if (rc != FHIRAUTH_OK) {
        snprintf(j->msg, sizeof(j->msg), "no token: %s", why(h, rc));
        goto wait;
    }
    if (fhirauth_detail(h)[0] != '\0') /* a warning after FHIRAUTH_OK */
        fprintf(stderr, "fhir-get: %s\n", fhirauth_detail(h));
    ready = 1;
wait:
    /* Every thread reaches the barrier, ready or not. */
    if (j->start != NULL)
        pthread_barrier_wait(j->start);
    if (!ready)
        goto out;

    for (;;) {
        j->body.len = 0; /* a retry starts with an empty body */
        cc = curl_easy_perform(curl);
        performs++;
        if (cc != CURLE_OK) {
            snprintf(j->msg, sizeof(j->msg), "%s: %s", j->url,
                     curl_easy_strerror(cc));
            break;
        }
        had_retried = st.retried;
        if (!fhirauth_curl_should_retry(h, curl, &st)) {
            /* A retry was wanted but there is no new token: the
             * detail says why (empty: the same token came back). */
            if (!had_retried && st.retried)
                snprintf(j->msg, sizeof(j->msg), "cannot retry: %s",
                         fhirauth_detail(h)[0] != '\0' ? fhirauth_detail(h)
                                                       : "no new token");
            break;
        }
        /* A GET has nothing to rewind: send it again. */
    }
    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &j->status);
    j->retries = performs - 1;
    /* Release libcurl's copy of the token now (libcurl does not wipe it). */
    (void) curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, NULL);
out:
    /* curl first: it uses the state's header list in place. */
    if (curl != NULL)
        curl_easy_cleanup(curl);
    fhirauth_curl_state_free(&st);
    curl_slist_free_all(headers);
    fhirauth_close(h);
    return NULL;
}

/* 0 when the job got a 2xx answer; reports it on stderr either way. */
static int
report(const struct job *j, int many)
{
    char who[32] = "";

    if (many)
        snprintf(who, sizeof(who), "thread %d: ", j->index);
    if (j->status != 0)
        fprintf(stderr, "fhir-get: %sHTTP %ld, retries %d\n", who, j->status,
                j->retries);
    if (j->msg[0] != '\0')
        fprintf(stderr, "fhir-get: %s%s\n", who, j->msg);
    return j->status >= 200 && j->status <= 299 && j->msg[0] == '\0' ? 0 : 1;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: fhir-get [--config FILE] [--profile NAME] "
            "[--cacert FILE] [--threads N] URL\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "profile", required_argument, NULL, 'p' },
        { "cacert", required_argument, NULL, 'C' },
        { "threads", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *config = NULL, *profile = NULL, *cacert = NULL;
    struct job *jobs = NULL;
    pthread_t *tids = NULL;
    pthread_barrier_t start;
    long threads = 1;
    char *end;
    int c, i, started = 0, failed = 0, ret = 1, err;

    while ((c = getopt_long(argc, argv, "c:p:C:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'C':
            cacert = optarg;
            break;
        case 't':
            errno = 0;
            threads = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || threads < 1
                || threads > THREADS_MAX) {
                fprintf(stderr, "fhir-get: --threads wants 1 to %d\n",
                        THREADS_MAX);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }

    /* Once, before any thread; libfhirauth's network half does the same
     * and neither ever cleans libcurl up globally. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fhir-get: cannot initialise libcurl\n");
        return 1;
    }
    jobs = calloc((size_t) threads, sizeof(*jobs));
    tids = calloc((size_t) threads, sizeof(*tids));
    if (jobs == NULL || tids == NULL) {
        fprintf(stderr, "fhir-get: out of memory\n");
        goto out;
    }
    for (i = 0; i < threads; i++) {
        jobs[i].url = argv[optind];
        jobs[i].config = config;
        jobs[i].profile = profile;
        jobs[i].cacert = cacert;
        jobs[i].index = i;
        jobs[i].start = threads > 1 ? &start : NULL;
    }

    if (threads == 1) {
        fetch(&jobs[0]);
        if (jobs[0].body.len > 0)
            fwrite(jobs[0].body.data, 1, jobs[0].body.len, stdout);
        ret = report(&jobs[0], 0);
        goto out;
    }

    if (pthread_barrier_init(&start, NULL, (unsigned) threads) != 0) {
        fprintf(stderr, "fhir-get: cannot make a barrier\n");
        goto out;
    }
    for (i = 0; i < threads; i++) {
        err = pthread_create(&tids[i], NULL, fetch, &jobs[i]);
        if (err != 0) {
            /* The barrier counts on every thread: cannot go on. */
            fprintf(stderr, "fhir-get: cannot start a thread: %s\n",
                    strerror(err));
            exit(1);
        }
        started++;
    }
    for (i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < threads; i++)
        failed += report(&jobs[i], 1);
    ret = failed == 0 ? 0 : 1;

out:
    if (jobs != NULL)
        for (i = 0; i < threads; i++)
            free(jobs[i].body.data);
    free(jobs);
    free(tids);
    return ret;
}
