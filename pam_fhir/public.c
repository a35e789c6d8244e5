/*
 * public.c - the pam_sm_* entry points of pam_fhir.so, and nothing else:
 * each builds the per-call state from the arguments, logs entry and exit
 * with debug, calls the function that does the work and frees the state.
 */
#include "autoconf.h"

#include <security/pam_modules.h>

#include "internal.h"

/* Built with -fvisibility=hidden: the entry points are the exports
 * (pam_fhir.map pins them). */
#define PAMFA_EXPORT __attribute__((visibility("default")))

/* What every entry point does around its work; name is the entry point's,
 * for the debug lines. */
static int
run(const char *name, int (*work)(struct pamfa *a), pam_handle_t *pamh,
    int flags, int argc, const char **argv)
{
    struct pamfa a;
    int pamret = pamfa_args_init(&a, pamh, flags, argc, argv);

    if (pamret != PAM_SUCCESS)
        return pamret;
    pamfa_debug(&a, "%s: entry (flags %#x)", name, (unsigned) flags);
    pamret = work(&a);
    pamfa_debug(&a, "%s: exit (%s)", name,
                pamret == PAM_SUCCESS      ? "success"
                    : pamret == PAM_IGNORE ? "ignore"
                                           : "failure");
    pamfa_args_free(&a);
    return pamret;
}

PAMFA_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run(__func__, pamfa_authenticate, pamh, flags, argc, argv);
}

PAMFA_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run(__func__, pamfa_setcred, pamh, flags, argc, argv);
}

PAMFA_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run(__func__, pamfa_open_session, pamh, flags, argc, argv);
}

PAMFA_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                     const char **argv)
{
    return run(__func__, pamfa_close_session, pamh, flags, argc, argv);
}
