/* keystore.h - the session's keys in the kernel keyring. */
#ifndef FHIRAUTH_KEYSTORE_H
#define FHIRAUTH_KEYSTORE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "fhirauth.h"

#pragma GCC visibility push(hidden)

/* Which of a profile's keys: described "pam_fhir:PROFILE:<name>". */
/* FA_KEY_DPOP: the DPoP private key (RFC 9449) of a session that has
 * one, stored and removed with the refresh token. */
enum fa_key { FA_KEY_REFRESH = 0, FA_KEY_ACCESS, FA_KEY_META, FA_KEY_DPOP };
#define FA_KEY_LAST FA_KEY_DPOP

/* Longest payload we store or accept back (kernel "user" keys allow 32 KB,
 * the default quota is 20,000 bytes per user). */
#define FA_KEY_MAX_PAYLOAD 16384

/*
 * Store data under the anchor: add_key() (updates in place when a key of
 * that type and description exists), permissions possessor+user only,
 * then the timeout (seconds, 0 = none) set again because every update
 * clears it.  The kernel makes the caller's filesystem uid/gid the owner.
 * EDQUOT -> FHIRAUTH_ERR_QUOTA with a message naming kernel.keys.maxbytes
 * in e.
 */
fhirauth_rc fa_ks_store(enum fa_anchor anchor, const char *profile,
                        enum fa_key which, const void *data, size_t len,
                        unsigned timeout, struct fa_err *e);

/*
 * Set the kernel timeout (seconds, 0 = none) of the key fa_ks_store()
 * would write (the one in the anchor's ring), without touching its
 * payload.  No such key -> FHIRAUTH_ERR_LOGIN_NEEDED, nothing recorded.
 */
fhirauth_rc fa_ks_set_timeout(enum fa_anchor anchor, const char *profile,
                              enum fa_key which, unsigned timeout,
                              struct fa_err *e);

/*
 * Give back at once most of the quota a key holds: its payload replaced in
 * place by a one-byte placeholder that readers cannot decode (so treat as
 * absent) and that expires in a second.  Reaches an expired key too.  Used
 * to make room for a key that matters more; EDQUOT when there was no such
 * key and not even the placeholder fits.
 */
fhirauth_rc fa_ks_shrink(enum fa_anchor anchor, const char *profile,
                         enum fa_key which, struct fa_err *e);

/*
 * Read a key, searching the given anchor first and then the others.
 * *ret_data is NUL-terminated (not counted in *ret_len), and must be
 * wiped and freed by the caller (fa_secret_free).  No key ->
 * FHIRAUTH_ERR_LOGIN_NEEDED.  ret_anchor (may be NULL) says where it was.
 */
fhirauth_rc fa_ks_read(enum fa_anchor anchor, const char *profile,
                       enum fa_key which, char **ret_data, size_t *ret_len,
                       enum fa_anchor *ret_anchor, struct fa_err *e);

/* Unlink the key from every anchor it is found in; absent keys are fine. */
fhirauth_rc fa_ks_unlink(enum fa_anchor anchor, const char *profile,
                         enum fa_key which, struct fa_err *e);

/* The description "pam_fhir:PROFILE:refresh|access|meta" into buf. */
int fa_ks_describe(char *buf, size_t len, const char *profile,
                   enum fa_key which);

/* Access key payload: "EXPIRY TOKEN" (EXPIRY: decimal epoch seconds), or
 * "EXPIRY DPoP TOKEN" for a DPoP-bound token (a token has no spaces), so
 * that the cached path knows the token's scheme without a second read. */
int fa_access_encode(char *buf, size_t len, time_t expiry, const char *token);
int fa_access_encode_as(char *buf, size_t len, time_t expiry, int dpop,
                        const char *token);
/* Parse a payload; *ret_token points into payload. -1 when malformed.
 * fa_access_decode_as also says whether the token is DPoP-bound. */
int fa_access_decode_as(const char *payload, time_t *ret_expiry,
                        const char **ret_token, int *ret_dpop);
int fa_access_decode(const char *payload, time_t *ret_expiry,
                     const char **ret_token);

/*
 * Private keys in the caller's user keyring (the PAM stash): type "user",
 * permissions for the owner only (user view/read/search/link/setattr) and
 * nothing for possessor, group or other (FA_KS_PRIVATE_PERM in
 * keystore.c), so a process of another uid that possesses the keyring
 * cannot read them.
 */

/* Add a new key (desc, data) with that mode and timeout (seconds, > 0),
 * made in the process keyring and linked into the user keyring only once
 * its mode is set; *ret_serial its serial. */
fhirauth_rc fa_ks_private_put(const char *desc, const void *data, size_t len,
                              unsigned timeout, long *ret_serial,
                              struct fa_err *e);

/*
 * Read and remove the key serial, after checking that it is a "user" key
 * owned by the caller's euid whose description starts with desc_prefix.
 * No such key -> FHIRAUTH_ERR_LOGIN_NEEDED; a key that fails the check ->
 * FHIRAUTH_ERR_DENIED (left alone).  *ret_data as fa_ks_read's.
 */
fhirauth_rc fa_ks_private_take(long serial, const char *desc_prefix,
                               char **ret_data, size_t *ret_len,
                               struct fa_err *e);

/* Check keyctl_describe() output ("type;uid;gid;perm;description"):
 * 0 when the type is "user", the uid is uid and the description starts
 * with desc_prefix; -1 otherwise. */
int fa_ks_described_matches(const char *described, unsigned long uid,
                            const char *desc_prefix);

#pragma GCC visibility pop

#endif
