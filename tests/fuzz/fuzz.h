/* fuzz.h - what every libFuzzer target in tests/fuzz shares: the entry
 * point's prototype and a NUL-terminated copy of the input. */
#ifndef FHIRAUTH_FUZZ_H
#define FHIRAUTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data[0..size) as a C string (free()); NULL when out of memory. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return NULL;
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
