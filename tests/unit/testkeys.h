/* testkeys.h - the unit tests' RSA keys, made once per build.
 *
 * Generating an RSA key is most of what jwt-t and jws-t cost, tenfold
 * under valgrind and the sanitizers; so `make check` makes them once
 * (tests/unit/make-testkeys, into tests/unit/testkeys/ of the build tree:
 * fresh keys for each build, never in the source tree) and the tests read
 * them.  They are test-only keys, worthless outside the tests.  A test run
 * without them (by hand, or the libFuzzer target) makes its own. */
#ifndef TESTS_UNIT_TESTKEYS_H
#define TESTS_UNIT_TESTKEYS_H

#include <openssl/evp.h>

/* The keys: RSA-2048 twice (the second for key substitution), RSA-1024
 * (refused for its size). */
enum testkey {
    TESTKEY_RSA2048_A,
    TESTKEY_RSA2048_B,
    TESTKEY_RSA1024,
    TESTKEY_COUNT
};

/* The key from the build's directory, or a fresh one when that has none
 * (or not one of the right size); NULL when OpenSSL fails.  The caller
 * frees it. */
EVP_PKEY *testkey(enum testkey which);

/* Make every key into DIR (created, mode 0700; each file 0600).
 * 0 or -1 with a message on standard error. */
int testkeys_write(const char *dir);

#endif
