/* service.h - a service profile's tokens (service.c). */
#ifndef FHIRAUTH_SERVICE_H
#define FHIRAUTH_SERVICE_H

#include "handle.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/*
 * A service profile's token request (grant = client_credentials), when
 * its cached access token will not do; the caller holds the refresh lock
 * and saves the answer (token.c).  The endpoints are the stored service
 * session's, or, when the profile has no such session of this server and
 * client, discovery's: then *ret_meta is a new service session (*ret_new
 * is 1: it must be written) and the refresh and DPoP keys of an earlier
 * session of the profile are removed.  A
 * refresh token in the answer is dropped; an answer without scope gets
 * the configured one.  On FHIRAUTH_OK *ret and *ret_meta are the
 * caller's to free (fa_token_response_free, fa_meta_free); on failure
 * nothing is written and h's detail says why: a refusal by the AS is
 * FHIRAUTH_ERR_DENIED, never FHIRAUTH_ERR_LOGIN_NEEDED (there is no login
 * to ask for).
 */
fhirauth_rc fa_service_request(fhirauth *h, struct fa_token_response *ret,
                               struct fa_meta *ret_meta, int *ret_new);

#pragma GCC visibility pop

#endif
