/* lock.h - the per-user refresh lock (flock on a file named by uid). */
#ifndef FHIRAUTH_LOCK_H
#define FHIRAUTH_LOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "fhirauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

/*
 * Take an exclusive flock on /run/pam_fhir/UID/PROFILE.lock (or, when
 * /run/pam_fhir is unusable, /tmp/pam_fhir-UID/PROFILE.lock), creating the
 * 0700 directory owned by uid, checked with lstat, the file opened
 * O_NOFOLLOW|O_CLOEXEC.  Waits at most wait_ms.  *ret_fd is the lock.
 * run_dir/tmp_dir NULL mean the defaults (tests pass their own).
 */
fhirauth_rc fa_lock_acquire(uid_t uid, const char *profile, long wait_ms,
                            const char *run_dir, const char *tmp_dir,
                            int *ret_fd, struct fa_err *e);

/*
 * fa_lock_acquire(), but while the lock is held by another process,
 * done(arg) is asked after every attempt; when it answers nonzero (what
 * the lock was wanted for has been done by the holder) the wait ends at
 * once: FHIRAUTH_OK with *ret_fd -1, nothing locked.  done NULL: wait as
 * fa_lock_acquire() does.
 */
fhirauth_rc fa_lock_acquire_unless(uid_t uid, const char *profile,
                                   long wait_ms, const char *run_dir,
                                   const char *tmp_dir, int (*done)(void *arg),
                                   void *arg, int *ret_fd, struct fa_err *e);
void fa_lock_release(int fd);

#pragma GCC visibility pop

#endif
