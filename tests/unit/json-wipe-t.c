/* json-wipe-t.c - fa_json_put_wiped() zeroes every string value of a
 * parsed answer (members, nested objects, arrays) before releasing it.
 * The test keeps an extra reference to each value it looks at, so the
 * bytes can be read after the tree is released. */
#include "autoconf.h"

#include <json-c/json.h>
#include <string.h>

#include "oauth.h"
#include "../tap/basic.h"

/* Are the first n bytes of s all zero? */
static int
zeroed(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != '\0')
            return 0;
    return 1;
}

/* A member (or element i of array member name when i >= 0), with a
 * reference of the test's own. */
static json_object *
hold(json_object *o, const char *name, int i)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, name, &v))
        return NULL;
    if (i >= 0)
        v = json_object_array_get_idx(v, (size_t) i);
    return json_object_get(v);
}

int
main(void)
{
    static const char answer[] =
        "{\"access_token\":\"at-0123456789abcdefghijklmnopqrstuvwxyz\","
        "\"refresh_token\":\"rt-short\",\"expires_in\":300,"
        "\"nested\":{\"device_code\":\"dc-0123456789abcdefghijklmnopqrstuvwxyz\"},"
        "\"list\":[\"code-0123456789abcdefghijklmnopqrstuvwxyz\",7]}";
    json_object *o, *at, *rt, *nested, *dc, *el, *num;
    size_t atlen, rtlen, dclen, ellen;

    plan(9);
    o = json_tokener_parse(answer);
    if (o == NULL)
        bail("cannot parse the test answer");
    at = hold(o, "access_token", -1);
    rt = hold(o, "refresh_token", -1);
    num = hold(o, "expires_in", -1);
    nested = hold(o, "nested", -1);
    dc = hold(nested, "device_code", -1);
    el = hold(o, "list", 0);
    atlen = (size_t) json_object_get_string_len(at);
    rtlen = (size_t) json_object_get_string_len(rt);
    dclen = (size_t) json_object_get_string_len(dc);
    ellen = (size_t) json_object_get_string_len(el);
    ok(atlen > 32 && rtlen > 0 && dclen > 32 && ellen > 32,
       "the values are there before");

    fa_json_put_wiped(o);
    ok(zeroed(json_object_get_string(at), atlen),
       "a long string member is wiped");
    ok(zeroed(json_object_get_string(rt), rtlen),
       "a short string member is wiped");
    ok(zeroed(json_object_get_string(dc), dclen),
       "a string in a nested object is wiped");
    ok(zeroed(json_object_get_string(el), ellen),
       "a string in an array is wiped");
    is_int(300, json_object_get_int(num), "numbers are left alone");
    is_int(atlen, json_object_get_string_len(at),
           "the object itself is intact (only its bytes are zero)");
    /* The tree let go of its references: ours are the last ones. */
    is_int(1, json_object_put(at), "the tree released the access token");
    is_int(1, json_object_put(nested), "and the nested object");
    json_object_put(rt);
    json_object_put(dc);
    json_object_put(el);
    json_object_put(num);
    fa_json_put_wiped(NULL); /* harmless */
    return test_status();
}
