/* dpop.h - the engine's side of a DPoP-bound session (RFC 9449): its key
 * in the keyring (pam_fhir:PROFILE:dpop, beside the refresh token) and in
 * the handle, and the server's nonce in the session metadata.  The
 * signing is the network module's (net/dpop.c). */
#ifndef FHIRAUTH_ENGINE_DPOP_H
#define FHIRAUTH_ENGINE_DPOP_H

#include "fhirauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/* A login of a profile with dpop = yes: a new key in h->dpop (the old one
 * dropped), which the login's requests then carry proofs of. */
fhirauth_rc fa_dpop_login_key(fhirauth *h);

/* A copy of key (len bytes, a secret) into h->dpop, with nonce (may be
 * NULL): a PAM login's key, carried by its pending session. */
fhirauth_rc fa_dpop_adopt(fhirauth *h, const char *key, size_t len,
                          const char *nonce);

/* The stored session's key into h->dpop, with meta's nonce, when the
 * session is DPoP-bound (its token_type is DPoP, or a key is stored).
 * FHIRAUTH_ERR_LOGIN_NEEDED when it is bound and its key is gone. */
fhirauth_rc fa_dpop_load(fhirauth *h, const struct fa_meta *meta);

/* Copy h->dpop's nonce into meta; 1 when it changed, 0 if not, -1 out of
 * memory. */
int fa_dpop_note_nonce(const fhirauth *h, struct fa_meta *meta);

/* Wipe and free h->dpop. */
void fa_dpop_forget(fhirauth *h);

#pragma GCC visibility pop

#endif
