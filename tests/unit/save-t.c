/* save-t.c - fa_save_tokens() (token.c) and a DPoP-bound session's key
 * in the keyring: a login that fails on the quota before anything is
 * written leaves the session it would have replaced as it was, its DPoP
 * key included; one that fails after that removes the whole profile; a
 * refresh that renews the refresh token's lifetime renews the key's
 * kernel timeout with it (read back from /proc/keys); a refresh leaves
 * no key in the handle.
 *
 * The quota is simulated: this program's add_key() fails with EDQUOT for
 * one key's description and passes everything else to the kernel.  The
 * keys go into the user keyring under a per-run profile and are removed
 * at exit.  Runs as any user; no server. */
#include "autoconf.h"

#include <errno.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dpop.h"
#include "handle.h"
#include "keystore.h"
#include "session.h"
#include "tests/tap/basic.h"
#include "tests/unit/testprofile.h"
#include "token.h"

/* add_key() of a description ending so fails with EDQUOT. */
static const char *fail_suffix;

key_serial_t
add_key(const char *type, const char *desc, const void *payload, size_t plen,
        key_serial_t ring)
{
    size_t n, s;

    if (fail_suffix != NULL && desc != NULL) {
        n = strlen(desc);
        s = strlen(fail_suffix);
        if (n >= s && strcmp(desc + n - s, fail_suffix) == 0) {
            errno = EDQUOT;
            return -1;
        }
    }
    return (key_serial_t) syscall(SYS_add_key, type, desc, payload, plen,
                                  ring);
}

/* keyctl_setperm() on a key the user keyring already holds with other
 * permissions: a new key visible before it has its own (a process killed
 * then left it unreadable to the next one, where the session keyring does
 * not link the user keyring). */
static int exposed;

long
keyctl_setperm(key_serial_t key, key_perm_t perm)
{
    char buf[256], desc[128];
    unsigned long cur;
    key_serial_t found;
    long n;

    n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buf, sizeof(buf) - 1);
    if (n > 0 && (size_t) n < sizeof(buf)) {
        buf[n] = '\0';
        /* "type;uid;gid;perm;description" */
        if (sscanf(buf, "%*[^;];%*[^;];%*[^;];%lx;%127[^\n]", &cur, desc) == 2
            && cur != (unsigned long) perm) {
            found =
                (key_serial_t) syscall(SYS_keyctl, KEYCTL_SEARCH,
                                       KEY_SPEC_USER_KEYRING, "user", desc, 0);
            if (found == key)
                exposed++;
        }
    }
    return syscall(SYS_keyctl, KEYCTL_SETPERM, key, perm);
}

static fhirauth *h;
static char profile[32];

static void
cleanup(void)
{
    int k;

    for (k = FA_KEY_REFRESH; k <= FA_KEY_LAST; k++)
        (void) fa_ks_unlink(FA_ANCHOR_USER, profile, (enum fa_key) k, NULL);
}

/* The key's payload as a string ("" when absent); a static buffer. */
static const char *
key_text(enum fa_key which)
{
    static char buf[256];
    char *data = NULL;
    size_t len = 0;

    buf[0] = '\0';
    if (fa_ks_read(FA_ANCHOR_USER, profile, which, &data, &len, NULL, NULL)
        == FHIRAUTH_OK) {
        snprintf(buf, sizeof(buf), "%s", data);
        fa_secret_free_len(data, len);
    }
    return buf;
}

/* A DPoP key in the handle (a stand-in text: nothing here signs). */
static void
hold_key(const char *text)
{
    fa_dpop_forget(h);
    if (text == NULL)
        return;
    h->dpop = calloc(1, sizeof(*h->dpop));
    if (h->dpop == NULL || (h->dpop->key = strdup(text)) == NULL)
        bail("out of memory");
    h->dpop->keylen = strlen(text);
}

/* Save a login's (FA_SAVE_LOGIN) or a refresh's answer; *dropped as
 * fa_save_tokens() says. */
static fhirauth_rc
save(int login, const char *refresh, long refresh_expires_in, int *dropped)
{
    struct fa_token_response r;
    struct fa_meta meta;
    char access[] = "access", dpop[] = "DPoP", bearer[] = "Bearer";
    char rt[64];
    fhirauth_rc rc;

    memset(&r, 0, sizeof(r));
    memset(&meta, 0, sizeof(meta));
    snprintf(rt, sizeof(rt), "%s", refresh != NULL ? refresh : "");
    r.access_token = access;
    r.token_type = h->dpop != NULL ? dpop : bearer;
    r.refresh_token = refresh != NULL ? rt : NULL;
    r.expires_in = 300;
    r.refresh_expires_in = refresh_expires_in;
    meta.ep.issuer = strdup(h->cfg.issuer);
    meta.ep.token_endpoint = strdup("https://127.0.0.1:9/token");
    meta.client_id = strdup(h->cfg.client_id);
    if (meta.ep.issuer == NULL || meta.ep.token_endpoint == NULL
        || meta.client_id == NULL)
        bail("out of memory");
    rc = fa_save_tokens(h, &r, &meta,
                        login ? FA_SAVE_LOGIN | FA_SAVE_META : FA_SAVE_META,
                        time(NULL), NULL, dropped);
    fa_meta_free(&meta);
    return rc;
}

/* A DPoP-bound session: refresh token "old-refresh", key "OLD-KEY". */
static void
old_session(void)
{
    cleanup();
    hold_key("OLD-KEY");
    if (save(1, "old-refresh", -1, NULL) != FHIRAUTH_OK)
        bail("cannot store a session: %s", fhirauth_detail(h));
}

static void
test_login_failures(void)
{
    int dropped;

    /* The new refresh token does not fit: nothing was written. */
    old_session();
    hold_key("NEW-KEY");
    fail_suffix = ":refresh";
    dropped = -1;
    is_int(FHIRAUTH_ERR_QUOTA, save(1, "new-refresh", -1, &dropped),
           "a DPoP login whose refresh token does not fit: QUOTA");
    fail_suffix = NULL;
    is_int(0, dropped, "  nothing dropped");
    is_string("old-refresh", key_text(FA_KEY_REFRESH),
              "  the old refresh token stays");
    is_string("OLD-KEY", key_text(FA_KEY_DPOP),
              "  and the DPoP key it is bound to");

    /* The same for a login without dpop: the old key is not removed. */
    old_session();
    hold_key(NULL);
    fail_suffix = ":refresh";
    is_int(FHIRAUTH_ERR_QUOTA, save(1, "new-refresh", -1, NULL),
           "a bearer login whose refresh token does not fit: QUOTA");
    fail_suffix = NULL;
    is_string("old-refresh", key_text(FA_KEY_REFRESH),
              "  the old refresh token stays");
    is_string("OLD-KEY", key_text(FA_KEY_DPOP), "  and its DPoP key");

    /* The key does not fit once the refresh token is written: the
     * profile goes, never a refresh token without its key. */
    old_session();
    hold_key("NEW-KEY");
    fail_suffix = ":dpop";
    dropped = -1;
    is_int(FHIRAUTH_ERR_QUOTA, save(1, "new-refresh", -1, &dropped),
           "a DPoP login whose key does not fit: QUOTA");
    fail_suffix = NULL;
    is_int(1, dropped, "  the session is dropped");
    is_string("", key_text(FA_KEY_REFRESH), "  no refresh token");
    is_string("", key_text(FA_KEY_DPOP), "  no DPoP key");
    is_string("", key_text(FA_KEY_META), "  no metadata");

    /* Stored: the new key; a bearer login removes the old one. */
    old_session();
    hold_key("NEW-KEY");
    is_int(FHIRAUTH_OK, save(1, "new-refresh", -1, NULL),
           "a DPoP login over a DPoP session");
    is_string("NEW-KEY", key_text(FA_KEY_DPOP), "  the new key is stored");
    hold_key(NULL);
    is_int(FHIRAUTH_OK, save(1, "bearer-refresh", -1, NULL),
           "a bearer login over a DPoP session");
    is_string("bearer-refresh", key_text(FA_KEY_REFRESH),
              "  its refresh token is stored");
    is_string("", key_text(FA_KEY_DPOP), "  the old DPoP key is gone");
}

/* The unit of the key's remaining time in /proc/keys: "s", "m", "h", "d",
 * "w", "perm" (no timeout), or "" when the key is not listed. */
static const char *
timeout_unit(enum fa_key which)
{
    static char unit[8];
    char line[512], desc[128], id[16], t[16];
    key_serial_t key;
    FILE *f;
    size_t n;

    unit[0] = '\0';
    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0)
        return unit;
    /* By serial: keys removed earlier may still be listed. */
    key = (key_serial_t) keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
    if (key == -1)
        return unit;
    snprintf(id, sizeof(id), "%08x ", (unsigned) key);
    f = fopen("/proc/keys", "r");
    if (f == NULL)
        return unit;
    while (fgets(line, sizeof(line), f) != NULL) {
        /* ID FLAGS USAGE TIMEOUT PERM UID GID TYPE DESCRIPTION: SUMMARY */
        if (strncmp(line, id, strlen(id)) != 0
            || sscanf(line, "%*s %*s %*s %15s", t) != 1)
            continue;
        n = strspn(t, "0123456789");
        snprintf(unit, sizeof(unit), "%s", t + n);
        break;
    }
    fclose(f);
    return unit;
}

/* Each save that renews the refresh token's lifetime gives the DPoP key
 * the refresh key's timeout. */
static void
test_lifetimes(void)
{
    old_session();
    hold_key("KEY");
    is_int(FHIRAUTH_OK, save(1, "r1", 30, NULL),
           "a DPoP login with refresh_expires_in 30");
    is_string("s", timeout_unit(FA_KEY_REFRESH), "  the refresh key: seconds");
    is_string("s", timeout_unit(FA_KEY_DPOP), "  the DPoP key: the same");
    is_int(FHIRAUTH_OK, save(0, "r2", 3 * 86400, NULL),
           "a refresh that rotates, refresh_expires_in 3 days");
    is_string("d", timeout_unit(FA_KEY_REFRESH), "  the refresh key: days");
    is_string("d", timeout_unit(FA_KEY_DPOP), "  the DPoP key: the same");
    is_int(FHIRAUTH_OK, save(0, NULL, 2 * 3600, NULL),
           "a refresh that keeps the token, refresh_expires_in 2 hours");
    is_string("h", timeout_unit(FA_KEY_REFRESH), "  the refresh key: hours");
    is_string("h", timeout_unit(FA_KEY_DPOP), "  the DPoP key: the same");
    is_int(FHIRAUTH_OK, save(0, "r3", -1, NULL),
           "a refresh that rotates, no refresh_expires_in");
    is_string("perm", timeout_unit(FA_KEY_REFRESH),
              "  the refresh key: no timeout");
    is_string("perm", timeout_unit(FA_KEY_DPOP), "  the DPoP key: the same");
    is_string("r3", key_text(FA_KEY_REFRESH), "  the refresh token stored");
    is_string("KEY", key_text(FA_KEY_DPOP), "  the key unchanged");
}

/* A refresh loads the stored key into the handle and wipes it before it
 * returns, whichever way it ends (here: no server). */
static void
test_forget(void)
{
    char *token = NULL;

    old_session();
    (void) fa_ks_unlink(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, NULL);
    hold_key(NULL);
    ok(fhirauth_token(h, 3600, &token, NULL) != FHIRAUTH_OK,
       "a refresh of a DPoP-bound session without a server fails");
    ok(h->dpop == NULL, "  the handle holds no DPoP key after it");
    fhirauth_free_secret(token);
}

/* A new key enters the ring only once it has its permissions and
 * timeout; an update keeps the key (and its serial). */
static void
test_new_key_hidden(void)
{
    key_serial_t first, second;
    char desc[128];

    if (fa_ks_describe(desc, sizeof(desc), profile, FA_KEY_ACCESS) != 0)
        bail("cannot describe the access key");
    (void) fa_ks_unlink(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, NULL);
    exposed = 0;
    is_int(FHIRAUTH_OK,
           fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, "new", 3, 60,
                       NULL),
           "a new key is stored");
    is_int(0, exposed, "  it was in the ring only with its permissions");
    first =
        (key_serial_t) keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
    ok(first != -1 && strcmp(key_text(FA_KEY_ACCESS), "new") == 0,
       "  and reads back");
    is_int(FHIRAUTH_OK,
           fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, "upd", 3, 60,
                       NULL),
           "the same key updated");
    second =
        (key_serial_t) keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
    ok(second == first && strcmp(key_text(FA_KEY_ACCESS), "upd") == 0,
       "  in place (the same serial)");
    (void) fa_ks_unlink(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, NULL);
}

int
main(void)
{
    if (keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1)
        skip_all("no kernel keyring: %s", strerror(errno));
    plan(38);
    testprofile_open("svt", NULL, profile, sizeof(profile), &h, NULL);
    atexit(cleanup);

    test_login_failures();
    test_lifetimes();
    test_forget();
    test_new_key_hidden();

    fhirauth_close(h);
    return 0;
}
