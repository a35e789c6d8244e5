/* curl-prepare-t.c - fhirauth_curl_prepare() (fhirauth-curl.h) on a cached
 * token of each scheme: a bearer token is set on the handle; a DPoP-bound
 * one, which needs a proof for a request the old function does not know,
 * is FHIRAUTH_ERR_DPOP_BOUND (fhirauth(3), DPoP-bound sessions), and the
 * state keeps no token.  The tokens are put into the user keyring as the
 * access key's payload, so no server is involved.  Runs as any user. */
#include "autoconf.h"

#include <errno.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fhirauth-curl.h"
#include "handle.h"
#include "keystore.h"
#include "tests/tap/basic.h"
#include "tests/unit/testprofile.h"

static const struct {
    int dpop; /* the access key's form: "EXPIRY DPoP TOKEN" */
    fhirauth_rc want;
    const char *what;
} cases[] = {
    { 0, FHIRAUTH_OK, "a bearer token is set" },
    { 1, FHIRAUTH_ERR_DPOP_BOUND, "a DPoP-bound token is refused" },
    { 0, FHIRAUTH_OK, "a bearer token again after a DPoP one" },
};

int
main(void)
{
    char profile[32], payload[128];
    fhirauth *h = NULL;
    CURL *curl;
    size_t i;

    if (keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1)
        skip_all("no kernel keyring: %s", strerror(errno));
    plan(3 * (sizeof(cases) / sizeof(cases[0])));
    testprofile_open("cpt", NULL, profile, sizeof(profile), &h, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    if (curl == NULL)
        bail("curl_easy_init");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fhirauth_curl_state st = FHIRAUTH_CURL_STATE_INIT;
        char token[32];

        snprintf(token, sizeof(token), "tok%zu", i);
        if (fa_access_encode_as(payload, sizeof(payload), time(NULL) + 3600,
                                cases[i].dpop, token)
                != 0
            || fa_ks_store(h->cfg.keyring, profile, FA_KEY_ACCESS, payload,
                           strlen(payload), 3600, NULL)
                != FHIRAUTH_OK)
            bail("cannot store the access key");
        is_int(cases[i].want, fhirauth_curl_prepare(h, curl, &st), "%s",
               cases[i].what);
        is_string(cases[i].dpop ? "DPoP" : "Bearer", fhirauth_token_scheme(h),
                  "  the token's scheme");
        if (cases[i].want == FHIRAUTH_OK)
            ok(st.token != NULL && strcmp(st.token, token) == 0,
               "  the state holds the token");
        else
            ok(st.token == NULL, "  the state holds no token");
        fhirauth_curl_state_free(&st);
    }

    (void) fa_ks_unlink(h->cfg.keyring, profile, FA_KEY_ACCESS, NULL);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    fhirauth_close(h);
    return test_status();
}
