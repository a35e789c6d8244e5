/* endpoints.c - the configuration's endpoint overrides, applied the same
 * way to a fresh discovery result and to the endpoints a session saved;
 * and the client authentication the configuration asks for. */
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

fhirauth_rc
fa_client_auth_method(const struct fa_config *cfg, enum fa_auth_method *ret,
                      struct fa_err *e)
{
    *ret = cfg->client_auth;
    switch (cfg->client_auth) {
    case FA_METHOD_AUTO:
        if (cfg->client_key_file != NULL && cfg->client_secret_file != NULL)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "both client_key_file and client_secret_file are "
                           "set: choose one with client_auth");
        if (cfg->client_key_file != NULL)
            *ret = FA_METHOD_PRIVATE_KEY_JWT;
        else if (cfg->client_secret_file == NULL)
            *ret = FA_METHOD_NONE;
        return FHIRAUTH_OK;
    case FA_METHOD_PRIVATE_KEY_JWT:
        if (cfg->client_key_file == NULL)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "client_auth = private_key_jwt needs "
                           "client_key_file");
        return FHIRAUTH_OK;
    case FA_METHOD_SECRET_BASIC:
    case FA_METHOD_SECRET_POST:
        if (cfg->client_secret_file == NULL)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "client_auth = %s needs client_secret_file",
                           cfg->client_auth == FA_METHOD_SECRET_BASIC
                               ? "client_secret_basic"
                               : "client_secret_post");
        return FHIRAUTH_OK;
    case FA_METHOD_NONE:
        return FHIRAUTH_OK;
    }
    return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "unknown client_auth");
}
