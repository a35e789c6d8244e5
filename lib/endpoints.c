/* endpoints.c - the configuration's endpoint overrides, applied the same
 * way to a fresh discovery result and to the endpoints a session saved. */
#include "autoconf.h"

#include "config.h"
#include "oauth.h"
#include "util.h"

/* Replace *dst with a copy of the configured value, when there is one. */
static int
override(char **dst, const char *value)
{
    char *copy;

    if (value == NULL)
        return 0;
    copy = fa_strdup(value);
    if (copy == NULL)
        return -1;
    fa_secret_free(*dst);
    *dst = copy;
    return 0;
}

int
fa_endpoints_apply_config(struct fa_endpoints *ep, const struct fa_config *cfg)
{
    if (override(&ep->token_endpoint, cfg->token_endpoint) != 0
        || override(&ep->revocation_endpoint, cfg->revocation_endpoint) != 0
        || override(&ep->authorization_endpoint, cfg->authorization_endpoint)
            != 0
        || override(&ep->device_authorization_endpoint,
                    cfg->device_authorization_endpoint)
            != 0
        || override(&ep->introspection_endpoint, cfg->introspection_endpoint)
            != 0
        || override(&ep->jwks_uri, cfg->jwks_uri) != 0
        || override(&ep->userinfo_endpoint, cfg->userinfo_endpoint) != 0)
        return -1;
    return 0;
}
