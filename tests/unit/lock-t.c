/* lock-t.c - the per-user refresh lock: taken and released, waited for
 * with a bound, refused when the directory or file is not what it must
 * be, the fallback directory, and mutual exclusion while another process
 * keeps unlinking the lock file.
 *
 * Works in a private mkdtemp() tree passed as RUN_DIR and TMP_DIR.  The
 * tests that need other owners run only as root (CI runs as root).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "tests/tap/basic.h"

#define NOBODY 65534
#define WORKERS 4
#define ROUNDS 100

static char base[64] = "";
static char run[128], tmp[128];
static char udir[160]; /* where run and tmp put our locks */
static uid_t me;

/*
 * RUN_DIR must be owned by root, so without root every lock lives in the
 * fallback TMP_DIR/pam_fhir-UID: the directory tests then exercise that
 * layout.  parent is the directory passed as RUN_DIR (root) or TMP_DIR.
 */
static const char *
user_dir(char *buf, size_t len, const char *parent)
{
    int n;

    if (me == 0)
        n = snprintf(buf, len, "%s/%lu", parent, (unsigned long) me);
    else
        n = snprintf(buf, len, "%s/pam_fhir-%lu", parent, (unsigned long) me);
    if (n < 0 || (size_t) n >= len)
        bail("path too long");
    return buf;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    (void) remove(p); /* best effort: keep walking */
    return 0;
}

static void
cleanup(void)
{
    if (base[0] != '\0')
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkpath(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
mkpath(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= len)
        bail("path too long");
}

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
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Make a directory with an exact mode (the umask would narrow it). */
static void
make_dir(const char *p, mode_t mode)
{
    if (mkdir(p, mode) != 0 || chmod(p, mode) != 0)
        bail("mkdir %s: %s", p, strerror(errno));
}

static int
same_file(int fd, const char *p)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && lstat(p, &b) == 0 && a.st_dev == b.st_dev
        && a.st_ino == b.st_ino;
}

static fhirauth_rc
take(uid_t uid, const char *profile, long wait_ms, const char *r,
     const char *t, int *fd, struct fa_err *e)
{
    fa_err_clear(e);
    return fa_lock_acquire(uid, profile, wait_ms, r, t, fd, e);
}

/* Take a lock whose per-user directory lives in parent (see user_dir). */
static fhirauth_rc
take_in(const char *parent, const char *profile, int *fd, struct fa_err *e)
{
    if (me == 0)
        return take(me, profile, 100, parent, tmp, fd, e);
    return take(me, profile, 100, "/nonexistent", parent, fd, e);
}

/* Fork, run fn in the child, return its exit status (-1: killed). */
static pid_t
start_child(int (*fn)(void *), void *arg)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

static int
finish_child(pid_t pid)
{
    int status;

    if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int
in_child(int (*fn)(void *), void *arg)
{
    return finish_child(start_child(fn, arg));
}

static int
become(uid_t uid)
{
    return setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0
            && setresuid(uid, uid, uid) == 0
        ? 0
        : -1;
}

/*
 * lock.c is linked into this program, so this flock() is the one it calls.
 * When armed it replaces the lock file between the library's open() and
 * its flock(): the race the dev/ino check after flock exists for, made
 * deterministic.
 */
static int replace_before_flock;
static char replace_path[192];

int
flock(int fd, int op)
{
    int nfd;

    if (replace_before_flock > 0 && (op & LOCK_EX) != 0) {
        replace_before_flock--;
        unlink(replace_path);
        nfd = open(replace_path, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (nfd != -1)
            close(nfd);
    }
    return (int) syscall(SYS_flock, fd, op);
}

/* ---------------------------------------------------------- children */

struct attempt {
    uid_t uid; /* switch to it first when not ours */
    long wait_ms;
    long min_ms; /* expected duration bounds */
    long max_ms;
    fhirauth_rc want;
};

static int
child_attempt(void *arg)
{
    const struct attempt *a = arg;
    struct fa_err ectx;
    long long t0, dt;
    fhirauth_rc rc;
    int fd = -1;

    if (a->uid != geteuid() && become(a->uid) != 0)
        return 100;
    t0 = now_ms();
    rc = take(a->uid, "p", a->wait_ms, run, tmp, &fd, &ectx);
    dt = now_ms() - t0;
    fa_lock_release(fd);
    if (rc != a->want)
        return 1;
    if (rc == FHIRAUTH_ERR_LOCK
        && strstr(ectx.msg, "timed out waiting") == NULL)
        return 2;
    if (dt < a->min_ms || dt > a->max_ms)
        return 3;
    return 0;
}

/*
 * Mutual exclusion while the lock file is replaced: each holder unlinks
 * the file before releasing it (what a cleanup would do), so a waiter that
 * opened the old file gets a lock on a file no longer at the path.  Unless
 * it notices and retries, it works alongside whoever locks the new file.
 * (Nothing can protect a holder whose file is removed while it works:
 * fa_lock_release() never unlinks, and this is not that case.)
 */
static int
child_worker(void *arg)
{
    char counter[160], inside[160], lockp[192], buf[32];
    struct fa_err ectx;
    int i, fd, cfd, mfd;
    long v;
    ssize_t n;

    (void) arg;
    mkpath(counter, sizeof(counter), "%s/counter", base);
    mkpath(inside, sizeof(inside), "%s/inside", base);
    mkpath(lockp, sizeof(lockp), "%s/stress.lock", udir);
    for (i = 0; i < ROUNDS; i++) {
        fd = -1;
        if (take(me, "stress", 20000, run, tmp, &fd, &ectx) != FHIRAUTH_OK) {
            fprintf(stderr, "# worker: %s\n", ectx.msg);
            return 1;
        }
        mfd = open(inside, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (mfd == -1)
            return 2; /* someone else is inside */
        close(mfd);
        cfd = open(counter, O_RDWR);
        if (cfd == -1)
            return 3;
        n = pread(cfd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        v = strtol(buf, NULL, 10);
        /* cppcheck-suppress usleepCalled ; a test's short poll */
        usleep(100);
        n = snprintf(buf, sizeof(buf), "%ld\n", v + 1);
        if (pwrite(cfd, buf, (size_t) n, 0) != n)
            return 4;
        close(cfd);
        unlink(inside);
        unlink(lockp);
        fa_lock_release(fd);
    }
    return 0;
}

/* ------------------------------------------------------------- tests */

static void
test_basics(void)
{
    struct fa_err ectx;
    char p[192];
    struct stat st;
    long long t0, dt;
    int fd = -7, fd2 = -7;
    fhirauth_rc rc;
    struct attempt held = { me, 200, 150, 3000, FHIRAUTH_ERR_LOCK };
    struct attempt free_ = { me, 0, 0, 1000, FHIRAUTH_OK };
    struct attempt wake = { me, 5000, 200, 3000, FHIRAUTH_OK };
    pid_t pid;

    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           take(me, "a/b", 100, run, tmp, &fd, &ectx),
           "profile with '/' refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           take(me, "", 100, run, tmp, &fd, &ectx), "empty profile refused");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           take(me, "p", -1, run, tmp, &fd, &ectx), "negative wait refused");
    is_int(-7, fd, "fd untouched on failure");

    rc = take(me, "p", 1000, run, tmp, &fd, &ectx);
    is_int(FHIRAUTH_OK, rc, "lock acquired (%s)", ectx.msg);
    ok(fd >= 0, "a descriptor");
    mkpath(p, sizeof(p), "%s/p.lock", udir);
    ok(same_file(fd, p), "the lock is %s", p);
    ok(lstat(udir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == me
           && (st.st_mode & 07777) == 0700,
       "per-user directory: ours, mode 0700");
    ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == me
           && (st.st_mode & 077) == 0,
       "lock file: ours, regular, no group/other access");
    ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "close-on-exec");

    t0 = now_ms();
    rc = take(me, "p", 100, run, tmp, &fd2, &ectx);
    dt = now_ms() - t0;
    is_int(FHIRAUTH_ERR_LOCK, rc, "second lock in the same process waits");
    ok(strstr(ectx.msg,
              "timed out waiting for the refresh lock (held by another "
              "process)")
           != NULL,
       "message: %s", ectx.msg);
    ok(dt >= 90 && dt < 2000, "waited about 100 ms (%lld)", dt);
    t0 = now_ms();
    rc = take(me, "p", 0, run, tmp, &fd2, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && now_ms() - t0 < 500,
       "wait 0: one attempt only");
    is_int(FHIRAUTH_OK, take(me, "q", 0, run, tmp, &fd2, &ectx),
           "another profile's lock is separate");
    fa_lock_release(fd2);

    is_int(0, in_child(child_attempt, &held),
           "another process times out while the lock is held");
    fa_lock_release(fd);
    is_int(0, in_child(child_attempt, &free_), "and gets it once released");

    /* A waiter notices the release; the holder's unlock works even though
     * the waiter, forked while it held the lock, shares the descriptor. */
    fd = -1;
    take(me, "p", 0, run, tmp, &fd, NULL);
    pid = start_child(child_attempt, &wake);
    sleep_ms(300);
    fa_lock_release(fd);
    is_int(0, finish_child(pid), "a waiter gets the lock soon after release");
    fa_lock_release(-1);
    ok(1, "releasing -1 is harmless");
}

/* done() for fa_lock_acquire_unless(): counts its calls, answers yes
 * from the given call on (0: never). */
struct asked {
    int calls;
    int yes_from;
};

static int
asked_done(void *arg)
{
    struct asked *a = arg;

    a->calls++;
    return a->yes_from > 0 && a->calls >= a->yes_from;
}

/* Waiters that need what the holder does, not the lock itself. */
static void
test_unless(void)
{
    struct fa_err ectx;
    struct asked never = { 0, 0 }, third = { 0, 3 }, first = { 0, 1 };
    long long t0, dt;
    int fd = -1, fd2 = -7;
    fhirauth_rc rc;

    rc = fa_lock_acquire_unless(me, "u", 1000, run, tmp, asked_done, &first,
                                &fd, &ectx);
    ok(rc == FHIRAUTH_OK && fd >= 0 && first.calls == 0,
       "a free lock is taken without asking done()");

    t0 = now_ms();
    rc = fa_lock_acquire_unless(me, "u", 5000, run, tmp, asked_done, &third,
                                &fd2, &ectx);
    dt = now_ms() - t0;
    is_int(FHIRAUTH_OK, rc, "held lock, done() says yes: OK");
    is_int(-1, fd2, "without the lock (fd -1)");
    is_int(3, third.calls, "asked after each failed attempt, until yes");
    ok(dt < 2000, "long before the wait limit (%lld ms)", dt);

    fd2 = -7;
    rc = fa_lock_acquire_unless(me, "u", 100, run, tmp, asked_done, &never,
                                &fd2, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && fd2 == -7 && never.calls > 1,
       "done() never yes: times out as before (%d calls)", never.calls);
    fa_lock_release(fd);
}

static void
test_refusals(void)
{
    struct fa_err ectx;
    char p[192], q[192], r[160], d[192];
    int fd = -1;
    fhirauth_rc rc;

    /* The lock file is a symlink. */
    mkpath(q, sizeof(q), "%s/target", base);
    mkpath(p, sizeof(p), "%s/sym.lock", udir);
    if (symlink(q, p) != 0)
        bail("symlink: %s", strerror(errno));
    rc = take(me, "sym", 100, run, tmp, &fd, &ectx);
    is_int(FHIRAUTH_ERR_LOCK, rc, "symlinked lock file refused");
    ok(strstr(ectx.msg, "symbolic link") != NULL, "message: %s", ectx.msg);
    ok(access(q, F_OK) != 0, "its target was not created");

    /* The lock file is a directory. */
    mkpath(p, sizeof(p), "%s/dir.lock", udir);
    make_dir(p, 0700);
    rc = take(me, "dir", 100, run, tmp, &fd, &ectx);
    is_int(FHIRAUTH_ERR_LOCK, rc, "a directory as lock file refused (%s)",
           ectx.msg);

    /* The per-user directory is a symlink to a good directory. */
    mkpath(r, sizeof(r), "%s/runsym", base);
    make_dir(r, 01777);
    mkpath(q, sizeof(q), "%s/real", base);
    make_dir(q, 0700);
    if (symlink(q, user_dir(d, sizeof(d), r)) != 0)
        bail("symlink: %s", strerror(errno));
    rc = take_in(r, "p", &fd, &ectx);
    is_int(FHIRAUTH_ERR_LOCK, rc, "symlinked per-user directory refused");
    ok(strstr(ectx.msg, "symbolic link") != NULL, "message: %s", ectx.msg);

    /* The per-user directory has mode 0755. */
    mkpath(r, sizeof(r), "%s/run755", base);
    make_dir(r, 01777);
    make_dir(user_dir(d, sizeof(d), r), 0755);
    rc = take_in(r, "p", &fd, &ectx);
    is_int(FHIRAUTH_ERR_LOCK, rc,
           "per-user directory with mode 0755 "
           "refused");
    ok(strstr(ectx.msg, "0755") != NULL, "message: %s", ectx.msg);

    /* The per-user directory is a file. */
    mkpath(r, sizeof(r), "%s/runfile", base);
    make_dir(r, 01777);
    fd = open(user_dir(d, sizeof(d), r), O_WRONLY | O_CREAT | O_EXCL, 0600);
    close(fd);
    fd = -1;
    rc = take_in(r, "p", &fd, &ectx);
    is_int(FHIRAUTH_ERR_LOCK, rc,
           "per-user directory that is a file "
           "refused (%s)",
           ectx.msg);

    if (me != 0) {
        skip("other owners need root");
        skip("other owners need root");
        skip("other owners need root");
        return;
    }
    /* The per-user directory belongs to someone else. */
    mkpath(r, sizeof(r), "%s/runother", base);
    make_dir(r, 01777);
    make_dir(user_dir(d, sizeof(d), r), 0700);
    if (chown(d, NOBODY, NOBODY) != 0)
        bail("chown: %s", strerror(errno));
    rc = take_in(r, "p", &fd, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && strstr(ectx.msg, "belongs to uid 65534"),
       "per-user directory owned by another user refused: %s", ectx.msg);

    /* The lock file belongs to someone else. */
    mkpath(p, sizeof(p), "%s/other.lock", udir);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1 || fchown(fd, NOBODY, NOBODY) != 0)
        bail("other.lock: %s", strerror(errno));
    close(fd);
    fd = -1;
    rc = take(me, "other", 100, run, tmp, &fd, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && strstr(ectx.msg, "belongs to uid 65534"),
       "lock file owned by another user refused: %s", ectx.msg);

    /* The fallback per-user directory belongs to someone else. */
    mkpath(r, sizeof(r), "%s/tmpother", base);
    make_dir(r, 01777);
    mkpath(p, sizeof(p), "%s/pam_fhir-%lu", r, (unsigned long) me);
    make_dir(p, 0700);
    if (chown(p, NOBODY, NOBODY) != 0)
        bail("chown: %s", strerror(errno));
    rc = take(me, "p", 100, "/nonexistent", r, &fd, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && strstr(ectx.msg, "belongs to uid 65534"),
       "fallback directory owned by another user refused: %s", ectx.msg);
}

/* RUN_DIR not usable: the lock goes to TMP_DIR/pam_fhir-UID. */
static void
fallback_case(const char *r, const char *what)
{
    struct fa_err ectx;
    char p[192];
    int fd = -1;
    fhirauth_rc rc;

    rc = take(me, "fb", 100, r, tmp, &fd, &ectx);
    mkpath(p, sizeof(p), "%s/pam_fhir-%lu/fb.lock", tmp, (unsigned long) me);
    ok(rc == FHIRAUTH_OK && same_file(fd, p), "%s: falls back to %s (%s)",
       what, p, ectx.msg);
    fa_lock_release(fd);
}

static void
test_fallback(void)
{
    char r[160], p[192], q[160];
    struct stat st;

    mkpath(r, sizeof(r), "%s/run0755", base);
    make_dir(r, 0755);
    fallback_case(r, "RUN_DIR mode 0755");
    mkpath(p, sizeof(p), "%s/%lu", r, (unsigned long) me);
    ok(lstat(p, &st) != 0, "nothing created in the unusable RUN_DIR");
    mkpath(r, sizeof(r), "%s/absent", base);
    fallback_case(r, "RUN_DIR absent");
    mkpath(q, sizeof(q), "%s/runlink", base);
    if (symlink(run, q) != 0)
        bail("symlink: %s", strerror(errno));
    fallback_case(q, "RUN_DIR a symlink to a good directory");
    mkpath(p, sizeof(p), "%s/pam_fhir-%lu", tmp, (unsigned long) me);
    ok(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == me
           && (st.st_mode & 07777) == 0700,
       "fallback directory: ours, mode 0700");
    if (me != 0) {
        skip("needs root");
        return;
    }
    mkpath(r, sizeof(r), "%s/runnobody", base);
    make_dir(r, 01777);
    if (chown(r, NOBODY, NOBODY) != 0)
        bail("chown: %s", strerror(errno));
    fallback_case(r, "RUN_DIR not owned by root");
}

/* Root acting for another uid, as the PAM module does. */
static void
test_other_uid(void)
{
    struct fa_err ectx;
    char p[192];
    struct stat st;
    int fd = -1;
    fhirauth_rc rc;
    struct attempt held = { NOBODY, 150, 100, 3000, FHIRAUTH_ERR_LOCK };
    struct attempt free_ = { NOBODY, 0, 0, 1000, FHIRAUTH_OK };

    if (me != 0) {
        skip("needs root");
        skip("needs root");
        skip("needs root");
        skip("needs root");
        skip("needs root");
        return;
    }
    rc = take(NOBODY, "p", 100, run, tmp, &fd, &ectx);
    is_int(FHIRAUTH_OK, rc, "root takes the lock for uid %d (%s)", NOBODY,
           ectx.msg);
    mkpath(p, sizeof(p), "%s/%d", run, NOBODY);
    ok(lstat(p, &st) == 0 && st.st_uid == NOBODY
           && (st.st_mode & 07777) == 0700,
       "the directory was given to the user");
    mkpath(p, sizeof(p), "%s/%d/p.lock", run, NOBODY);
    ok(lstat(p, &st) == 0 && st.st_uid == NOBODY, "and the lock file too");
    is_int(0, in_child(child_attempt, &held),
           "the user's own process waits for it");
    fa_lock_release(fd);
    is_int(0, in_child(child_attempt, &free_),
           "and takes it once root released it");
}

/* As NOBODY: take the lock for profile arg in run; 0 when it works. */
static int
child_take_nobody(void *arg)
{
    struct fa_err ectx;
    int fd = -1;

    if (become(NOBODY) != 0)
        return 100;
    if (take(NOBODY, arg, 500, run, tmp, &fd, &ectx) != FHIRAUTH_OK) {
        printf("# %s\n", ectx.msg);
        return 1;
    }
    fa_lock_release(fd);
    return 0;
}

/* As a setuid-root program that NOBODY runs (real uid NOBODY, effective
 * uid 0): take the lock for NOBODY, profile arg, in run; 0 when it works. */
static int
child_setuid_take(void *arg)
{
    struct fa_err ectx;
    int fd = -1;

    if (setresuid(NOBODY, 0, 0) != 0 || getuid() != NOBODY || geteuid() != 0)
        return 100;
    if (take(NOBODY, arg, 500, run, tmp, &fd, &ectx) != FHIRAUTH_OK) {
        printf("# %s\n", ectx.msg);
        return 1;
    }
    fa_lock_release(fd);
    return 0;
}

/* A lock file left in NOBODY's directory with this owner and mode. */
static void
leave_lock_file(const char *p, uid_t owner, mode_t mode, const char *data)
{
    int fd;

    unlink(p);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1 || write(fd, data, strlen(data)) < 0
        || fchown(fd, owner, owner) != 0 || fchmod(fd, mode) != 0)
        bail("%s: %s", p, strerror(errno));
    close(fd);
}

/*
 * Lock files that abuse or accident left behind: a hard link to a file
 * root owns (root acting for the user must not chown it), and stale files
 * with odd content, modes or owner (the next lock must work).
 */
static void
test_leftovers(void)
{
    struct fa_err ectx;
    char victim[160], p[192];
    struct stat st, now;
    int fd = -1, i, held;
    fhirauth_rc rc;
    static const mode_t modes[] = { 0000, 0200, 0444, 0644 };
    static char odd[] = "odd";

    if (me != 0) {
        for (i = 0; i < 16; i++)
            skip("needs root");
        return;
    }
    /* A hard link in the user's directory to a root-owned file. */
    mkpath(victim, sizeof(victim), "%s/victim", base);
    fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd == -1 || write(fd, "root's\n", 7) != 7)
        bail("victim: %s", strerror(errno));
    close(fd);
    fd = -1;
    mkpath(p, sizeof(p), "%s/%d/hl.lock", run, NOBODY);
    if (link(victim, p) != 0)
        bail("link: %s", strerror(errno));
    rc = take(NOBODY, "hl", 100, run, tmp, &fd, &ectx);
    ok(rc == FHIRAUTH_ERR_LOCK && strstr(ectx.msg, "links") != NULL,
       "root refuses a lock file hard-linked to a root-owned file: %s",
       ectx.msg);
    fa_lock_release(fd);
    fd = -1;
    ok(stat(victim, &st) == 0 && st.st_uid == 0 && st.st_size == 7
           && (st.st_mode & 07777) == 0644,
       "the linked file is still root's, unchanged");

    /* Stale files with odd modes and content, as the user. */
    mkpath(p, sizeof(p), "%s/%d/odd.lock", run, NOBODY);
    for (i = 0; i < 4; i++) {
        leave_lock_file(p, NOBODY, modes[i], "garbage\n\001\377");
        is_int(0, in_child(child_take_nobody, odd),
               "a stale lock file with mode %04o works for its owner",
               (unsigned) modes[i]);
    }
    ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == NOBODY
           && st.st_nlink == 1,
       "still one regular file of the user's");

    /* Root created it for the user and died before giving it away. */
    leave_lock_file(p, 0, 0600, "");
    is_int(0, in_child(child_take_nobody, odd),
           "a root-owned leftover does not lock the user out");
    ok(lstat(p, &st) == 0 && st.st_uid == NOBODY,
       "the lock file is the user's now");

    /*
     * Root acting for the user (a setuid caller of the library, real uid
     * the user's) finds a root-owned file that it did not create: it must
     * never give it to the user.  With fs.protected_hardlinks=0 a hard
     * link to a root-owned file could be swapped in between the link
     * count check and an fchown; that swap cannot be staged reliably
     * here (and not at all with protected_hardlinks=1), so this checks
     * the rule: a file found there, not created by this call, keeps its
     * owner, and the lock is taken on a file of the call's own making.
     */
    leave_lock_file(p, 0, 0600, "root's\n");
    held = open(p, O_RDONLY | O_CLOEXEC);
    if (held == -1)
        bail("%s: %s", p, strerror(errno));
    is_int(0, in_child(child_setuid_take, odd),
           "a setuid-root caller for the user takes the lock");
    ok(fstat(held, &st) == 0 && st.st_uid == 0 && st.st_size == 7,
       "the root-owned file it found was not given to the user");
    ok(lstat(p, &now) == 0 && now.st_uid == NOBODY && now.st_nlink == 1
           && now.st_ino != st.st_ino,
       "the lock file is a new one, made by the call and given to the "
       "user");
    close(held);
    /* The same as root itself (real uid 0), as the PAM module would. */
    leave_lock_file(p, 0, 0600, "root's\n");
    held = open(p, O_RDONLY | O_CLOEXEC);
    if (held == -1)
        bail("%s: %s", p, strerror(errno));
    rc = take(NOBODY, "odd", 500, run, tmp, &fd, &ectx);
    is_int(FHIRAUTH_OK, rc, "root takes the lock for the user (%s)", ectx.msg);
    fa_lock_release(fd);
    fd = -1;
    ok(fstat(held, &st) == 0 && st.st_uid == 0,
       "and does not give the root-owned file it found to the user");
    close(held);

    /* Someone else's file is still refused (only root could put it). */
    leave_lock_file(p, NOBODY - 1, 0600, "");
    ok(in_child(child_take_nobody, odd) != 0,
       "a file of a third uid is refused, not removed");
    ok(lstat(p, &st) == 0 && st.st_uid == NOBODY - 1, "and left alone");
    unlink(p);
}

/* The file is replaced between open and flock: the lock must end up on
 * the file now at the path, not on the one that was removed. */
static void
test_replaced(void)
{
    struct fa_err ectx;
    int fd = -1;
    fhirauth_rc rc;

    mkpath(replace_path, sizeof(replace_path), "%s/repl.lock", udir);
    fd = open(replace_path, O_RDWR | O_CREAT, 0600);
    close(fd);
    fd = -1;
    replace_before_flock = 1;
    rc = take(me, "repl", 1000, run, tmp, &fd, &ectx);
    is_int(0, replace_before_flock, "the file was replaced mid-attempt");
    ok(rc == FHIRAUTH_OK && same_file(fd, replace_path),
       "the lock holds the file now at the path (%s)", ectx.msg);
    fa_lock_release(fd);
    replace_before_flock = 0;
}

static void
test_stress(void)
{
    char counter[160], buf[32];
    pid_t workers[WORKERS];
    int i, fd, good = 1;
    ssize_t n;

    mkpath(counter, sizeof(counter), "%s/counter", base);
    fd = open(counter, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1 || write(fd, "0\n", 2) != 2)
        bail("counter: %s", strerror(errno));
    close(fd);
    for (i = 0; i < WORKERS; i++)
        workers[i] = start_child(child_worker, NULL);
    for (i = 0; i < WORKERS; i++) {
        int st = finish_child(workers[i]);

        if (st != 0) {
            diag("worker %d: status %d", i, st);
            good = 0;
        }
    }
    ok(good,
       "%d workers, each inside alone, while the lock file is "
       "replaced every round",
       WORKERS);
    fd = open(counter, O_RDONLY);
    n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    is_int(WORKERS * ROUNDS, strtol(buf, NULL, 10), "no update lost");
}

/* The real default paths, as the library uses them. */
static void
test_defaults(void)
{
    struct fa_err ectx;
    char p[192], q[192];
    int fd = -1;
    fhirauth_rc rc;

    rc = take(me, base + 5, 1000, NULL, NULL, &fd, &ectx);
    is_int(FHIRAUTH_OK, rc, "default directories work (%s)", ectx.msg);
    mkpath(p, sizeof(p), "/run/pam_fhir/%lu/%s.lock", (unsigned long) me,
           base + 5);
    mkpath(q, sizeof(q), "/tmp/pam_fhir-%lu/%s.lock", (unsigned long) me,
           base + 5);
    ok(same_file(fd, p) || same_file(fd, q),
       "lock file in /run/pam_fhir "
       "or /tmp");
    unlink(p);
    unlink(q);
    fa_lock_release(fd);
}

int
main(void)
{
    int fd = -1;

    me = geteuid();
    mkpath(base, sizeof(base), "/tmp/lock-t.XXXXXX");
    if (mkdtemp(base) == NULL) {
        base[0] = '\0';
        bail("mkdtemp: %s", strerror(errno));
    }
    atexit(cleanup);
    if (chmod(base, 0755) != 0)
        bail("chmod: %s", strerror(errno));
    mkpath(run, sizeof(run), "%s/run", base);
    mkpath(tmp, sizeof(tmp), "%s/tmp", base);
    make_dir(run, 01777);
    make_dir(tmp, 01777);
    user_dir(udir, sizeof(udir), me == 0 ? run : tmp);
    plan_lazy();
    if (me != 0)
        diag("not root: RUN_DIR cannot be root's, locks go to TMP_DIR");

    /* Create the per-user directory the tests put things into. */
    if (take(me, "init", 0, run, tmp, &fd, NULL) != FHIRAUTH_OK)
        bail("cannot take a first lock");
    fa_lock_release(fd);

    test_basics();
    test_unless();
    test_refusals();
    test_fallback();
    test_other_uid();
    test_leftovers();
    test_replaced();
    test_stress();
    test_defaults();
    return test_status();
}
