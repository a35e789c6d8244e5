/* basic.c - a small TAP producer for the C tests. */
#include "basic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long planned, run, failed;
static int lazy;

static void
print_plan_at_exit(void)
{
    if (lazy)
        printf("1..%lu\n", run);
    fflush(stdout);
}

void
plan(unsigned long n)
{
    planned = n;
    printf("1..%lu\n", n);
    fflush(stdout);
}

void
plan_lazy(void)
{
    lazy = 1;
    atexit(print_plan_at_exit);
}

/* A skip is for a developer's machine that lacks a prerequisite (root, a
 * kernel keyring).  In CI (CI=true) everything is there, so a skip is a
 * failure: a missing prerequisite never passes silently. */
static int
in_ci(void)
{
    const char *ci = getenv("CI");

    return ci != NULL && strcmp(ci, "true") == 0;
}

void
skip_all(const char *fmt, ...)
{
    va_list ap;

    if (in_ci()) {
        printf("1..1\nnot ok 1 - missing prerequisite (CI=true, so not a "
               "skip): ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        exit(1);
    }
    printf("1..0 # SKIP ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(0);
}

static int
vresult(int success, const char *fmt, va_list ap)
{
    run++;
    if (!success)
        failed++;
    printf("%sok %lu - ", success ? "" : "not ", run);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return success;
}

int
ok(int success, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vresult(success, fmt, ap);
    va_end(ap);
    return r;
}

int
is_int(long long want, long long got, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vresult(want == got, fmt, ap);
    va_end(ap);
    if (!r)
        diag("wanted: %lld, got: %lld", want, got);
    return r;
}

int
is_string(const char *want, const char *got, const char *fmt, ...)
{
    va_list ap;
    int same, r;

    if (want == NULL || got == NULL)
        same = want == got;
    else
        same = strcmp(want, got) == 0;
    va_start(ap, fmt);
    r = vresult(same, fmt, ap);
    va_end(ap);
    if (!r)
        diag("wanted: %s, got: %s", want ? want : "(null)",
             got ? got : "(null)");
    return r;
}

void
skip(const char *fmt, ...)
{
    va_list ap;

    run++;
    if (in_ci()) {
        failed++;
        printf("not ok %lu - missing prerequisite (CI=true, so not a "
               "skip): ",
               run);
    } else {
        printf("ok %lu # skip ", run);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void
diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "# ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

void
bail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(255);
}

int
test_status(void)
{
    if (failed > 0)
        return 1;
    if (!lazy && planned != run)
        return 255;
    return 0;
}
