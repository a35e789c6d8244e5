/* handle.h - what a fhirauth handle holds. */
#ifndef FHIRAUTH_HANDLE_H
#define FHIRAUTH_HANDLE_H

#include "config.h"
#include "fhirauth-private.h"
#include "net.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

#define FA_DETAIL_MAX 512

/* A login kept in the handle (FHIRAUTH_OPEN_DEFER_STORE): everything
 * fa_store_session() needs, and the verified id_token claims for
 * fhirauth_identity_check().  Every string may be a secret: wiped when
 * freed (pending.c). */
struct fa_pending {
    struct fa_token_response resp;
    struct fa_meta meta;
    char *claims;                 /* JSON object text; NULL: no verified
                                   * id_token */
    long long obtained_at;        /* when resp came, epoch seconds */
};

struct fhirauth {
    struct fa_config cfg;
    struct fa_pending *pending;   /* NULL: nothing deferred */
    /* Frees pending (set with it by pending.c, so handle.c and the
     * programs linking it need not link pending.c). */
    void (*pending_free)(struct fa_pending *p);
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

/* pending.c: wipe and free h's pending session, if any. */
void fa_pending_clear(fhirauth *h);
/* Replace h's pending session by a copy of resp, taking over meta's
 * strings (meta emptied) and claims (malloc()ed, may be NULL). */
fhirauth_rc fa_pending_keep(fhirauth *h, const struct fa_token_response *resp,
                            struct fa_meta *meta, char *claims);
/* The stash's key description prefix "pam_fhir:stash:USER:" into buf;
 * -1 for a user name unfit for it (empty, too long, ':' or a byte
 * outside printable ASCII other than space). */
int fa_stash_prefix(char *buf, size_t len, const char *user);
/* A serial as the stash variable carries it: decimal digits only, no
 * sign or space, in (0, INT32_MAX].  0 or -1. */
int fa_stash_parse_serial(const char *s, long *ret);
/* The stash payload (JSON) to and from a pending session. */
fhirauth_rc fa_pending_encode(const struct fa_pending *p, char **ret_json,
                              size_t *ret_len);
fhirauth_rc fa_pending_decode(const char *json, size_t len,
                              struct fa_pending *p);
void fa_pending_free(struct fa_pending *p);

/* login.c: save a session answer under the lock for the real uid, then
 * revoke (best effort) the refresh token of the session it replaced. */
fhirauth_rc fa_store_session(fhirauth *h,
                             const struct fa_token_response *resp,
                             struct fa_meta *meta, time_t now);

/* identity.c: does the usermap text map value to user?  1 yes, 0 no, -1
 * a malformed line (message naming name and line in err). */
int fa_usermap_match(const char *name, const char *text, size_t len,
                     const char *value, const char *user, char *err,
                     size_t errlen);

#pragma GCC visibility pop

#endif
