/* util.h - small helpers shared by libfhirauth and its network module. */
#ifndef FHIRAUTH_UTIL_H
#define FHIRAUTH_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#include "fhirauth.h"

#pragma GCC visibility push(hidden)

/* The longest message a call leaves for fhirauth_detail(). */
#define FA_DETAIL_MAX 512

/*
 * A call's error context (HACKING.md, "Errors"): the handle owns one, and
 * every function of the engine and of the network module that can fail
 * takes a pointer to the caller's.  A failure records its result and
 * message with fa_fail() (and returns the result, so `return
 * fa_fail(...)`); a warning that does not fail is a message with
 * FHIRAUTH_OK (fa_warn()), which fhirauth_detail() shows after a
 * successful call.  A NULL context is allowed: nothing is recorded.
 */
struct fa_err {
    fhirauth_rc rc;          /* the failure recorded; FHIRAUTH_OK if none */
    char msg[FA_DETAIL_MAX]; /* the failure's message, or a warning */
};
/* Forget what a previous call left. */
void fa_err_clear(struct fa_err *e);
/* Record a failure: rc and the message. */
void fa_err_set(struct fa_err *e, fhirauth_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record a failure and give its result: `return fa_fail(e, rc, ...)`.
 * A macro, so that the result is visibly rc to a reader of one file (the
 * static analyzer does not follow variadic calls, and took a failure's
 * result for FHIRAUTH_OK).  rc is evaluated twice: a constant or a
 * variable.  Where the result is not used, call fa_err_set(). */
#define fa_fail(e, rc, ...) (fa_err_set((e), (rc), __VA_ARGS__), (rc))
/* A warning: the message, with the result left at FHIRAUTH_OK. */
void fa_warn(struct fa_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory"): every allocation
 * failure's one result. */
static inline fhirauth_rc
fa_nomem(struct fa_err *e)
{
    fa_err_set(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    return FHIRAUTH_ERR_NOMEM;
}
/* Record rc for the message a callee that still takes a plain message
 * buffer wrote into e->msg; returns rc. */
fhirauth_rc fa_err_rc(struct fa_err *e, fhirauth_rc rc);

/* Wipe a NUL-terminated secret with explicit_bzero, then free it. */
void fa_secret_free(char *s);
/* Wipe len bytes, then free. */
void fa_secret_free_len(void *p, size_t len);
/* strdup that accepts NULL (returns NULL) */
char *fa_strdup(const char *s);
/* Copy a string into a buffer; -1 (buffer emptied) when it does not fit. */
int fa_strlcpy(char *dst, const char *src, size_t len);
/* snprintf into err (may be NULL or len 0); always terminated. */
void fa_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parse a whole decimal long in [min, max]; 0 on success, -1 otherwise. */
int fa_parse_long(const char *s, long min, long max, long *ret);

/* Is word one of the space-separated words of list (NULL: no)? */
int fa_has_word(const char *list, const char *word);

/* Profile names: letters, digits, '.', '_' and '-', not starting with '.'
 * or '-', at most FA_PROFILE_MAX characters.  One rule for the config,
 * the keyring descriptions and the lock file names. */
#define FA_PROFILE_MAX 64
int fa_profile_name_valid(const char *s);

/* A growable byte buffer with a hard cap; wiped when freed. */
struct fa_buf {
    char *data; /* NUL-terminated */
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* refuse to grow past this */
};
void fa_buf_init(struct fa_buf *b, size_t max);
/* 0, or -1 (over max or out of memory: the buffer keeps what it had). */
int fa_buf_append(struct fa_buf *b, const void *p, size_t n);
void fa_buf_wipe(struct fa_buf *b);

#pragma GCC visibility pop

#endif
