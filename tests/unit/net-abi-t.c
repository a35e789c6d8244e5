/* net-abi-t.c - the network module refuses an engine it was not built
 * with: fhirauth-net.so of this build, dlopen()ed as netload.c does, gets
 * its own handshake (accepted) and then one that differs in each part in
 * turn -- the ABI number, the handshake's size, the version, the size of
 * each structure that crosses -- and must refuse each with a message
 * naming what differs, never crash. */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "tests/tap/basic.h"

typedef const struct fa_net_ops *(*open_fn)(const struct fa_net_hello *,
                                            char *, size_t);

/* One differing handshake: refused, and the message contains want. */
static void
refused(open_fn open_module, const struct fa_net_hello *hello,
        const char *what, const char *want)
{
    char err[400] = "";
    const struct fa_net_ops *ops = open_module(hello, err, sizeof(err));

    ok(ops == NULL, "%s: refused", what);
    ok(strstr(err, want) != NULL, "... saying so: %s", err);
}

int
main(void)
{
    struct fa_net_hello mine, h;
    const struct fa_net_ops *ops;
    open_fn open_module;
    char err[400] = "";
    void *dl;
    struct {
        const char *name;
        size_t *field;
    } sizes[] = {
        { "fa_net_ctx", &h.ctx_size },
        { "fa_config", &h.config_size },
        { "fa_endpoints", &h.endpoints_size },
        { "fa_token_response", &h.token_response_size },
        { "fa_device_auth", &h.device_auth_size },
        { "fa_browser_io", &h.browser_io_size },
        { "fa_net_ops", &h.ops_size },
        { "fa_err", &h.err_size },
        { "fa_dpop", &h.dpop_size },
    };
    size_t i;

    dl = dlopen(FA_TEST_NET_MODULE, RTLD_LAZY | RTLD_LOCAL);
    if (dl == NULL)
        bail("cannot load %s: %s", FA_TEST_NET_MODULE, dlerror());
    *(void **) &open_module = dlsym(dl, "fhirauth_net_open");
    if (open_module == NULL)
        bail("%s has no fhirauth_net_open", FA_TEST_NET_MODULE);
    plan(8 + 2 * 4 + 2 * (sizeof(sizes) / sizeof(sizes[0])));

    fa_net_hello_init(&mine, PACKAGE_VERSION);
    ops = open_module(&mine, err, sizeof(err));
    ok(ops != NULL, "the module accepts this build's handshake %s", err);
    ok(ops != NULL && ops->abi == FA_NET_ABI, "its table has ABI %d",
       FA_NET_ABI);
    ok(ops != NULL && ops->discover != NULL && ops->refresh_grant != NULL,
       "... and its operations");
    is_string("", err, "no message");

    ops = open_module(NULL, err, sizeof(err));
    ok(ops == NULL, "no handshake: refused");
    ok(strstr(err, "no handshake") != NULL, "... saying so: %s", err);
    h = mine;
    h.version = "0.0.0-other";
    ok(open_module(&h, NULL, 0) == NULL,
       "a refusal without an error buffer does not crash");
    ok(open_module(&h, err, 1) == NULL && err[0] == '\0',
       "... nor with a one-byte buffer");

    h = mine;
    h.abi = FA_NET_ABI + 1;
    refused(open_module, &h, "another ABI number", "interface");
    h = mine;
    h.size = mine.size - 1;
    refused(open_module, &h, "a handshake of another size",
            "size of the handshake");
    h = mine;
    h.version = "0.0.0-other";
    refused(open_module, &h, "another version", "library of 0.0.0-other");
    h = mine;
    h.version = NULL;
    refused(open_module, &h, "no version", "(none)");
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char what[64];

        h = mine;
        *sizes[i].field += 8;
        snprintf(what, sizeof(what), "another size of struct %s",
                 sizes[i].name);
        refused(open_module, &h, what, sizes[i].name);
    }
    /* cppcheck-suppress resourceLeak ; the module stays loaded, as in the library */
    return test_status();
}
