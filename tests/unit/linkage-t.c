/* linkage-t.c - the cached-token path must not pay for libcurl or OpenSSL:
 * a process using libfhirauth has neither mapped until a refresh. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "fhirauth.h"
#include "tests/tap/basic.h"

/* Is a library whose name contains needle mapped into this process? */
static int
mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int found = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, needle) != NULL)
            found = 1;
    fclose(f);
    return found;
}

int
main(void)
{
    plan(5);
    ok(fhirauth_strerror(FHIRAUTH_OK) != NULL, "libfhirauth is usable");
    is_int(1, mapped("libfhirauth"), "libfhirauth is mapped");
    is_int(0, mapped("libcurl"), "libcurl is not mapped");
    is_int(0, mapped("libssl"), "libssl is not mapped");
    is_int(0, mapped("libcrypto"), "libcrypto is not mapped");
    return test_status();
}
