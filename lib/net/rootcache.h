/* rootcache.h - the root-side cache of discovery documents and JWKS, so
 * that a warm PAM login costs one token request.  Only the PAM path
 * (FHIRAUTH_OPEN_SYSTEM_ONLY) running with euid 0 uses it; only root-owned
 * files in a root-owned directory are read (a planted JWKS would let
 * anyone log in). */
#ifndef FHIRAUTH_ROOTCACHE_H
#define FHIRAUTH_ROOTCACHE_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* What an entry holds: the entry's file name starts with it. */
#define FA_RC_DISCOVERY "discovery"
#define FA_RC_JWKS "jwks"

/* Largest entry file: the biggest answer we accept plus the header. */
#define FA_RC_MAX_FILE (256 * 1024 + 4096)

/* Does this caller use the cache: the PAM path (system_only, see
 * fa_net_ctx) in a process with euid 0?  Users' processes keep the
 * endpoints in their session metadata instead. */
int fa_rootcache_active(int system_only);

/*
 * The stored body for (kind, key) if the entry is intact and fresh:
 * *ret (malloc, NUL-terminated; free()) and *retlen, and when
 * ret_lifetime is not NULL the seconds it stays fresh, 0.  -1 when there
 * is none, it expired, or anything about it is wrong (not root's,
 * writable by others, a symlink, too big, malformed, another key): the
 * caller fetches afresh and stores over it.
 */
int fa_rootcache_get(const char *kind, const char *key, char **ret,
                     size_t *retlen, long *ret_lifetime);

/* Store body for (kind, key), reusable for lifetime seconds (nothing when
 * lifetime <= 0).  Best effort: a failure is silent and costs only a
 * fetch next time. */
void fa_rootcache_put(const char *kind, const char *key, const char *body,
                      size_t len, long lifetime);

/* The directory (tests and messages). */
const char *fa_rootcache_dir(void);

#pragma GCC visibility pop

#endif
