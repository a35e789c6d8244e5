/* netload.c - find and dlopen the network half (fhirauth-net.so) once. */
#include "autoconf.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handle.h"
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
module_in(const char *dir, size_t dirlen, char *buf, size_t len)
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

/* libfhirauth.so loaded from X/.libs/: the module is in X/.libs/ too. */
static int
beside_library(const char *lib, char *buf, size_t len)
{
    const char *slash = strrchr(lib, '/');
    size_t dirlen;

    if (slash == NULL)
        return 0;
    dirlen = (size_t) (slash - lib);
    return dirlen >= 6 && memcmp(slash - 6, "/.libs", 6) == 0
        && module_in(lib, dirlen, buf, len);
}

/* The engine linked into TOP/helper/PROGRAM: the module is in
 * TOP/lib/.libs/.  /proc/self/exe, not argv[0], names the program. */
static int
beside_program(char *buf, size_t len)
{
    char exe[4096], dir[4096 + 16];
    const char *slash;
    ssize_t n;
    int d;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL || slash == exe)
        return 0;
    slash = memrchr(exe, '/', (size_t) (slash - exe));
    if (slash == NULL)
        return 0;
    d = snprintf(dir, sizeof(dir), "%.*s/lib/.libs", (int) (slash - exe), exe);
    return d > 0 && (size_t) d < sizeof(dir)
        && module_in(dir, (size_t) d, buf, len);
}

static void
module_path(char *buf, size_t len)
{
    Dl_info info;
    struct link_map *map = NULL;
    int found = 0;

    if (dladdr1((void *) &fa_net_load, &info, (void **) &map, RTLD_DL_LINKMAP)
            != 0
        && map != NULL) {
        /* The main program's link map has an empty name. */
        if (map->l_name != NULL && map->l_name[0] != '\0')
            found = beside_library(map->l_name, buf, len);
        else
            found = beside_program(buf, len);
    }
    if (found)
        return;
    if (snprintf(buf, len, "%s/%s", FHIRAUTH_NET_MODULE_DIR, NET_MODULE_NAME)
        >= (int) len)
        buf[0] = '\0';
}

static void
load(void)
{
    char path[4096], why_not[400];
    void *dl;
    const struct fa_net_ops *(*open_module)(const struct fa_net_hello *,
                                            char *, size_t);
    const struct fa_net_ops *ops;
    struct fa_net_hello hello;
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
    /* The module checks our version and the size of every structure we
     * will hand it (net.h); a module of another build says why it
     * refuses, and one too old for the handshake has no such symbol. */
    *(void **) &open_module = dlsym(dl, "fhirauth_net_open");
    if (open_module == NULL) {
        fa_err(load_error, sizeof(load_error),
               "%s is not a matching "
               "network module (no fhirauth_net_open: another build of "
               "pam_fhir?)",
               path);
        dlclose(dl);
        return;
    }
    fa_net_hello_init(&hello, PACKAGE_VERSION);
#ifdef FHIRAUTH_TEST_HOOKS
    {
        /* Test builds only: pretend to be another version, so that tests
         * see the module refuse a library of another build. */
        const char *v = secure_getenv("FHIRAUTH_TEST_NET_VERSION");

        if (v != NULL)
            hello.version = v;
    }
#endif
    why_not[0] = '\0';
    ops = open_module(&hello, why_not, sizeof(why_not));
    if (ops == NULL || ops->abi != FA_NET_ABI) {
        fa_err(load_error, sizeof(load_error), "%s refused: %s", path,
               why_not[0] != '\0' ? why_not : "another interface");
        dlclose(dl);
        return;
    }
    /* cppcheck-suppress danglingLifetime ; the module's static table, not hello */
    loaded_ops = ops;
    /* cppcheck-suppress resourceLeak ; dl stays open for the process's life */
}

fhirauth_rc
fa_net_load(const struct fa_net_ops **ret, struct fa_err *e)
{
    if (pthread_once(&load_once, load) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_MODULE,
                       "cannot initialise the network module");
    }
    if (loaded_ops == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_MODULE, "%s", load_error);
    }
    *ret = loaded_ops;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_handle_net(fhirauth *h, const struct fa_net_ops **ret_ops,
              struct fa_net_ctx *ret_ctx)
{
    fhirauth_rc rc;

    rc = fa_net_load(ret_ops, &h->err);
    if (rc != FHIRAUTH_OK)
        return rc;
    ret_ctx->cfg = &h->cfg;
    ret_ctx->system_only = (h->flags & FHIRAUTH_OPEN_SYSTEM_ONLY) != 0;
    ret_ctx->dpop = h->dpop;
    return FHIRAUTH_OK;
}
