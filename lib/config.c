/*
 * config.c - pam_fhir.conf(5): grammar, typed option table, precedence.
 *
 * The parser is written by hand rather than taken from libinih: Debian's
 * libinih is built with inline ';' comments and indented continuation
 * lines enabled, so "scope = openid ;x" would lose its tail and an
 * indented line would silently extend the previous value.  Both contradict
 * the documented grammar (no quoting, the value runs to the end of the
 * line) and a configuration that means something other than what it says
 * is a security problem in a PAM module.  The grammar is small enough that
 * a strict parser is shorter than the code needed to second-guess inih.
 *
 * Nothing here reads the environment: callers pass every path, which keeps
 * the PAM path independent of variables a user controls.
 */
#include "autoconf.h"
#include "config.h"
#include "url.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef FHIRAUTH_SYSCONF_FILE
# define FHIRAUTH_SYSCONF_FILE "/etc/pam_fhir.conf"
#endif

/* A line longer than this is refused rather than truncated. */
#define CF_LINE_MAX 4096
/* Profile names end up in keyring descriptions and file names. */

enum cf_type {
    CF_STRING,
    CF_URL,      /* an endpoint URL (url.h, FA_URL_ENDPOINT) */
    CF_URL_BASE, /* issuer, fhir_base: also no query (FA_URL_BASE) */
    CF_NAME,     /* a string that must be a valid profile name */
    CF_BOOL,
    CF_LONG,
    CF_ANCHOR,
    CF_GRANT,
    CF_QR,
    CF_AUTH_METHOD,
    CF_KEY_ALG,
    CF_KEY_AUD
};

struct cf_option {
    const char *name;
    enum cf_type type;
    size_t offset;
    bool arg_only;       /* a PAM module argument, refused in files */
    long def;            /* default of a bool, number or enum */
    long min, max;       /* range of a number */
    const char *def_str; /* default of a string, or NULL */
};

#define OFF(f) offsetof(struct fa_config, f)
#define STR(f) #f, CF_STRING, OFF(f), false, 0, 0, 0, NULL
#define URL(f) #f, CF_URL, OFF(f), false, 0, 0, 0, NULL
#define BASE_URL(f) #f, CF_URL_BASE, OFF(f), false, 0, 0, 0, NULL
#define BOOL(f) #f, CF_BOOL, OFF(f), false, 0, 0, 0, NULL

/* Sorted by name: looked up with bsearch. */
static const struct cf_option options[] = {
    { "assumed_lifetime", CF_LONG, OFF(assumed_lifetime), false, 300, 1, 86400,
      NULL },
    { STR(aud) },
    { URL(authorization_endpoint) },
    { STR(ca_file) },
    { STR(ca_path) },
    { "client_auth", CF_AUTH_METHOD, OFF(client_auth), false, FA_METHOD_AUTO,
      0, 0, NULL },
    { STR(client_id) },
    { "client_key_alg", CF_KEY_ALG, OFF(client_key_alg), false,
      FA_KEY_ALG_RS384, 0, 0, NULL },
    { "client_key_aud", CF_KEY_AUD, OFF(client_key_aud), false,
      FA_KEY_AUD_TOKEN_ENDPOINT, 0, 0, NULL },
    { STR(client_key_file) },
    { STR(client_key_id) },
    { STR(client_secret_file) },
    { "config", CF_STRING, OFF(config), true, 0, 0, 0, NULL },
    { BOOL(debug) },
    { URL(device_authorization_endpoint) },
    { BOOL(dpop) },
    { BASE_URL(fhir_base) },
    { "git_username", CF_STRING, OFF(git_username), false, 0, 0, 0, "oauth2" },
    { "grant", CF_GRANT, OFF(grant), false, FA_GRANT_DEVICE, 0, 0, NULL },
    { STR(ignore_users) },
    { URL(introspection_endpoint) },
    { BASE_URL(issuer) },
    { URL(jwks_uri) },
    { "keyring", CF_ANCHOR, OFF(keyring), false, FA_ANCHOR_PERSISTENT, 0, 0,
      NULL },
    { STR(match) },
    { "min_valid", CF_LONG, OFF(min_valid), false, 60, 0, 86400, NULL },
    { "minimum_uid", CF_LONG, OFF(minimum_uid), false, 0, 0, LONG_MAX, NULL },
    { "profile", CF_NAME, OFF(profile), true, 0, 0, 0, NULL },
    { STR(proxy) },
    { "qr", CF_QR, OFF(qr), false, FA_QR_AUTO, 0, 0, NULL },
    { "redirect_port", CF_LONG, OFF(redirect_port), false, 0, 0, 65535, NULL },
    { "require_id_token", CF_BOOL, OFF(require_id_token), false, 0, 0, 0,
      NULL },
    { STR(resource) },
    { URL(revocation_endpoint) },
    { BOOL(revoke_on_close) },
    { STR(scope) },
    { "timeout", CF_LONG, OFF(timeout), false, 30, 1, 600, NULL },
    { URL(token_endpoint) },
    { "try_first_pass", CF_BOOL, OFF(try_first_pass), true, 0, 0, 0, NULL },
    { "use_first_pass", CF_BOOL, OFF(use_first_pass), true, 0, 0, 0, NULL },
    { URL(userinfo_endpoint) },
    { STR(usermap) },
    { "username_claim", CF_STRING, OFF(username_claim), false, 0, 0, 0,
      "preferred_username" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))
_Static_assert(N_OPTIONS <= FA_CONFIG_OPTIONS,
               "raise FA_CONFIG_OPTIONS in config.h");

/* Indexed by the enum values of config.h. */
static const char *const anchor_names[] = { "persistent", "user", "session" };
static const char *const grant_names[] = { "device", "password",
                                           "client_credentials" };
static const char *const qr_names[] = { "auto", "on", "off" };
static const char *const auth_method_names[] = { "auto", "none",
                                                 "client_secret_basic",
                                                 "client_secret_post",
                                                 "private_key_jwt" };
static const char *const key_alg_names[] = { "RS384", "RS256", "ES384",
                                             "ES256" };
static const char *const key_aud_names[] = { "token_endpoint", "endpoint" };

/* One configuration file, held in memory while the profile is resolved. */
struct cf_file {
    const char *name;
    const char *text;
    size_t len;
    bool has_sections;
    char *default_profile;         /* the file's default_profile, or NULL */
    struct fa_profile_list *names; /* CF_PASS_CHECK adds section names */
    unsigned long grant_line;      /* the last line whose grant was applied */
    unsigned long dpop_line;       /* the same for dpop */
};

enum cf_pass {
    CF_PASS_CHECK,  /* syntax, keys and values of the whole file */
    CF_PASS_TOP,    /* apply the keys before the first section */
    CF_PASS_PROFILE /* apply the keys of the selected profile */
};

/* ASCII only: the locale of the host program must not change parsing. */
static char
cf_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static bool
cf_eq_nocase(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (cf_lower(*a) != cf_lower(*b))
            return false;
    return *a == *b;
}

static bool
cf_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *
cf_trim(char *s)
{
    size_t n;

    while (cf_space(*s))
        s++;
    n = strlen(s);
    while (n > 0 && cf_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}


static int
cf_option_cmp(const void *key, const void *elem)
{
    const struct cf_option *o = elem;

    return strcmp(key, o->name);
}

static const struct cf_option *
cf_find(const char *name)
{
    return bsearch(name, options, N_OPTIONS, sizeof(options[0]),
                   cf_option_cmp);
}

static void
cf_enum_names(enum cf_type type, const char *const **ret_names, size_t *ret_n)
{
    switch (type) {
    case CF_ANCHOR:
        *ret_names = anchor_names;
        *ret_n = sizeof(anchor_names) / sizeof(anchor_names[0]);
        return;
    case CF_GRANT:
        *ret_names = grant_names;
        *ret_n = sizeof(grant_names) / sizeof(grant_names[0]);
        return;
    case CF_QR:
        *ret_names = qr_names;
        *ret_n = sizeof(qr_names) / sizeof(qr_names[0]);
        return;
    case CF_AUTH_METHOD:
        *ret_names = auth_method_names;
        *ret_n = sizeof(auth_method_names) / sizeof(auth_method_names[0]);
        return;
    case CF_KEY_ALG:
        *ret_names = key_alg_names;
        *ret_n = sizeof(key_alg_names) / sizeof(key_alg_names[0]);
        return;
    case CF_KEY_AUD:
        *ret_names = key_aud_names;
        *ret_n = sizeof(key_aud_names) / sizeof(key_aud_names[0]);
        return;
    case CF_STRING:
    case CF_URL:
    case CF_URL_BASE:
    case CF_NAME:
    case CF_BOOL:
    case CF_LONG:
        break;
    }
    *ret_names = NULL;
    *ret_n = 0;
}

static void *
cf_field(struct fa_config *cfg, const struct cf_option *o)
{
    return (unsigned char *) cfg + o->offset;
}

static const void *
cf_field_const(const struct fa_config *cfg, const struct cf_option *o)
{
    return (const unsigned char *) cfg + o->offset;
}

/* Where the decimal text of a number option lives in number_text. */
static size_t
cf_number_slot(const struct cf_option *o)
{
    return (size_t) (o - options);
}

/* Store a number into a field of o's type (bool, long or an enum). */
static void
cf_store_number(struct fa_config *cfg, const struct cf_option *o, long v)
{
    void *field = cf_field(cfg, o);

    switch (o->type) {
    case CF_BOOL:
        *(bool *) field = v != 0;
        return;
    case CF_LONG: {
        size_t slot = cf_number_slot(o);

        *(long *) field = v;
        if (slot < FA_CONFIG_OPTIONS
            && snprintf(cfg->number_text[slot], sizeof(cfg->number_text[0]),
                        "%ld", v)
                < 0)
            cfg->number_text[slot][0] = '\0';
        return;
    }
    case CF_ANCHOR:
        *(enum fa_anchor *) field = (enum fa_anchor) v;
        return;
    case CF_GRANT:
        *(enum fa_grant *) field = (enum fa_grant) v;
        return;
    case CF_QR:
        *(enum fa_qr *) field = (enum fa_qr) v;
        return;
    case CF_AUTH_METHOD:
        *(enum fa_auth_method *) field = (enum fa_auth_method) v;
        return;
    case CF_KEY_ALG:
        *(enum fa_key_alg *) field = (enum fa_key_alg) v;
        return;
    case CF_KEY_AUD:
        *(enum fa_key_aud *) field = (enum fa_key_aud) v;
        return;
    case CF_STRING:
    case CF_URL:
    case CF_URL_BASE:
    case CF_NAME:
        return;
    }
}

static bool
cf_is_url(const struct cf_option *o)
{
    return o->type == CF_URL || o->type == CF_URL_BASE;
}

static bool
cf_is_string(const struct cf_option *o)
{
    return o->type == CF_STRING || cf_is_url(o) || o->type == CF_NAME;
}

/* Proxy URLs may carry credentials: wipe every string, it costs nothing. */
static int
cf_store_string(struct fa_config *cfg, const struct cf_option *o,
                const char *value)
{
    char **field = cf_field(cfg, o);
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    fa_secret_free(*field);
    *field = copy;
    return 0;
}

/* "a, b or c": an enum's names, for a message. */
static void
cf_enum_list(const char *const *names, size_t n, char *buf, size_t len)
{
    size_t i, used = 0;
    int w;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        w = snprintf(buf + used, len - used, "%s%s",
                     i == 0           ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                     names[i]);
        if (w < 0 || (size_t) w >= len - used)
            return;
        used += (size_t) w;
    }
}

static bool
cf_parse_bool(const char *s, long *ret)
{
    static const char *const yes[] = { "yes", "true", "1" };
    static const char *const no[] = { "no", "false", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (cf_eq_nocase(s, yes[i])) {
            *ret = 1;
            return true;
        }
        if (cf_eq_nocase(s, no[i])) {
            *ret = 0;
            return true;
        }
    }
    return false;
}

/*
 * Parse value for option o and, when cfg is not NULL, store it.  An empty
 * value restores the default, so a later file can undo an earlier one.
 * Returns FHIRAUTH_OK, FHIRAUTH_ERR_CONFIG for a bad value (why says what
 * is allowed, or for a URL which rule it breaks: cf_bad_value) or
 * FHIRAUTH_ERR_NOMEM.
 */
static fhirauth_rc
cf_set(struct fa_config *cfg, const struct cf_option *o, const char *value,
       char *why, size_t whylen)
{
    const char *const *names;
    size_t n, i;
    long v;

    if (value[0] == '\0') {
        if (cfg == NULL)
            return FHIRAUTH_OK;
        if (cf_is_string(o))
            return cf_store_string(cfg, o, o->def_str) == 0
                ? FHIRAUTH_OK
                : FHIRAUTH_ERR_NOMEM;
        cf_store_number(cfg, o, o->def);
        return FHIRAUTH_OK;
    }
    switch (o->type) {
    case CF_STRING:
        break;
    case CF_URL:
    case CF_URL_BASE:
        if (fa_url_parse(value, strlen(value),
                         o->type == CF_URL ? FA_URL_ENDPOINT : FA_URL_BASE,
                         NULL, why, whylen)
            != 0)
            return FHIRAUTH_ERR_CONFIG;
        break;
    case CF_NAME:
        if (!fa_profile_name_valid(value)) {
            fa_err(why, whylen,
                   "a profile name: letters, digits, '.', '_' and '-',"
                   " not starting with '.' or '-', at most %d characters",
                   FA_PROFILE_MAX);
            return FHIRAUTH_ERR_CONFIG;
        }
        break;
    case CF_BOOL:
        if (!cf_parse_bool(value, &v)) {
            fa_err(why, whylen, "yes, no, true, false, 1 or 0");
            return FHIRAUTH_ERR_CONFIG;
        }
        if (cfg != NULL)
            cf_store_number(cfg, o, v);
        return FHIRAUTH_OK;
    case CF_LONG:
        if (fa_parse_long(value, o->min, o->max, &v) != 0) {
            fa_err(why, whylen, "a whole number from %ld to %ld", o->min,
                   o->max);
            return FHIRAUTH_ERR_CONFIG;
        }
        if (cfg != NULL)
            cf_store_number(cfg, o, v);
        return FHIRAUTH_OK;
    case CF_ANCHOR:
    case CF_GRANT:
    case CF_QR:
    case CF_AUTH_METHOD:
    case CF_KEY_ALG:
    case CF_KEY_AUD:
        cf_enum_names(o->type, &names, &n);
        for (i = 0; i < n; i++) {
            if (cf_eq_nocase(value, names[i])) {
                if (cfg != NULL)
                    cf_store_number(cfg, o, (long) i);
                return FHIRAUTH_OK;
            }
        }
        cf_enum_list(names, n, why, whylen);
        return FHIRAUTH_ERR_CONFIG;
    }
    if (cfg == NULL)
        return FHIRAUTH_OK;
    return cf_store_string(cfg, o, value) == 0 ? FHIRAUTH_OK
                                               : FHIRAUTH_ERR_NOMEM;
}

/*
 * "[FILE:LINE: ]bad value for 'KEY': ..." into err, from cf_set's why.
 * The value of a URL key is repeated only when it cannot hold a password
 * (no '@' anywhere in it): a proxy-style user:password@ must not reach a
 * log.
 */
static fhirauth_rc
cf_bad_value(struct fa_err *e, const char *file, unsigned long line,
             const struct cf_option *o, const char *value, const char *why)
{
    char detail[CF_LINE_MAX + 256];

    if (!cf_is_url(o))
        fa_err(detail, sizeof(detail), "'%s' (expected %s)", value, why);
    else if (strchr(value, '@') != NULL)
        fa_err(detail, sizeof(detail),
               "%s (the URL is not repeated: it may"
               " hold a password)",
               why);
    else
        fa_err(detail, sizeof(detail), "'%s': %s", value, why);
    if (file != NULL)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "%s:%lu: bad value for '%s': %s", file, line, o->name,
                       detail);
    return fa_fail(e, FHIRAUTH_ERR_CONFIG, "bad value for '%s': %s", o->name,
                   detail);
}

int
fa_config_init(struct fa_config *cfg)
{
    size_t i;

    memset(cfg, 0, sizeof(*cfg));
    for (i = 0; i < N_OPTIONS; i++) {
        const struct cf_option *o = &options[i];

        if (!cf_is_string(o)) {
            cf_store_number(cfg, o, o->def);
        } else if (o->def_str != NULL
                   && cf_store_string(cfg, o, o->def_str) != 0) {
            fa_config_free(cfg);
            return -1;
        }
    }
    return 0;
}

void
fa_config_free(struct fa_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < N_OPTIONS; i++) {
        if (cf_is_string(&options[i])) {
            char **field = cf_field(cfg, &options[i]);

            fa_secret_free(*field);
            *field = NULL;
        }
    }
    memset(cfg, 0, sizeof(*cfg));
}

const char *
fa_anchor_name(enum fa_anchor a)
{
    switch (a) {
    case FA_ANCHOR_PERSISTENT:
        return "persistent";
    case FA_ANCHOR_USER:
        return "user";
    case FA_ANCHOR_SESSION:
        return "session";
    }
    return "unknown";
}

const char *
fa_config_text(const struct fa_config *cfg, const char *key)
{
    const struct cf_option *o;
    const char *const *names;
    const void *field;
    size_t n, slot;
    long v = -1;

    if (cfg == NULL || key == NULL || (o = cf_find(key)) == NULL)
        return NULL;
    field = cf_field_const(cfg, o);
    switch (o->type) {
    case CF_STRING:
    case CF_URL:
    case CF_URL_BASE:
    case CF_NAME:
        return *(char *const *) field;
    case CF_BOOL:
        return *(const bool *) field ? "yes" : "no";
    case CF_LONG:
        slot = cf_number_slot(o);
        if (slot >= FA_CONFIG_OPTIONS || cfg->number_text[slot][0] == '\0')
            return NULL;
        return cfg->number_text[slot];
    case CF_ANCHOR:
        v = (long) *(const enum fa_anchor *) field;
        break;
    case CF_GRANT:
        v = (long) *(const enum fa_grant *) field;
        break;
    case CF_QR:
        v = (long) *(const enum fa_qr *) field;
        break;
    case CF_AUTH_METHOD:
        v = (long) *(const enum fa_auth_method *) field;
        break;
    case CF_KEY_ALG:
        v = (long) *(const enum fa_key_alg *) field;
        break;
    case CF_KEY_AUD:
        v = (long) *(const enum fa_key_aud *) field;
        break;
    }
    cf_enum_names(o->type, &names, &n);
    return v >= 0 && (size_t) v < n ? names[v] : NULL;
}

fhirauth_rc
fa_config_set(struct fa_config *cfg, const char *key, const char *value,
              struct fa_err *e)
{
    const struct cf_option *o;
    char why[256];
    fhirauth_rc rc;

    if (cfg == NULL || key == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "no option given");
    o = cf_find(key);
    if (o == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "unknown key '%s'",
                       key);
    /* A bare key is how PAM arguments switch a boolean on. */
    if (value == NULL) {
        if (o->type != CF_BOOL)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "'%s' needs a value", key);
        value = "yes";
    }
    rc = cf_set(cfg, o, value, why, sizeof(why));
    if (rc == FHIRAUTH_ERR_CONFIG)
        return cf_bad_value(e, NULL, 0, o, value, why);
    if (rc != FHIRAUTH_OK)
        return fa_nomem(e);
    return FHIRAUTH_OK;
}

/*
 * Split a line (NUL-terminated, modified in place) into a section name or
 * a key and value.  Returns 0 for a blank or comment line, 1 for a
 * section, 2 for key = value, -1 with why set for a syntax error.
 */
static int
cf_split(char *line, char **ret_a, char **ret_b, char *why, size_t whylen)
{
    char *s = cf_trim(line);
    char *eq, *p;
    size_t n;

    if (s[0] == '\0' || s[0] == '#' || s[0] == ';')
        return 0;
    for (p = s; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 && *p != '\t') {
            fa_err(why, whylen, "control character in line");
            return -1;
        }
        if ((unsigned char) *p == 0x7f) {
            fa_err(why, whylen, "control character in line");
            return -1;
        }
    }
    if (s[0] == '[') {
        n = strlen(s);
        if (s[n - 1] != ']') {
            fa_err(why, whylen,
                   "bad section header (expected"
                   " '[profile NAME]')");
            return -1;
        }
        s[n - 1] = '\0';
        s = cf_trim(s + 1);
        if (strncmp(s, "profile", 7) != 0 || !cf_space(s[7])) {
            fa_err(why, whylen,
                   "bad section header (expected"
                   " '[profile NAME]')");
            return -1;
        }
        s = cf_trim(s + 7);
        if (!fa_profile_name_valid(s)) {
            fa_err(why, whylen,
                   "bad profile name '%s' (letters, digits,"
                   " '.', '_' and '-', not starting with '.' or '-', at"
                   " most %d characters)",
                   s, FA_PROFILE_MAX);
            return -1;
        }
        *ret_a = s;
        return 1;
    }
    eq = strchr(s, '=');
    if (eq == NULL) {
        fa_err(why, whylen, "expected 'key = value'");
        return -1;
    }
    *eq = '\0';
    *ret_a = cf_trim(s);
    *ret_b = cf_trim(eq + 1);
    if ((*ret_a)[0] == '\0') {
        fa_err(why, whylen, "expected 'key = value'");
        return -1;
    }
    return 2;
}

/* Add a profile name to the list unless it is there already. */
static int
cf_list_add(struct fa_profile_list *l, const char *name)
{
    struct fa_profile_entry *v;
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return 0;
    v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    l->v = v;
    v[l->n].match = NULL;
    v[l->n].name = strdup(name);
    if (v[l->n].name == NULL)
        return -1;
    l->n++;
    return 0;
}

/*
 * One pass over a file.  CF_PASS_CHECK validates everything (cfg unused)
 * and records the file's sections and default_profile; the other passes
 * apply the keys of one scope to cfg and cannot fail except for memory.
 */
static fhirauth_rc
cf_walk(struct cf_file *f, enum cf_pass pass, struct fa_config *cfg,
        const char *profile, bool *found, struct fa_err *e)
{
    char line[CF_LINE_MAX + 1];
    char why[256];
    size_t pos = 0;
    unsigned long lineno = 0;
    bool in_top = true, selected = false;

    while (pos < f->len) {
        const char *start = f->text + pos;
        const char *nl = memchr(start, '\n', f->len - pos);
        size_t n = nl != NULL ? (size_t) (nl - start) : f->len - pos;
        const struct cf_option *o;
        char *a = NULL, *b = NULL;
        fhirauth_rc r;
        int kind;

        pos += n + (nl != NULL ? 1 : 0);
        lineno++;
        if (n > CF_LINE_MAX) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "%s:%lu: line longer than %d bytes", f->name,
                           lineno, CF_LINE_MAX);
        }
        if (memchr(start, '\0', n) != NULL) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s:%lu: NUL byte in line",
                           f->name, lineno);
        }
        memcpy(line, start, n);
        line[n] = '\0';
        kind = cf_split(line, &a, &b, why, sizeof(why));
        if (kind < 0) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s:%lu: %s", f->name,
                           lineno, why);
        }
        if (kind == 0)
            continue;
        if (kind == 1) {
            in_top = false;
            f->has_sections = true;
            if (pass == CF_PASS_CHECK && f->names != NULL
                && cf_list_add(f->names, a) != 0)
                return fa_nomem(e);
            selected = profile != NULL && strcmp(a, profile) == 0;
            if (selected && found != NULL)
                *found = true;
            continue;
        }
        if (strcmp(a, "default_profile") == 0) {
            if (pass != CF_PASS_CHECK)
                continue;
            if (!in_top) {
                return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                               "%s:%lu: default_profile is only valid"
                               " before the first section",
                               f->name, lineno);
            }
            if (!fa_profile_name_valid(b)) {
                return fa_fail(
                    e, FHIRAUTH_ERR_CONFIG,
                    "%s:%lu: bad value for"
                    " 'default_profile': '%s' (expected a profile name)",
                    f->name, lineno, b);
            }
            free(f->default_profile);
            f->default_profile = strdup(b);
            if (f->default_profile == NULL)
                return fa_nomem(e);
            continue;
        }
        o = cf_find(a);
        if (o == NULL) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s:%lu: unknown key '%s'",
                           f->name, lineno, a);
        }
        if (o->arg_only) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "%s:%lu: '%s' is a PAM module argument,"
                           " not a configuration file key",
                           f->name, lineno, a);
        }
        if (pass == CF_PASS_CHECK)
            r = cf_set(NULL, o, b, why, sizeof(why));
        else if ((pass == CF_PASS_TOP && in_top)
                 || (pass == CF_PASS_PROFILE && selected))
            r = cf_set(cfg, o, b, why, sizeof(why));
        else
            continue;
        /* A profile's rules about its grant name the line that chose it. */
        if (pass != CF_PASS_CHECK
            && o->offset == offsetof(struct fa_config, grant))
            f->grant_line = lineno;
        if (pass != CF_PASS_CHECK
            && o->offset == offsetof(struct fa_config, dpop))
            f->dpop_line = lineno;
        if (r == FHIRAUTH_ERR_CONFIG)
            return cf_bad_value(e, f->name, lineno, o, b, why);
        if (r != FHIRAUTH_OK)
            return fa_nomem(e);
    }
    return FHIRAUTH_OK;
}

/*
 * A refusal of a combination of keys, naming the line of the key that
 * decided it (line_at: offsetof grant_line or dpop_line) in the file of
 * highest precedence that set it (the one whose value won).
 */
static fhirauth_rc
cf_refuse_at(struct fa_err *e, const struct cf_file *files, size_t nfiles,
             size_t line_at, const char *why)
{
    unsigned long line;
    size_t i;

    for (i = nfiles; i > 0; i--) {
        memcpy(&line, (const char *) &files[i - 1] + line_at, sizeof(line));
        if (line > 0)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s:%lu: %s",
                           files[i - 1].name, line, why);
    }
    return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s", why);
}

/*
 * Build the configuration of one profile from files given in increasing
 * precedence.  On success cfg's old contents are freed and replaced; on
 * failure cfg is left as it was.
 */
static fhirauth_rc
cf_resolve(struct fa_config *cfg, struct cf_file *files, size_t nfiles,
           const char *profile, struct fa_err *e)
{
    struct fa_config c;
    const char *name = profile;
    bool found = false, sectionless = false;
    enum fa_auth_method method;
    fhirauth_rc rc;
    size_t i;

    if (profile != NULL && !fa_profile_name_valid(profile))
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "bad profile name '%s'",
                       profile);
    for (i = 0; i < nfiles; i++) {
        rc = cf_walk(&files[i], CF_PASS_CHECK, NULL, NULL, NULL, e);
        if (rc != FHIRAUTH_OK)
            return rc;
        if (!files[i].has_sections)
            sectionless = true;
        /* A later file's default_profile overrides an earlier one's. */
        if (profile == NULL && files[i].default_profile != NULL)
            name = files[i].default_profile;
    }
    if (name == NULL)
        name = "default";
    if (fa_config_init(&c) != 0)
        return fa_nomem(e);
    for (i = 0; i < nfiles; i++) {
        rc = cf_walk(&files[i], CF_PASS_TOP, &c, name, &found, e);
        if (rc == FHIRAUTH_OK)
            rc = cf_walk(&files[i], CF_PASS_PROFILE, &c, name, &found, e);
        if (rc != FHIRAUTH_OK)
            goto fail;
    }
    /* Without sections a file's single profile is "default". */
    if (!found && !(sectionless && strcmp(name, "default") == 0)) {
        if (nfiles == 1)
            rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "no profile '%s' in %s", name,
                         files[0].name);
        else
            rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "no profile '%s' in %s or %s",
                         name, files[0].name, files[1].name);
        goto fail;
    }
    /* A server without discovery is described by its endpoints alone. */
    if (c.issuer == NULL && c.fhir_base == NULL && c.token_endpoint == NULL) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "no issuer, fhir_base or token_endpoint "
                     "configured for profile '%s'",
                     name);
        goto fail;
    }
    /* A contradiction in the client's credentials is found at load,
     * not at the first request. */
    rc = fa_client_auth_method(&c, &method, e);
    if (rc != FHIRAUTH_OK)
        goto fail;
    if (c.grant == FA_GRANT_CLIENT_CREDENTIALS && method == FA_METHOD_NONE) {
        /* RFC 6749 §4.4: the client acts for itself, and a public
         * client has nothing to prove that with. */
        rc = cf_refuse_at(e, files, nfiles,
                          offsetof(struct cf_file, grant_line),
                          "grant = client_credentials needs a client "
                          "credential: client_key_file (private_key_jwt) or "
                          "client_secret_file (client_secret_basic or "
                          "client_secret_post), and a client_auth other "
                          "than none");
        goto fail;
    }
    if (c.grant == FA_GRANT_CLIENT_CREDENTIALS && c.dpop) {
        /* A service profile's tokens come from the client's credential
         * alone (service.c): dpop = yes would be silently ignored. */
        rc =
            cf_refuse_at(e, files, nfiles, offsetof(struct cf_file, dpop_line),
                         "dpop = yes is for a user's session: a service "
                         "profile (grant = client_credentials) does not "
                         "bind its tokens to a DPoP key");
        goto fail;
    }
    fa_secret_free(c.profile);
    c.profile = strdup(name);
    if (c.profile == NULL) {
        rc = fa_nomem(e);
        goto fail;
    }
    fa_config_free(cfg);
    *cfg = c;
    return FHIRAUTH_OK;

fail:
    fa_config_free(&c);
    return rc;
}

/*
 * Read a configuration file after checking what it is and who may have
 * written it.  FHIRAUTH_OK with the contents in *ret_text (caller frees),
 * or with *ret_text NULL when the file does not exist; otherwise
 * FHIRAUTH_ERR_CONFIG (or NOMEM) with e set.
 */
static fhirauth_rc
cf_read_file(const char *path, bool root_only, char **ret_text,
             size_t *ret_len, struct fa_err *e)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    uid_t euid = geteuid();
    fhirauth_rc rc;
    int fd, en;

    *ret_text = NULL;
    /* O_NONBLOCK: a FIFO planted at the path must not hang the caller
     * before fstat can refuse it. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        en = errno;
        if (en == ENOENT || en == ENOTDIR)
            return FHIRAUTH_OK;
        if (en == ELOOP)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "%s: is a symbolic link (refused)", path);
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: cannot open: %s", path,
                       strerror(en));
    }
    if (fstat(fd, &st) != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: cannot stat: %s", path,
                     strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: not a regular file", path);
        goto fail;
    }
    if (root_only && st.st_uid != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "%s: must be owned by root (owner is uid %lu)", path,
                     (unsigned long) st.st_uid);
        goto fail;
    }
    /* A set-id process (a set-group-ID program: effective uid and real
     * uid the same user) has privilege its user lacks: a file that user
     * wrote must not steer it, or it names as client_secret_file or
     * client_key_file a file only the program's group may read and a
     * token_endpoint of its own, and the credential goes there. */
    if (!root_only && st.st_uid != 0 && st.st_uid == getuid()
        && (getauxval(AT_SECURE) != 0 || getuid() != euid
            || getgid() != getegid())) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "%s: owned by uid %lu, the user of this set-id "
                     "program (refused)",
                     path, (unsigned long) st.st_uid);
        goto fail;
    }
    if (!root_only && st.st_uid != 0 && st.st_uid != euid) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "%s: must be owned by root or uid %lu (owner is"
                     " uid %lu)",
                     path, (unsigned long) euid, (unsigned long) st.st_uid);
        goto fail;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "%s: writable by group or others (mode %04o)", path,
                     (unsigned) (st.st_mode & 07777));
        goto fail;
    }
    if (st.st_size > FA_CONFIG_MAX_BYTES) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: larger than %d bytes", path,
                     FA_CONFIG_MAX_BYTES);
        goto fail;
    }
    /* One byte more than the cap notices a file that grew after fstat. */
    text = malloc(FA_CONFIG_MAX_BYTES + 1);
    if (text == NULL) {
        rc = fa_nomem(e);
        goto fail;
    }
    while (len < FA_CONFIG_MAX_BYTES + 1) {
        ssize_t r = read(fd, text + len, FA_CONFIG_MAX_BYTES + 1 - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: cannot read: %s", path,
                         strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t) r;
    }
    if (len > FA_CONFIG_MAX_BYTES) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: larger than %d bytes", path,
                     FA_CONFIG_MAX_BYTES);
        goto fail;
    }
    close(fd);
    *ret_text = text;
    *ret_len = len;
    return FHIRAUTH_OK;

fail:
    free(text);
    close(fd);
    return rc;
}

/*
 * Read the files the sources name, in increasing precedence, into files[]
 * (texts[] holds what to free).  FHIRAUTH_OK, or the failure with e set.
 */
static fhirauth_rc
cf_read_sources(const struct fa_config_sources *src, struct cf_file *files,
                char **texts, size_t *ret_nfiles, struct fa_err *e)
{
    size_t nfiles = 0, i;
    const char *sys;
    fhirauth_rc rc;

    if (src->explicit_file != NULL) {
        rc = cf_read_file(src->explicit_file, src->require_root_owned,
                          &texts[0], &files[0].len, e);
        if (rc != FHIRAUTH_OK)
            return rc;
        if (texts[0] == NULL)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: cannot open: %s",
                           src->explicit_file, strerror(ENOENT));
        files[0].name = src->explicit_file;
        nfiles = 1;
    } else {
        sys = src->system_file != NULL ? src->system_file
                                       : FHIRAUTH_SYSCONF_FILE;
        /* The system file decides for every user: it is always root's. */
        rc = cf_read_file(sys, true, &texts[0], &files[0].len, e);
        if (rc != FHIRAUTH_OK)
            return rc;
        if (texts[0] != NULL)
            files[nfiles++].name = sys;
        if (src->user_file != NULL) {
            rc = cf_read_file(src->user_file, false, &texts[nfiles],
                              &files[nfiles].len, e);
            if (rc != FHIRAUTH_OK)
                return rc;
            if (texts[nfiles] != NULL)
                files[nfiles++].name = src->user_file;
        }
        if (nfiles == 0)
            return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: cannot open: %s", sys,
                           strerror(ENOENT));
    }
    for (i = 0; i < nfiles; i++)
        files[i].text = texts[i];
    *ret_nfiles = nfiles;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_config_load(struct fa_config *cfg, const struct fa_config_sources *src,
               const char *profile, struct fa_err *e)
{
    struct cf_file files[2];
    char *texts[2] = { NULL, NULL };
    size_t nfiles = 0, i;
    fhirauth_rc rc;

    fa_err_clear(e);
    if (cfg == NULL || src == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "no configuration sources given");
    memset(files, 0, sizeof(files));
    rc = cf_read_sources(src, files, texts, &nfiles, e);
    if (rc == FHIRAUTH_OK)
        rc = cf_resolve(cfg, files, nfiles, profile, e);
    for (i = 0; i < 2; i++) {
        free(texts[i]);
        free(files[i].default_profile);
    }
    return rc;
}

void
fa_profile_list_free(struct fa_profile_list *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].match);
    }
    free(l->v);
    free(l->default_profile);
    memset(l, 0, sizeof(*l));
}

/*
 * The profiles of files (increasing precedence) and the match value each
 * ends up with.  On success *ret is replaced; on failure left alone.
 */
static fhirauth_rc
cf_list(struct cf_file *files, size_t nfiles, struct fa_profile_list *ret,
        struct fa_err *e)
{
    struct fa_profile_list l;
    struct fa_config c;
    const char *def = "default";
    fhirauth_rc rc;
    size_t i, k;

    memset(&l, 0, sizeof(l));
    for (i = 0; i < nfiles; i++) {
        files[i].names = &l;
        rc = cf_walk(&files[i], CF_PASS_CHECK, NULL, NULL, NULL, e);
        if (rc != FHIRAUTH_OK)
            goto fail;
        files[i].names = NULL;
        /* Without sections a file's single profile is "default". */
        if (!files[i].has_sections && cf_list_add(&l, "default") != 0)
            goto nomem;
        if (files[i].default_profile != NULL)
            def = files[i].default_profile;
    }
    if ((l.default_profile = strdup(def)) == NULL)
        goto nomem;
    for (k = 0; k < l.n; k++) {
        if (fa_config_init(&c) != 0)
            goto nomem;
        for (i = 0; i < nfiles; i++) {
            rc = cf_walk(&files[i], CF_PASS_TOP, &c, l.v[k].name, NULL, e);
            if (rc == FHIRAUTH_OK)
                rc = cf_walk(&files[i], CF_PASS_PROFILE, &c, l.v[k].name, NULL,
                             e);
            if (rc != FHIRAUTH_OK) {
                fa_config_free(&c);
                goto fail;
            }
        }
        l.v[k].match = c.match; /* taken over from c */
        c.match = NULL;
        fa_config_free(&c);
    }
    fa_profile_list_free(ret);
    *ret = l;
    return FHIRAUTH_OK;

nomem:
    rc = fa_nomem(e);
fail:
    for (i = 0; i < nfiles; i++)
        files[i].names = NULL;
    fa_profile_list_free(&l);
    return rc;
}

fhirauth_rc
fa_config_profiles(const struct fa_config_sources *src,
                   struct fa_profile_list *ret, struct fa_err *e)
{
    struct cf_file files[2];
    char *texts[2] = { NULL, NULL };
    size_t nfiles = 0, i;
    fhirauth_rc rc;

    fa_err_clear(e);
    if (src == NULL || ret == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "no configuration sources given");
    memset(files, 0, sizeof(files));
    rc = cf_read_sources(src, files, texts, &nfiles, e);
    if (rc == FHIRAUTH_OK)
        rc = cf_list(files, nfiles, ret, e);
    for (i = 0; i < 2; i++) {
        free(texts[i]);
        free(files[i].default_profile);
    }
    return rc;
}

/* Text given in memory (tests, fuzzing) as one file, with the file
 * size cap. */
static fhirauth_rc
cf_text_file(struct cf_file *file, const char *name, const char *text,
             size_t len, int have_out, struct fa_err *e)
{
    fa_err_clear(e);
    if (!have_out || (text == NULL && len > 0))
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "no configuration given");
    if (name == NULL)
        name = "(text)";
    if (len > FA_CONFIG_MAX_BYTES)
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: larger than %d bytes",
                       name, FA_CONFIG_MAX_BYTES);
    memset(file, 0, sizeof(*file));
    file->name = name;
    file->text = text != NULL ? text : "";
    file->len = len;
    return FHIRAUTH_OK;
}

fhirauth_rc
fa_config_profiles_text(const char *name, const char *text, size_t len,
                        struct fa_profile_list *ret, struct fa_err *e)
{
    struct cf_file file;
    fhirauth_rc rc;

    rc = cf_text_file(&file, name, text, len, ret != NULL, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = cf_list(&file, 1, ret, e);
    free(file.default_profile);
    return rc;
}

fhirauth_rc
fa_config_parse_text(struct fa_config *cfg, const char *name, const char *text,
                     size_t len, const char *profile, struct fa_err *e)
{
    struct cf_file file;
    fhirauth_rc rc;

    rc = cf_text_file(&file, name, text, len, cfg != NULL, e);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = cf_resolve(cfg, &file, 1, profile, e);
    free(file.default_profile);
    return rc;
}
