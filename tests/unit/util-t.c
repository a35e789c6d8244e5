/* util-t.c - the shared helpers: bounded copies, numbers, capped buffers. */
#include "autoconf.h"

#include <string.h>

#include "tests/tap/basic.h"
#include "util.h"

int
main(void)
{
    char small[4];
    long v = 7;
    struct fa_buf b;
    char big[100];

    plan(17);
    is_int(0, fa_strlcpy(small, "abc", sizeof(small)), "copy that fits");
    is_string("abc", small, "copied");
    is_int(-1, fa_strlcpy(small, "abcd", sizeof(small)), "too long refused");
    is_string("", small, "buffer emptied when too long");

    is_int(0, fa_parse_long("42", 0, 100, &v), "number parsed");
    is_int(42, v, "its value");
    is_int(-1, fa_parse_long("101", 0, 100, &v), "above max refused");
    is_int(-1, fa_parse_long("4x", 0, 100, &v), "trailing garbage refused");
    is_int(-1, fa_parse_long("", 0, 100, &v), "empty refused");
    is_int(-1, fa_parse_long("99999999999999999999", 0, 100, &v),
           "overflow refused");
    is_int(42, v, "value untouched on failure");

    fa_buf_init(&b, 150);
    memset(big, 'x', sizeof(big));
    is_int(0, fa_buf_append(&b, big, sizeof(big)), "append under the cap");
    is_int(-1, fa_buf_append(&b, big, sizeof(big)), "append over the cap");
    is_int(100, (long long) b.len, "buffer keeps what it had");
    is_int(0, fa_buf_append(&b, big, 50), "append up to the cap exactly");
    ok(b.data[150] == '\0', "always terminated");
    fa_buf_wipe(&b);
    ok(b.data == NULL && b.len == 0, "wiped buffer is empty");
    return test_status();
}
