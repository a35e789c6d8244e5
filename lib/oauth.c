/* oauth.c - the OAuth2 data both halves of the library hold: the free
 * functions of the structures the engine and the network module exchange
 * (oauth.h, net.h), and the small JSON helpers both use.  The parsers of
 * the servers' answers are the network half's (net/oauth_json.c): the
 * engine never parses what a server sent, only what the module hands it.
 *
 * json-c's internal buffers cannot be wiped, so each json object lives
 * only for the length of one call: strings are copied out (and wiped when
 * freed) and the tree is released with fa_json_put_wiped. */
#include "autoconf.h"
#include "net.h"
#include "oauth.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
fa_endpoints_free(struct fa_endpoints *ep)
{
    if (ep == NULL)
        return;
    fa_secret_free(ep->issuer);
    fa_secret_free(ep->token_endpoint);
    fa_secret_free(ep->revocation_endpoint);
    fa_secret_free(ep->authorization_endpoint);
    fa_secret_free(ep->device_authorization_endpoint);
    fa_secret_free(ep->introspection_endpoint);
    fa_secret_free(ep->jwks_uri);
    fa_secret_free(ep->userinfo_endpoint);
    memset(ep, 0, sizeof(*ep));
}

void
fa_device_auth_free(struct fa_device_auth *d)
{
    if (d == NULL)
        return;
    fa_secret_free(d->device_code);
    fa_secret_free(d->user_code);
    fa_secret_free(d->verification_uri);
    fa_secret_free(d->verification_uri_complete);
    memset(d, 0, sizeof(*d));
}

void
fa_token_response_free(struct fa_token_response *r)
{
    if (r == NULL)
        return;
    fa_secret_free(r->access_token);
    fa_secret_free(r->token_type);
    fa_secret_free(r->refresh_token);
    fa_secret_free(r->id_token);
    fa_secret_free(r->scope);
    fa_secret_free(r->patient);
    fa_secret_free(r->encounter);
    fa_secret_free(r->fhir_user);
    fa_secret_free(r->tenant);
    memset(r, 0, sizeof(*r));
    r->expires_in = -1;
    r->refresh_expires_in = -1;
}

void
fa_json_put_wiped(struct json_object *obj)
{
    size_t i, n;

    if (obj == NULL)
        return;
    if (json_object_is_type(obj, json_type_string)) {
        /* json_object_get_string() of a string is the object's own
         * buffer (no conversion), freed with it: wipe it in place. */
        explicit_bzero((void *) (uintptr_t) json_object_get_string(obj),
                       (size_t) json_object_get_string_len(obj));
    } else if (json_object_is_type(obj, json_type_object)) {
        json_object_object_foreach(obj, key, val)
        {
            (void) key;
            /* A member's reference stays obj's: take one to put. */
            fa_json_put_wiped(json_object_get(val));
        }
    } else if (json_object_is_type(obj, json_type_array)) {
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++)
            fa_json_put_wiped(
                json_object_get(json_object_array_get_idx(obj, i)));
    }
    json_object_put(obj);
}

int
fa_charset_ok(const char *s, size_t len, enum fa_charset cs)
{
    size_t i;
    unsigned char lo = cs == FA_CS_NOSPACE ? 0x21 : 0x20;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c < lo || c > 0x7e)
            return 0;
    }
    return 1;
}

int
fa_claim_fit(const char *s, size_t len)
{
    return s != NULL && len > 0 && len <= FA_CLAIM_MAX
        && fa_charset_ok(s, len, FA_CS_VSCHAR);
}

int
fa_dpop_nonce_fit(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len == 0 || len > FA_DPOP_NONCE_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

int
fa_json_string(struct json_object *obj, const char *key, const char **ret,
               size_t *retlen)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *ret = json_object_get_string(v);
    *retlen = (size_t) json_object_get_string_len(v);
    return 1;
}

char *
fa_memdup(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/*
 * The one filter for server text that is stored in the session and shown
 * by the front ends (status, the env and json formats, FHIR_* variables):
 * the SMART launch context of a token response (patient, encounter,
 * fhirUser, tenant) and the id_token claims sub, username_claim and
 * fhirUser (login.c).  Such text is metadata for people and programs, not
 * part of the credential: a server that sends one with a wrong type or
 * with a byte outside printable ASCII (a control character could forge a
 * line or drive a terminal, as ESC and BEL do) should not make the login
 * fail, so the value is dropped (left NULL) rather than refused.  The
 * caller decides what a dropped value means (login.c refuses a login whose
 * sub is dropped).
 */
fhirauth_rc
fa_json_shown_string(struct json_object *obj, const char *key, char **dst)
{
    const char *s;
    size_t len;

    if (obj == NULL || fa_json_string(obj, key, &s, &len) != 1
        || !fa_claim_fit(s, len))
        return FHIRAUTH_OK;
    *dst = fa_memdup(s, len);
    return *dst == NULL ? FHIRAUTH_ERR_NOMEM : FHIRAUTH_OK;
}
