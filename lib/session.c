/* session.c - session metadata to and from JSON (json-c). */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "session.h"
#include "util.h"

#define META_MAX_DEPTH 4

/* Every string member, once, so encode, decode and free cannot drift. */
struct str_field {
    const char *name;
    size_t offset;
};

#define M(field) offsetof(struct fa_meta, field)
/* userinfo_endpoint is left out: UserInfo is asked only during a login's
 * identity check, from the handle's pending session, never from a stored
 * one, and the metadata counts against the user's key quota. */
static const struct str_field str_fields[] = {
    { "issuer", M(ep.issuer) },
    { "token_endpoint", M(ep.token_endpoint) },
    { "revocation_endpoint", M(ep.revocation_endpoint) },
    { "authorization_endpoint", M(ep.authorization_endpoint) },
    { "device_authorization_endpoint", M(ep.device_authorization_endpoint) },
    { "introspection_endpoint", M(ep.introspection_endpoint) },
    { "jwks_uri", M(ep.jwks_uri) },
    { "client_id", M(client_id) },
    { "scope", M(scope) },
    { "username", M(username) },
    { "subject", M(subject) },
    { "patient", M(patient) },
    { "encounter", M(encounter) },
    { "fhirUser", M(fhir_user) },
    { "tenant", M(tenant) },
    /* A member of its own, absent from a user's session: a version that
     * does not know it reads the session as a user's without a refresh
     * token (docs/ARCHITECTURE.md, "How the layout is versioned"). */
    { "grant", M(grant) },
    { "token_type", M(token_type) },
    { "dpop_nonce", M(dpop_nonce) },
    { "rs_origin", M(rs_origin) },
    { "rs_dpop_nonce", M(rs_dpop_nonce) },
    /* New in this version: a session without it is an older version's
     * (fa_meta_matches()). */
    { "discovered_from", M(discovered_from) },
};
#undef M

static char **
field(struct fa_meta *m, const struct str_field *f)
{
    return (char **) (void *) ((char *) m + f->offset);
}

static const char *
cfield(const struct fa_meta *m, const struct str_field *f)
{
    return *(char *const *) (const void *) ((const char *) m + f->offset);
}

const char *
fa_client_auth_name(enum fa_client_auth a)
{
    switch (a) {
    case FA_AUTH_NONE:
        return "none";
    case FA_AUTH_BASIC:
        return "client_secret_basic";
    case FA_AUTH_POST:
        return "client_secret_post";
    }
    return "none";
}

fhirauth_rc
fa_meta_encode(const struct fa_meta *m, char **ret_json)
{
    json_object *o, *v;
    const char *s, *text;
    size_t i;
    char *out = NULL;

    o = json_object_new_object();
    if (o == NULL)
        return FHIRAUTH_ERR_NOMEM;
    v = json_object_new_int(1);
    if (v == NULL || json_object_object_add(o, "v", v) != 0)
        goto fail;
    for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
        s = cfield(m, &str_fields[i]);
        if (s == NULL)
            continue;
        v = json_object_new_string(s);
        if (v == NULL || json_object_object_add(o, str_fields[i].name, v))
            goto fail;
    }
    v = json_object_new_string(fa_client_auth_name(m->ep.client_auth));
    if (v == NULL || json_object_object_add(o, "client_auth", v) != 0)
        goto fail;
    v = json_object_new_int64(m->login_at);
    if (v == NULL || json_object_object_add(o, "login_at", v) != 0)
        goto fail;
    if (m->refresh_expires_at > 0) {
        v = json_object_new_int64(m->refresh_expires_at);
        if (v == NULL
            || json_object_object_add(o, "refresh_expires_at", v) != 0)
            goto fail;
    }
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (text != NULL)
        out = strdup(text);
    json_object_put(o);
    if (out == NULL)
        return FHIRAUTH_ERR_NOMEM;
    *ret_json = out;
    return FHIRAUTH_OK;
fail:
    json_object_put(o);
    return FHIRAUTH_ERR_NOMEM;
}

fhirauth_rc
fa_meta_decode(const char *json, size_t len, struct fa_meta *m,
               struct fa_err *e)
{
    json_tokener *tok;
    json_object *o, *v;
    const char *s;
    size_t i;
    fhirauth_rc rc = FHIRAUTH_OK;

    memset(m, 0, sizeof(*m));
    tok = json_tokener_new_ex(META_MAX_DEPTH);
    if (tok == NULL)
        return fa_nomem(e);
    o = json_tokener_parse_ex(tok, json, (int) len);
    if (o == NULL || json_tokener_get_parse_end(tok) != len
        || !json_object_is_type(o, json_type_object)) {
        rc = fa_fail(e, FHIRAUTH_ERR_KEYRING,
                     "the session metadata key is damaged");
        goto out;
    }
    for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
        if (!json_object_object_get_ex(o, str_fields[i].name, &v)
            || !json_object_is_type(v, json_type_string))
            continue;
        s = json_object_get_string(v);
        *field(m, &str_fields[i]) = strdup(s);
        if (*field(m, &str_fields[i]) == NULL) {
            rc = fa_nomem(e);
            goto out;
        }
    }
    if (json_object_object_get_ex(o, "client_auth", &v)
        && json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        if (strcmp(s, "client_secret_basic") == 0)
            m->ep.client_auth = FA_AUTH_BASIC;
        else if (strcmp(s, "client_secret_post") == 0)
            m->ep.client_auth = FA_AUTH_POST;
    }
    if (json_object_object_get_ex(o, "login_at", &v)
        && json_object_is_type(v, json_type_int))
        m->login_at = json_object_get_int64(v);
    if (json_object_object_get_ex(o, "refresh_expires_at", &v)
        && json_object_is_type(v, json_type_int))
        m->refresh_expires_at = json_object_get_int64(v);
    /* Any process of the user may write the key: a nonce that is not one
     * is dropped, as if none had come. */
    if (m->dpop_nonce != NULL
        && !fa_dpop_nonce_fit(m->dpop_nonce, strlen(m->dpop_nonce))) {
        free(m->dpop_nonce);
        m->dpop_nonce = NULL;
    }
    if (m->rs_dpop_nonce != NULL
        && !fa_dpop_nonce_fit(m->rs_dpop_nonce, strlen(m->rs_dpop_nonce))) {
        free(m->rs_dpop_nonce);
        m->rs_dpop_nonce = NULL;
    }
    if (m->ep.token_endpoint == NULL) {
        rc = fa_fail(e, FHIRAUTH_ERR_KEYRING,
                     "the session metadata has no token endpoint");
    }
out:
    if (o != NULL)
        json_object_put(o);
    json_tokener_free(tok);
    if (rc != FHIRAUTH_OK)
        fa_meta_free(m);
    return rc;
}

void
fa_meta_free(struct fa_meta *m)
{
    size_t i;

    for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
        free(*field(m, &str_fields[i]));
        *field(m, &str_fields[i]) = NULL;
    }
    /* Not stored (str_fields), but a login's session has it. */
    free(m->ep.userinfo_endpoint);
    memset(m, 0, sizeof(*m));
}

/* Where discovery starts for cfg, as the network module's discover does
 * (lib/net/discovery.c): the issuer, else no request at all when the
 * token endpoint is configured, else the FHIR server's SMART document. */
static const char *
discovery_start(const struct fa_config *cfg)
{
    if (cfg->issuer != NULL)
        return cfg->issuer;
    if (cfg->token_endpoint != NULL)
        return NULL;
    return cfg->fhir_base;
}

int
fa_meta_note_discovery(struct fa_meta *m, const struct fa_config *cfg)
{
    const char *start = discovery_start(cfg);

    free(m->discovered_from);
    m->discovered_from = NULL;
    if (start == NULL)
        return 0;
    m->discovered_from = strdup(start);
    return m->discovered_from == NULL ? -1 : 0;
}

int
fa_meta_matches(const struct fa_meta *m, const struct fa_config *cfg)
{
    const char *start = discovery_start(cfg);

    if (cfg->issuer != NULL
        && (m->ep.issuer == NULL || strcmp(cfg->issuer, m->ep.issuer) != 0))
        return 0;
    if (cfg->client_id != NULL
        && (m->client_id == NULL || strcmp(cfg->client_id, m->client_id) != 0))
        return 0;
    /* A configured issuer that matches names the server itself (discovery
     * checks the issuer it is given), wherever discovery started before:
     * adding the issuer to a configuration logs nobody out. */
    if (cfg->issuer != NULL)
        return 1;
    /* Without one, a changed fhir_base (which no issuer check covers)
     * must not send the client's credential or the refresh token to the
     * server found before. */
    if (m->discovered_from != NULL)
        return start != NULL && strcmp(start, m->discovered_from) == 0;
    /* Stored by an older version, or from configured endpoints.  A
     * service session costs only a discovery to replace; a user's is
     * kept (an upgrade logs nobody out), judged as before. */
    if (fa_meta_is_service(m))
        return start == NULL;
    return 1;
}

int
fa_meta_is_service(const struct fa_meta *m)
{
    return m->grant != NULL && strcmp(m->grant, FA_META_SERVICE_GRANT) == 0;
}

/* Replace *dst with src when src is given and differs. */
static int
update(char **dst, const char *src)
{
    char *copy;

    if (src == NULL || (*dst != NULL && strcmp(*dst, src) == 0))
        return 0;
    copy = strdup(src);
    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 1;
}

int
fa_meta_merge_response(struct fa_meta *m, const struct fa_token_response *r)
{
    int changed = 0, u;
    char **dst[] = { &m->scope,     &m->patient, &m->encounter,
                     &m->fhir_user, &m->tenant,  &m->token_type };
    const char *src[] = {
        r->scope,
        r->patient,
        r->encounter,
        r->fhir_user,
        r->tenant,
        fa_claim_fit(r->token_type, r->token_type ? strlen(r->token_type) : 0)
            ? r->token_type
            : NULL
    };
    size_t i;

    for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
        u = update(dst[i], src[i]);
        if (u < 0)
            return -1;
        changed |= u;
    }
    return changed;
}
