/* errors.h - a call's result and the handle's detail message (errors.c). */
#ifndef FHIRAUTH_ERRORS_H
#define FHIRAUTH_ERRORS_H

#include "fhirauth.h"

#pragma GCC visibility push(hidden)

/* Start a call: clear the detail left by the previous one. */
void fa_clear_detail(fhirauth *h);
/* Record rc's detail; returns rc so callers can `return fa_fail(...)`. */
fhirauth_rc fa_fail(fhirauth *h, fhirauth_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#pragma GCC visibility pop

#endif
