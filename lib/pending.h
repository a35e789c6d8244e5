/* pending.h - a login kept in the handle, the PAM module's stash of it,
 * and storing it for the user (pending.c). */
#ifndef FHIRAUTH_PENDING_H
#define FHIRAUTH_PENDING_H

#include <stddef.h>

#include "fhirauth.h"
#include "oauth.h"
#include "session.h"

#pragma GCC visibility push(hidden)

/* A login kept in the handle (FHIRAUTH_OPEN_DEFER_STORE): everything
 * fa_store_session() needs, and the verified id_token claims for
 * fhirauth_identity_check().  Every string may be a secret: wiped when
 * freed (pending.c). */
struct fa_pending {
    struct fa_token_response resp;
    struct fa_meta meta;
    char *claims;          /* JSON object text; NULL: no verified
                                   * id_token */
    long long obtained_at; /* when resp came, epoch seconds */
    char *dpop_key;        /* dpop = yes: the login's DPoP private key
                            * (PKCS#8 PEM, a secret), else NULL */
    size_t dpop_keylen;
};

/* Wipe and free h's pending session, if any. */
void fa_pending_clear(fhirauth *h);
/* Replace h's pending session by a copy of resp, taking over meta's
 * strings (meta emptied) and claims (malloc()ed, may be NULL), with a
 * copy of the login's DPoP key (h->dpop) when it has one. */
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

#pragma GCC visibility pop

#endif
