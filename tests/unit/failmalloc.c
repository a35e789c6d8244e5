/* failmalloc.c - an LD_PRELOAD allocator for nomem-t: fails the Nth
 * allocation after failmalloc_arm(n), and counts the blocks allocated
 * since then that are still live (a leak on a failure path).
 *
 * glibc's malloc is meant to be replaced this way (its internal calls,
 * strdup's among them, go to the replacement); the real allocator is
 * reached through the __libc_* names.  Single-threaded use only. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

#pragma GCC visibility push(default)

void failmalloc_arm(long n);
long failmalloc_disarm(void);
long failmalloc_live(void);

#define SLOTS 65536 /* power of two */
#define GONE ((void *) 1)

static long countdown; /* 0: never fail */
static long failures;
static int tracking;
static void *slot[SLOTS];
static long live;

static size_t
hash(const void *p)
{
    return ((uintptr_t) p >> 4) * 2654435761u & (SLOTS - 1);
}

static void
track(void *p)
{
    size_t i = hash(p), n;

    if (!tracking || p == NULL)
        return;
    for (n = 0; n < SLOTS; n++, i = (i + 1) & (SLOTS - 1))
        if (slot[i] == NULL || slot[i] == GONE) {
            slot[i] = p;
            live++;
            return;
        }
}

static void
untrack(void *p)
{
    size_t i = hash(p), n;

    if (p == NULL || live == 0)
        return;
    for (n = 0; n < SLOTS && slot[i] != NULL; n++, i = (i + 1) & (SLOTS - 1))
        if (slot[i] == p) {
            slot[i] = GONE;
            live--;
            return;
        }
}

/* Is this the allocation to fail? */
static int
fail_now(void)
{
    if (countdown > 0 && --countdown == 0) {
        failures++;
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

/* Fail the nth allocation from now (0: none) and start counting live
 * blocks afresh. */
void
failmalloc_arm(long n)
{
    countdown = n;
    failures = 0;
    memset(slot, 0, sizeof(slot));
    live = 0;
    tracking = 1;
}

/* Stop failing and tracking; the number of failures injected. */
long
failmalloc_disarm(void)
{
    countdown = 0;
    tracking = 0;
    return failures;
}

/* Blocks allocated while armed and not freed yet. */
long
failmalloc_live(void)
{
    return live;
}

void *
malloc(size_t n)
{
    void *p;

    if (fail_now())
        return NULL;
    p = __libc_malloc(n);
    track(p);
    return p;
}

void *
calloc(size_t n, size_t size)
{
    void *p;

    if (fail_now())
        return NULL;
    p = __libc_calloc(n, size);
    track(p);
    return p;
}

void *
realloc(void *old, size_t n)
{
    void *p;

    if (old == NULL)
        return malloc(n);
    if (n > 0 && fail_now())
        return NULL;
    p = __libc_realloc(old, n);
    if (p != NULL || n == 0) {
        untrack(old);
        track(p);
    }
    return p;
}

void *
memalign(size_t align, size_t n)
{
    void *p;

    if (fail_now())
        return NULL;
    p = __libc_memalign(align, n);
    track(p);
    return p;
}

void *
aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int
posix_memalign(void **ret, size_t align, size_t n)
{
    void *p = memalign(align, n);

    if (p == NULL)
        return ENOMEM;
    *ret = p;
    return 0;
}

void
free(void *p)
{
    untrack(p);
    __libc_free(p);
}

#pragma GCC visibility pop
