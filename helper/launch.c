/* launch.c - the page that sends the browser to the authorization URL.
 *
 * Every uid reads every process's argv in /proc/PID/cmdline, and the
 * authorization URL carries the login's state, nonce and PKCE challenge:
 * with them another local user could start a login of their own account
 * bound to ours and feed its code to our listener.  So the URL is never
 * an argument: the browser is started with the path of a small HTML file
 * that redirects to it, mode 0600 in a directory only the user can enter:
 *
 *   $XDG_RUNTIME_DIR/fhir-token-login-RANDOM.html
 *       when the variable names an absolute path to a directory the user
 *       owns that group and others cannot enter;
 *   /tmp/pam_fhir-UID/fhir-token-login-RANDOM.html
 *       otherwise: a directory of mode 0700 that the user owns (made when
 *       missing; a symlink, another owner or another mode is refused,
 *       checked on the opened descriptor) - the refresh lock's fallback
 *       directory, which lib/lock.c checks the same way.
 *
 * The file is removed when the login ends, and on SIGINT, SIGTERM and
 * SIGHUP. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"

#define PAGE_PREFIX "fhir-token-login-"

/* The page to remove if a signal ends us first (async-signal-safe use:
 * unlink only). */
static char pending[PATH_MAX];
static volatile sig_atomic_t have_pending;

/* Is fd a directory that uid owns and that group and others cannot
 * enter?  With exact set, its mode must be exactly 0700. */
static int
private_dir(int fd, uid_t uid, int exact)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid
        && (exact ? (st.st_mode & 07777) == 0700 : (st.st_mode & 077) == 0);
}

/* $XDG_RUNTIME_DIR when it is usable, an absolute path to a private
 * directory of ours: its descriptor, the path in dir.  -1 otherwise. */
static int
runtime_dir(uid_t uid, char *dir, size_t dirlen)
{
    const char *d = getenv("XDG_RUNTIME_DIR");
    int fd;

    if (d == NULL || d[0] != '/' || strlen(d) >= dirlen)
        return -1;
    fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!private_dir(fd, uid, 0)) {
        close(fd);
        return -1;
    }
    memcpy(dir, d, strlen(d) + 1);
    return fd;
}

/* /tmp/pam_fhir-UID, made when missing, refused unless it is a real
 * directory of ours with mode 0700: its descriptor, the path in dir. */
static int
fallback_dir(uid_t uid, char *dir, size_t dirlen, char *err, size_t errlen)
{
    int n, fd;

    n = snprintf(dir, dirlen, "/tmp/pam_fhir-%lu", (unsigned long) uid);
    if (n < 0 || (size_t) n >= dirlen)
        return -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dir,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -1;
    }
    if (!private_dir(fd, uid, 1)) {
        /* Ours but with a mode the umask narrowed: put it right. */
        struct stat st;

        if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid
            || (st.st_mode & 077) != 0 || fchmod(fd, 0700) != 0) {
            snprintf(err, errlen,
                     "%s is not a directory of mode 0700 that "
                     "you own: refusing it",
                     dir);
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Write s with & < > " ' as character references. */
static int
put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *ref = NULL;

        switch (*s) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        default:
            break;
        }
        if (ref != NULL ? fputs(ref, f) == EOF : fputc(*s, f) == EOF)
            return -1;
    }
    return 0;
}

static int
write_page(int fd, const char *url)
{
    FILE *f = fdopen(fd, "w");
    int bad;

    if (f == NULL) {
        close(fd);
        return -1;
    }
    /* No referrer: the authorization endpoint need not learn the path. */
    bad = fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
                "<meta name=\"referrer\" content=\"no-referrer\">\n"
                "<meta http-equiv=\"refresh\" content=\"0; url=",
                f)
            == EOF
        || put_escaped(f, url) != 0
        || fputs("\">\n<title>Log in</title></head>\n<body><p><a href=\"", f)
            == EOF
        || put_escaped(f, url) != 0
        || fputs("\">Continue to the login page</a></p></body></html>\n", f)
            == EOF;
    if (fclose(f) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

static void
on_signal(int sig)
{
    if (have_pending)
        (void) unlink(pending);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A file name nobody can have chosen for us: PAGE_PREFIX, 16 random hex
 * digits, ".html". */
static int
page_name(char *name, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[8];
    char digits[2 * sizeof(raw) + 1];
    size_t i;
    int n;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
        return -1;
    for (i = 0; i < sizeof(raw); i++) {
        digits[2 * i] = hex[raw[i] >> 4];
        digits[2 * i + 1] = hex[raw[i] & 15];
    }
    digits[2 * sizeof(raw)] = '\0';
    n = snprintf(name, len, PAGE_PREFIX "%s.html", digits);
    return n < 0 || (size_t) n >= len ? -1 : 0;
}

int
launch_page_write(const char *url, char *path, size_t pathlen, char *err,
                  size_t errlen)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa, old;
    char dir[PATH_MAX], name[64];
    uid_t uid = getuid();
    size_t i;
    int n, dfd, fd, saved;

    err[0] = '\0';
    path[0] = '\0';
    dfd = runtime_dir(uid, dir, sizeof(dir));
    if (dfd < 0)
        dfd = fallback_dir(uid, dir, sizeof(dir), err, errlen);
    if (dfd < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "no private directory for the page");
        return -1;
    }
    if (page_name(name, sizeof(name)) != 0) {
        snprintf(err, errlen, "no random numbers for the page's name");
        close(dfd);
        return -1;
    }
    n = snprintf(path, pathlen, "%s/%s", dir, name);
    if (n < 0 || (size_t) n >= pathlen || (size_t) n >= sizeof(pending)) {
        snprintf(err, errlen, "the path of the page is too long");
        path[0] = '\0';
        close(dfd);
        return -1;
    }
    /* Created here, in the directory just checked, never through a link;
     * fchmod because the umask may have narrowed the mode. */
    fd =
        openat(dfd, name,
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
               0600);
    saved = errno;
    close(dfd);
    if (fd >= 0 && fchmod(fd, 0600) != 0)
        saved = errno;
    else if (fd >= 0)
        saved = 0;
    if (saved != 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(saved));
        if (fd >= 0) {
            close(fd);
            (void) unlink(path);
        }
        path[0] = '\0';
        return -1;
    }
    memcpy(pending, path, (size_t) n + 1);
    have_pending = 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        /* A signal the caller ignores stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            (void) sigaction(sigs[i], &sa, NULL);
    }
    if (write_page(fd, url) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        launch_page_remove(path);
        path[0] = '\0';
        return -1;
    }
    return 0;
}

void
launch_page_remove(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return;
    (void) unlink(path);
    have_pending = 0;
}
