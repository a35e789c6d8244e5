/* token.h - reading and saving a session's tokens. */
#ifndef FHIRAUTH_TOKEN_H
#define FHIRAUTH_TOKEN_H

#include <time.h>

#include "handle.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/*
 * The longest a holder may keep the refresh lock, and so the longest a
 * waiter waits for it: at most FA_LOCK_HOLD_REQUESTS requests are made
 * under the lock (a refresh and its one retry after invalid_grant; a
 * root logout's discovery and revocation), each bounded by `timeout`,
 * plus FA_LOCK_SLACK_MS for loading the network module on a busy
 * machine.  Waiting less would fail a waiter while a healthy holder is
 * still within its own bounds.
 */
#define FA_LOCK_HOLD_REQUESTS 2
#define FA_LOCK_SLACK_MS 5000

/* Take the user's refresh lock for h's profile; detail set on failure. */
fhirauth_rc fa_take_lock(fhirauth *h, int *ret_fd);

/* fa_save_tokens() flags */
#define FA_SAVE_META 1  /* write the metadata even if unchanged */
#define FA_SAVE_LOGIN 2 /* a new session: all of it or none of it */

/*
 * Save a token answer, the refresh token first so that a crash between the
 * writes never leaves a rotated-away refresh token as the only copy; then
 * a login's DPoP key (or, without one, the old one removed); then the
 * metadata when FA_SAVE_META or when the answer changed it; then the
 * access token.  The caller holds the lock.
 *
 * A full keyring quota (docs/ARCHITECTURE.md, "A full keyring quota"):
 * the cached access key is shrunk to make room, once.  A refresh then
 * never fails on the quota: what does not fit is dropped, the token is
 * returned, and the detail holds a warning (FHIRAUTH_OK with a non-empty
 * detail); a refresh token that does not fit is removed rather than kept
 * dead.  A login that cannot store its session fails with
 * FHIRAUTH_ERR_QUOTA; if it had written anything, the profile's keys
 * (with the DPoP key, written after the refresh token) are removed
 * (*ret_dropped set, may be NULL): never half a session.
 * A login whose access token alone does not fit succeeds with a warning.
 */
fhirauth_rc fa_save_tokens(fhirauth *h, const struct fa_token_response *r,
                           struct fa_meta *meta, int flags, time_t now,
                           time_t *ret_expiry, int *ret_dropped);

/*
 * End of every login grant: verify the id_token when there is one (its
 * claims fill subject, username and fhirUser), save the session under the
 * lock, then revoke the refresh token of the session it replaced.  ep is
 * taken over (emptied).  nonce: the one sent, or NULL.
 */
fhirauth_rc fa_finish_login(fhirauth *h, const struct fa_net_ops *ops,
                            const struct fa_net_ctx *ctx,
                            struct fa_endpoints *ep,
                            const struct fa_token_response *resp,
                            const char *username, const char *nonce);

/* What a login grant hands to the end of the login. */
struct fa_grant_result {
    struct fa_token_response resp; /* the token answer */
    const char *username;          /* the name the user typed, or NULL */
    const char *nonce;             /* the nonce the request carried, or NULL */
};

/*
 * The step that varies between the password, browser and device logins.
 * ready (may be NULL) runs once the network module is loaded, before
 * discovery: can the module run this grant, and anything to prepare.
 * grant runs with the discovered endpoints and fills *out.  Both take
 * the entry point's arg, and set h's detail when they fail.
 */
struct fa_grant_step {
    fhirauth_rc (*ready)(fhirauth *h, const struct fa_net_ops *ops, void *arg);
    fhirauth_rc (*grant)(fhirauth *h, const struct fa_net_ops *ops,
                         const struct fa_net_ctx *ctx,
                         const struct fa_endpoints *ep, void *arg,
                         struct fa_grant_result *out);
};

/*
 * The skeleton of every login, once the entry point has checked its
 * arguments: clear the detail, load the network module, step->ready,
 * discover the endpoints, step->grant, then fa_finish_login().
 */
fhirauth_rc fa_login_run(fhirauth *h, const struct fa_grant_step *step,
                         void *arg);

/* The lifetime to assume for r's access token. */
long fa_token_lifetime(const fhirauth *h, const struct fa_token_response *r);

/* Is r's access token DPoP-bound (token_type DPoP)? */
int fa_token_is_dpop(const struct fa_token_response *r);

#pragma GCC visibility pop

#endif
