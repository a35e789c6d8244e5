/* basic.h - a small TAP producer for the C tests. */
#ifndef TAP_BASIC_H
#define TAP_BASIC_H

#include <stddef.h>

void plan(unsigned long n);
void plan_lazy(void); /* print the plan at exit */
/* skip_all and skip: a missing prerequisite; a failure when CI=true. */
void skip_all(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
int ok(int success, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int is_int(long long want, long long got, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int is_string(const char *want, const char *got, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
/* Exit status for main: 0 when every test passed and the plan held. */
int test_status(void);

#endif
