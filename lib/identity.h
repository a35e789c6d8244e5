/* identity.h - the identity check's parts (identity.c). */
#ifndef FHIRAUTH_IDENTITY_H
#define FHIRAUTH_IDENTITY_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Does the usermap text map value to user?  1 yes, 0 no, -1
 * a malformed line (message naming name and line in err). */
int fa_usermap_match(const char *name, const char *text, size_t len,
                     const char *value, const char *user, char *err,
                     size_t errlen);

#pragma GCC visibility pop

#endif
