/* keystore.c - the session's keys in the kernel keyring (keyrings(7)).
 *
 * Three "user" keys per profile, described pam_fhir:PROFILE:refresh,
 * pam_fhir:PROFILE:access and pam_fhir:PROFILE:meta, under one of three
 * anchors: the persistent keyring (default), the user keyring or the
 * session keyring.  Library code: no logging, a code and a message.
 */
#include "autoconf.h"
#include "keystore.h"

#include <errno.h>
#include <keyutils.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define KS_TYPE "user"  /* "logon" keys cannot be read back */
#define KS_DESC_MAX 96  /* "pam_fhir:" + 64 + ":refresh" + NUL */
#define KS_UNLINK_MAX 8 /* same-named keys removed per anchor */

/*
 * The first read guesses the payload fits this many bytes, so the fast
 * path is one keyctl_read() rather than keyctl_read_alloc()'s two (one for
 * the size, one for the data).  Access tokens are typically 1-2 KB; a
 * bigger payload costs a second read.
 */
#define KS_READ_GUESS 4096

/*
 * Possessor: everything.  User (processes of the owner's uid that do not
 * possess the key): view, read, write, search and setattr, because
 * possession is often missing for the owner's own processes: a key in the
 * user keyring is not possessed when the session keyring does not link the
 * user keyring (a fresh `keyctl new_session`, systemd's default
 * KeyringMode=private for services, the PAM module running under root's
 * session keyring), and a forked child has no process keyring until it
 * fetches the persistent keyring again.  No user link (a process without
 * possession cannot attach the key elsewhere), nothing for group or other.
 */
#define KS_PERM                                                               \
 (KEY_POS_VIEW | KEY_POS_READ | KEY_POS_WRITE | KEY_POS_SEARCH | KEY_POS_LINK \
  | KEY_POS_SETATTR | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE             \
  | KEY_USR_SEARCH | KEY_USR_SETATTR)

static const char *const key_names[] = { "refresh", "access", "meta", "dpop" };

/* ---------------------------------------------------------------------
 * The persistent keyring's id, cached.
 *
 * keyctl_get_persistent() costs a syscall that also links the keyring
 * into a destination, so the fast path uses a cached id.  The cache is
 * keyed by the real uid (what keyctl_get_persistent(-1, ...) means): the
 * PAM module switches ids inside one process, and the id of user A's
 * keyring must never be used while acting as user B (A's keyring is still
 * possessed through the process keyring, so B would read A's keys).  The
 * id is stable until the keyring expires; a stale id fails (ENOKEY,
 * EKEYEXPIRED, EKEYREVOKED) and a forked child, which starts without a
 * process keyring and so without possession, gets EACCES: any failure on
 * a cached id fetches the keyring again once.  Uid and id are packed into
 * one 64-bit atomic so threads never see a torn pair; where that is not
 * lock-free the cache is compiled out.  Reads through the cache do not
 * restart the keyring's inactivity timer (3 days by default); every store
 * and every new process fetches it, which does.
 * ------------------------------------------------------------------ */
#if defined(ATOMIC_LLONG_LOCK_FREE) && ATOMIC_LLONG_LOCK_FREE == 2
static atomic_ullong persistent_cache; /* 0: empty (no key has id 0) */

static key_serial_t
cache_get(uid_t uid)
{
    unsigned long long v;

    v = atomic_load_explicit(&persistent_cache, memory_order_relaxed);
    if ((uint32_t) (v >> 32) != (uint32_t) uid)
        return 0;
    return (key_serial_t) (int32_t) (uint32_t) v;
}

static void
cache_put(uid_t uid, key_serial_t id)
{
    unsigned long long v;

    v = ((unsigned long long) (uint32_t) uid << 32) | (uint32_t) id;
    atomic_store_explicit(&persistent_cache, v, memory_order_relaxed);
}
#else
static key_serial_t
cache_get(uid_t uid)
{
    (void) uid;
    return 0;
}

static void
cache_put(uid_t uid, key_serial_t id)
{
    (void) uid;
    (void) id;
}
#endif

/*
 * Fetch the caller's persistent keyring (which also restarts its
 * inactivity timer) and link it into the process keyring, or the user
 * keyring's special id where the kernel has no persistent keyrings.
 *
 * Why the process keyring: the keyring's own permissions give its owner
 * only view and read, so searching and writing it need possession, and
 * possession means being reachable from this thread's, process's or
 * session's keyrings.  The process keyring always exists (the kernel
 * creates it on demand, even over the quota), is searched first, and
 * changes nothing shared: it is dropped on execve(), so a helper the
 * caller runs does not inherit the link, and nothing is left in a session
 * keyring that may belong to root (sshd, su) where the user could not
 * write anyway, or that other logins share.  The user keyring would not
 * do: it confers possession only where the session keyring links it.  MIT
 * krb5's KEYRING:persistent makes the same choice (get_persistent_real()
 * in cc_keyring.c).
 */
static key_serial_t
persistent_fetch(uid_t uid)
{
    long id;

    id = keyctl_get_persistent((uid_t) -1, KEY_SPEC_PROCESS_KEYRING);
    if (id == -1) {
        if (errno != EOPNOTSUPP && errno != ENOSYS)
            return -1;
        /* Kernel without CONFIG_PERSISTENT_KEYRINGS: the design's
         * fallback, remembered so reads do not ask again. */
        id = KEY_SPEC_USER_KEYRING;
    }
    cache_put(uid, (key_serial_t) id);
    return (key_serial_t) id;
}

/* ------------------------------------------------------------------ */


int
fa_ks_describe(char *buf, size_t len, const char *profile, enum fa_key which)
{
    int n;

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    if (!fa_profile_name_valid(profile) || (unsigned) which > FA_KEY_LAST)
        return -1;
    n = snprintf(buf, len, "pam_fhir:%s:%s", profile, key_names[which]);
    if (n < 0 || (size_t) n >= len) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

/* Errors that mean "no usable key here". */
static int
absent(int e)
{
    return e == ENOKEY || e == EKEYEXPIRED || e == EKEYREVOKED;
}

static fhirauth_rc
ks_fail(int en, const char *what, const char *desc, struct fa_err *e)
{
    if (en == EDQUOT)
        return fa_fail(e, FHIRAUTH_ERR_QUOTA,
                       "%s %s: the user's kernel keyring quota is exhausted; "
                       "raise the sysctl kernel.keys.maxbytes (and "
                       "kernel.keys.maxkeys; root_maxbytes/root_maxkeys for "
                       "root) or remove unused keys",
                       what, desc);
    /* The kernel, or keyutils, could not allocate. */
    if (en == ENOMEM)
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "%s %s: %s", what, desc,
                       strerror(en));
    return fa_fail(e, FHIRAUTH_ERR_KEYRING, "%s %s: %s", what, desc,
                   strerror(en));
}

/* The configured anchor first, then the others (persistent, user,
 * session).  -1 for an anchor that is not one of ours. */
static int
anchor_order(enum fa_anchor first, enum fa_anchor order[3])
{
    static const enum fa_anchor all[3] = { FA_ANCHOR_PERSISTENT,
                                           FA_ANCHOR_USER, FA_ANCHOR_SESSION };
    size_t i, n = 1;

    if ((unsigned) first > FA_ANCHOR_SESSION)
        return -1;
    order[0] = first;
    for (i = 0; i < 3; i++)
        if (all[i] != first)
            order[n++] = all[i];
    return 0;
}

/*
 * The owner of a key or keyring, from keyctl_describe()'s
 * "type;uid;gid;perm;description".  -1 when we may not describe it (a key
 * we may not describe is never taken for ours).
 */
static int
key_owner(key_serial_t key, unsigned long *ret_owner)
{
    char buf[256], *p, *end;
    unsigned long owner;
    long n;

    /* The kernel copies nothing when the buffer is too small. */
    n = keyctl_describe(key, buf, sizeof(buf) - 1);
    if (n < 0 || (size_t) n > sizeof(buf) - 1)
        return -1;
    buf[n] = '\0';
    p = strchr(buf, ';');
    if (p == NULL)
        return -1;
    errno = 0;
    owner = strtoul(p + 1, &end, 10);
    if (errno != 0 || end == p + 1 || *end != ';')
        return -1;
    *ret_owner = owner;
    return 0;
}

/*
 * Whether key belongs to uid.  A session keyring can be inherited across
 * a change of uid (su without pam_keyinit, a PAM host acting for a user):
 * possession then reaches keys of the uid it came from, which are not
 * this user's session and must be neither used nor removed.
 */
static int
owned_by(key_serial_t key, uid_t uid)
{
    unsigned long owner;

    return key_owner(key, &owner) == 0 && owner == (unsigned long) uid;
}

/*
 * Search one anchor for desc: the key's serial, -1 with errno, or 0 when
 * the anchor is the user keyring and *user_done says it was searched
 * already (the persistent anchor falls back to it) or when the key found
 * in the session keyring belongs to another uid.  *ret_ring is the
 * keyring searched (0 if none).  keyctl_search() also descends into nested
 * keyrings: a key found from the user keyring may live in a keyring linked
 * there (after `keyctl get_persistent @u`, say); for the caller it is still
 * that anchor's key.
 */
static key_serial_t
search_anchor(enum fa_anchor a, const char *desc, key_serial_t *ret_ring,
              int *user_done)
{
    key_serial_t ring, key;
    uid_t uid = 0;
    int cached = 0;

    *ret_ring = 0;
    if (a == FA_ANCHOR_USER) {
        ring = KEY_SPEC_USER_KEYRING;
    } else if (a == FA_ANCHOR_SESSION) {
        ring = KEY_SPEC_SESSION_KEYRING;
    } else {
        uid = getuid();
        ring = cache_get(uid);
        cached = ring != 0;
        if (!cached && (ring = persistent_fetch(uid)) == -1)
            return -1;
    }
    for (;;) {
        if (ring == KEY_SPEC_USER_KEYRING) {
            if (*user_done)
                return 0;
            *user_done = 1;
        }
        *ret_ring = ring;
        key = (key_serial_t) keyctl_search(ring, KS_TYPE, desc, 0);
        /* Only the session keyring can be another uid's by inheritance;
         * the persistent and user keyrings are the real uid's own. */
        if (key > 0 && ring == KEY_SPEC_SESSION_KEYRING
            && !owned_by(key, getuid()))
            return 0;
        if (key != -1 || !cached || ring == KEY_SPEC_USER_KEYRING)
            return key;
        /* A cached id failed: stale, or a forked child without the
         * process keyring's link.  Fetch it again, once. */
        cached = 0;
        ring = persistent_fetch(uid);
        if (ring == -1)
            return -1;
    }
}

/*
 * Read a key's payload into a fresh malloc'd buffer, NUL-terminated.  The
 * kernel returns the payload's full size whatever the buffer size, so a
 * buffer that was too small is simply read again at the right size.
 */
static fhirauth_rc
read_key(key_serial_t key, const char *desc, char **ret_data, size_t *ret_len,
         struct fa_err *e)
{
    size_t cap = KS_READ_GUESS;
    char *buf;
    long n;
    int en, tries;

    for (tries = 0; tries < 3; tries++) {
        buf = malloc(cap + 1);
        if (buf == NULL) {
            return fa_fail(e, FHIRAUTH_ERR_NOMEM, "reading %s: out of memory",
                           desc);
        }
        n = keyctl_read(key, buf, cap);
        if (n < 0) {
            en = errno;
            free(buf); /* the kernel copied nothing */
            if (absent(en))
                return FHIRAUTH_ERR_LOGIN_NEEDED;
            return ks_fail(en, "reading", desc, e);
        }
        if ((size_t) n <= cap) {
            buf[n] = '\0';
            *ret_data = buf;
            *ret_len = (size_t) n;
            return FHIRAUTH_OK;
        }
        /* The kernel filled the buffer with part of the payload. */
        fa_secret_free_len(buf, cap);
        if (n > FA_KEY_MAX_PAYLOAD) {
            return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                           "reading %s: key too large (%ld bytes, "
                           "at most %d)",
                           desc, n, FA_KEY_MAX_PAYLOAD);
        }
        cap = (size_t) n; /* and again: it may change meanwhile */
    }
    return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                   "reading %s: the key kept changing size", desc);
}

/*
 * The returned buffer comes from malloc() (our own, not libkeyutils'
 * keyctl_read_alloc()) and holds a secret: the caller wipes and frees it
 * with fa_secret_free_len(data, len) (or fa_secret_free(data): payloads
 * are text).  The fast path, a key in the first anchor with a warm cache,
 * is getuid() plus one keyctl_search() and one keyctl_read().
 */
fhirauth_rc
fa_ks_read(enum fa_anchor anchor, const char *profile, enum fa_key which,
           char **ret_data, size_t *ret_len, enum fa_anchor *ret_anchor,
           struct fa_err *e)
{
    char desc[KS_DESC_MAX];
    enum fa_anchor order[3];
    key_serial_t key, ring = 0;
    int i, user_done = 0, hard = 0;
    fhirauth_rc rc;

    if (ret_data == NULL || ret_len == NULL
        || fa_ks_describe(desc, sizeof(desc), profile, which) != 0
        || anchor_order(anchor, order) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request (profile name: letters, "
                       "digits, '.', '_', '-', at most %d)",
                       FA_PROFILE_MAX);
    }
    for (i = 0; i < 3; i++) {
        key = search_anchor(order[i], desc, &ring, &user_done);
        if (key == 0)
            continue;
        if (key == -1) {
            /* A keyring we may not search (a session keyring owned by
             * root, say) matters only when it is the configured one. */
            if (i == 0 && !absent(errno))
                hard = errno;
            continue;
        }
        rc = read_key(key, desc, ret_data, ret_len, e);
        if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
            continue; /* expired or removed since the search */
        if (rc == FHIRAUTH_OK && ret_anchor != NULL)
            *ret_anchor =
                ring == KEY_SPEC_USER_KEYRING ? FA_ANCHOR_USER : order[i];
        return rc;
    }
    if (hard != 0)
        return ks_fail(hard, "searching the keyring for", desc, e);
    return fa_fail(e, FHIRAUTH_ERR_LOGIN_NEEDED,
                   "no %s key in the persistent, user or session "
                   "keyring",
                   desc);
}

/*
 * Whether the caller may write into a key of this owner: its real or its
 * effective uid (the kernel gives a new key the filesystem uid, which
 * follows the effective one; both are the same except in a setuid
 * caller).
 */
static int
ours(unsigned long owner)
{
    return owner == (unsigned long) getuid()
        || owner == (unsigned long) geteuid();
}

/*
 * Where a store goes, or a refusal.
 *
 * keyring = session: only a session keyring the real uid owns.  Every
 * process whose session keyring it is possesses it, whatever its uid, and
 * possession reads the keys (KS_PERM): a session keyring that root or
 * another user made and we inherited (sshd or su without pam_keyinit, a
 * root shell's `keyctl new_session` before a change of uid) is shared
 * with processes of other uids, which would read the tokens, and may hold
 * a key of theirs of the same name that add_key() would update in place.
 * Refused with a message that says why, as the PAM module refuses it
 * (pam_fhir/session.c).  A session keyring of our own uid is shared only
 * with what our uid started there (an su to another user without
 * pam_keyinit takes it along: SECURITY.md).  This costs a describe per
 * store; the fast path, which only reads, does not pay it.
 *
 * A process without a session keyring of its own sees the user-session
 * keyring under KEY_SPEC_SESSION_KEYRING for reading, but writing there
 * makes the kernel create a new, empty session keyring private to the
 * process (keys invisible to everyone else and lost at exit); write to the
 * user-session keyring explicitly in that case, as MIT krb5 does.
 */
static fhirauth_rc
write_ring(enum fa_anchor anchor, const char *desc, key_serial_t *ret_ring,
           struct fa_err *e)
{
    key_serial_t s, u;
    unsigned long owner;

    switch (anchor) {
    case FA_ANCHOR_PERSISTENT:
        *ret_ring = persistent_fetch(getuid());
        if (*ret_ring == -1)
            return ks_fail(errno, "finding the keyring for", desc, e);
        return FHIRAUTH_OK;
    case FA_ANCHOR_USER:
        *ret_ring = KEY_SPEC_USER_KEYRING;
        return FHIRAUTH_OK;
    case FA_ANCHOR_SESSION:
        s = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
        if (s == -1)
            return ks_fail(errno, "finding the keyring for", desc, e);
        if (key_owner(s, &owner) != 0) {
            return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                           "storing %s: keyring = session, but the "
                           "session keyring's owner cannot be determined: "
                           "refusing it",
                           desc);
        }
        if (owner != (unsigned long) getuid()) {
            return fa_fail(
                e, FHIRAUTH_ERR_KEYRING,
                "storing %s: keyring = session, but the "
                "session keyring belongs to uid %lu, not to uid %lu, "
                "and other users' processes that share it could read "
                "the tokens (sshd, su or a root shell without "
                "pam_keyinit): refusing it; use keyring = persistent "
                "or user, or a session keyring of your own "
                "(pam_keyinit, keyctl new_session)",
                desc, owner, (unsigned long) getuid());
        }
        u = keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 0);
        *ret_ring =
            s == u ? KEY_SPEC_USER_SESSION_KEYRING : KEY_SPEC_SESSION_KEYRING;
        return FHIRAUTH_OK;
    }
    return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "bad keyring request");
}

/*
 * add_key() updates a key of the same type and description in ring in
 * place when we may write it, whoever owns it, and the owner can read
 * what we wrote.  Refuse when the key a search finds there belongs to
 * another uid.  A key the search cannot see (one without search
 * permission for us, or expired) escapes this check; the check after
 * add_key() catches it, too late to keep it from that uid.  Only a uid
 * that possesses the ring can put such a key there (ours give nothing to
 * other uids), and possession reads our keys in it anyway.
 */
static fhirauth_rc
check_existing(key_serial_t ring, const char *desc, key_serial_t *found,
               struct fa_err *e)
{
    key_serial_t key;
    unsigned long owner;

    key = (key_serial_t) keyctl_search(ring, KS_TYPE, desc, 0);
    *found = key;
    if (key == -1)
        return FHIRAUTH_OK;
    if (key_owner(key, &owner) != 0) {
        return fa_fail(
            e, FHIRAUTH_ERR_KEYRING,
            "storing %s: a key of that name is there "
            "whose owner cannot be determined: refusing to write into "
            "it",
            desc);
    }
    if (!ours(owner)) {
        return fa_fail(
            e, FHIRAUTH_ERR_KEYRING,
            "storing %s: a key of that name belonging to "
            "uid %lu is there (planted by a process of that uid that "
            "shares the keyring?): refusing to write into it",
            desc, owner);
    }
    return FHIRAUTH_OK;
}

/* After add_key(): the key written must be ours.  If it is not, take it
 * out of the ring so that nothing reads it as ours. */
static fhirauth_rc
check_written(key_serial_t ring, key_serial_t key, const char *desc,
              struct fa_err *e)
{
    unsigned long owner;

    if (key_owner(key, &owner) == 0 && ours(owner))
        return FHIRAUTH_OK;
    (void) keyctl_unlink(key, ring);
    return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                   "storing %s: the key written belongs to another "
                   "uid: unlinked, the session is not stored",
                   desc);
}

/*
 * A new key starts with the kernel's default permissions, which give the
 * owner only "view" unless it possesses the key.  A key in the user
 * keyring is not possessed when the session keyring does not link the
 * user keyring, so keyctl_setperm() fails there: link the user keyring
 * into the process keyring for the one call and unlink it again, so the
 * process does not keep possession of this uid's keyring across a later
 * id switch.
 */
static long
setperm_via_process_keyring(key_serial_t key)
{
    long r;
    int en;

    if (keyctl_link(KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING) == -1)
        return -1;
    r = keyctl_setperm(key, KS_PERM);
    en = errno;
    (void) keyctl_unlink(KEY_SPEC_USER_KEYRING, KEY_SPEC_PROCESS_KEYRING);
    errno = en;
    return r;
}

/*
 * A key the ring does not hold yet: made in the process keyring, which this
 * process always possesses, given its permissions and timeout there, and
 * only then linked into ring (displacing a key of that name the search
 * could not see).  A new key starts with the kernel's default permissions,
 * which leave a process that does not possess it only "view"; made in ring
 * directly, a process killed between add_key() and keyctl_setperm() left
 * such a key behind, which every later call failed to read ("Permission
 * denied") where the session keyring does not link the user keyring.
 * Killed before the link, the key dies with the process keyring.
 */
static fhirauth_rc
store_new(key_serial_t ring, const char *desc, const void *data, size_t len,
          unsigned timeout, struct fa_err *e)
{
    key_serial_t key;
    const char *what = "storing";

    key = (key_serial_t) add_key(KS_TYPE, desc, data, len,
                                 KEY_SPEC_PROCESS_KEYRING);
    if (key == -1)
        return ks_fail(errno, what, desc, e);
    if (keyctl_setperm(key, KS_PERM) == -1)
        what = "setting the permissions of";
    else if (keyctl_set_timeout(key, timeout) == -1)
        what = "setting the timeout of";
    else if (keyctl_link(key, ring) == -1)
        what = "storing";
    else
        what = NULL;
    if (what != NULL) {
        int en = errno;

        (void) keyctl_unlink(key, KEY_SPEC_PROCESS_KEYRING);
        return ks_fail(en, what, desc, e);
    }
    (void) keyctl_unlink(key, KEY_SPEC_PROCESS_KEYRING);
    return FHIRAUTH_OK;
}

/*
 * add_key() updates a key of the same type and description in place
 * (keeping its serial, so readers holding it see the new payload) or
 * creates one owned by the caller's fsuid/fsgid: the PAM module switches
 * to the user's ids before calling, so keys count against the user's
 * quota.  Permissions are set every time (cheap, and repairs a key whose
 * mode was changed), then the timeout, because an update clears it.
 */
fhirauth_rc
fa_ks_store(enum fa_anchor anchor, const char *profile, enum fa_key which,
            const void *data, size_t len, unsigned timeout, struct fa_err *e)
{
    char desc[KS_DESC_MAX];
    key_serial_t ring, key;
    fhirauth_rc rc;

    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0
        || (unsigned) anchor > FA_ANCHOR_SESSION || data == NULL || len == 0) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request (profile name: letters, "
                       "digits, '.', '_', '-', at most %d; non-empty payload)",
                       FA_PROFILE_MAX);
    }
    if (len > FA_KEY_MAX_PAYLOAD) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "storing %s: payload too large (%zu bytes, at "
                       "most %d)",
                       desc, len, FA_KEY_MAX_PAYLOAD);
    }
    rc = write_ring(anchor, desc, &ring, e);
    if (rc == FHIRAUTH_OK)
        rc = check_existing(ring, desc, &key, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (key == -1)
        return store_new(ring, desc, data, len, timeout, e);
    key = (key_serial_t) add_key(KS_TYPE, desc, data, len, ring);
    if (key == -1)
        return ks_fail(errno, "storing", desc, e);
    rc = check_written(ring, key, desc, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (keyctl_setperm(key, KS_PERM) == -1
        && !(errno == EACCES && ring == KEY_SPEC_USER_KEYRING
             && setperm_via_process_keyring(key) == 0))
        return ks_fail(errno, "setting the permissions of", desc, e);
    if (keyctl_set_timeout(key, timeout) == -1)
        return ks_fail(errno, "setting the timeout of", desc, e);
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_ks_set_timeout(enum fa_anchor anchor, const char *profile,
                  enum fa_key which, unsigned timeout, struct fa_err *e)
{
    char desc[KS_DESC_MAX];
    key_serial_t ring, key;
    unsigned long owner;
    fhirauth_rc rc;

    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0
        || (unsigned) anchor > FA_ANCHOR_SESSION) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request");
    }
    rc = write_ring(anchor, desc, &ring, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    /* The key fa_ks_store() writes: the one in the ring it writes to. */
    key = (key_serial_t) keyctl_search(ring, KS_TYPE, desc, 0);
    if (key == -1)
        return absent(errno) ? FHIRAUTH_ERR_LOGIN_NEEDED
                             : ks_fail(errno, "finding", desc, e);
    if (key_owner(key, &owner) != 0 || !ours(owner))
        return fa_fail(e, FHIRAUTH_ERR_KEYRING,
                       "setting the timeout of %s: the key is not ours", desc);
    if (keyctl_set_timeout(key, timeout) == -1)
        return absent(errno)
            ? FHIRAUTH_ERR_LOGIN_NEEDED
            : ks_fail(errno, "setting the timeout of", desc, e);
    return FHIRAUTH_OK;
}

/*
 * Why not remove the key: the kernel credits a removed key's bytes to the
 * user's quota only when its garbage collector runs, some time later (an
 * expired key, which no search finds, holds them for kernel.keys.gc_delay
 * after it expires), while an update credits the difference at once.
 * add_key() reaches a key of the same description in the ring even when it
 * has expired.  Where there is no such key this makes a one-byte one, or
 * fails on the quota: either is harmless, it is the slot the caller will
 * fill next.
 */
fhirauth_rc
fa_ks_shrink(enum fa_anchor anchor, const char *profile, enum fa_key which,
             struct fa_err *e)
{
    char desc[KS_DESC_MAX];
    key_serial_t ring, key;
    fhirauth_rc rc;

    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0
        || (unsigned) anchor > FA_ANCHOR_SESSION) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request");
    }
    rc = write_ring(anchor, desc, &ring, e);
    if (rc == FHIRAUTH_OK)
        rc = check_existing(ring, desc, &key, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    key = (key_serial_t) add_key(KS_TYPE, desc, "0", 1, ring);
    if (key == -1)
        return ks_fail(errno, "shrinking", desc, e);
    if (check_written(ring, key, desc, e) != FHIRAUTH_OK)
        return FHIRAUTH_ERR_KEYRING;
    if (keyctl_setperm(key, KS_PERM) == -1 && errno == EACCES
        && ring == KEY_SPEC_USER_KEYRING)
        (void) setperm_via_process_keyring(key);
    (void) keyctl_set_timeout(key, 1);
    return FHIRAUTH_OK;
}

/*
 * Logout wants the key gone, not merely detached from one keyring:
 * keyctl_invalidate() destroys it wherever it is linked (needs "search",
 * which the owner has), and the kernel wipes the payload when it collects
 * the key.  Where invalidation is refused (a key someone else made, or a
 * kernel before 3.5) fall back to unlinking it from the anchor.  Expired
 * keys cannot be found by a search; the kernel collects them itself.
 */
fhirauth_rc
fa_ks_unlink(enum fa_anchor anchor, const char *profile, enum fa_key which,
             struct fa_err *e)
{
    char desc[KS_DESC_MAX];
    enum fa_anchor order[3];
    key_serial_t key, ring = 0;
    int i, n, user_done = 0, hard = 0;

    if (fa_ks_describe(desc, sizeof(desc), profile, which) != 0
        || anchor_order(anchor, order) != 0) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request (profile name: letters, "
                       "digits, '.', '_', '-', at most %d)",
                       FA_PROFILE_MAX);
    }
    for (i = 0; i < 3; i++) {
        int had_user = user_done;

        /* Several keys may match (one directly in the anchor, one in a
         * keyring nested there): remove until none is found. */
        for (n = 0; n < KS_UNLINK_MAX; n++) {
            int done = had_user;

            key = search_anchor(order[i], desc, &ring, &done);
            user_done |= done;
            if (key == 0)
                break;
            if (key == -1) {
                if (i == 0 && !absent(errno) && hard == 0)
                    hard = errno;
                break;
            }
            if (keyctl_invalidate(key) == 0 || absent(errno))
                continue;
            if ((errno != EACCES && errno != EOPNOTSUPP)
                || keyctl_unlink(key, ring) == -1) {
                if (!absent(errno) && hard == 0)
                    hard = errno;
                break;
            }
        }
    }
    if (hard != 0)
        return ks_fail(hard, "removing", desc, e);
    return FHIRAUTH_OK;
}

/* The access payload's mark of a DPoP-bound token (fa_access_encode_as). */
#define ACCESS_DPOP "DPoP "

/* Bytes allowed in a token: printable ASCII without space (RFC 6750's
 * b64token is narrower still). */
static int
token_valid(const char *t)
{
    const unsigned char *p = (const unsigned char *) t;

    if (*p == '\0')
        return 0;
    for (; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

int
fa_access_encode(char *buf, size_t len, time_t expiry, const char *token)
{
    return fa_access_encode_as(buf, len, expiry, 0, token);
}

int
fa_access_encode_as(char *buf, size_t len, time_t expiry, int dpop,
                    const char *token)
{
    int n;

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    if (token == NULL || expiry < 0 || !token_valid(token))
        return -1;
    n = snprintf(buf, len, "%lld %s%s", (long long) expiry,
                 dpop ? ACCESS_DPOP : "", token);
    if (n < 0 || (size_t) n >= len) {
        explicit_bzero(buf, len);
        return -1;
    }
    return 0;
}

int
fa_access_decode(const char *payload, time_t *ret_expiry,
                 const char **ret_token)
{
    int dpop;

    return fa_access_decode_as(payload, ret_expiry, ret_token, &dpop);
}

int
fa_access_decode_as(const char *payload, time_t *ret_expiry,
                    const char **ret_token, int *ret_dpop)
{
    const char *p;
    int dpop = 0;
    long long v = 0;
    time_t t;

    if (payload == NULL || ret_expiry == NULL || ret_token == NULL
        || ret_dpop == NULL)
        return -1;
    for (p = payload; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (p == payload || *p != ' ')
        return -1;
    if (strncmp(p + 1, ACCESS_DPOP, sizeof(ACCESS_DPOP) - 1) == 0) {
        dpop = 1;
        p += sizeof(ACCESS_DPOP) - 1;
    }
    if (!token_valid(p + 1))
        return -1;
    t = (time_t) v;
    if ((long long) t != v)
        return -1; /* does not fit a 32-bit time_t */
    *ret_expiry = t;
    *ret_token = p + 1;
    *ret_dpop = dpop;
    return 0;
}

/* ---------------------------------------------------------------------
 * Private keys in the user keyring (the PAM module's stash).
 * ------------------------------------------------------------------ */

/*
 * The owner's (root's) user bits only, no possessor bits: the stash lives
 * in root's user keyring, and every process whose session keyring links
 * that keyring possesses it, whatever its uid (a root console's
 * pam_keyinit session, then su to a user without pam_keyinit); possessor
 * bits would let such a process read another user's tokens.  Link, so
 * that root can link the finished key into its user keyring; setattr, for
 * the timeout; no write: the payload never changes.
 */
#define FA_KS_PRIVATE_PERM                                    \
 (KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH | KEY_USR_LINK \
  | KEY_USR_SETATTR)

/*
 * Made in the process keyring, which nothing outside this process
 * possesses, given its permissions and timeout there, and only then
 * linked into the user keyring: at no moment does the key carry the
 * default possessor permissions where others can reach it.
 */
fhirauth_rc
fa_ks_private_put(const char *desc, const void *data, size_t len,
                  unsigned timeout, long *ret_serial, struct fa_err *e)
{
    key_serial_t key;
    int en;

    if (desc == NULL || data == NULL || len == 0 || timeout == 0
        || ret_serial == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request");
    }
    if (len > FA_KEY_MAX_PAYLOAD) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "storing %s: payload too large (%zu bytes, at "
                       "most %d)",
                       desc, len, FA_KEY_MAX_PAYLOAD);
    }
    key = (key_serial_t) add_key(KS_TYPE, desc, data, len,
                                 KEY_SPEC_PROCESS_KEYRING);
    if (key == -1)
        return ks_fail(errno, "storing", desc, e);
    if (keyctl_setperm(key, FA_KS_PRIVATE_PERM) == -1
        || keyctl_set_timeout(key, timeout) == -1
        || keyctl_link(key, KEY_SPEC_USER_KEYRING) == -1) {
        en = errno;
        (void) keyctl_invalidate(key);
        (void) keyctl_unlink(key, KEY_SPEC_PROCESS_KEYRING);
        return ks_fail(en, "setting up", desc, e);
    }
    (void) keyctl_unlink(key, KEY_SPEC_PROCESS_KEYRING);
    *ret_serial = (long) key;
    return FHIRAUTH_OK;
}

int
fa_ks_described_matches(const char *described, unsigned long uid,
                        const char *desc_prefix)
{
    const char *p = described, *f[5];
    size_t n = 0, plen;
    unsigned long v = 0;
    const char *q;

    if (described == NULL || desc_prefix == NULL)
        return -1;
    /* type;uid;gid;perm;description (the description may hold ';'). */
    f[n++] = p;
    while (n < 5 && (p = strchr(p, ';')) != NULL)
        f[n++] = ++p;
    if (n != 5)
        return -1;
    if ((size_t) (f[1] - f[0]) != sizeof(KS_TYPE)
        || memcmp(f[0], KS_TYPE ";", sizeof(KS_TYPE)) != 0)
        return -1;
    if (f[1][0] == ';')
        return -1;
    for (q = f[1]; *q != ';'; q++) {
        if (*q < '0' || *q > '9' || v > (ULONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (unsigned long) (*q - '0');
    }
    if (v != uid)
        return -1;
    plen = strlen(desc_prefix);
    if (plen == 0 || strncmp(f[4], desc_prefix, plen) != 0)
        return -1;
    return 0;
}

fhirauth_rc
fa_ks_private_take(long serial, const char *desc_prefix, char **ret_data,
                   size_t *ret_len, struct fa_err *e)
{
    key_serial_t key;
    char *described = NULL;
    fhirauth_rc rc;

    if (serial <= 0 || serial > INT32_MAX || desc_prefix == NULL
        || ret_data == NULL || ret_len == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad keyring request");
    }
    key = (key_serial_t) serial;
    /* The owner's user bits suffice: no possession needed. */
    if (keyctl_describe_alloc(key, &described) == -1) {
        if (absent(errno) || errno == EACCES) {
            rc = fa_fail(e, FHIRAUTH_ERR_LOGIN_NEEDED, "no key %ld in reach",
                         serial);
        } else {
            rc = ks_fail(errno, "describing", desc_prefix, e);
        }
        goto out;
    }
    if (fa_ks_described_matches(described, (unsigned long) geteuid(),
                                desc_prefix)
        != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_DENIED, "key %ld is not a %s... key",
                     serial, desc_prefix);
        goto out;
    }
    rc = read_key(key, desc_prefix, ret_data, ret_len, e);
    if (rc == FHIRAUTH_OK && keyctl_invalidate(key) == -1 && !absent(errno)
        && keyctl_unlink(key, KEY_SPEC_USER_KEYRING) == -1 && !absent(errno)) {
        rc = ks_fail(errno, "removing", desc_prefix, e);
        fa_secret_free_len(*ret_data, *ret_len);
        *ret_data = NULL;
        *ret_len = 0;
    }
out:
    free(described);
    return rc;
}
