/* make-testkeys.c - make the unit tests' RSA keys into a directory
 * (testkeys.h); `make check` runs it once per build. */
#include "autoconf.h"

#include <stdio.h>

#include "testkeys.h"

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make-testkeys DIR\n");
        return 2;
    }
    return testkeys_write(argv[1]) == 0 ? 0 : 1;
}
