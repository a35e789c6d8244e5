/* testkeys.c - the unit tests' RSA keys, made once per build (testkeys.h). */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "testkeys.h"

static const struct {
    const char *file;
    int bits;
} keys[TESTKEY_COUNT] = {
    [TESTKEY_RSA2048_A] = { "rsa2048-a.pem", 2048 },
    [TESTKEY_RSA2048_B] = { "rsa2048-b.pem", 2048 },
    [TESTKEY_RSA1024] = { "rsa1024.pem", 1024 },
};

static int
path_of(char *buf, size_t n, const char *dir, enum testkey which)
{
    int w = snprintf(buf, n, "%s/%s", dir, keys[which].file);

    return w > 0 && (size_t) w < n ? 0 : -1;
}

EVP_PKEY *
testkey(enum testkey which)
{
#ifdef FA_TEST_KEYS
    char path[4096];
    FILE *f;
    EVP_PKEY *k = NULL;

    if (path_of(path, sizeof(path), FA_TEST_KEYS, which) == 0
        && (f = fopen(path, "r")) != NULL) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (k != NULL && EVP_PKEY_is_a(k, "RSA")
            && EVP_PKEY_get_bits(k) == keys[which].bits)
            return k;
        EVP_PKEY_free(k);
    }
#endif
    return EVP_RSA_gen((unsigned) keys[which].bits);
}

int
testkeys_write(const char *dir)
{
    char path[4096];
    EVP_PKEY *k;
    FILE *f;
    int i, rc;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "make-testkeys: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (i = 0; i < TESTKEY_COUNT; i++) {
        if (path_of(path, sizeof(path), dir, (enum testkey) i) != 0) {
            fprintf(stderr, "make-testkeys: %s: name too long\n", dir);
            return -1;
        }
        k = EVP_RSA_gen((unsigned) keys[i].bits);
        if (k == NULL) {
            fprintf(stderr, "make-testkeys: OpenSSL cannot make an RSA key\n");
            return -1;
        }
        (void) umask(077);
        f = fopen(path, "w");
        rc = f != NULL
            && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
        if (f != NULL && fclose(f) != 0)
            rc = 0;
        EVP_PKEY_free(k);
        if (!rc) {
            fprintf(stderr, "make-testkeys: cannot write %s\n", path);
            return -1;
        }
    }
    return 0;
}
