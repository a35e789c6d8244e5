/* dpop-nonce-t.c - fhirauth_dpop_nonce() (dpop_request.c): a resource
 * server's nonce goes into the handle and, when new, into the session
 * metadata under the refresh lock.  A nonce the handle or the metadata
 * already has takes no lock; while another process holds the lock, a
 * new one is kept by the handle with a warning, never refused.
 *
 * The lock is held by a forked child; the keys go into the user keyring
 * under a per-run profile and are removed at exit.  Runs as any user; no
 * server. */
#include "autoconf.h"

#include <errno.h>
#include <keyutils.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handle.h"
#include "keystore.h"
#include "lock.h"
#include "session.h"
#include "tests/tap/basic.h"
#include "tests/unit/testprofile.h"
#include "token.h"

#define URL "https://rs.example:8443/r4/Patient?name=x"

static char profile[32];

static void
cleanup(void)
{
    int k;

    for (k = FA_KEY_REFRESH; k <= FA_KEY_LAST; k++)
        (void) fa_ks_unlink(FA_ANCHOR_USER, profile, (enum fa_key) k, NULL);
}

/* The metadata's resource server nonce ("" when none); a static buffer. */
static const char *
meta_nonce(void)
{
    static char buf[128];
    struct fa_meta meta;
    char *data = NULL;
    size_t len = 0;

    buf[0] = '\0';
    if (fa_ks_read(FA_ANCHOR_USER, profile, FA_KEY_META, &data, &len, NULL,
                   NULL)
        != FHIRAUTH_OK)
        return buf;
    if (fa_meta_decode(data, len, &meta, NULL) == FHIRAUTH_OK) {
        if (meta.rs_dpop_nonce != NULL)
            snprintf(buf, sizeof(buf), "%s", meta.rs_dpop_nonce);
        fa_meta_free(&meta);
    }
    fa_secret_free_len(data, len);
    return buf;
}

int
main(void)
{
    char c;
    struct fa_meta meta;
    fhirauth *h, *other;
    char *json = NULL;
    int p[2], fd;
    pid_t pid;

    if (keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1)
        skip_all("no kernel keyring: %s", strerror(errno));
    plan(11);
    /* timeout = 1: a lock held by another waits 2 x 1 s + 5 s. */
    testprofile_open("dnt", "timeout = 1\n", profile, sizeof(profile), &h,
                     &other);
    atexit(cleanup);

    memset(&meta, 0, sizeof(meta));
    meta.ep.issuer = strdup(h->cfg.issuer);
    meta.ep.token_endpoint = strdup("https://127.0.0.1:9/token");
    meta.client_id = strdup(h->cfg.client_id);
    meta.token_type = strdup("DPoP");
    if (meta.ep.issuer == NULL || meta.ep.token_endpoint == NULL
        || meta.client_id == NULL || meta.token_type == NULL
        || fa_meta_encode(&meta, &json) != 0
        || fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_META, json,
                       strlen(json), 0, NULL)
            != FHIRAUTH_OK)
        bail("cannot store the session metadata");
    free(json);
    fa_meta_free(&meta);

    is_int(FHIRAUTH_OK, fhirauth_dpop_nonce(h, URL, "n1"),
           "a new nonce, the lock free");
    is_string("", fhirauth_detail(h), "  no warning");
    is_string("n1", meta_nonce(), "  into the metadata");

    /* Another process holds the refresh lock (a refresh under way). */
    if (pipe(p) != 0)
        bail("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        bail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        if (fa_take_lock(h, &fd) != FHIRAUTH_OK)
            _exit(1);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &c, 1) != 1)
        bail("the child did not take the lock");

    is_int(FHIRAUTH_OK, fhirauth_dpop_nonce(h, URL, "n1"),
           "the handle's nonce again, the lock held: no wait, OK");
    is_int(FHIRAUTH_OK, fhirauth_dpop_nonce(other, URL, "n1"),
           "the metadata's nonce, from another handle: OK");
    is_string("", fhirauth_detail(other), "  no warning");
    is_string("n1", other->rs_nonce, "  that handle has it");
    is_int(FHIRAUTH_OK, fhirauth_dpop_nonce(h, URL, "n2"),
           "a new nonce, the lock held: OK");
    ok(strncmp(fhirauth_detail(h), "warning: ", 9) == 0,
       "  with a warning: %s", fhirauth_detail(h));
    is_string("n2", h->rs_nonce, "  the handle has it, for a retry");
    is_string("n1", meta_nonce(), "  the metadata keeps the old one");

    kill(pid, SIGTERM);
    (void) waitpid(pid, NULL, 0);
    fhirauth_close(other);
    fhirauth_close(h);
    return 0;
}
