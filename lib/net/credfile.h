/* credfile.h - reading a file that holds the client's credential
 * (client_secret_file, client_key_file): whoever can write it decides who
 * the client is, whoever can read it is the client, so both are read with
 * the same checks (pam_fhir.conf(5), SECURITY.md "Confidential clients"). */
#ifndef FHIRAUTH_CREDFILE_H
#define FHIRAUTH_CREDFILE_H

#include <stddef.h>

#include "fhirauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

/* The size of the buffer fa_credfile_read() hands out for a file of at
 * most max bytes: one byte more to notice a file that grew while it was
 * read, and a NUL. */
#define FA_CREDFILE_SIZE(max) ((size_t) (max) + 2)

/*
 * Read the file at path, which the configuration key key (its name, as
 * "client_secret_file") names, into *ret: *retlen bytes followed by a NUL,
 * in a buffer of FA_CREDFILE_SIZE(max) bytes that the caller wipes and
 * frees with fa_secret_free_len().  The file must be named by an absolute
 * path whose last component is not a symbolic link, be a regular file of
 * at most max bytes, owned by root or by the effective uid (root's only,
 * in a process running as root), writable by its owner only and not
 * readable by every user.  Every message names key and path, never the
 * content.  FHIRAUTH_ERR_CONFIG for a file that is missing (path NULL
 * too) or fails a check, FHIRAUTH_ERR_NOMEM.
 */
fhirauth_rc fa_credfile_read(const char *key, const char *path, size_t max,
                             char **ret, size_t *retlen, struct fa_err *e);

#pragma GCC visibility pop

#endif
