/* handle.c - opening, configuring and closing a fhirauth handle. */
#include "autoconf.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpop.h"
#include "handle.h"
#include "pending.h"
#include "util.h"

#define USER_CONFIG_SUFFIX "/.config/pam_fhir/config"

fhirauth_rc
fhirauth_client_jwks(fhirauth *h, char **ret_json)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    fhirauth_rc rc;

    if (ret_json != NULL)
        *ret_json = NULL;
    if (h == NULL || ret_json == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        return rc;
    return ops->client_jwks(&ctx, ret_json, &h->err);
}

fhirauth_rc
fhirauth_load_network(fhirauth *h)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;

    if (h == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    return fa_handle_net(h, &ops, &ctx);
}

/* ~/.config/pam_fhir/config of the real user.  $HOME is trusted only
 * outside set-id contexts (secure_getenv); else the passwd entry. */
static char *
user_config_path(void)
{
    const char *home;
    struct passwd pw, *res = NULL;
    char pwbuf[4096];
    char *path;
    size_t len;

    home = secure_getenv("HOME");
    if (home == NULL || home[0] != '/') {
        if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0
            || res == NULL)
            return NULL;
        home = pw.pw_dir;
    }
    len = strlen(home) + sizeof(USER_CONFIG_SUFFIX);
    path = malloc(len);
    if (path != NULL
        && snprintf(path, len, "%s%s", home, USER_CONFIG_SUFFIX)
            >= (int) len) {
        free(path);
        path = NULL;
    }
    return path;
}

void
fa_config_sources_for(struct fa_config_sources *src, const char *explicit_file,
                      unsigned flags, char **ret_user_file)
{
    memset(src, 0, sizeof(*src));
    *ret_user_file = NULL;
    src->require_root_owned = true;
    if (explicit_file != NULL) {
        src->explicit_file = explicit_file;
        /* Only the PAM path insists on a root-owned explicit file: a user
         * may point the CLI at a file of their own. */
        src->require_root_owned = (flags & FHIRAUTH_OPEN_SYSTEM_ONLY) != 0;
    } else if ((flags & FHIRAUTH_OPEN_SYSTEM_ONLY) == 0) {
        src->explicit_file = secure_getenv("PAM_FHIR_CONFIG");
        if (src->explicit_file != NULL && src->explicit_file[0] == '\0')
            src->explicit_file = NULL;
        if (src->explicit_file != NULL)
            src->require_root_owned = false;
        else
            src->user_file = *ret_user_file = user_config_path();
    }
}

static fhirauth_rc
open_with(fhirauth **ret_h, const char *explicit_file, const char *profile,
          unsigned flags, char **ret_detail)
{
    struct fa_config_sources src;
    char *user_file = NULL;
    fhirauth *h;
    fhirauth_rc rc = FHIRAUTH_OK;

    if (ret_h == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return FHIRAUTH_ERR_NOMEM;
    h->flags = flags;
    fa_config_sources_for(&src, explicit_file, flags, &user_file);
    if (fa_config_init(&h->cfg) != 0)
        rc = fa_nomem(&h->err);
    else
        rc = fa_config_load(&h->cfg, &src, profile, &h->err);
    free(user_file);
    if (rc != FHIRAUTH_OK) {
        if (ret_detail != NULL)
            *ret_detail = strdup(
                h->err.msg[0] != '\0' ? h->err.msg : fhirauth_strerror(rc));
        fhirauth_close(h);
        return rc;
    }
    *ret_h = h;
    return FHIRAUTH_OK;
}

fhirauth_rc
fhirauth_open(fhirauth **ret_h, const char *profile, unsigned flags,
              char **ret_detail)
{
    return open_with(ret_h, NULL, profile, flags, ret_detail);
}

fhirauth_rc
fhirauth_open_file(fhirauth **ret_h, const char *config_file,
                   const char *profile, unsigned flags, char **ret_detail)
{
    if (config_file == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    return open_with(ret_h, config_file, profile, flags, ret_detail);
}

void
fhirauth_close(fhirauth *h)
{
    if (h == NULL)
        return;
    fa_pending_clear(h); /* wipes and frees */
    fa_dpop_forget(h);
    fa_config_free(&h->cfg);
    explicit_bzero(h, sizeof(*h));
    free(h);
}

fhirauth_rc
fhirauth_set_option(fhirauth *h, const char *key, const char *value)
{
    if (h == NULL || key == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    /* These choose what is loaded, so they belong to fhirauth_open(). */
    if (strcmp(key, "profile") == 0 || strcmp(key, "config") == 0) {
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "'%s' must be given when the handle is opened", key);
    }
    return fa_config_set(&h->cfg, key, value, &h->err);
}

const char *
fhirauth_profile(const fhirauth *h)
{
    return h != NULL && h->cfg.profile != NULL ? h->cfg.profile : "default";
}

const char *
fhirauth_detail(const fhirauth *h)
{
    return h != NULL ? h->err.msg : "";
}

void
fhirauth_free_secret(char *s)
{
    fa_secret_free(s);
}

void
fhirauth_free_string(char *s)
{
    free(s);
}
