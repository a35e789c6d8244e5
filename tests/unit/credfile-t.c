/* credfile-t.c - the reader of the client's credential files
 * (lib/net/credfile.c) over a table of files, once for each key that uses
 * it (client_key_file, client_secret_file, with their own size limits),
 * so that every message is seen to name the right key and the path; a
 * file that grows past the limit while it is read; and the client
 * secret's own rules on top (lib/net/http.c: one line, printable). */
#include "autoconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/credfile.h"
#include "net/http.h"
#include "net/jws.h"
#include "util.h"
#include "tests/tap/basic.h"

/* A FIFO that blocked the open would hang the test: this ends it. */
#define HANG_SECONDS 60
/* What the short files hold. */
#define SMALL "credential\n"

static char dir[] = "/tmp/credfile-t.XXXXXX";

enum kind { REGULAR, SYMLINK, FIFO, DIRECTORY };
enum size { SMALL_FILE, EMPTY, AT_MAX, OVER_MAX };

static const struct row {
    const char *what;
    const char *name; /* the file's name in the key's directory */
    int relative;     /* the path given as the bare name */
    enum kind kind;
    mode_t mode;
    enum size size;
    int other_owner; /* chown()ed to 65534: only as root */
    fhirauth_rc rc;
    const char *msg; /* what the message says, besides key and path */
} rows[] = {
    { "a relative path", "rel", 1, REGULAR, 0600, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "must be an absolute path" },
    { "a symbolic link as the last component", "link", 0, SYMLINK, 0600,
      SMALL_FILE, 0, FHIRAUTH_ERR_CONFIG, "cannot open" },
    { "a FIFO (at once)", "fifo", 0, FIFO, 0600, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is not a regular file" },
    { "a directory", "dir", 0, DIRECTORY, 0700, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is not a regular file" },
    { "a missing file", "missing", 0, REGULAR, 0, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "cannot open" },
    { "group-writable (0620)", "gw", 0, REGULAR, 0620, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is writable by others than its owner" },
    { "world-writable (0602)", "ow", 0, REGULAR, 0602, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is writable by others than its owner" },
    { "world-readable (0644)", "or", 0, REGULAR, 0644, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is readable by every user (at most mode 0640)" },
    { "world-readable only (0604)", "or2", 0, REGULAR, 0604, SMALL_FILE, 0,
      FHIRAUTH_ERR_CONFIG, "is readable by every user" },
    { "mode 0640 (a group of users)", "group", 0, REGULAR, 0640, SMALL_FILE, 0,
      FHIRAUTH_OK, NULL },
    { "mode 0600", "own", 0, REGULAR, 0600, SMALL_FILE, 0, FHIRAUTH_OK, NULL },
    { "mode 0400", "ro", 0, REGULAR, 0400, SMALL_FILE, 0, FHIRAUTH_OK, NULL },
    { "owned by another uid", "other", 0, REGULAR, 0600, SMALL_FILE, 1,
      FHIRAUTH_ERR_CONFIG, "must be owned by root" },
    { "one byte over the limit", "big", 0, REGULAR, 0600, OVER_MAX, 0,
      FHIRAUTH_ERR_CONFIG, "is larger than" },
    { "exactly the limit", "max", 0, REGULAR, 0600, AT_MAX, 0, FHIRAUTH_OK,
      NULL },
    { "empty", "empty", 0, REGULAR, 0600, EMPTY, 0, FHIRAUTH_OK, NULL },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct {
    const char *key;
    size_t max;
} keys[] = {
    { "client_key_file", FA_KEY_FILE_MAX },
    { "client_secret_file", FA_SECRET_MAX },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void
path_of(char *buf, size_t len, const char *key, const char *name)
{
    if (snprintf(buf, len, "%s/%s/%s", dir, key, name) >= (int) len)
        bail("path too long");
}

static size_t
size_of(enum size s, size_t max)
{
    switch (s) {
    case SMALL_FILE:
        return strlen(SMALL);
    case EMPTY:
        return 0;
    case AT_MAX:
        return max;
    case OVER_MAX:
        return max + 1;
    }
    return 0;
}

/* The content of a file of n bytes: SMALL, or n times 'k'. */
static char *
content_of(enum size s, size_t n)
{
    char *c = malloc(n + 1);

    if (c == NULL)
        bail("out of memory");
    if (s == SMALL_FILE)
        memcpy(c, SMALL, n);
    else
        memset(c, 'k', n);
    c[n] = '\0';
    return c;
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd < 0 || write(fd, text, len) != (ssize_t) len || close(fd) != 0
        || chmod(path, mode) != 0)
        bail("cannot write %s", path);
}

/* Make the row's file under key's directory; 0 when it cannot be made
 * here (another owner without root). */
static int
make_row(const struct row *r, const char *key, size_t max)
{
    char path[256], target[256];
    char *c;
    size_t n = size_of(r->size, max);

    path_of(path, sizeof(path), key, r->name);
    if (r->other_owner && geteuid() != 0)
        return 0;
    switch (r->kind) {
    case REGULAR:
        if (r->mode == 0)
            return 1; /* missing */
        c = content_of(r->size, n);
        write_file(path, c, n, r->mode);
        free(c);
        if (r->other_owner && chown(path, 65534, 65534) != 0)
            bail("chown %s", path);
        break;
    case SYMLINK:
        path_of(target, sizeof(target), key, "own");
        write_file(target, SMALL, strlen(SMALL), 0600);
        if (symlink(target, path) != 0)
            bail("symlink %s", path);
        break;
    case FIFO:
        if (mkfifo(path, r->mode) != 0)
            bail("mkfifo %s", path);
        break;
    case DIRECTORY:
        if (mkdir(path, r->mode) != 0)
            bail("mkdir %s", path);
        break;
    }
    return 1;
}

static void
test_row(const struct row *r, const char *key, size_t max)
{
    char path[256], named[320];
    const char *arg = path;
    static char sentinel;
    char *buf = &sentinel, *want;
    size_t len = 12345, n = size_of(r->size, max);
    struct fa_err e;
    fhirauth_rc rc;

    if (!make_row(r, key, max)) {
        skip("%s: %s (chown needs root)", key, r->what);
        skip("%s: ... the message (chown needs root)", key);
        return;
    }
    path_of(path, sizeof(path), key, r->name);
    if (r->relative)
        arg = r->name;
    fa_err_clear(&e);
    rc = fa_credfile_read(key, arg, max, &buf, &len, &e);
    is_int(r->rc, rc, "%s: %s", key, r->what);
    if (r->rc != FHIRAUTH_OK) {
        snprintf(named, sizeof(named), "%s %s", key, arg);
        ok(buf == NULL && len == 0 && strstr(e.msg, named) != NULL
               && strstr(e.msg, r->msg) != NULL,
           "%s: ... nothing handed out, the key and path named: %s", key,
           e.msg);
        if (rc == FHIRAUTH_OK)
            fa_secret_free_len(buf, FA_CREDFILE_SIZE(max));
        return;
    }
    want = content_of(r->size, n);
    ok(rc == FHIRAUTH_OK && len == n && memcmp(buf, want, n) == 0
           && buf[n] == '\0',
       "%s: ... the %zu bytes written, NUL-terminated", key, n);
    free(want);
    if (rc == FHIRAUTH_OK)
        fa_secret_free_len(buf, FA_CREDFILE_SIZE(max));
}

/* A file whose size fstat() does not tell (as in /proc, 0 bytes there)
 * and that holds more than the limit: the read notices. */
static void
test_growth(void)
{
    static const char auxv[] = "/proc/self/auxv";
    struct stat st;
    struct fa_err e;
    char *buf = NULL;
    size_t len;

    if (stat(auxv, &st) != 0 || st.st_size != 0
        || (st.st_mode & 07777) != 0400) {
        skip("no %s of mode 0400 and size 0", auxv);
        skip("... the message");
        return;
    }
    fa_err_clear(&e);
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_credfile_read("client_key_file", auxv, 8, &buf, &len, &e),
           "more bytes than the limit where fstat said 0: refused");
    ok(buf == NULL
           && strcmp(e.msg,
                     "client_key_file /proc/self/auxv is larger than "
                     "8 bytes")
               == 0,
       "... saying so: %s", e.msg);
    fa_secret_free_len(buf, FA_CREDFILE_SIZE(8));
}

static void
test_no_path(void)
{
    struct fa_err e;
    char *buf = NULL;
    size_t len;
    size_t k;

    for (k = 0; k < NKEYS; k++) {
        fa_err_clear(&e);
        is_int(FHIRAUTH_ERR_CONFIG,
               fa_credfile_read(keys[k].key, NULL, keys[k].max, &buf, &len,
                                &e),
               "%s: none configured", keys[k].key);
        ok(strstr(e.msg, "no ") == e.msg && strstr(e.msg, keys[k].key),
           "... saying so: %s", e.msg);
    }
}

/* The client secret's own rules, on top of the file's. */
static void
test_secret(void)
{
    static const struct {
        const char *what, *text;
        size_t len;
        const char *want; /* NULL: refused */
    } s[] = {
        { "one line", "s3cret\n", 7, "s3cret" },
        { "CRLF", "s3cret\r\n", 8, "s3cret" },
        { "no newline", "s3cret", 6, "s3cret" },
        { "two lines", "s3cret\nmore\n", 12, NULL },
        { "a NUL", "s3\0cret\n", 8, NULL },
        { "only a newline", "\n", 1, NULL },
        { "empty", "", 0, NULL },
    };
    char path[256];
    struct fa_err e;
    char *secret;
    size_t i;
    fhirauth_rc rc;

    path_of(path, sizeof(path), "client_secret_file", "secret");
    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        write_file(path, s[i].text, s[i].len, 0600);
        secret = NULL;
        fa_err_clear(&e);
        rc = fa_http_read_secret(path, &secret, &e);
        if (s[i].want != NULL)
            ok(rc == FHIRAUTH_OK && secret != NULL
                   && strcmp(secret, s[i].want) == 0,
               "secret: %s: taken, the newline dropped", s[i].what);
        else
            ok(rc == FHIRAUTH_ERR_CONFIG && secret == NULL
                   && strstr(e.msg,
                             "must hold one line of printable "
                             "characters")
                       != NULL,
               "secret: %s: refused: %s", s[i].what, e.msg);
        fa_secret_free(secret);
    }
    /* The file's checks come first: a good secret every user can read. */
    write_file(path, "s3cret\n", 7, 0644);
    secret = NULL;
    fa_err_clear(&e);
    ok(fa_http_read_secret(path, &secret, &e) == FHIRAUTH_ERR_CONFIG
           && secret == NULL && strstr(e.msg, "client_secret_file ") == e.msg
           && strstr(e.msg, "readable by every user") != NULL,
       "secret: readable by every user: refused: %s", e.msg);
    fa_secret_free(secret);
}

int
main(void)
{
    char sub[256], cmd[64];
    size_t k, r;

    /* Per key: 16 rows of two checks; then 2 + 4 + 8. */
    plan(78);
    alarm(HANG_SECONDS);
    if (mkdtemp(dir) == NULL)
        bail("mkdtemp");
    for (k = 0; k < NKEYS; k++) {
        if (snprintf(sub, sizeof(sub), "%s/%s", dir, keys[k].key)
                >= (int) sizeof(sub)
            || mkdir(sub, 0700) != 0)
            bail("mkdir %s", sub);
        /* The relative row's file is there, a good one: its path alone
         * is what gets it refused. */
        if (chdir(sub) != 0)
            bail("chdir %s", sub);
        for (r = 0; r < NROWS; r++)
            test_row(&rows[r], keys[k].key, keys[k].max);
    }
    test_growth();
    test_no_path();
    test_secret();

    if (chdir("/") != 0)
        diag("cannot leave %s", dir);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("cannot remove %s", dir);
    return test_status();
}
