/* store.h - storing a new session (store.c). */
#ifndef FHIRAUTH_STORE_H
#define FHIRAUTH_STORE_H

#include <time.h>

#include "fhirauth.h"
#include "net.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/* Save a session answer under the lock for the real uid, then revoke
 * (best effort) the refresh token of the session it replaced. */
fhirauth_rc fa_store_session(fhirauth *h, const struct fa_token_response *resp,
                             struct fa_meta *meta, time_t now);

/* Best effort: revoke a refresh token we will not keep (nothing when ep
 * has no revocation endpoint). */
void fa_revoke_replaced(const struct fa_net_ops *ops,
                        const struct fa_net_ctx *ctx,
                        const struct fa_endpoints *ep, const char *token);

#pragma GCC visibility pop

#endif
