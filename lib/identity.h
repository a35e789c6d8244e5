/* identity.h - the identity check's parts (identity.c). */
#ifndef FHIRAUTH_IDENTITY_H
#define FHIRAUTH_IDENTITY_H

#include <stddef.h>

#include "util.h"

#pragma GCC visibility push(hidden)

/* Does the usermap text map value to user?  *ret_found 1 yes, 0 no;
 * FHIRAUTH_ERR_CONFIG for a malformed line (the message names name and
 * line). */
fhirauth_rc fa_usermap_match(const char *name, const char *text, size_t len,
                             const char *value, const char *user,
                             int *ret_found, struct fa_err *e);

#pragma GCC visibility pop

#endif
