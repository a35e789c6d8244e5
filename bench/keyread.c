/*
 * keyread - the floor under a cached-token read: find one user key by its
 * description in the caller's persistent keyring, read it, print it.  What
 * any program answering from the kernel keyring must do at the least, with
 * nothing but libc and libkeyutils loaded.
 *
 *   keyread DESCRIPTION
 */
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    key_serial_t ring, key;
    void *data = NULL;
    long len;

    if (argc != 2) {
        fputs("usage: keyread DESCRIPTION\n", stderr);
        return 2;
    }
    ring = keyctl_get_persistent(-1, KEY_SPEC_SESSION_KEYRING);
    if (ring == -1) {
        perror("keyread: persistent keyring");
        return 1;
    }
    key = keyctl_search(ring, "user", argv[1], 0);
    if (key == -1) {
        perror("keyread: search");
        return 1;
    }
    len = keyctl_read_alloc(key, &data);
    if (len < 0) {
        perror("keyread: read");
        return 1;
    }
    if (write(1, data, (size_t) len) != len)
        return 1;
    explicit_bzero(data, (size_t) len);
    free(data);
    return 0;
}
