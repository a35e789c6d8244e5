/* fuzz_userinfo.c - the UserInfo answer (fa_parse_userinfo,
 * lib/net/oauth_json.c), then what the identity check does with its result:
 * parse it again and read claims.  The first byte picks the HTTP status;
 * the rest is the body, as received (not NUL-terminated). */
#include "autoconf.h"

#include <json-c/json.h>

#include "fuzz.h"
#include "oauth.h"
#include "net/oauth_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 401, 403, 500, 429, 302, 201, 0 };
    struct fa_err ectx;
    char *body, *claims = NULL;
    json_object *o, *v;

    if (size == 0)
        return 0;
    body = fuzz_body(data + 1, size - 1);
    if (body == NULL)
        return 0;
    if (fa_parse_userinfo(statuses[data[0] % 8], body, size - 1, &claims,
                          &ectx)
        == FHIRAUTH_OK) {
        /* What comes back is an object of filtered string claims with a
         * sub: anything else is a bug in the filter. */
        o = json_tokener_parse(claims);
        if (o == NULL || !json_object_is_type(o, json_type_object)
            || !json_object_object_get_ex(o, "sub", &v)
            || !json_object_is_type(v, json_type_string))
            abort();
        {
            json_object_object_foreach(o, key, val)
            {
                (void) key;
                if (!json_object_is_type(val, json_type_string)
                    || !fa_claim_fit(json_object_get_string(val),
                                     (size_t) json_object_get_string_len(val)))
                    abort();
            }
        }
        json_object_put(o);
        free(claims);
    }
    free(body);
    return 0;
}
