/* lock.c - the per-user refresh lock: an exclusive flock(2) on a file whose
 * path derives from the uid alone, never from the environment
 * ($XDG_RUNTIME_DIR differs under su, cron and tmux).
 *
 *   RUN_DIR/UID/PROFILE.lock        RUN_DIR = /run/pam_fhir (tmpfiles.d)
 *   TMP_DIR/pam_fhir-UID/PROFILE.lock   when RUN_DIR is unusable
 *
 * Library code: no logging, no signals (the wait polls with LOCK_NB, so
 * no alarm() and no SIGALRM handler can disturb the caller).
 */
#include "autoconf.h"
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOCK_RUN_DIR "/run/pam_fhir"
#define LOCK_TMP_DIR "/tmp"
#define LOCK_WAIT_MAX_MS (24L * 3600 * 1000) /* longer waits are clamped */
#define LOCK_POLL_MIN_MS 1L                  /* first pause between attempts */
#define LOCK_POLL_MAX_MS 10L                 /* pauses double up to this */


static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
    struct timespec ts, rem;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
        ts = rem;
}

/*
 * RUN_DIR is used only as the package installs it: a real directory (the
 * open refuses a symlink), owned by root, mode exactly 1777.  Anything
 * else (absent, a mistake, or something another user made before the
 * package was installed) and the caller falls back to TMP_DIR.
 */
static int
open_run_dir(const char *path)
{
    struct stat st;
    int fd;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
        return -1;
    if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0
        || (st.st_mode & 07777) != 01777) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Open (creating if needed) the per-user directory name inside pfd.  It
 * must be a real directory owned by uid with mode exactly 0700: in a
 * sticky world-writable parent anyone may create the name first, and a
 * directory someone else controls could hold a lock file they swap at
 * will.  Checked on the opened descriptor, so nothing can change between
 * the check and the use.
 */
static int
open_user_dir(int pfd, const char *parent, const char *name, uid_t uid,
              struct fa_err *e)
{
    struct stat st;
    int dfd, created = 0;

    if (mkdirat(pfd, name, 0700) == 0)
        created = 1;
    else if (errno != EEXIST) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "cannot create the lock directory %s/%s: %s", parent, name,
                   strerror(errno));
        return -1;
    }
    /* lstat first, for a message that says what is wrong. */
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "cannot examine the lock directory %s/%s: %s", parent, name,
                   strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "the lock directory %s/%s is %s: refusing it", parent, name,
                   S_ISLNK(st.st_mode) ? "a symbolic link"
                                       : "not a directory");
        return -1;
    }
    dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd == -1 || fstat(dfd, &st) == -1) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "cannot open the lock directory %s/%s: %s", parent, name,
                   strerror(errno));
        if (dfd != -1)
            close(dfd);
        return -1;
    }
    if (created) {
        /* Root acting for another uid: give the directory to the user.
         * The umask may also have narrowed the mode. */
        if ((st.st_uid != uid && fchown(dfd, uid, (gid_t) -1) == -1)
            || ((st.st_mode & 07777) != 0700 && fchmod(dfd, 0700) == -1)
            || fstat(dfd, &st) == -1) {
            fa_err_set(e, FHIRAUTH_ERR_LOCK,
                       "cannot set up the lock directory %s/%s: "
                       "%s",
                       parent, name, strerror(errno));
            close(dfd);
            return -1;
        }
    }
    if (st.st_uid != uid) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "the lock directory %s/%s belongs to uid %lu, "
                   "not %lu: refusing it",
                   parent, name, (unsigned long) st.st_uid,
                   (unsigned long) uid);
        close(dfd);
        return -1;
    }
    if ((st.st_mode & 07777) != 0700) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "the lock directory %s/%s has mode %04o, not "
                   "0700: refusing it",
                   parent, name, (unsigned) (st.st_mode & 07777));
        close(dfd);
        return -1;
    }
    return dfd;
}

/*
 * A lock file the caller may not open, in the caller's own directory
 * (checked before): left behind with mode 0000 or 0200 (a chmod by hand),
 * or left by root acting for the user (the PAM module), which died
 * between creating it and giving it to the user.  The first gets its mode
 * back, the second is removed: nobody holds a lock on it, because root
 * gives the file away before locking it, and whoever locks a file that is
 * no longer at the path notices and tries again.  Only without root
 * (root opens any file), only for a regular file with one name, and
 * never following a symbolic link: nothing outside the directory is
 * touched.  0: repaired, try again.
 */
static int
repair_unopenable(int dfd, const char *file, uid_t uid)
{
    struct stat st;

    if (geteuid() == 0 || geteuid() != uid
        || fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) == -1
        || !S_ISREG(st.st_mode) || st.st_nlink != 1)
        return -1;
    if (st.st_uid == uid)
        return fchmodat(dfd, file, 0600, AT_SYMLINK_NOFOLLOW);
    if (st.st_uid == 0)
        return unlinkat(dfd, file, 0);
    return -1;
}

/* try_lock()'s results other than a descriptor. */
#define LOCK_FAILED (-1) /* a hard error: FHIRAUTH_ERR_LOCK in e */
#define LOCK_BUSY (-2)   /* held, or the locked file was stale: wait */
#define LOCK_AGAIN (-3)  /* a file we could not open was repaired: retry */

/*
 * One attempt.  A fresh descriptor each time: the file may have been
 * replaced since the last one.  Returns the locked fd, LOCK_FAILED,
 * LOCK_BUSY when the lock is held or the locked file turned out to be
 * stale (try again), LOCK_AGAIN when a file we could not open was
 * repaired or a root-owned leftover removed (try again at once).
 *
 * Opened read-only: flock(2) needs no write access, so a lock file left
 * with mode 0400 or 0444 still works, and nothing is ever written to it.
 */
static int
try_lock(int dfd, const char *where, const char *file, uid_t uid,
         int *repaired, struct fa_err *e)
{
    struct stat st, now;
    int fd, created = 0;

    /*
     * Create with O_EXCL, so that we know whether this call made the
     * file: only such a file may be given to the user below.  A file that
     * was there already is opened as it is (never following a symbolic
     * link); if it vanished in between, try again.
     */
    fd = openat(dfd, file,
                O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY
                    | O_NONBLOCK,
                0600);
    if (fd != -1) {
        created = 1;
    } else if (errno == EEXIST) {
        fd = openat(dfd, file,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd == -1 && errno == ENOENT)
            return LOCK_BUSY;
    }
    if (fd == -1 && errno == EACCES && !*repaired) {
        *repaired = 1;
        if (repair_unopenable(dfd, file, uid) == 0)
            return LOCK_AGAIN;
        errno = EACCES;
    }
    if (fd == -1) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK, "cannot open the lock file %s/%s: %s",
                   where, file,
                   errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return LOCK_FAILED;
    }
    if (fstat(fd, &st) == -1) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "cannot examine the lock file %s/%s: %s", where, file,
                   strerror(errno));
        close(fd);
        return LOCK_FAILED;
    }
    if (!S_ISREG(st.st_mode)) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "the lock file %s/%s is not a regular file: "
                   "refusing it",
                   where, file);
        close(fd);
        return LOCK_FAILED;
    }
    /*
     * No name: someone removed the file since our open, try again.  A
     * second name means a hard link: to a file elsewhere, perhaps one
     * root owns.  Root must never chown it to the user, and nobody
     * should lock or touch a file that lives outside the directory.
     */
    if (st.st_nlink == 0) {
        close(fd);
        return LOCK_BUSY;
    }
    if (st.st_nlink > 1) {
        fa_err_set(e, FHIRAUTH_ERR_LOCK,
                   "the lock file %s/%s has %lu links (a hard "
                   "link to another file?): refusing it",
                   where, file, (unsigned long) st.st_nlink);
        close(fd);
        return LOCK_FAILED;
    }
    if (st.st_uid != uid) {
        /*
         * Root acting for another uid gives the user only the file this
         * call created: a file found there may be anything a check
         * cannot pin down (with fs.protected_hardlinks=0 a hard link to
         * a root-owned file can be swapped in between a link-count check
         * and an fchown).  A root-owned one found there is left by a
         * root caller that died before giving it away, or is being set
         * up by another one right now: remove the name once, so that the
         * next attempt creates a file of its own, then wait for the
         * other caller.  Removing a name in the user's directory touches
         * no file elsewhere.
         */
        if (created && st.st_uid == 0 && geteuid() == 0
            && fchown(fd, uid, (gid_t) -1) == 0) {
            /* ours now: given to the user */
        } else if (!created && st.st_uid == 0 && geteuid() == 0) {
            close(fd);
            if (*repaired)
                return LOCK_BUSY;
            *repaired = 1;
            (void) unlinkat(dfd, file, 0);
            return LOCK_AGAIN;
        } else {
            fa_err_set(e, FHIRAUTH_ERR_LOCK,
                       "the lock file %s/%s belongs to uid %lu, "
                       "not %lu: refusing it",
                       where, file, (unsigned long) st.st_uid,
                       (unsigned long) uid);
            close(fd);
            return LOCK_FAILED;
        }
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        if (errno == EWOULDBLOCK || errno == EINTR) {
            close(fd);
            return LOCK_BUSY;
        }
        fa_err_set(e, FHIRAUTH_ERR_LOCK, "cannot lock %s/%s: %s", where, file,
                   strerror(errno));
        close(fd);
        return LOCK_FAILED;
    }
    /*
     * Someone may have unlinked or replaced the file between our open and
     * our flock: a lock on a file no longer at the path excludes nobody,
     * because the next process opens the new file.  Keep the lock only
     * if the path still names what we locked.
     */
    if (fstatat(dfd, file, &now, AT_SYMLINK_NOFOLLOW) == 0
        && now.st_dev == st.st_dev && now.st_ino == st.st_ino) {
        /* Keep the file young: an age-based cleaner of /tmp
         * (systemd-tmpfiles) must never remove a lock file in use. */
        (void) futimens(fd, NULL);
        return fd;
    }
    close(fd);
    return LOCK_BUSY;
}

fhirauth_rc
fa_lock_acquire(uid_t uid, const char *profile, long wait_ms,
                const char *run_dir, const char *tmp_dir, int *ret_fd,
                struct fa_err *e)
{
    return fa_lock_acquire_unless(uid, profile, wait_ms, run_dir, tmp_dir,
                                  NULL, NULL, ret_fd, e);
}

fhirauth_rc
fa_lock_acquire_unless(uid_t uid, const char *profile, long wait_ms,
                       const char *run_dir, const char *tmp_dir,
                       int (*done)(void *arg), void *arg, int *ret_fd,
                       struct fa_err *e)
{
    char name[64], file[FA_PROFILE_MAX + 8], where[4096];
    const char *parent;
    long long deadline;
    long pause = LOCK_POLL_MIN_MS, left;
    int pfd, dfd, fd, n, repaired = 0;

    if (!fa_profile_name_valid(profile) || ret_fd == NULL || wait_ms < 0) {
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "bad lock request (profile name: letters, "
                       "digits, '.', '_', '-', at most %d)",
                       FA_PROFILE_MAX);
    }
    if (wait_ms > LOCK_WAIT_MAX_MS)
        wait_ms = LOCK_WAIT_MAX_MS;
    if (run_dir == NULL)
        run_dir = LOCK_RUN_DIR;
    if (tmp_dir == NULL)
        tmp_dir = LOCK_TMP_DIR;

    parent = run_dir;
    pfd = open_run_dir(run_dir);
    if (pfd != -1) {
        n = snprintf(name, sizeof(name), "%lu", (unsigned long) uid);
    } else {
        parent = tmp_dir;
        pfd = open(tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd == -1) {
            return fa_fail(e, FHIRAUTH_ERR_LOCK,
                           "cannot open %s for the refresh lock: %s", tmp_dir,
                           strerror(errno));
        }
        n = snprintf(name, sizeof(name), "pam_fhir-%lu", (unsigned long) uid);
    }
    if (n < 0 || (size_t) n >= sizeof(name)) {
        close(pfd);
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL,
                       "lock directory name too long");
    }
    n = snprintf(where, sizeof(where), "%s/%s", parent, name);
    if (n < 0 || (size_t) n >= sizeof(where)) {
        close(pfd);
        return fa_fail(e, FHIRAUTH_ERR_LOCK, "lock directory path too long");
    }
    n = snprintf(file, sizeof(file), "%s.lock", profile);
    if (n < 0 || (size_t) n >= sizeof(file)) {
        close(pfd);
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "lock file name too long");
    }

    dfd = open_user_dir(pfd, parent, name, uid, e);
    close(pfd);
    if (dfd == -1)
        return FHIRAUTH_ERR_LOCK;

    deadline = now_ms() + wait_ms;
    for (;;) {
        fd = try_lock(dfd, where, file, uid, &repaired, e);
        if (fd >= 0)
            break;
        if (fd == LOCK_AGAIN)
            continue;
        if (fd == LOCK_FAILED) {
            close(dfd);
            return FHIRAUTH_ERR_LOCK;
        }
        /* Many processes that found the same expired token wait here
         * while one refreshes: they need its result, not the lock, and
         * taking the lock one after another would make each wait a
         * further pause. */
        if (done != NULL && done(arg)) {
            close(dfd);
            *ret_fd = -1;
            return FHIRAUTH_OK;
        }
        left = (long) (deadline - now_ms());
        if (left <= 0) {
            close(dfd);
            return fa_fail(e, FHIRAUTH_ERR_LOCK,
                           "timed out waiting for the refresh lock "
                           "(held by another process): %s/%s",
                           where, file);
        }
        /* Short pauses first (a refresh by a sibling may be nearly
         * done), then at most LOCK_POLL_MAX_MS so a waiter notices a
         * release quickly without spinning. */
        sleep_ms(pause < left ? pause : left);
        pause = pause * 2 < LOCK_POLL_MAX_MS ? pause * 2 : LOCK_POLL_MAX_MS;
    }
    close(dfd);
    *ret_fd = fd;
    return FHIRAUTH_OK;
}

/*
 * Unlock explicitly before closing: a child forked while the lock was held
 * shares the open file description, and a plain close() would leave the
 * lock held until that child exits too.  The file is not unlinked:
 * removing a flock file races with a process that has just opened it.
 */
void
fa_lock_release(int fd)
{
    int e = errno;

    if (fd < 0)
        return;
    (void) flock(fd, LOCK_UN);
    close(fd);
    errno = e;
}
