/* grants.h - the network module's operations: discovery (discovery.c) and
 * the token endpoint and revocation calls (grants.c).  Their contracts are
 * those of struct fa_net_ops in net.h. */
#ifndef FHIRAUTH_GRANTS_H
#define FHIRAUTH_GRANTS_H

#include <stddef.h>

#include "fhirauth.h"
#include "net.h"
#include "oauth.h"

#pragma GCC visibility push(hidden)

fhirauth_rc fa_net_discover(const struct fa_net_ctx *ctx,
                            struct fa_endpoints *ret, char *err,
                            size_t errlen);

fhirauth_rc fa_net_password_grant(const struct fa_net_ctx *ctx,
                                  const struct fa_endpoints *ep,
                                  const char *username, const char *password,
                                  struct fa_token_response *ret,
                                  char *oauth_error, size_t oelen, char *err,
                                  size_t errlen);

fhirauth_rc fa_net_refresh_grant(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const char *refresh_token,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen, char *err,
                                 size_t errlen);

fhirauth_rc fa_net_revoke(const struct fa_net_ctx *ctx,
                          const struct fa_endpoints *ep, const char *token,
                          const char *hint, char *err, size_t errlen);

#pragma GCC visibility pop

#endif
