/* handle.h - what a fhirauth handle holds (handle.c opens and closes it). */
#ifndef FHIRAUTH_HANDLE_H
#define FHIRAUTH_HANDLE_H

#include "config.h"
#include "fhirauth.h"
#include "fhirauth-private.h"
#include "net.h"
#include "url.h"
#include "util.h"

#pragma GCC visibility push(hidden)

struct fa_pending;

struct fhirauth {
    struct fa_config cfg;
    struct fa_pending *pending; /* NULL: nothing deferred (pending.h) */
    unsigned flags;             /* FHIRAUTH_OPEN_* */
    struct fa_err err;          /* the last call's failure or warning */
    struct fa_dpop *dpop;       /* the DPoP key of the session in hand, or NULL
                           * (dpop.c) */
    int token_dpop;             /* the token fhirauth_token() returned last is
                           * DPoP-bound (its access key says so) */
    /* The last resource server nonce this handle was given
     * (fhirauth_dpop_nonce()) and that server's origin. */
    char rs_origin[16 + FA_URL_HOST_MAX + 16];
    char rs_nonce[FA_DPOP_NONCE_MAX + 1];
};

/* The configuration files a handle opened with these arguments reads
 * (pam_fhir.conf(5), FILES AND PRECEDENCE); *ret_user_file is freed by the
 * caller. */
void fa_config_sources_for(struct fa_config_sources *src,
                           const char *explicit_file, unsigned flags,
                           char **ret_user_file);

#pragma GCC visibility pop

#endif
