/* credfile.c - the one reader of the client's credential files
 * (credfile.h).  Each check is done on the open descriptor, so the file
 * checked is the file read. */
#include "autoconf.h"
#include "credfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The checks of credfile.h on the open fd; path and key for messages. */
static fhirauth_rc
check_file(int fd, const char *key, const char *path, size_t max,
           struct fa_err *e)
{
    struct stat st;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s %s is not a regular file",
                       key, path);
    /* Whoever may write the file decides who the client is. */
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s %s must be owned by root%s",
                       key, path, geteuid() == 0 ? "" : " or by the user");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s %s is writable by others than its owner", key,
                       path);
    /* A credential every local user can read makes each of them the
     * client; a group of the users who need it is the widest it may be. */
    if ((st.st_mode & S_IROTH) != 0)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s %s is readable by every user (at most mode 0640)",
                       key, path);
    if (st.st_size < 0 || (unsigned long long) st.st_size > max)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s %s is larger than %zu bytes", key, path, max);
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_credfile_read(const char *key, const char *path, size_t max, char **ret,
                 size_t *retlen, struct fa_err *e)
{
    char eb[128];
    char *buf;
    size_t len = 0;
    ssize_t n;
    int fd, saved;
    fhirauth_rc rc;

    *ret = NULL;
    *retlen = 0;
    if (path == NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "no %s configured", key);
    /* Relative to nothing a user chose (the current directory). */
    if (path[0] != '/')
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s %s must be an absolute path", key, path);
    /* O_NONBLOCK: a FIFO planted under that name must not hang us; it is
     * refused as not a regular file just after. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        saved = errno;
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "cannot open %s %s: %s", key,
                       path, strerror_r(saved, eb, sizeof(eb)));
    }
    rc = check_file(fd, key, path, max, e);
    if (rc != FHIRAUTH_OK) {
        close(fd);
        return rc;
    }
    buf = malloc(FA_CREDFILE_SIZE(max));
    if (buf == NULL) {
        close(fd);
        return fa_nomem(e);
    }
    /* One byte more than allowed, to notice a file that grew (or one
     * whose size fstat does not tell, as in /proc). */
    while (len <= max) {
        n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno;
            close(fd);
            fa_secret_free_len(buf, FA_CREDFILE_SIZE(max));
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "cannot read %s %s: %s",
                           key, path, strerror_r(saved, eb, sizeof(eb)));
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    close(fd);
    if (len > max) {
        fa_secret_free_len(buf, FA_CREDFILE_SIZE(max));
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s %s is larger than %zu bytes", key, path, max);
    }
    buf[len] = '\0';
    *ret = buf;
    *retlen = len;
    return FHIRAUTH_OK;
}
