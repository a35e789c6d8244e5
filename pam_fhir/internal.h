/*
 * internal.h - what the files of pam_fhir.so share: the per-call state,
 * argument handling, logging, the conversation and the uid switch.
 *
 * public.c holds only the pam_sm_* shims; auth.c, setcred.c and
 * session.c do the work of each phase; args.c, logging.c, conv.c and
 * user.c are their helpers.  Everything that talks to the authorization
 * server or the keyring is in libfhirauth (include/fhirauth.h).
 */
#ifndef PAM_FHIR_INTERNAL_H
#define PAM_FHIR_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include <security/pam_modules.h>

#include "fhirauth-private.h"

#pragma GCC visibility push(hidden)

/* The name under which a non-root auth keeps its handle (pam_set_data). */
#define PAMFA_DATA_HANDLE "pam_fhir_handle"
/* The PAM environment variable carrying the stash's key serial. */
#define PAMFA_ENV_STASH "PAM_FHIR_STASH"

/* One call of one pam_sm_* function. */
struct pamfa {
    pam_handle_t *pamh;
    const char *user; /* the PAM user, borrowed from PAM */
    fhirauth *h;      /* NULL until pamfa_open() */
    int flags;        /* the flags PAM passed */
    bool debug;
    bool use_first_pass;
    bool try_first_pass;
    const char *config;  /* config= argument, borrowed from argv */
    const char *profile; /* profile= argument, borrowed from argv */
    int argc;
    const char **argv;
};

/* args.c */
int pamfa_args_init(struct pamfa *a, pam_handle_t *pamh, int flags, int argc,
                    const char **argv);
int pamfa_get_user(struct pamfa *a);
int pamfa_open(struct pamfa *a, unsigned extra_flags, fhirauth **ret_h);
void pamfa_args_free(struct pamfa *a);
const char *pamfa_option(const struct pamfa *a, const char *key);
bool pamfa_option_bool(const struct pamfa *a, const char *key);
int pamfa_map_rc(struct pamfa *a, fhirauth_rc rc, const char *what,
                 int fallback);

/* logging.c */
void pamfa_log(const struct pamfa *a, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pamfa_debug(const struct pamfa *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* conv.c */
int pamfa_prompt(const struct pamfa *a, int style, const char *text,
                 char **ret_reply);
int pamfa_prompt_info(const struct pamfa *a, const char *info,
                      const char *prompt, char **ret_reply);
void pamfa_wipe_free(char *s);

/* qr.c: the QR code of uri as text (NUL-terminated, free() it), when the
 * qr option asks for one here (on; auto: a local terminal, not ssh); NULL
 * otherwise or when it cannot be drawn. */
char *pamfa_qr(const struct pamfa *a, const char *uri);

/* user.c */
struct pamfa_ids {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    gid_t *groups; /* the caller's supplementary groups, restored after */
    int ngroups;
    bool switched;
};
int pamfa_lookup_user(const struct pamfa *a, uid_t *ret_uid, gid_t *ret_gid);
int pamfa_become_user(const struct pamfa *a, uid_t uid, gid_t gid,
                      struct pamfa_ids *saved);
int pamfa_restore_ids(const struct pamfa *a, struct pamfa_ids *saved);

/* auth.c, setcred.c, session.c */
int pamfa_authenticate(struct pamfa *a);
int pamfa_setcred(struct pamfa *a);
int pamfa_open_session(struct pamfa *a);
int pamfa_close_session(struct pamfa *a);
/* session.c: move a stashed or pending session into the user's keyring;
 * PAM_IGNORE when there is nothing to move. */
int pamfa_store_stashed(struct pamfa *a, int fail);

#pragma GCC visibility pop

#endif /* PAM_FHIR_INTERNAL_H */
