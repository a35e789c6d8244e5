/*
 * race-driver.c - many library threads asking for a token at the same
 * instant, for tests/stress/race-soak.t.  Each thread opens its own handle
 * (a handle belongs to one thread at a time), waits on a barrier with the
 * others, calls fhirauth_token() and closes the handle.
 *
 *   race-driver [--config FILE] [--profile NAME[,NAME...]] [--threads N]
 *               [--min-valid S] [--gate FIFO]
 *
 * --config and --profile choose the session as for fhir-token(1) (without
 * --config: PAM_FHIR_CONFIG or the usual files).  Several profiles are
 * shared out among the threads in turn (thread I uses profile I mod K), so
 * that refreshes of different sessions run in one process at once.  --gate names a FIFO:
 * once every handle is open the program opens it for reading, which blocks
 * until the test opens it for writing, so that threads and fhir-token
 * processes waiting on the same FIFO are released together.
 *
 * Output on stdout, after every thread has finished, one line per thread:
 *   thread I OK TOKEN
 *   thread I ERR CODE MESSAGE
 * The tokens are printed because checking them is the point; this is a
 * test program and stdout goes to the test's private directory.  Exit
 * status 0 when every thread got a token, 1 when one did not, 2 for a
 * usage or setup error.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhirauth.h"

#define MAX_THREADS 1024
#define MAX_PROFILES 64

struct worker {
    pthread_t tid;
    int index;
    fhirauth *h;
    fhirauth_rc rc;
    char *token;
    char detail[512];
};

static pthread_barrier_t start_line;
static long min_valid = -1;

static void *
run(void *arg)
{
    struct worker *w = arg;
    int r;

    r = pthread_barrier_wait(&start_line);
    if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD) {
        w->rc = FHIRAUTH_ERR_INTERNAL;
        snprintf(w->detail, sizeof(w->detail), "barrier: %s", strerror(r));
        return NULL;
    }
    w->rc = fhirauth_token(w->h, min_valid, &w->token, NULL);
    if (w->rc != FHIRAUTH_OK)
        snprintf(w->detail, sizeof(w->detail), "%s",
                 fhirauth_detail(w->h)[0] != '\0' ? fhirauth_detail(w->h)
                                                  : fhirauth_strerror(w->rc));
    return NULL;
}

static int
parse_long(const char *s, long lo, long hi, long *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *ret = v;
    return 0;
}

/* Block until the test opens the FIFO for writing. */
static int
wait_gate(const char *gate)
{
    int fd;

    do {
        fd = open(gate, O_RDONLY | O_CLOEXEC);
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        fprintf(stderr, "race-driver: %s: %s\n", gate, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: race-driver [--config FILE] "
            "[--profile NAME[,NAME...]] [--threads N] "
            "[--min-valid S] [--gate FIFO]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *config = NULL, *gate = NULL;
    char *profiles[MAX_PROFILES];
    char *plist = NULL, *p, *comma;
    struct worker *w;
    long n = 16, i, k = 0;
    char *detail = NULL;
    fhirauth_rc rc;
    int failed = 0, r;

    for (i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--config") == 0)
            config = argv[++i];
        else if (strcmp(argv[i], "--profile") == 0)
            plist = argv[++i];
        else if (strcmp(argv[i], "--gate") == 0)
            gate = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) {
            if (parse_long(argv[++i], 1, MAX_THREADS, &n) != 0)
                usage();
        } else if (strcmp(argv[i], "--min-valid") == 0) {
            if (parse_long(argv[++i], 0, INT_MAX, &min_valid) != 0)
                usage();
        } else
            usage();
    }

    /* Split NAME,NAME... in place; no list: the default profile. */
    profiles[0] = NULL;
    for (p = plist; p != NULL; p = comma) {
        comma = strchr(p, ',');
        if (comma != NULL)
            *comma++ = '\0';
        if (*p == '\0' || k >= MAX_PROFILES)
            usage();
        profiles[k++] = p;
    }
    if (k == 0)
        k = 1;

    w = calloc((size_t) n, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, "race-driver: out of memory\n");
        return 2;
    }
    for (i = 0; i < n; i++) {
        w[i].index = (int) i;
        rc = config != NULL
            ? fhirauth_open_file(&w[i].h, config, profiles[i % k], 0, &detail)
            : fhirauth_open(&w[i].h, profiles[i % k], 0, &detail);
        if (rc != FHIRAUTH_OK) {
            fprintf(stderr, "race-driver: open: %s\n",
                    detail != NULL ? detail : fhirauth_strerror(rc));
            fhirauth_free_string(detail);
            while (i-- > 0)
                fhirauth_close(w[i].h);
            free(w);
            return 2;
        }
    }
    /* The threads and this one: the threads start only when this thread
     * has passed the gate. */
    r = pthread_barrier_init(&start_line, NULL, (unsigned) n + 1);
    if (r != 0) {
        fprintf(stderr, "race-driver: barrier: %s\n", strerror(r));
        return 2;
    }
    for (i = 0; i < n; i++) {
        r = pthread_create(&w[i].tid, NULL, run, &w[i]);
        if (r != 0) {
            /* The barrier would never open: nothing sensible to do. */
            fprintf(stderr, "race-driver: thread %ld: %s\n", i, strerror(r));
            _exit(2);
        }
    }
    if (gate != NULL && wait_gate(gate) != 0)
        _exit(2);
    r = pthread_barrier_wait(&start_line);
    if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD) {
        fprintf(stderr, "race-driver: barrier: %s\n", strerror(r));
        _exit(2);
    }
    for (i = 0; i < n; i++)
        pthread_join(w[i].tid, NULL);
    pthread_barrier_destroy(&start_line);

    for (i = 0; i < n; i++) {
        if (w[i].rc == FHIRAUTH_OK && w[i].token != NULL
            && w[i].token[0] != '\0') {
            printf("thread %d OK %s\n", w[i].index, w[i].token);
        } else {
            printf("thread %d ERR %d %s\n", w[i].index, (int) w[i].rc,
                   w[i].rc == FHIRAUTH_OK ? "empty token" : w[i].detail);
            failed = 1;
        }
        fhirauth_free_secret(w[i].token);
        fhirauth_close(w[i].h);
    }
    free(w);
    if (fflush(stdout) != 0)
        return 2;
    return failed;
}
