/* netload.c - find and dlopen the network half (fhirauth-net.so) once. */
#include "autoconf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "util.h"

#ifndef FHIRAUTH_NET_MODULE_DIR
# define FHIRAUTH_NET_MODULE_DIR "/usr/local/lib/pam_fhir"
#endif
#define NET_MODULE_NAME "fhirauth-net.so"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct fa_net_ops *loaded_ops;
static char load_error[512];

/*
 * The module sits in pkglibdir once installed.  In an uninstalled libtool
 * build tree both libraries are in the same .libs directory; recognising
 * that needs no environment variable, so the PAM path (which must never
 * consult the environment) loads the same way in tests as in production.
 */
static void
module_path(char *buf, size_t len)
{
    Dl_info info;
    const char *slash;
    size_t dirlen;

    if (dladdr((void *) &fa_net_load, &info) != 0 && info.dli_fname != NULL) {
        slash = strrchr(info.dli_fname, '/');
        if (slash != NULL) {
            dirlen = (size_t) (slash - info.dli_fname);
            if (dirlen >= 6 && memcmp(slash - 6, "/.libs", 6) == 0) {
                if (snprintf(buf, len, "%.*s/%s", (int) dirlen,
                             info.dli_fname, NET_MODULE_NAME)
                    < (int) len)
                    return;
            }
        }
    }
    if (snprintf(buf, len, "%s/%s", FHIRAUTH_NET_MODULE_DIR, NET_MODULE_NAME)
        >= (int) len)
        buf[0] = '\0';
}

static void
load(void)
{
    char path[4096];
    void *dl;
    const struct fa_net_ops *ops;
    const char *why;

    module_path(path, sizeof(path));
    /* RTLD_NODELETE: libcurl may leave threads (the resolver) running, so
     * the code must stay mapped for the life of the process. */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl == NULL) {
        why = dlerror();
        fa_err(load_error, sizeof(load_error), "cannot load %s: %s", path,
               why ? why : "unknown error");
        return;
    }
    ops = dlsym(dl, "fhirauth_net_ops_v1");
    if (ops == NULL || ops->abi != FA_NET_ABI) {
        fa_err(load_error, sizeof(load_error),
               "%s is not a matching network module", path);
        dlclose(dl);
        return;
    }
    loaded_ops = ops;
    /* cppcheck-suppress resourceLeak ; dl stays open for the process's life */
}

fhirauth_rc
fa_net_load(const struct fa_net_ops **ret, char *err, size_t errlen)
{
    if (pthread_once(&load_once, load) != 0) {
        fa_err(err, errlen, "cannot initialise the network module");
        return FHIRAUTH_ERR_MODULE;
    }
    if (loaded_ops == NULL) {
        fa_err(err, errlen, "%s", load_error);
        return FHIRAUTH_ERR_MODULE;
    }
    *ret = loaded_ops;
    return FHIRAUTH_OK;
}
