/* rootcache.c - discovery documents and JWKS kept on disk for root.
 *
 * One file per (kind, key) in FHIRAUTH_CACHE_DIR, named KIND-SHA256(key):
 *
 *   pam_fhir-cache 1
 *   key https://as.example/realm
 *   expires 1767225600
 *   <empty line>
 *   the body exactly as the server sent it
 *
 * Integrity is the point (the contents are public): a JWKS planted here
 * would let anyone log in.  So only the PAM path with euid 0 uses it,
 * the directory must be a root-owned directory that group and others
 * cannot write, and an entry is read only when it is a regular root-owned
 * file that group and others cannot write, opened without following
 * symlinks and checked on the open descriptor.  Anything else is ignored
 * and, on the next successful fetch, replaced: entries are written to a
 * fresh temporary file and renamed over the old name, which replaces a
 * planted symlink or file instead of writing through it.  Readers then
 * see the old entry or the new one, never half of one.  The body is
 * parsed again by the caller on every read, as if it came from the
 * network. */
#include "autoconf.h"
#include "rootcache.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cachetime.h"
#include "util.h"

#ifndef FHIRAUTH_CACHE_DIR
# define FHIRAUTH_CACHE_DIR "/var/cache/pam_fhir"
#endif

#define MAGIC "pam_fhir-cache 1\n"
/* Longest key (an issuer or a jwks_uri) we keep. */
#define KEY_MAX 2048
/* Longest body: what fa_http_* accepts. */
#define BODY_MAX (256 * 1024)
/* A clock set back must not make an entry live longer than any server
 * may ask for. */
#define EXPIRY_SLACK 60

int
fa_rootcache_active(int system_only)
{
    return system_only && geteuid() == 0;
}

const char *
fa_rootcache_dir(void)
{
#ifdef FHIRAUTH_TEST_HOOKS
    /* Test builds only: keeps the test suite out of the real directory.
     * A production build's PAM path reads no environment here. */
    const char *d = secure_getenv("FHIRAUTH_TEST_CACHE_DIR");

    if (d != NULL && d[0] == '/')
        return d;
#endif
    return FHIRAUTH_CACHE_DIR;
}

/* Keys are URLs from the configuration or a discovery document: one line
 * of printable characters. */
static int
key_ok(const char *key)
{
    size_t i;

    if (key == NULL || key[0] == '\0')
        return 0;
    for (i = 0; key[i] != '\0'; i++)
        if (i >= KEY_MAX || (unsigned char) key[i] < 0x21
            || (unsigned char) key[i] > 0x7e)
            return 0;
    return 1;
}

/* KIND-hex(SHA-256(key)) into buf; -1 on failure. */
static int
entry_name(const char *kind, const char *key, char *buf, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    int n;

    if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1)
        return -1;
    n = snprintf(buf, len, "%s-", kind);
    if (n < 0 || (size_t) n >= len)
        return -1;
    for (i = 0; i < mdlen; i++) {
        if ((size_t) n + 3 > len)
            return -1;
        snprintf(buf + n, 3, "%02x", md[i]);
        n += 2;
    }
    return 0;
}

/* Root's and not writable by anyone else. */
static int
root_only(const struct stat *st)
{
    return st->st_uid == 0 && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* The cache directory, opened and checked; created (0700) when create
 * is set and it is missing (its parent must exist).  -1 when unusable. */
static int
open_dir(int create)
{
    const char *dir = fa_rootcache_dir();
    struct stat st;
    int fd;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || !root_only(&st)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read the whole (checked) file at fd into a NUL-terminated buffer. */
static char *
read_entry(int fd, size_t *retlen)
{
    struct stat st;
    char *buf;
    size_t len = 0;
    ssize_t n = 0;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !root_only(&st)
        || st.st_size <= 0 || st.st_size > FA_RC_MAX_FILE)
        return NULL;
    buf = malloc(FA_RC_MAX_FILE + 2);
    if (buf == NULL)
        return NULL;
    /* One byte more than allowed, to notice a file that grew. */
    while (len <= FA_RC_MAX_FILE) {
        n = read(fd, buf + len, FA_RC_MAX_FILE + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    if (n < 0 || len > FA_RC_MAX_FILE) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    *retlen = len;
    return buf;
}

/* Split a file into its header's fields and its body; -1 when it is not
 * an entry for key that is fresh at now.  *ret_expires: when it expires. */
static int
parse_entry(const char *buf, size_t len, const char *key, long long now,
            size_t *body_off, long long *ret_expires)
{
    const char *p = buf, *end = buf + len, *nl;
    size_t klen = strlen(key);
    long long expires = 0;

    if (memchr(buf, '\0', len) != NULL
        || (size_t) (end - p) < sizeof(MAGIC) - 1
        || memcmp(p, MAGIC, sizeof(MAGIC) - 1) != 0)
        return -1;
    p += sizeof(MAGIC) - 1;
    if ((size_t) (end - p) < 4 + klen + 1 || memcmp(p, "key ", 4) != 0
        || memcmp(p + 4, key, klen) != 0 || p[4 + klen] != '\n')
        return -1;
    p += 4 + klen + 1;
    if ((size_t) (end - p) < 8 || memcmp(p, "expires ", 8) != 0)
        return -1;
    p += 8;
    nl = memchr(p, '\n', (size_t) (end - p));
    if (nl == NULL || nl == p || nl - p > 19)
        return -1;
    for (; p < nl; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        expires = expires * 10 + (*p - '0');
    }
    p = nl + 1;
    if (p >= end || *p != '\n' || p + 1 >= end)
        return -1;
    if (expires <= now || expires > now + FA_CACHE_MAX_LIFETIME + EXPIRY_SLACK)
        return -1;
    *body_off = (size_t) (p + 1 - buf);
    *ret_expires = expires;
    return 0;
}

int
fa_rootcache_get(const char *kind, const char *key, char **ret, size_t *retlen,
                 long *ret_lifetime)
{
    char name[128];
    char *buf, *body;
    size_t len = 0, off = 0;
    long long now = (long long) time(NULL), expires = 0;
    int dfd, fd;

    if (geteuid() != 0 || kind == NULL || !key_ok(key) || ret == NULL
        || retlen == NULL || entry_name(kind, key, name, sizeof(name)) != 0)
        return -1;
    dfd = open_dir(0);
    if (dfd < 0)
        return -1;
    /* O_NONBLOCK: a FIFO planted under the name must not hang us. */
    fd = openat(dfd, name,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    close(dfd);
    if (fd < 0)
        return -1;
    buf = read_entry(fd, &len);
    close(fd);
    if (buf == NULL)
        return -1;
    if (parse_entry(buf, len, key, now, &off, &expires) != 0) {
        free(buf);
        return -1;
    }
    body = malloc(len - off + 1);
    if (body == NULL) {
        free(buf);
        return -1;
    }
    memcpy(body, buf + off, len - off);
    body[len - off] = '\0';
    free(buf);
    *ret = body;
    *retlen = len - off;
    /* parse_entry bounds expires - now by the cap and its slack. */
    if (ret_lifetime != NULL)
        *ret_lifetime = expires - now > FA_CACHE_MAX_LIFETIME
            ? FA_CACHE_MAX_LIFETIME
            : (long) (expires - now);
    return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

void
fa_rootcache_put(const char *kind, const char *key, const char *body,
                 size_t len, long lifetime)
{
    char name[128], tmp[192], hdr[KEY_MAX + 128];
    unsigned long long nonce;
    long long expires;
    int dfd, fd, n, ok;

    if (geteuid() != 0 || kind == NULL || !key_ok(key) || body == NULL
        || len == 0 || len > BODY_MAX || lifetime <= 0
        || memchr(body, '\0', len) != NULL
        || entry_name(kind, key, name, sizeof(name)) != 0)
        return;
    if (lifetime > FA_CACHE_MAX_LIFETIME)
        lifetime = FA_CACHE_MAX_LIFETIME;
    expires = (long long) time(NULL) + lifetime;
    n = snprintf(hdr, sizeof(hdr), MAGIC "key %s\nexpires %lld\n\n", key,
                 expires);
    if (n < 0 || (size_t) n >= sizeof(hdr))
        return;
    /* A name no other writer (another process, or another thread of a
     * host that runs PAM in threads) can be using. */
    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t) sizeof(nonce))
        return;
    n = snprintf(tmp, sizeof(tmp), ".%s.%ld.%016llx.tmp", name,
                 (long) getpid(), nonce);
    if (n < 0 || (size_t) n >= sizeof(tmp))
        return;
    dfd = open_dir(1);
    if (dfd < 0)
        return;
    fd =
        openat(dfd, tmp,
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
               0600);
    if (fd < 0) {
        close(dfd);
        return;
    }
    ok = write_all(fd, hdr, strlen(hdr)) == 0 && write_all(fd, body, len) == 0;
    if (close(fd) != 0)
        ok = 0;
    if (!ok || renameat(dfd, tmp, dfd, name) != 0)
        (void) unlinkat(dfd, tmp, 0);
    close(dfd);
}
