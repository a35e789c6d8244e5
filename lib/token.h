/* token.h - reading and saving a session's tokens. */
#ifndef FHIRAUTH_TOKEN_H
#define FHIRAUTH_TOKEN_H

#include <time.h>

#include "handle.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/* Wait for the refresh lock at most this long beyond the request timeout. */
#define FA_LOCK_SLACK_MS 5000

/* Take the user's refresh lock for h's profile; detail set on failure. */
fhirauth_rc fa_take_lock(fhirauth *h, int *ret_fd);

/*
 * Save a token answer, the refresh token first so that a crash between the
 * writes never leaves a rotated-away refresh token as the only copy; then
 * the metadata when write_meta or when the answer changed it; then the
 * access token.  The caller holds the lock.
 */
fhirauth_rc fa_save_tokens(fhirauth *h, const struct fa_token_response *r,
                           struct fa_meta *meta, int write_meta, time_t now,
                           time_t *ret_expiry);

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

/* The lifetime to assume for r's access token. */
long fa_token_lifetime(const fhirauth *h, const struct fa_token_response *r);

#pragma GCC visibility pop

#endif
