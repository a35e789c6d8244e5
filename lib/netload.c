/* netload.c - find and dlopen the network half (fhirauth-net.so) once. */
#include "autoconf.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
 * build tree it is in lib/.libs: libfhirauth.so is in that same directory,
 * and a front end that links the engine in (fhir-token,
 * git-credential-fhir) is one directory below the tree's top.  Recognising
 * that needs no environment variable, so the PAM path (which must never
 * consult the environment) loads the same way in tests as in production;
 * and only a tree with a .libs directory is taken for one, which an
 * installation never has.
 */
static int
in_build_tree(const char *dir, size_t dirlen, char *buf, size_t len)
{
    struct stat st;
    int n;

    n = snprintf(buf, len, "%.*s", (int) dirlen, dir);
    if (n < 0 || (size_t) n >= len || stat(buf, &st) != 0
        || !S_ISDIR(st.st_mode))
        return 0;
    n = snprintf(buf, len, "%.*s/%s", (int) dirlen, dir, NET_MODULE_NAME);
    return n > 0 && (size_t) n < len;
}

static void
module_path(char *buf, size_t len)
{
    Dl_info info;
    struct link_map *map = NULL;
    char exe[4096], dir[4096 + 16];
    const char *slash;
    size_t dirlen;
    ssize_t n;
    int d;

    if (dladdr1((void *) &fa_net_load, &info, (void **) &map,
                RTLD_DL_LINKMAP) != 0 && map != NULL) {
        if (map->l_name != NULL && map->l_name[0] != '\0') {
            /* libfhirauth.so: X/.libs/libfhirauth.so.0 */
            slash = strrchr(map->l_name, '/');
            if (slash != NULL) {
                dirlen = (size_t) (slash - map->l_name);
                if (dirlen >= 6 && memcmp(slash - 6, "/.libs", 6) == 0
                    && in_build_tree(map->l_name, dirlen, buf, len))
                    return;
            }
        } else {
            /* Linked into the program: TOP/helper/fhir-token, where
             * /proc/self/exe (not argv[0]) names the program. */
            n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
            if (n > 0) {
                exe[n] = '\0';
                slash = strrchr(exe, '/');
                if (slash != NULL && slash != exe) {
                    dirlen = (size_t) (slash - exe);
                    slash = memrchr(exe, '/', dirlen);
                    if (slash != NULL) {
                        dirlen = (size_t) (slash - exe);
                        d = snprintf(dir, sizeof(dir), "%.*s/lib/.libs",
                                     (int) dirlen, exe);
                        if (d > 0 && (size_t) d < sizeof(dir)
                            && in_build_tree(dir, (size_t) d, buf, len))
                            return;
                    }
                }
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
     * the code must stay mapped for the life of the process.  RTLD_LAZY:
     * every object keeps the binding its own link chose, as when a
     * program links libcurl directly.  The module itself is linked with
     * -z now, so a symbol it lacks still fails here; RTLD_NOW would
     * also bind every lazily linked library of libcurl's closure
     * (Kerberos, nghttp2, librtmp ...) at once: about a fifth of the
     * loading work, a millisecond of every refresh. */
    dl = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
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
