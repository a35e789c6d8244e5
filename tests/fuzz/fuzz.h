/* fuzz.h - what every libFuzzer target in tests/fuzz shares: the entry
 * point's prototype and copies of the input. */
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

/* data[0..size) in a heap block of exactly size bytes, not terminated, as
 * a body arrives from the network: ASan sees any read past its end.
 * free(); NULL when out of memory. */
static inline char *
fuzz_body(const uint8_t *data, size_t size)
{
    char *b = malloc(size > 0 ? size : 1);

    if (b != NULL && size > 0)
        memcpy(b, data, size);
    return b;
}

#endif
