/* fuzz_config.c - the configuration file (fa_config_parse_text and
 * fa_config_profiles_text, lib/config.c).  The first byte picks the
 * profile asked for: the default, "default" or "work". */
#include "autoconf.h"

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const profiles[] = { NULL, "default", "work" };
    struct fa_config cfg;
    struct fa_profile_list list;
    struct fa_err ectx;
    char *text;

    if (size == 0)
        return 0;
    text = fuzz_body(data + 1, size - 1);
    if (text == NULL)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    if (fa_config_init(&cfg) == 0) {
        (void) fa_config_parse_text(&cfg, "fuzz.conf", text, size - 1,
                                    profiles[data[0] % 3], &ectx);
        (void) fa_config_text(&cfg, "server");
        fa_config_free(&cfg);
    }
    memset(&list, 0, sizeof(list));
    if (fa_config_profiles_text("fuzz.conf", text, size - 1, &list, &ectx)
        == FHIRAUTH_OK)
        fa_profile_list_free(&list);
    free(text);
    return 0;
}
