/* nomem-t.c - every allocation failure reaches the caller as
 * FHIRAUTH_ERR_NOMEM: the Nth allocation fails, for N = 1, 2, ... until
 * a call makes fewer than N, in fhirauth_open_file() (the configuration
 * parser), fhirauth_set_option(), fhirauth_profile_for_url() and
 * fhirauth_token() on a cached token.  Not fhirauth_status_json(): the
 * session metadata is parsed by json-c, whose parser this Debian release
 * does not make safe against a failing allocation (it dereferences a
 * failed copy of a member name).
 * Each call either succeeds or says NOMEM (never CONFIG, PROTOCOL or
 * LOGIN_NEEDED), does not crash, and leaves nothing allocated.
 *
 * The failing allocator is tests/unit/failmalloc.c, preloaded: the test
 * runs itself again with LD_PRELOAD.  Under valgrind or a sanitizer, which
 * bring their own allocator, each call runs once with nothing failing. */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fhirauth.h"
#include "handle.h"
#include "keystore.h"
#include "session.h"
#include "tests/tap/basic.h"
#include "token.h"

#define MAX_N 5000

static void (*arm)(long n);
static long (*disarm)(void);
static long (*live)(void);
static char conf[256];
static char profile[32];

/* Under valgrind or a sanitizer, which own malloc: each call runs once,
 * with nothing failing, and must succeed (their checks still apply). */
static int plain;

static void
plain_arm(long n)
{
    (void) n;
}

static long
plain_zero(void)
{
    return 0;
}

#if defined(__SANITIZE_ADDRESS__)
# define SANITIZED 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define SANITIZED 1
# endif
#endif

static void
run_plain(void)
{
    diag("valgrind or a sanitizer owns malloc: no allocation fails");
    plain = 1;
    arm = plain_arm;
    disarm = plain_zero;
    live = plain_zero;
}

static void
preload(char **argv)
{
    const char *pre = getenv("LD_PRELOAD");

    arm = (void (*)(long)) dlsym(RTLD_DEFAULT, "failmalloc_arm");
    disarm = (long (*)(void)) dlsym(RTLD_DEFAULT, "failmalloc_disarm");
    live = (long (*)(void)) dlsym(RTLD_DEFAULT, "failmalloc_live");
    if (arm != NULL && disarm != NULL && live != NULL)
        return;
#ifdef SANITIZED
    run_plain();
    return;
#endif
    if (pre != NULL && strstr(pre, "vgpreload") != NULL) {
        run_plain();
        return;
    }
    if (getenv("FA_NOMEM_CHILD") != NULL)
        bail("%s did not preload", FAILMALLOC_SO);
    if (access(FAILMALLOC_SO, R_OK) != 0)
        bail("no %s", FAILMALLOC_SO);
    setenv("FA_NOMEM_CHILD", "1", 1);
    setenv("LD_PRELOAD", FAILMALLOC_SO, 1);
    fflush(stdout);
    execv("/proc/self/exe", argv);
    bail("cannot run myself again");
}

static void
cleanup(void)
{
    int a, k;

    if (profile[0] == '\0')
        return;
    for (a = FA_ANCHOR_PERSISTENT; a <= FA_ANCHOR_SESSION; a++)
        for (k = FA_KEY_REFRESH; k <= FA_KEY_META; k++)
            (void) fa_ks_unlink((enum fa_anchor) a, profile, (enum fa_key) k,
                                NULL);
    if (conf[0] != '\0')
        unlink(conf);
}

/* A result an allocation failure may give. */
static int
acceptable(fhirauth_rc rc)
{
    return rc == FHIRAUTH_OK || rc == FHIRAUTH_ERR_NOMEM;
}

/* One result per N; summarized, with the first bad N in detail. */
struct tally {
    const char *what;
    long runs, nomem, bad, leaks;
};

static void
count(struct tally *t, long n, fhirauth_rc rc, const char *detail)
{
    long left = live();

    t->runs++;
    if (rc == FHIRAUTH_ERR_NOMEM)
        t->nomem++;
    if (!acceptable(rc) && t->bad++ == 0)
        diag("%s, allocation %ld failing: %s (%s)", t->what, n,
             fhirauth_strerror(rc), detail != NULL ? detail : "");
    if (left != 0 && t->leaks++ == 0)
        diag("%s, allocation %ld failing: %ld blocks left", t->what, n, left);
}

static void
report(const struct tally *t)
{
    if (plain) {
        is_int(0, t->bad, "%s: succeeds (no allocation failing)", t->what);
        return;
    }
    ok(t->runs > 1 && t->nomem > 0,
       "%s: %ld allocations failed in turn, %ld "
       "gave NOMEM",
       t->what, t->runs - 1, t->nomem);
    is_int(0, t->bad, "%s: no other result", t->what);
    is_int(0, t->leaks, "%s: nothing leaked", t->what);
}

static void
write_conf(void)
{
    FILE *f;

    snprintf(profile, sizeof(profile), "nomem-%ld", (long) getpid());
    snprintf(conf, sizeof(conf), "/tmp/fa-nomem-%ld.conf", (long) getpid());
    f = fopen(conf, "w");
    if (f == NULL)
        bail("cannot write %s", conf);
    fprintf(f,
            "# a comment\n"
            "timeout = 10\n"
            "[profile %s]\n"
            "issuer = https://127.0.0.1:9/\n"
            "client_id = cli\n"
            "scope = openid fhirUser offline_access\n"
            "fhir_base = https://127.0.0.1:9/fhir\n"
            "min_valid = 30\n"
            "match = https://git.example/\n"
            "[profile other]\n"
            "issuer = https://other.example/\n"
            "client_id = x\n",
            profile);
    fclose(f);
}

static fhirauth *
open_plain(void)
{
    fhirauth *h = NULL;
    char *detail = NULL;

    if (fhirauth_open_file(&h, conf, profile, 0, &detail) != FHIRAUTH_OK)
        bail("cannot open a handle: %s", detail != NULL ? detail : "?");
    return h;
}

static void
test_open(void)
{
    struct tally t = { "fhirauth_open_file", 0, 0, 0, 0 };
    fhirauth *h;
    char *detail, msg[FA_DETAIL_MAX];
    fhirauth_rc rc;
    long n;

    for (n = 1; n < MAX_N; n++) {
        h = NULL;
        detail = NULL;
        arm(n);
        rc = fhirauth_open_file(&h, conf, profile, 0, &detail);
        snprintf(msg, sizeof(msg), "%s", detail != NULL ? detail : "");
        fhirauth_close(h);
        free(detail);
        count(&t, n, rc, msg);
        if (disarm() == 0)
            break;
    }
    report(&t);
}

static void
test_set_option(void)
{
    struct tally t = { "fhirauth_set_option", 0, 0, 0, 0 };
    char msg[FA_DETAIL_MAX];
    fhirauth *h;
    fhirauth_rc rc;
    long n;

    for (n = 1; n < MAX_N; n++) {
        h = open_plain();
        arm(n);
        rc = fhirauth_set_option(h, "scope", "openid patient/*.read");
        if (rc == FHIRAUTH_OK)
            rc = fhirauth_set_option(h, "token_endpoint",
                                     "https://127.0.0.1:9/token");
        snprintf(msg, sizeof(msg), "%s", fhirauth_detail(h));
        fhirauth_close(h); /* frees what a successful set kept */
        count(&t, n, rc, msg);
        if (disarm() == 0)
            break;
    }
    report(&t);
}

static void
store_session(fhirauth *h)
{
    struct fa_token_response r;
    struct fa_meta m;
    fhirauth_rc rc;

    memset(&r, 0, sizeof(r));
    memset(&m, 0, sizeof(m));
    r.access_token = strdup("at-nomem");
    r.token_type = strdup("Bearer");
    r.refresh_token = strdup("rt-nomem");
    r.expires_in = 3600;
    r.refresh_expires_in = -1;
    m.ep.issuer = strdup("https://127.0.0.1:9");
    m.ep.token_endpoint = strdup("https://127.0.0.1:9/token");
    m.client_id = strdup("cli");
    m.username = strdup("alice");
    m.login_at = (long long) time(NULL);
    rc = fa_save_tokens(h, &r, &m, FA_SAVE_META | FA_SAVE_LOGIN, time(NULL),
                        NULL, NULL);
    fa_token_response_free(&r);
    fa_meta_free(&m);
    if (rc != FHIRAUTH_OK)
        bail("cannot store a session: %s", fhirauth_detail(h));
}

/* The profiles of the files and their match prefixes (git's URL). */
static void
test_profile_for_url(void)
{
    struct tally t = { "fhirauth_profile_for_url", 0, 0, 0, 0 };
    char *profile_found, *detail, msg[FA_DETAIL_MAX];
    fhirauth_rc rc;
    long n;

    for (n = 1; n < MAX_N; n++) {
        profile_found = NULL;
        detail = NULL;
        arm(n);
        rc = fhirauth_profile_for_url(conf, "https://git.example/r.git",
                                      &profile_found, &detail);
        snprintf(msg, sizeof(msg), "%s", detail != NULL ? detail : "");
        free(profile_found);
        free(detail);
        count(&t, n, rc, msg);
        if (disarm() == 0)
            break;
    }
    report(&t);
}

static void
test_token(void)
{
    struct tally t = { "fhirauth_token (cached)", 0, 0, 0, 0 };
    fhirauth *h = open_plain();
    char *token;
    fhirauth_rc rc;
    long n;

    store_session(h);
    token = NULL;
    rc = fhirauth_token(h, -1, &token, NULL);
    is_int(FHIRAUTH_OK, rc, "the cached token is there: %s",
           fhirauth_detail(h));
    fhirauth_free_secret(token);
    for (n = 1; n < MAX_N; n++) {
        token = NULL;
        arm(n);
        rc = fhirauth_token(h, -1, &token, NULL);
        fhirauth_free_secret(token);
        count(&t, n, rc, fhirauth_detail(h));
        if (disarm() == 0)
            break;
    }
    report(&t);
    fhirauth_close(h);
}

int
main(int argc, char **argv)
{
    (void) argc;
    preload(argv);
    write_conf();
    atexit(cleanup);
    plan_lazy();
    test_open();
    test_set_option();
    test_profile_for_url();
    test_token();
    return test_status();
}
