/* net.h - the network half of libfhirauth: libcurl and OpenSSL live only
 * in the module fhirauth-net.so, loaded with dlopen on the first cache miss
 * so the cached-token path never pays for them. */
#ifndef FHIRAUTH_NET_H
#define FHIRAUTH_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "fhirauth.h"
#include "oauth.h"

#pragma GCC visibility push(hidden)

#define FA_NET_ABI 1

/* What every network call needs to know about its caller. */
struct fa_net_ctx {
    const struct fa_config *cfg;
    bool system_only;   /* PAM: no proxy (or any) environment variables */
};

struct fa_net_ops {
    unsigned abi;       /* FA_NET_ABI */
    /* Discovery: the OIDC document at {issuer}/.well-known/openid-
     * configuration, RFC 8414's path as fallback, or with only fhir_base
     * the SMART document; config endpoint overrides win. */
    fhirauth_rc (*discover)(const struct fa_net_ctx *ctx,
                            struct fa_endpoints *ret, char *err,
                            size_t errlen);
    fhirauth_rc (*password_grant)(const struct fa_net_ctx *ctx,
                                  const struct fa_endpoints *ep,
                                  const char *username, const char *password,
                                  struct fa_token_response *ret,
                                  char *oauth_error, size_t oelen, char *err,
                                  size_t errlen);
    fhirauth_rc (*refresh_grant)(const struct fa_net_ctx *ctx,
                                 const struct fa_endpoints *ep,
                                 const char *refresh_token,
                                 struct fa_token_response *ret,
                                 char *oauth_error, size_t oelen, char *err,
                                 size_t errlen);
    /* RFC 7009; hint "refresh_token" or "access_token" (may be NULL). */
    fhirauth_rc (*revoke)(const struct fa_net_ctx *ctx,
                          const struct fa_endpoints *ep, const char *token,
                          const char *hint, char *err, size_t errlen);
};

/* Load the module once per process (pthread_once) and return its ops. */
fhirauth_rc fa_net_load(const struct fa_net_ops **ret, char *err,
                        size_t errlen);

#pragma GCC visibility pop

/* The one symbol the module exports. */
extern const struct fa_net_ops fhirauth_net_ops_v1;

#endif
