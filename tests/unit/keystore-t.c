/* keystore-t.c - the keys in the kernel keyring: round trips on each
 * anchor, the search order, permissions and timeouts, other users, the
 * quota, and the access key's payload format.
 *
 * Runs as any user; the cross-user and quota tests need root (CI runs as
 * root) and work in forked children that switch to uid 65534.  Every key
 * is named after a per-run profile "t-PID" and removed at exit.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <keyutils.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keystore.h"
#include "tests/tap/basic.h"
#include "util.h"

#define NOBODY 65534
#define WANT_PERM 0x3f2f0000u /* possessor all; user v r w s a */
#define QUOTA_KEYS 16

static char profile[32];
static char qprofile[QUOTA_KEYS][40];
static const enum fa_anchor anchors[3] = { FA_ANCHOR_PERSISTENT,
                                           FA_ANCHOR_USER, FA_ANCHOR_SESSION };
static const char *const anchor_names[3] = { "persistent", "user", "session" };

/* Remove everything this run created, whatever failed on the way. */
static void
cleanup(void)
{
    int i, k;

    for (k = FA_KEY_REFRESH; k <= FA_KEY_LAST; k++)
        for (i = 0; i < 3; i++)
            (void) fa_ks_unlink(anchors[i], profile, (enum fa_key) k, NULL);
}

/* The serial of our key in a keyring, or -1. */
static key_serial_t
find(key_serial_t ring, enum fa_key which)
{
    char desc[128];

    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0)
        return -1;
    return (key_serial_t) keyctl_search(ring, "user", desc, 0);
}

static key_serial_t
ring_of(enum fa_anchor a)
{
    long id;

    switch (a) {
    case FA_ANCHOR_PERSISTENT:
        id = keyctl_get_persistent((uid_t) -1, KEY_SPEC_PROCESS_KEYRING);
        return id == -1 ? KEY_SPEC_USER_KEYRING : (key_serial_t) id;
    case FA_ANCHOR_USER:
        return KEY_SPEC_USER_KEYRING;
    case FA_ANCHOR_SESSION:
        return KEY_SPEC_SESSION_KEYRING;
    }
    return -1;
}

/* "type;uid;gid;perm;description": the uid and perm fields. */
static int
describe_key(key_serial_t key, unsigned long *uid, unsigned long *perm)
{
    char *d = NULL, *p, *end;
    int ok_ = -1;

    if (keyctl_describe_alloc(key, &d) < 0)
        return -1;
    p = strchr(d, ';');
    if (p != NULL) {
        *uid = strtoul(p + 1, &end, 10);
        p = strchr(end, ';');
        if (*end == ';' && p != NULL && (p = strchr(p + 1, ';')) != NULL) {
            *perm = strtoul(p + 1, &end, 16);
            if (*end == ';')
                ok_ = 0;
        }
    }
    free(d);
    return ok_;
}

/* The timeout column of /proc/keys for a key ("perm", "40s", ...). */
static int
proc_timeout(key_serial_t key, char *out, size_t outlen)
{
    char want[16], line[512];
    FILE *f;
    int found = -1;

    snprintf(want, sizeof(want), "%08x ", (unsigned) key);
    f = fopen("/proc/keys", "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = line;
        size_t n;
        int i;

        if (strncmp(line, want, strlen(want)) != 0)
            continue;
        for (i = 0; i < 3; i++) {
            p += strcspn(p, " ");
            p += strspn(p, " ");
        }
        n = strcspn(p, " ");
        if (n < outlen) {
            memcpy(out, p, n);
            out[n] = '\0';
            found = 0;
        }
        break;
    }
    fclose(f);
    return found;
}

/* Seconds left per /proc/keys, -1 when "perm" or unreadable. */
static long
seconds_left(key_serial_t key)
{
    char t[16], *end;
    long v;

    if (proc_timeout(key, t, sizeof(t)) != 0)
        return -2;
    v = strtol(t, &end, 10);
    if (end == t || strcmp(end, "s") != 0)
        return -1;
    return v;
}

static int
is_perm(key_serial_t key)
{
    char t[16];

    return proc_timeout(key, t, sizeof(t)) == 0 && strcmp(t, "perm") == 0;
}

/* Fork, run fn in the child, return its exit status (-1: killed). */
static int
in_child(int (*fn)(void *), void *arg)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == -1)
        return -1;
    if (pid == 0)
        _exit(fn(arg));
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int
become_nobody(uid_t saved)
{
    return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0
            && setresuid(NOBODY, NOBODY, saved) == 0
        ? 0
        : -1;
}

static int
read_is(enum fa_anchor a, enum fa_key which, const char *want,
        enum fa_anchor want_anchor)
{
    char *data = NULL;
    size_t len = 0;
    enum fa_anchor got = (enum fa_anchor) 99;
    fhirauth_rc rc;
    int r;

    rc = fa_ks_read(a, profile, which, &data, &len, &got, NULL);
    r = rc == FHIRAUTH_OK && len == strlen(want) && strcmp(data, want) == 0
        && got == want_anchor;
    fa_secret_free_len(data, len);
    return r;
}

static fhirauth_rc
read_rc(enum fa_anchor a, enum fa_key which)
{
    char *data = NULL;
    size_t len = 0;
    fhirauth_rc rc;

    rc = fa_ks_read(a, profile, which, &data, &len, NULL, NULL);
    fa_secret_free_len(data, len);
    return rc;
}

/*
 * keystore.c is linked into this program, so this keyctl_get_persistent()
 * is the one it calls: with no_persistent set it answers as a kernel
 * without CONFIG_PERSISTENT_KEYRINGS does.
 */
static int no_persistent;

long
keyctl_get_persistent(uid_t uid, key_serial_t id)
{
    if (no_persistent) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, uid, id);
}

/* ---------------------------------------------------------- children */

/* Another uid, in a session of its own, must not read our keys. */
static int
child_other_user(void *arg)
{
    const key_serial_t *keys = arg;
    char buf[64];
    int i, bad = 0;

    if (keyctl_join_session_keyring(NULL) == -1 || become_nobody(NOBODY))
        return 100;
    for (i = 0; i < 3; i++) {
        errno = 0;
        if (keyctl_read(keys[i], buf, sizeof(buf)) != -1 || errno != EACCES)
            bad |= 1 << i;
        if (read_rc(anchors[i], FA_KEY_ACCESS) != FHIRAUTH_ERR_LOGIN_NEEDED)
            bad |= 8 << i;
    }
    return bad;
}

/*
 * The PAM module's pattern: root reads a user's keys, switches ids and
 * reads again for another user in the same process.  Root's persistent
 * keyring stays linked (possessed) through the process keyring, so a cache
 * that ignored the uid would hand root's keys to uid 65534.
 */
static int
child_switch_uid(void *arg)
{
    (void) arg;
    if (!read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "100 switch",
                 FA_ANCHOR_PERSISTENT))
        return 1;
    if (become_nobody(0))
        return 100;
    if (read_rc(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS)
        != FHIRAUTH_ERR_LOGIN_NEEDED)
        return 2;
    if (setresuid(0, 0, 0) != 0)
        return 100;
    if (!read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "100 switch",
                 FA_ANCHOR_PERSISTENT))
        return 3;
    return 0;
}

/* A forked child has no process keyring: the cached persistent keyring
 * id gives it no possession until it is fetched again. */
static int
child_same_user(void *arg)
{
    (void) arg;
    return read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "100 fork",
                   FA_ANCHOR_PERSISTENT)
        ? 0
        : 1;
}

/* Fill uid 65534's quota (20,000 bytes by default): EDQUOT must come back
 * as FHIRAUTH_ERR_QUOTA naming the sysctl.  Only the keys made here are
 * removed: other tests may use the same uid's keyring meanwhile. */
static int
child_quota(void *arg)
{
    static char big[8000];
    struct fa_err ectx = { FHIRAUTH_OK, "" };
    fhirauth_rc rc = FHIRAUTH_OK;
    int i, n, result;

    (void) arg;
    if (become_nobody(NOBODY))
        return 100;
    memset(big, 'q', sizeof(big));
    for (n = 0; n < QUOTA_KEYS; n++) {
        rc = fa_ks_store(FA_ANCHOR_USER, qprofile[n], FA_KEY_META, big,
                         sizeof(big), 0, &ectx);
        if (rc != FHIRAUTH_OK)
            break;
    }
    if (rc == FHIRAUTH_ERR_QUOTA && strstr(ectx.msg, "kernel.keys.maxbytes"))
        result = 0;
    else
        result = rc == FHIRAUTH_OK ? 1 : 2;
    for (i = 0; i <= n && i < QUOTA_KEYS; i++)
        if (fa_ks_unlink(FA_ANCHOR_USER, qprofile[i], FA_KEY_META, NULL)
            != FHIRAUTH_OK)
            result |= 4;
    for (i = 0; i < QUOTA_KEYS; i++)
        if (fa_ks_read(FA_ANCHOR_USER, qprofile[i], FA_KEY_META,
                       &(char *){ NULL }, &(size_t){ 0 }, NULL, NULL)
            != FHIRAUTH_ERR_LOGIN_NEEDED)
            result |= 8;
    return result;
}

/* Without persistent keyrings the persistent anchor is the user keyring
 * (in a child: the fallback is cached for the rest of the process). */
static int
child_no_persistent(void *arg)
{
    key_serial_t real = *(const key_serial_t *) arg;
    enum fa_anchor where = FA_ANCHOR_SESSION;
    char *data = NULL;
    size_t len = 0;
    int bad = 0;

    no_persistent = 1;
    if (fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_META, "{}", 2, 0,
                    NULL)
        != FHIRAUTH_OK)
        return 1;
    if (find(real, FA_KEY_META) != -1)
        bad |= 2; /* it went to the real persistent keyring */
    if (fa_ks_read(FA_ANCHOR_PERSISTENT, profile, FA_KEY_META, &data, &len,
                   &where, NULL)
            != FHIRAUTH_OK
        || strcmp(data, "{}") != 0 || where != FA_ANCHOR_USER)
        bad |= 4;
    fa_secret_free_len(data, len);
    if (fa_ks_unlink(FA_ANCHOR_PERSISTENT, profile, FA_KEY_META, NULL)
            != FHIRAUTH_OK
        || find(KEY_SPEC_USER_KEYRING, FA_KEY_META) != -1)
        bad |= 8;
    return bad;
}

static void *
reader_thread(void *arg)
{
    long i, fails = 0;

    (void) arg;
    for (i = 0; i < 2000; i++)
        if (!read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "100 threads",
                     FA_ANCHOR_PERSISTENT))
            fails++;
    return (void *) fails;
}

/* ------------------------------------------------------------- tests */

static void
test_format(void)
{
    char buf[128], small[8], longname[80];
    const char *tok = "x";
    time_t exp = 42;

    is_int(0, fa_ks_describe(buf, sizeof(buf), "p.1_x-Y", FA_KEY_REFRESH),
           "describe refresh");
    is_string("pam_fhir:p.1_x-Y:refresh", buf, "refresh description");
    fa_ks_describe(buf, sizeof(buf), "p", FA_KEY_ACCESS);
    is_string("pam_fhir:p:access", buf, "access description");
    fa_ks_describe(buf, sizeof(buf), "p", FA_KEY_META);
    is_string("pam_fhir:p:meta", buf, "meta description");
    is_int(-1, fa_ks_describe(small, sizeof(small), "p", FA_KEY_META),
           "describe: small buffer refused");
    is_string("", small, "small buffer emptied");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "", FA_KEY_META),
           "empty profile refused");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "a:b", FA_KEY_META),
           "profile with ':' refused");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "a/b", FA_KEY_META),
           "profile with '/' refused");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "a b", FA_KEY_META),
           "profile with a space refused");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "caf\xc3\xa9", FA_KEY_META),
           "non-ASCII profile refused");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), NULL, FA_KEY_META),
           "NULL profile refused");
    memset(longname, 'a', 64);
    longname[64] = '\0';
    is_int(0, fa_ks_describe(buf, sizeof(buf), longname, FA_KEY_META),
           "64-character profile accepted");
    longname[64] = 'a';
    longname[65] = '\0';
    is_int(-1, fa_ks_describe(buf, sizeof(buf), longname, FA_KEY_META),
           "65-character profile refused");
    is_int(0, fa_ks_describe(buf, sizeof(buf), "p", FA_KEY_DPOP),
           "the DPoP key's description");
    is_string("pam_fhir:p:dpop", buf, "... pam_fhir:PROFILE:dpop");
    is_int(-1, fa_ks_describe(buf, sizeof(buf), "p", (enum fa_key) 4),
           "unknown key refused");

    is_int(0, fa_access_encode(buf, sizeof(buf), 1700000000, "ab.c-d_e~f+/="),
           "encode");
    is_string("1700000000 ab.c-d_e~f+/=", buf, "encoded payload");
    is_int(0, fa_access_decode(buf, &exp, &tok), "decode");
    is_int(1700000000, exp, "expiry decoded");
    is_string("ab.c-d_e~f+/=", tok, "token decoded");
    ok(tok == buf + 11, "token points into the payload");
    is_int(0, fa_access_encode(buf, sizeof(buf), 0, "t"), "expiry 0");
    is_string("0 t", buf, "expiry 0 payload");
    is_int(-1, fa_access_encode(small, sizeof(small), 1700000000, "t"),
           "encode: small buffer refused");
    is_string("", small, "small buffer emptied");
    is_int(-1, fa_access_encode(buf, sizeof(buf), -1, "t"),
           "negative expiry refused");
    is_int(-1, fa_access_encode(buf, sizeof(buf), 1, ""),
           "empty token refused");
    is_int(-1, fa_access_encode(buf, sizeof(buf), 1, "a b"),
           "token with a space refused");
    is_int(-1, fa_access_encode(buf, sizeof(buf), 1, "a\nb"),
           "token with a newline refused");
    is_int(-1, fa_access_encode(buf, sizeof(buf), 1, NULL),
           "NULL token refused");

    exp = 7;
    tok = "untouched";
    is_int(-1, fa_access_decode("", &exp, &tok), "decode: empty");
    is_int(-1, fa_access_decode("123", &exp, &tok), "decode: no token");
    is_int(-1, fa_access_decode("123 ", &exp, &tok), "decode: empty token");
    is_int(-1, fa_access_decode(" abc", &exp, &tok), "decode: no expiry");
    is_int(-1, fa_access_decode("12a abc", &exp, &tok),
           "decode: non-digit expiry");
    is_int(-1, fa_access_decode("-5 abc", &exp, &tok),
           "decode: negative expiry");
    is_int(-1, fa_access_decode("+5 abc", &exp, &tok), "decode: sign");
    is_int(-1, fa_access_decode("123  abc", &exp, &tok), "decode: two spaces");
    is_int(-1, fa_access_decode("123\tabc", &exp, &tok), "decode: tab");
    is_int(-1, fa_access_decode("123 abc def", &exp, &tok),
           "decode: space in token");
    is_int(-1, fa_access_decode("123 abc\n", &exp, &tok),
           "decode: trailing newline");
    is_int(-1, fa_access_decode("123 ab\x01c", &exp, &tok),
           "decode: control character");
    is_int(-1, fa_access_decode("123 ab\x7f", &exp, &tok), "decode: DEL");
    is_int(-1, fa_access_decode("99999999999999999999 abc", &exp, &tok),
           "decode: overflowing expiry");
    is_int(-1, fa_access_decode(NULL, &exp, &tok), "decode: NULL");
    ok(exp == 7 && strcmp(tok, "untouched") == 0,
       "outputs untouched on failure");
    is_int(0, fa_access_decode("9223372036854775807 t", &exp, &tok),
           "decode: largest expiry");
}

/* fa_access_decode_as(): "EXPIRY TOKEN" is a bearer token, "EXPIRY DPoP
 * TOKEN" a DPoP-bound one (fa_access_encode_as); anything else is refused.
 * want_dpop -1: refused. */
static const struct {
    const char *payload;
    int want_dpop;
    long long want_exp;
    const char *want_tok;
    const char *what;
} access_cases[] = {
    { "1700000000 abc.def", 0, 1700000000, "abc.def", "EXPIRY TOKEN: Bearer" },
    { "1700000000 DPoP abc.def", 1, 1700000000, "abc.def",
      "EXPIRY DPoP TOKEN: DPoP-bound" },
    { "0 DPoP t", 1, 0, "t", "expiry 0, DPoP" },
    { "5 DPoPabc", 0, 5, "DPoPabc", "a token that starts with DPoP: Bearer" },
    { "5 DPoP", 0, 5, "DPoP", "a token that is DPoP: Bearer" },
    { "5 dpop abc", -1, 0, NULL, "the mark is case-sensitive: a space after" },
    { "5 DPoP ", -1, 0, NULL, "DPoP without a token" },
    { "5 DPoP  abc", -1, 0, NULL, "DPoP and two spaces" },
    { "5 DPoP abc def", -1, 0, NULL, "DPoP, a space in the token" },
    { "5 DPoP DPoP abc", -1, 0, NULL, "the mark twice" },
    { "5 DPoP\tabc", -1, 0, NULL, "DPoP and a tab" },
    { "5 DPoP abc\n", -1, 0, NULL, "DPoP, a trailing newline" },
    { "DPoP 5 abc", -1, 0, NULL, "the mark before the expiry" },
    { "DPoP abc", -1, 0, NULL, "the mark without an expiry" },
    { "-5 DPoP abc", -1, 0, NULL, "DPoP, negative expiry" },
    { "99999999999999999999 DPoP abc", -1, 0, NULL,
      "DPoP, overflowing expiry" },
};

static void
test_access_dpop(void)
{
    char buf[128];
    const char *tok;
    time_t exp;
    size_t i;
    int dpop;

    for (i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++) {
        exp = 7;
        tok = "untouched";
        dpop = 9;
        if (access_cases[i].want_dpop < 0) {
            is_int(-1,
                   fa_access_decode_as(access_cases[i].payload, &exp, &tok,
                                       &dpop),
                   "decode_as refuses %s", access_cases[i].what);
            ok(exp == 7 && strcmp(tok, "untouched") == 0 && dpop == 9,
               "  outputs untouched");
            continue;
        }
        is_int(0,
               fa_access_decode_as(access_cases[i].payload, &exp, &tok, &dpop),
               "decode_as: %s", access_cases[i].what);
        is_int(access_cases[i].want_dpop, dpop, "  scheme");
        is_int(access_cases[i].want_exp, (long long) exp, "  expiry");
        is_string(access_cases[i].want_tok, tok, "  token");
    }
    /* The bearer decoder reads a DPoP payload's token too. */
    is_int(0, fa_access_decode("5 DPoP abc", &exp, &tok), "decode: DPoP form");
    is_string("abc", tok, "  the token without the mark");
    /* Both forms round-trip through the encoder. */
    is_int(0, fa_access_encode_as(buf, sizeof(buf), 42, 1, "x.y"),
           "encode_as DPoP");
    is_string("42 DPoP x.y", buf, "  payload");
    ok(fa_access_decode_as(buf, &exp, &tok, &dpop) == 0 && dpop == 1
           && exp == 42 && strcmp(tok, "x.y") == 0,
       "  decodes back as DPoP");
    is_int(0, fa_access_encode_as(buf, sizeof(buf), 42, 0, "x.y"),
           "encode_as Bearer");
    is_string("42 x.y", buf, "  payload");
    ok(fa_access_decode_as(buf, &exp, &tok, &dpop) == 0 && dpop == 0,
       "  decodes back as Bearer");
    is_int(-1, fa_access_decode_as("5 DPoP abc", &exp, &tok, NULL),
           "decode_as: NULL ret_dpop refused");
}

static void
test_anchor(int i)
{
    enum fa_anchor a = anchors[i];
    const char *an = anchor_names[i];
    key_serial_t ring = ring_of(a), k1, k2;
    unsigned long uid = 99, perm = 0;
    struct fa_err ectx = { FHIRAUTH_OK, "" };
    fhirauth_rc rc;
    long left;

    rc = fa_ks_store(a, profile, FA_KEY_ACCESS, "100 first", 9, 40, &ectx);
    is_int(FHIRAUTH_OK, rc, "%s: store (%s)", an, ectx.msg);
    ok(read_is(a, FA_KEY_ACCESS, "100 first", a), "%s: read back", an);
    k1 = find(ring, FA_KEY_ACCESS);
    ok(k1 > 0, "%s: the key is in the %s keyring", an, an);
    is_int(0, describe_key(k1, &uid, &perm), "%s: describe", an);
    is_int(getuid(), (long long) uid, "%s: owned by the caller", an);
    is_int(WANT_PERM, perm, "%s: permissions possessor+user only (%08lx)", an,
           perm);
    is_int(0, perm & (KEY_GRP_ALL | KEY_OTH_ALL),
           "%s: nothing for group "
           "or other",
           an);
    left = seconds_left(k1);
    ok(left > 30 && left <= 40, "%s: timeout set (%lds)", an, left);

    rc = fa_ks_store(a, profile, FA_KEY_ACCESS, "200 second", 10, 0, &ectx);
    is_int(FHIRAUTH_OK, rc, "%s: update (%s)", an, ectx.msg);
    k2 = find(ring, FA_KEY_ACCESS);
    is_int(k1, k2, "%s: updated in place, same serial", an);
    ok(read_is(a, FA_KEY_ACCESS, "200 second", a), "%s: new payload read", an);
    ok(is_perm(k2), "%s: timeout 0 means none", an);
    rc = fa_ks_store(a, profile, FA_KEY_ACCESS, "300 third", 9, 50, &ectx);
    left = seconds_left(k2);
    ok(rc == FHIRAUTH_OK && left > 40 && left <= 50,
       "%s: timeout set again after an update (%lds)", an, left);
    perm = 0;
    describe_key(k2, &uid, &perm);
    is_int(WANT_PERM, perm, "%s: permissions kept after an update", an);

    is_int(FHIRAUTH_OK, fa_ks_unlink(a, profile, FA_KEY_ACCESS, &ectx),
           "%s: unlink (%s)", an, ectx.msg);
    is_int(-1, find(ring, FA_KEY_ACCESS), "%s: gone from the keyring", an);
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, read_rc(a, FA_KEY_ACCESS),
           "%s: read after unlink: login needed", an);
    is_int(FHIRAUTH_OK, fa_ks_unlink(a, profile, FA_KEY_ACCESS, NULL),
           "%s: unlinking an absent key is fine", an);
}

static void
test_search_order(void)
{
    struct fa_err ectx = { FHIRAUTH_OK, "" };

    /* A session key found when the configured anchor is persistent. */
    fa_ks_store(FA_ANCHOR_SESSION, profile, FA_KEY_META, "{\"s\":1}", 7, 0,
                NULL);
    ok(read_is(FA_ANCHOR_PERSISTENT, FA_KEY_META, "{\"s\":1}",
               FA_ANCHOR_SESSION),
       "persistent first, found in session");
    /* A user key found when the configured anchor is session. */
    fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_REFRESH, "r-user", 6, 0, NULL);
    ok(read_is(FA_ANCHOR_SESSION, FA_KEY_REFRESH, "r-user", FA_ANCHOR_USER),
       "session first, found in user");
    /* A persistent key found when the configured anchor is session. */
    fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, "1 p", 3, 0,
                NULL);
    ok(read_is(FA_ANCHOR_SESSION, FA_KEY_ACCESS, "1 p", FA_ANCHOR_PERSISTENT),
       "session first, found in persistent");
    /* The configured anchor wins over the others. */
    fa_ks_store(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, "2 s", 3, 0, NULL);
    ok(read_is(FA_ANCHOR_SESSION, FA_KEY_ACCESS, "2 s", FA_ANCHOR_SESSION),
       "the configured anchor is searched first");
    ok(read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "1 p",
               FA_ANCHOR_PERSISTENT),
       "and the other way round");

    /* Unlink removes the key from every anchor. */
    fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, "3 u", 3, 0, NULL);
    is_int(FHIRAUTH_OK,
           fa_ks_unlink(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, &ectx),
           "unlink everywhere (%s)", ectx.msg);
    ok(find(ring_of(FA_ANCHOR_PERSISTENT), FA_KEY_ACCESS) == -1
           && find(KEY_SPEC_USER_KEYRING, FA_KEY_ACCESS) == -1
           && find(KEY_SPEC_SESSION_KEYRING, FA_KEY_ACCESS) == -1,
       "no access key left in any anchor");
    fa_ks_unlink(FA_ANCHOR_PERSISTENT, profile, FA_KEY_META, NULL);
    fa_ks_unlink(FA_ANCHOR_PERSISTENT, profile, FA_KEY_REFRESH, NULL);
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, read_rc(FA_ANCHOR_USER, FA_KEY_META),
           "meta gone");
}

static void
test_expiry(void)
{
    struct fa_err ectx = { FHIRAUTH_OK, "" };
    int i, good = 1;

    for (i = 0; i < 3; i++)
        if (fa_ks_store(anchors[i], profile, FA_KEY_ACCESS, "5 short", 7, 1,
                        &ectx)
            != FHIRAUTH_OK)
            good = 0;
    ok(good, "stored with a 1 s timeout (%s)", ectx.msg);
    sleep(2);
    for (i = 0; i < 3; i++)
        is_int(FHIRAUTH_ERR_LOGIN_NEEDED, read_rc(anchors[i], FA_KEY_ACCESS),
               "%s: expired key means login needed", anchor_names[i]);
    /* add_key() updates an expired key in place and revives it. */
    is_int(FHIRAUTH_OK,
           fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, "6 again",
                       7, 30, &ectx),
           "store over an expired key (%s)", ectx.msg);
    ok(read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "6 again",
               FA_ANCHOR_PERSISTENT),
       "and read it back");
    /* A search cannot find an expired key, so unlink cannot remove it:
     * revive the others too, so cleanup() leaves nothing for the kernel's
     * collector. */
    fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_ACCESS, "6 u", 3, 30, NULL);
    fa_ks_store(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, "6 s", 3, 30, NULL);
}

static void
test_limits(void)
{
    static char big[FA_KEY_MAX_PAYLOAD + 2];
    struct fa_err ectx = { FHIRAUTH_OK, "" };
    char desc[128], *data = NULL;
    size_t len = 0;
    enum fa_anchor where = FA_ANCHOR_SESSION;
    fhirauth_rc rc;
    key_serial_t k;

    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rc = fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_META, big,
                     FA_KEY_MAX_PAYLOAD + 1, 0, &ectx);
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT, rc, "too large a payload refused");
    ok(strstr(ectx.msg, "too large") != NULL, "message: %s", ectx.msg);
    fa_err_clear(&ectx);
    rc = fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_META, big,
                     FA_KEY_MAX_PAYLOAD, 0, &ectx);
    is_int(FHIRAUTH_OK, rc, "the largest payload stored (%s)", ectx.msg);
    rc = fa_ks_read(FA_ANCHOR_USER, profile, FA_KEY_META, &data, &len, &where,
                    &ectx);
    ok(rc == FHIRAUTH_OK && len == FA_KEY_MAX_PAYLOAD
           && memcmp(data, big, len) == 0 && data[len] == '\0',
       "and read back whole, NUL-terminated");
    fa_secret_free_len(data, len);

    /* A key someone else made bigger than we accept. */
    fa_ks_describe(desc, sizeof(desc), profile, FA_KEY_META);
    k = (key_serial_t) add_key("user", desc, big, FA_KEY_MAX_PAYLOAD + 1,
                               KEY_SPEC_USER_KEYRING);
    data = NULL;
    len = 0;
    rc = fa_ks_read(FA_ANCHOR_USER, profile, FA_KEY_META, &data, &len, NULL,
                    &ectx);
    ok(k > 0 && rc == FHIRAUTH_ERR_KEYRING && strstr(ectx.msg, "too large"),
       "too large a key refused on read: %s", ectx.msg);
    ok(data == NULL && len == 0, "outputs untouched");
    fa_ks_unlink(FA_ANCHOR_USER, profile, FA_KEY_META, NULL);

    data = NULL;
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_store(FA_ANCHOR_USER, "bad/name", FA_KEY_META, "x", 1, 0,
                       NULL),
           "store: bad profile refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_read(FA_ANCHOR_USER, "bad name", FA_KEY_META, &data, &len,
                      NULL, &ectx),
           "read: bad profile refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_unlink(FA_ANCHOR_USER, "", FA_KEY_META, NULL),
           "unlink: bad profile refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_store(FA_ANCHOR_USER, profile, FA_KEY_META, "", 0, 0, NULL),
           "store: empty payload refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_store((enum fa_anchor) 7, profile, FA_KEY_META, "x", 1, 0,
                       NULL),
           "store: unknown anchor refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_read((enum fa_anchor) 7, profile, FA_KEY_META, &data, &len,
                      NULL, NULL),
           "read: unknown anchor refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_ks_read(FA_ANCHOR_USER, profile, (enum fa_key) 5, &data, &len,
                      NULL, NULL),
           "read: unknown key refused");
    ok(data == NULL, "no data on failure");
}

static void
test_processes(void)
{
    key_serial_t keys[3];
    pthread_t t[4];
    void *fails;
    long total = 0;
    int i, st;

    fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, "100 fork", 8, 0,
                NULL);
    ok(read_is(FA_ANCHOR_PERSISTENT, FA_KEY_ACCESS, "100 fork",
               FA_ANCHOR_PERSISTENT),
       "read in the parent (caches the keyring id)");
    is_int(0, in_child(child_same_user, NULL),
           "a forked child reads the persistent key");
    keys[0] = ring_of(FA_ANCHOR_PERSISTENT);
    is_int(0, in_child(child_no_persistent, keys),
           "no persistent keyrings in the kernel: the user keyring is used");

    fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, "100 threads",
                11, 0, NULL);
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader_thread, NULL);
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], &fails);
        total += (long) fails;
    }
    is_int(0, total, "4 threads x 2000 concurrent reads");

    if (geteuid() != 0) {
        skip("cross-user tests need root");
        skip("uid switch test needs root");
        skip("quota test needs root");
        return;
    }
    for (i = 0; i < 3; i++) {
        fa_ks_store(anchors[i], profile, FA_KEY_ACCESS, "100 mine", 8, 0,
                    NULL);
        keys[i] = find(ring_of(anchors[i]), FA_KEY_ACCESS);
    }
    st = in_child(child_other_user, keys);
    is_int(0, st, "uid %d cannot read our keys (EACCES) nor find them",
           NOBODY);
    for (i = 0; i < 3; i++)
        fa_ks_unlink(anchors[i], profile, FA_KEY_ACCESS, NULL);

    fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, "100 switch", 10,
                0, NULL);
    is_int(0, in_child(child_switch_uid, NULL),
           "switching uid in one process never reaches root's keys");

    is_int(0, in_child(child_quota, NULL),
           "EDQUOT: FHIRAUTH_ERR_QUOTA naming kernel.keys.maxbytes, and "
           "the keys made removed");
}

/* Rough cost of the fast path, for the record (not a pass/fail). */
/* A uid no test uses, so its quota figures in /proc/key-users move only
 * with what this child does. */
#define SHRINK_UID 65533

/* Bytes of kernel.keys.maxbytes charged to uid, or -1. */
static long
quota_bytes(uid_t uid)
{
    FILE *f = fopen("/proc/key-users", "r");
    unsigned long u, a, b, c, d, e, used, max;
    long r = -1;
    int n;

    if (f == NULL)
        return -1;
    while ((n = fscanf(f, " %lu: %lu %lu/%lu %lu/%lu %lu/%lu", &u, &a, &b, &c,
                       &d, &e, &used, &max))
           == 8)
        if (u == (unsigned long) uid)
            r = (long) used;
    fclose(f);
    return r;
}

/*
 * fa_ks_shrink() gives the quota back at once, also for an expired key
 * (which no search finds and which the kernel would charge until its
 * collector runs, kernel.keys.gc_delay later).  Exit status: 0 good, a
 * bit per failure.
 */
static int
child_shrink(void *arg)
{
    static char big[4000];
    char *data = NULL;
    size_t len = 0;
    long before, after;
    int result = 0;

    (void) arg;
    if (setgroups(0, NULL) != 0
        || setresgid(SHRINK_UID, SHRINK_UID, SHRINK_UID) != 0
        || setresuid(SHRINK_UID, SHRINK_UID, SHRINK_UID) != 0
        || keyctl_join_session_keyring(NULL) == -1)
        return 100;
    memset(big, 's', sizeof(big));
    if (fa_ks_store(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, big,
                    sizeof(big), 0, NULL)
        != FHIRAUTH_OK)
        return 101;
    before = quota_bytes(SHRINK_UID);
    if (fa_ks_shrink(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, NULL)
        != FHIRAUTH_OK)
        result |= 1;
    after = quota_bytes(SHRINK_UID);
    if (before < 0 || before - after < (long) sizeof(big) - 64)
        result |= 2;
    /* A placeholder readers cannot decode, so treat as absent. */
    if (fa_ks_read(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, &data, &len,
                   NULL, NULL)
            != FHIRAUTH_OK
        || len != 1
        || fa_access_decode(data, &(time_t){ 0 }, &(const char *){ NULL })
            == 0)
        result |= 4;
    fa_secret_free_len(data, len);
    /* An expired key. */
    if (fa_ks_store(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, big,
                    sizeof(big), 1, NULL)
        != FHIRAUTH_OK)
        return 102;
    sleep(2);
    before = quota_bytes(SHRINK_UID);
    if (fa_ks_read(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, &data, &len,
                   NULL, NULL)
        != FHIRAUTH_ERR_LOGIN_NEEDED)
        result |= 8;
    if (fa_ks_shrink(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, NULL)
        != FHIRAUTH_OK)
        result |= 16;
    after = quota_bytes(SHRINK_UID);
    if (before - after < (long) sizeof(big) - 64) {
        fprintf(stderr,
                "# expired key: %ld bytes charged before, "
                "%ld after\n",
                before, after);
        result |= 32;
    }
    (void) fa_ks_unlink(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, NULL);
    return result;
}

static void
test_shrink(void)
{
    if (geteuid() != 0) {
        skip("needs root (a uid of its own for the quota figures)");
        return;
    }
    is_int(0, in_child(child_shrink, NULL),
           "shrinking a key gives its quota back at once, expired or not");
}

static void
measure(void)
{
    struct timespec a, b;
    char *data;
    size_t len;
    int i, n = 5000, bad = 0;
    double ns;

    fa_ks_store(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS,
                "1999999999 eyJhbGciOiJSUzI1NiJ9.measure.sig", 43, 0, NULL);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < n; i++) {
        data = NULL;
        len = 0;
        if (fa_ks_read(FA_ANCHOR_PERSISTENT, profile, FA_KEY_ACCESS, &data,
                       &len, NULL, NULL)
            != FHIRAUTH_OK)
            bad++;
        fa_secret_free_len(data, len);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    is_int(0, bad, "%d fast-path reads", n);
    diag("fa_ks_read fast path: %.0f ns per call", ns);
}

/* Root's key in a session keyring that nobody inherits (su without
 * pam_keyinit): nobody's lookups neither use nor remove it. */
static int
foreign_child(void *arg)
{
    char *data = NULL;
    size_t len = 0;
    int result = 0;

    (void) arg;
    if (become_nobody(0) != 0)
        return 100;
    if (fa_ks_read(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, &data, &len,
                   NULL, NULL)
        != FHIRAUTH_ERR_LOGIN_NEEDED)
        result |= 1;
    fa_secret_free_len(data, len);
    (void) fa_ks_unlink(FA_ANCHOR_SESSION, profile, FA_KEY_ACCESS, NULL);
    return result;
}

static void
test_foreign_session_key(void)
{
    key_serial_t key;
    char desc[128];
    int i;

    if (getuid() != 0) {
        for (i = 0; i < 3; i++)
            skip("needs root (a key of another uid)");
        return;
    }
    if (fa_ks_describe(desc, sizeof(desc), profile, FA_KEY_ACCESS) != 0)
        bail("cannot describe the key");
    key = add_key("user", desc, "100 root-only", 13, KEY_SPEC_SESSION_KEYRING);
    ok(key > 0 && keyctl_setperm(key, WANT_PERM) == 0,
       "root's access key in the session keyring");
    is_int(0, in_child(foreign_child, NULL),
           "nobody, inheriting that session keyring, neither reads it as "
           "its own nor removes it");
    ok(keyctl_read(key, NULL, 0) == 13, "root's key is still there");
    (void) keyctl_unlink(key, KEY_SPEC_SESSION_KEYRING);
}

int
main(void)
{
    int i;

    snprintf(profile, sizeof(profile), "t-%ld", (long) getpid());
    for (i = 0; i < QUOTA_KEYS; i++)
        snprintf(qprofile[i], sizeof(qprofile[i]), "t-%ld-q%d",
                 (long) getpid(), i);
    if (keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1)
        skip_all("no kernel keyring: %s", strerror(errno));
    /* A session keyring of our own: the session tests touch nothing of
     * the caller's, and the user keyring is not linked from it, so the
     * user anchor is tested without possession as well. */
    if (keyctl_join_session_keyring(NULL) == -1)
        bail("cannot join a new session keyring: %s", strerror(errno));
    plan_lazy();
    atexit(cleanup);

    test_format();
    test_access_dpop();
    for (i = 0; i < 3; i++)
        test_anchor(i);
    test_search_order();
    test_limits();
    test_processes();
    test_expiry();
    test_shrink();
    test_foreign_session_key();
    measure();
    return test_status();
}
