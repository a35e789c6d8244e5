/* pamlib-driver.c - plays the PAM module's use of libfhirauth for
 * tests/integration/pam-lib.t: a deferred password login as root, the
 * identity check, the stash in root's user keyring, taking it back in
 * another process, storing it as the user; and for client-credentials.t
 * a token on a handle that trusts the system configuration alone.
 * Prints "name=value" lines.
 *
 *   pamlib-driver login CONF ACCOUNT PASSWORD LOCALUSER [USERMAP]
 *     (as root) with FHIRAUTH_OPEN_SYSTEM_ONLY | FHIRAUTH_OPEN_DEFER_STORE
 *   pamlib-driver logout CONF
 *     (as anyone) fhirauth_logout() on a FHIRAUTH_OPEN_SYSTEM_ONLY handle
 *   pamlib-driver token CONF MIN_VALID...
 *     (as anyone) fhirauth_token() on a FHIRAUTH_OPEN_SYSTEM_ONLY handle,
 *     once per MIN_VALID; prints whether a token came and its scheme
 *     (fhirauth_token_scheme()), never the token
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <keyutils.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fhirauth-private.h"

static fhirauth *
open_or_die(const char *conf, unsigned flags)
{
    fhirauth *h = NULL;
    char *detail = NULL;
    fhirauth_rc rc;

    rc = fhirauth_open_file(&h, conf, NULL, flags, &detail);
    if (rc != FHIRAUTH_OK) {
        fprintf(stderr, "pamlib-driver: open: %s\n",
                detail != NULL ? detail : fhirauth_strerror(rc));
        fhirauth_free_string(detail);
        exit(2);
    }
    return h;
}

static void
report(const char *name, fhirauth_rc rc, const fhirauth *h)
{
    printf("%s=%d\n", name, (int) rc);
    if (h != NULL && fhirauth_detail(h)[0] != '\0')
        printf("%s_detail=%s\n", name, fhirauth_detail(h));
    fflush(stdout);
}

/* The child: what open_session does in another process. */
static int
child(const char *conf, const char *serial, const char *localuser)
{
    struct passwd *pw;
    fhirauth *h =
        open_or_die(conf,
                    FHIRAUTH_OPEN_SYSTEM_ONLY | FHIRAUTH_OPEN_DEFER_STORE);

    report("take_bob", fhirauth_stash_take(h, "bob", serial), h);
    printf("pending_after_bob=%d\n", fhirauth_has_pending(h));
    report("take_user", fhirauth_stash_take(h, localuser, serial), h);
    printf("pending_after_take=%d\n", fhirauth_has_pending(h));
    report("take_again", fhirauth_stash_take(h, localuser, serial), h);
    /* cppcheck-suppress getpwnamCalled ; a single-threaded test driver */
    pw = getpwnam(localuser);
    if (pw == NULL) {
        printf("switch=no such user\n");
        return 1;
    }
    /* As the PAM module does around the keyring calls: real and
     * effective ids to the user (here for good: the child ends). */
    if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, 0) != 0
        || setresuid(pw->pw_uid, pw->pw_uid, 0) != 0) {
        printf("switch=%s\n", strerror(errno));
        return 1;
    }
    printf("switch=ok\n");
    report("store", fhirauth_store_pending(h), h);
    printf("pending_after_store=%d\n", fhirauth_has_pending(h));
    fflush(stdout);
    fhirauth_close(h);
    return 0;
}

static int
do_login(const char *conf, const char *account, const char *password,
         const char *localuser, const char *usermap)
{
    fhirauth *h;
    char *serial = NULL, *end;
    pid_t pid;
    int status;
    long s;

    h = open_or_die(conf,
                    FHIRAUTH_OPEN_SYSTEM_ONLY | FHIRAUTH_OPEN_DEFER_STORE);
    printf("pending_before=%d\n", fhirauth_has_pending(h));
    report("login", fhirauth_login_password(h, account, password), h);
    printf("pending_after_login=%d\n", fhirauth_has_pending(h));
    report("identity_account", fhirauth_identity_check(h, account), h);
    report("identity_bob", fhirauth_identity_check(h, "bob"), h);
    report("identity_user", fhirauth_identity_check(h, localuser), h);
    if (usermap != NULL) {
        report("set_usermap", fhirauth_set_option(h, "usermap", usermap), h);
        report("identity_user_mapped", fhirauth_identity_check(h, localuser),
               h);
    }
    report("stash_put", fhirauth_stash_put(h, localuser, &serial), h);
    if (serial == NULL) {
        fhirauth_close(h);
        return 1;
    }
    printf("serial=%s\n", serial);
    /* Its description and mode, seen with possession of root's user
     * keyring (the process keyring links it for the one call). */
    s = strtol(serial, &end, 10);
    if (keyctl_link(KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING) == 0) {
        char *desc = NULL;

        if (keyctl_describe_alloc((key_serial_t) s, &desc) != -1)
            printf("stash_desc=%s\n", desc);
        free(desc);
        (void) keyctl_unlink(KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING);
    }
    fflush(stdout);
    fhirauth_close(h); /* the auth process ends; the stash stays */

    pid = fork();
    if (pid == -1)
        return 1;
    if (pid == 0)
        _exit(child(conf, serial, localuser));
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    printf("child=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* The stash must be gone from root's user keyring. */
    end = NULL;
    if (keyctl_link(KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING) == 0
        && keyctl_describe_alloc((key_serial_t) s, &end) == -1)
        printf("stash_gone=%d\n",
               errno == ENOKEY || errno == EKEYREVOKED
                   || errno == EKEYEXPIRED);
    else
        printf("stash_gone=0\n");
    fhirauth_free_string(serial);
    return 0;
}

static int
do_logout(const char *conf)
{
    fhirauth *h = open_or_die(conf, FHIRAUTH_OPEN_SYSTEM_ONLY);
    int revoked = -1;

    report("logout", fhirauth_logout(h, &revoked), h);
    printf("revoked=%d\n", revoked);
    fhirauth_close(h);
    return 0;
}

static int
do_token(const char *conf, char **min_valid, int n)
{
    fhirauth *h = open_or_die(conf, FHIRAUTH_OPEN_SYSTEM_ONLY);
    char *token, *end;
    long min;
    int i;

    for (i = 0; i < n; i++) {
        end = NULL;
        min = strtol(min_valid[i], &end, 10);
        if (end == min_valid[i] || *end != '\0') {
            fprintf(stderr, "pamlib-driver: bad MIN_VALID\n");
            fhirauth_close(h);
            return 2;
        }
        token = NULL;
        report("token", fhirauth_token(h, min, &token, NULL), h);
        printf("token_got=%d\n", token != NULL);
        printf("token_scheme=%s\n", fhirauth_token_scheme(h));
        fflush(stdout);
        fhirauth_free_secret(token);
    }
    fhirauth_close(h);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "login") == 0)
        return do_login(argv[2], argv[3], argv[4], argv[5],
                        argc >= 7 ? argv[6] : NULL);
    if (argc == 3 && strcmp(argv[1], "logout") == 0)
        return do_logout(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "token") == 0)
        return do_token(argv[2], argv + 3, argc - 3);
    fprintf(stderr,
            "usage: pamlib-driver login CONF ACCOUNT PASSWORD "
            "LOCALUSER [USERMAP] | logout CONF | token CONF MIN_VALID...\n");
    return 2;
}
