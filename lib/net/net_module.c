/* net_module.c - the one symbol fhirauth-net.so exports:
 * fhirauth_net_open(), which libfhirauth finds with dlsym after dlopen().
 * It checks the engine's handshake (net.h: ABI, version, the size of every
 * structure that crosses) and only then hands out the table of operations.
 * Everything else in the module is hidden (-fvisibility=hidden, and the
 * version script lib/fhirauth-net.map). */
#include "autoconf.h"

#include <string.h>

#include "grants.h"
#include "jwt.h"
#include "net.h"
#include "util.h"

static const struct fa_net_ops ops = {
    .abi = FA_NET_ABI,
    .discover = fa_net_discover,
    .password_grant = fa_net_password_grant,
    .refresh_grant = fa_net_refresh_grant,
    .revoke = fa_net_revoke,
    .device_start = fa_net_device_start,
    .device_poll = fa_net_device_poll,
    .browser_login = fa_net_browser_login,
    .verify_id_token = fa_net_verify_id_token,
    .userinfo = fa_net_userinfo,
    .client_jwks = fa_net_client_jwks,
    .client_credentials_grant = fa_net_client_credentials_grant,
    .dpop_keygen = fa_net_dpop_keygen,
    .dpop_proof = fa_net_dpop_proof,
};

/* One size compared: 0 when equal, else the message and -1. */
static int
same_size(const char *what, size_t engine, size_t module, char *err,
          size_t errlen)
{
    if (engine == module)
        return 0;
    fa_err(
        err, errlen,
        "the network module (pam_fhir %s) and the library "
        "disagree on the size of struct %s (library %zu, module %zu bytes): "
        "they come from different builds",
        PACKAGE_VERSION, what, engine, module);
    return -1;
}

__attribute__((visibility("default"))) const struct fa_net_ops *
fhirauth_net_open(const struct fa_net_hello *hello, char *err, size_t errlen)
{
    struct fa_net_hello mine;

    fa_net_hello_init(&mine, PACKAGE_VERSION);
    if (hello == NULL) {
        fa_err(err, errlen, "the network module was given no handshake");
        return NULL;
    }
    if (hello->abi != mine.abi) {
        fa_err(err, errlen,
               "the network module (pam_fhir %s, interface %u) "
               "does not speak the library's interface %u",
               PACKAGE_VERSION, mine.abi, hello->abi);
        return NULL;
    }
    if (hello->size != mine.size) {
        fa_err(err, errlen,
               "the network module (pam_fhir %s) and the "
               "library disagree on the size of the handshake (library %u, "
               "module %u bytes): they come from different builds",
               PACKAGE_VERSION, hello->size, mine.size);
        return NULL;
    }
    if (hello->version == NULL || strcmp(hello->version, mine.version) != 0) {
        fa_err(err, errlen,
               "the network module is of pam_fhir %s, the "
               "library of %.64s: both must come from the same build",
               PACKAGE_VERSION,
               hello->version != NULL ? hello->version : "(none)");
        return NULL;
    }
    if (same_size("fa_net_ctx", hello->ctx_size, mine.ctx_size, err, errlen)
        || same_size("fa_config", hello->config_size, mine.config_size, err,
                     errlen)
        || same_size("fa_endpoints", hello->endpoints_size,
                     mine.endpoints_size, err, errlen)
        || same_size("fa_token_response", hello->token_response_size,
                     mine.token_response_size, err, errlen)
        || same_size("fa_device_auth", hello->device_auth_size,
                     mine.device_auth_size, err, errlen)
        || same_size("fa_browser_io", hello->browser_io_size,
                     mine.browser_io_size, err, errlen)
        || same_size("fa_net_ops", hello->ops_size, mine.ops_size, err, errlen)
        || same_size("fa_err", hello->err_size, mine.err_size, err, errlen)
        || same_size("fa_dpop", hello->dpop_size, mine.dpop_size, err, errlen))
        return NULL;
    return &ops;
}
