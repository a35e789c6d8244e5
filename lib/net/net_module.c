/* net_module.c - the one symbol fhirauth-net.so exports: the table of
 * operations libfhirauth finds with dlsym after dlopen().  Everything else
 * in the module is hidden (-fvisibility=hidden, and the version script
 * lib/fhirauth-net.map). */
#include "autoconf.h"

#include "grants.h"
#include "jwt.h"
#include "net.h"

__attribute__((visibility("default")))
const struct fa_net_ops fhirauth_net_ops_v1 = {
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
};
