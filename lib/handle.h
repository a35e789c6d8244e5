/* handle.h - what a fhirauth handle holds. */
#ifndef FHIRAUTH_HANDLE_H
#define FHIRAUTH_HANDLE_H

#include "config.h"
#include "fhirauth.h"
#include "net.h"

#pragma GCC visibility push(hidden)

#define FA_DETAIL_MAX 512

struct fhirauth {
    struct fa_config cfg;
    unsigned flags;               /* FHIRAUTH_OPEN_* */
    char detail[FA_DETAIL_MAX];   /* last call's error or warning */
};

/* Start a call: clear the detail left by the previous one. */
void fa_clear_detail(fhirauth *h);
/* Record rc's detail; returns rc so callers can `return fa_fail(...)`. */
fhirauth_rc fa_fail(fhirauth *h, fhirauth_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The configuration files a handle opened with these arguments reads
 * (design.md "Configuration"); *ret_user_file is freed by the caller. */
void fa_config_sources_for(struct fa_config_sources *src,
                           const char *explicit_file, unsigned flags,
                           char **ret_user_file);

/* The network half, loaded on first use; detail set on failure. */
fhirauth_rc fa_handle_net(fhirauth *h, const struct fa_net_ops **ret_ops,
                          struct fa_net_ctx *ret_ctx);

#pragma GCC visibility pop

#endif
