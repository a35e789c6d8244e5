/*
 * fhirauth-private.h - the calls libfhirauth keeps for pam_fhir.so alone.
 *
 * Not installed, not part of the API of fhirauth(3): the symbols carry the
 * version node FHIRAUTH_PRIVATE_0 (lib/libfhirauth.map), which promises
 * nothing beyond one source release.  pam_fhir.so is built from the same
 * tree as the library it links and the packages tie the two to the same
 * version (debian/control: libpam-fhir depends on libfhirauth0 (=)).
 * Ownership rules are those of fhirauth.h.
 *
 * A PAM module authenticates as root, before the user's session exists,
 * and often in another process than the one that opens the session (sshd
 * forks for authentication).  A handle opened with
 * FHIRAUTH_OPEN_DEFER_STORE keeps the session of its last successful
 * login (the token answer, the session metadata and the verified
 * id_token's claims; never the id_token itself) in the handle instead of
 * the keyring: the "pending" session.  A failed login leaves none.  Every
 * copy of a token made for these calls is wiped before it is freed, except
 * what json-c copies while parsing a stash (kept short-lived).
 */
#ifndef FHIRAUTH_PRIVATE_H
#define FHIRAUTH_PRIVATE_H

#include "fhirauth.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
# pragma GCC visibility push(default)
#endif

/* A flag of fhirauth_open() (with FHIRAUTH_OPEN_SYSTEM_ONLY): the login
 * functions keep the new session in the handle, store nothing and replace
 * nothing. */
enum {
    FHIRAUTH_OPEN_DEFER_STORE = 1u << 1,
};

/*
 * Does the pending session belong to user?  The claim named by
 * username_claim (default preferred_username) must be a string equal to
 * user.  It is taken from the verified id_token when the id_token carries
 * it; otherwise (OpenID Connect Core §5.4) from the UserInfo endpoint
 * (discovered, or the userinfo_endpoint option), asked with the pending
 * access token: one HTTPS GET, no redirects, size-capped strict JSON, only
 * string claims of printable ASCII used.  With a verified id_token
 * UserInfo's sub must equal the id_token's; without one UserInfo alone
 * identifies the user unless require_id_token is set.  When the value
 * differs, the usermap file (root-owned regular file, not group/world-
 * writable, opened without following a link, at most 256 KiB, of
 * "claim-value local-user" lines; # comments; a line with one field or
 * more than two makes it unusable) must map it to user.
 * FHIRAUTH_OK when it does; FHIRAUTH_ERR_DENIED when not (the detail reads
 * "the authorization server vouched for 'X' (claim), not for 'user'"), when
 * the claim is nowhere (the detail names the scope to add), when
 * UserInfo's sub differs or UserInfo refuses the token (401, 403), and
 * without an id_token under require_id_token; FHIRAUTH_ERR_UNREACHABLE or
 * FHIRAUTH_ERR_TLS when UserInfo cannot be reached; FHIRAUTH_ERR_PROTOCOL
 * for an unusable UserInfo answer or a redirect; FHIRAUTH_ERR_CONFIG for
 * an unusable usermap; FHIRAUTH_ERR_LOGIN_NEEDED when nothing is pending.
 */
fhirauth_rc fhirauth_identity_check(fhirauth *h, const char *user);

/*
 * Copy the pending session into a new key of the caller's user keyring
 * (root's, in the PAM auth phase): type user, described
 * "pam_fhir:stash:USER:NONCE" (NONCE: 128 random bits in hex), permissions
 * for its owner only (view, read, search, link, setattr; nothing for a
 * possessor, group or others), made in the process keyring and linked into
 * the user keyring once its permissions are set, removed by the kernel
 * after 300 seconds if nobody takes it.  *ret_serial is the key's serial
 * in decimal (free it with fhirauth_free_string()).  The pending session
 * stays in the handle.  A user name that is empty, longer than 256 bytes,
 * or holds ':', a space, a control character or a byte outside ASCII, and
 * a caller whose real and effective uid differ (the user keyring is the
 * real uid's) -> FHIRAUTH_ERR_INVALID_ARGUMENT; nothing pending ->
 * FHIRAUTH_ERR_LOGIN_NEEDED.
 */
fhirauth_rc fhirauth_stash_put(fhirauth *h, const char *user,
                               char **ret_serial);

/*
 * Take the stash with this serial (decimal) back into the handle as its
 * pending session (replacing any), and remove the key.  The key must be a
 * user key of the caller's effective uid whose description starts with
 * "pam_fhir:stash:USER:" for exactly this user, so that a serial injected
 * into the PAM environment cannot move another user's tokens: anything
 * else -> FHIRAUTH_ERR_DENIED (the key stays).  A serial that is not plain
 * decimal digits (no sign, space or leading zero; at most 2147483647) ->
 * FHIRAUTH_ERR_INVALID_ARGUMENT; no such key (taken, expired) ->
 * FHIRAUTH_ERR_LOGIN_NEEDED; a stash that does not parse ->
 * FHIRAUTH_ERR_KEYRING (the key is removed all the same).
 */
fhirauth_rc fhirauth_stash_take(fhirauth *h, const char *user,
                                const char *serial);

/* 1 when the handle holds a pending session, else 0 (also for NULL). */
int fhirauth_has_pending(const fhirauth *h);

/*
 * Store the pending session in the keyring of the current real uid,
 * exactly as a login without FHIRAUTH_OPEN_DEFER_STORE does (under the
 * user's refresh lock, in the configured anchor, replacing and revoking,
 * best effort, an older session of the same issuer); the token lifetimes
 * count from when the AS answered.  On success the pending session is
 * wiped from the handle; on failure it stays, so the call may be repeated.
 * The caller switches real and effective uid and gid to the user first
 * and back afterwards.  Nothing pending -> FHIRAUTH_ERR_LOGIN_NEEDED.
 */
fhirauth_rc fhirauth_store_pending(fhirauth *h);

#if defined(__GNUC__)
# pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* FHIRAUTH_PRIVATE_H */
