/* format.c - fhir-token's token formats and the variables of the env
 * format and of exec (fhir-token(1), FORMATS).
 *
 * Output is built in one buffer of ours, written with write(2) and wiped,
 * so no stdio buffer keeps a copy of the token.  The two JSON formats are
 * built with json-c, whose internal buffers cannot be wiped: those objects
 * live only for the one call (SECURITY.md). */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "format.h"

static const struct {
    const char *name;
    enum token_format format;
} formats[] = {
    { "token", FORMAT_TOKEN }, { "header", FORMAT_HEADER },
    { "curl", FORMAT_CURL },   { "env", FORMAT_ENV },
    { "json", FORMAT_JSON },   { "exec-credential", FORMAT_EXEC_CREDENTIAL },
};

int
format_from_name(const char *name, enum token_format *ret)
{
    size_t i;

    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *ret = formats[i].format;
            return 0;
        }
    }
    return -1;
}

const char *
format_names(void)
{
    return "token, header, curl, env, json, exec-credential";
}

int
format_needs_context(enum token_format f)
{
    switch (f) {
    case FORMAT_ENV:
    case FORMAT_JSON:
        return 1;
    case FORMAT_TOKEN:
    case FORMAT_HEADER:
    case FORMAT_CURL:
    case FORMAT_EXEC_CREDENTIAL:
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------------ context */

/* A copy of the string member name of o; *dst stays NULL when absent.
 * -1 when out of memory. */
static int
copy_member(json_object *o, const char *name, char **dst)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v)
        || !json_object_is_type(v, json_type_string))
        return 0;
    *dst = strdup(json_object_get_string(v));
    return *dst != NULL ? 0 : -1;
}

int
token_info_set_context(struct token_info *ti, const char *status_json)
{
    json_object *o;
    int r = 0;

    o = json_tokener_parse(status_json);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -1;
    }
    r |= copy_member(o, "profile", &ti->profile);
    r |= copy_member(o, "scope", &ti->scope);
    r |= copy_member(o, "fhir_base", &ti->fhir_base);
    r |= copy_member(o, "patient", &ti->patient);
    r |= copy_member(o, "encounter", &ti->encounter);
    r |= copy_member(o, "fhirUser", &ti->fhir_user);
    json_object_put(o);
    return r;
}

void
token_info_free(struct token_info *ti)
{
    if (ti->token != NULL) {
        explicit_bzero(ti->token, strlen(ti->token));
        free(ti->token);
    }
    if (ti->dpop_proof != NULL) {
        explicit_bzero(ti->dpop_proof, strlen(ti->dpop_proof));
        free(ti->dpop_proof);
    }
    free(ti->profile);
    free(ti->scope);
    free(ti->fhir_base);
    free(ti->patient);
    free(ti->encounter);
    free(ti->fhir_user);
    memset(ti, 0, sizeof(*ti));
}

/* ------------------------------------------------------------ variables */

enum { N_VARS = 7 };

static const char *const var_names[N_VARS] = {
    "FHIR_ACCESS_TOKEN", "FHIR_TOKEN_EXPIRES_AT", "FHIR_BASE_URL",
    "FHIR_PATIENT",      "FHIR_ENCOUNTER",        "FHIR_USER",
    "BEARER_TOKEN",
};

/* The value of each variable of var_names (NULL: absent); the expiry is
 * written into buf. */
static void
var_values(const struct token_info *ti, char *buf, size_t len,
           const char *values[N_VARS])
{
    int n = snprintf(buf, len, "%lld", (long long) ti->expiry);

    values[0] = ti->token;
    values[1] = n > 0 && (size_t) n < len ? buf : NULL;
    values[2] = ti->fhir_base;
    values[3] = ti->patient;
    values[4] = ti->encounter;
    values[5] = ti->fhir_user;
    values[6] = ti->token;
}

/* ------------------------------------------------------------ buffer */

/* A growing buffer that never leaves a copy behind: growth copies into a
 * new block and wipes the old one. */
struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    size_t cap;
    char *p;

    if (b->failed)
        return;
    /* b->p == NULL: the first add, even of nothing, makes the buffer. */
    if (b->p == NULL || b->cap - b->len < n) {
        cap = b->cap != 0 ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        p = malloc(cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL) {
            memcpy(p, b->p, b->len);
            explicit_bzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void
sb_free(struct sbuf *b)
{
    if (b->p != NULL) {
        explicit_bzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof(*b));
}

/* s between single quotes for a POSIX shell: every byte stands for
 * itself there, except ' which becomes '\'' (close, escaped quote,
 * reopen). */
static void
sb_shell_quoted(struct sbuf *b, const char *s)
{
    const char *q;

    sb_str(b, "'");
    while ((q = strchr(s, '\'')) != NULL) {
        sb_add(b, s, (size_t) (q - s));
        sb_str(b, "'\\''");
        s = q + 1;
    }
    sb_str(b, s);
    sb_str(b, "'");
}

/* s escaped for the inside of a double-quoted curl config parameter:
 * curl reads \\ and \" as the characters themselves.  (Tokens are
 * printable ASCII without space, so no other escape is needed.) */
static void
sb_curl_escaped(struct sbuf *b, const char *s)
{
    const char *q;

    while ((q = strpbrk(s, "\\\"")) != NULL) {
        sb_add(b, s, (size_t) (q - s));
        sb_str(b, *q == '\\' ? "\\\\" : "\\\"");
        s = q + 1;
    }
    sb_str(b, s);
}

/* ------------------------------------------------------------ formats */

static void
put_env(struct sbuf *b, const struct token_info *ti)
{
    const char *values[N_VARS];
    char expiry[32];
    size_t i;
    int absent = 0;

    var_values(ti, expiry, sizeof(expiry), values);
    for (i = 0; i < N_VARS; i++) {
        if (values[i] == NULL)
            continue;
        sb_str(b, "export ");
        sb_str(b, var_names[i]);
        sb_str(b, "=");
        sb_shell_quoted(b, values[i]);
        sb_str(b, "\n");
    }
    /* A context this session does not have must not survive from an
     * earlier eval (another profile's patient next to this token). */
    for (i = 0; i < N_VARS; i++) {
        if (values[i] != NULL)
            continue;
        sb_str(b, absent++ ? " " : "unset ");
        sb_str(b, var_names[i]);
    }
    if (absent)
        sb_str(b, "\n");
}

/* Add a string member when s is given; -1 when out of memory. */
static int
add_string(json_object *o, const char *name, const char *s)
{
    json_object *v;

    if (s == NULL)
        return 0;
    v = json_object_new_string(s);
    if (v == NULL || json_object_object_add(o, name, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Wipe n bytes that json-c hands out as const but owns and frees
 * without wiping. */
static void
wipe_json_bytes(const char *p, size_t n)
{
    explicit_bzero((void *) (uintptr_t) p, n);
}

/* Wipe the bytes of every string value in o (the token's copy). */
static void
wipe_strings(json_object *o)
{
    if (json_object_is_type(o, json_type_string)) {
        wipe_json_bytes(json_object_get_string(o),
                        (size_t) json_object_get_string_len(o));
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void) key;
            wipe_strings(val);
        }
    }
}

/* o as one line of JSON and a newline; o is released, its serialization
 * and string values wiped first. */
static void
put_json_object(struct sbuf *b, json_object *o, int bad)
{
    const char *text = NULL;

    if (!bad)
        text = json_object_to_json_string_ext(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL)
        b->failed = 1;
    else {
        sb_str(b, text);
        sb_str(b, "\n");
        /* o's own buffer, freed with it. */
        wipe_json_bytes(text, strlen(text));
    }
    wipe_strings(o);
    json_object_put(o);
}

static void
put_json(struct sbuf *b, const struct token_info *ti)
{
    json_object *o, *v;
    int bad = 0;

    o = json_object_new_object();
    if (o == NULL) {
        b->failed = 1;
        return;
    }
    bad |= add_string(o, "access_token", ti->token);
    bad |= add_string(o, "token_type", "Bearer");
    v = json_object_new_int64((int64_t) ti->expiry);
    if (v == NULL || json_object_object_add(o, "expires_at", v) != 0) {
        json_object_put(v);
        bad = 1;
    }
    bad |= add_string(o, "scope", ti->scope);
    bad |= add_string(o, "profile", ti->profile);
    bad |= add_string(o, "fhir_base", ti->fhir_base);
    bad |= add_string(o, "patient", ti->patient);
    bad |= add_string(o, "encounter", ti->encounter);
    bad |= add_string(o, "fhirUser", ti->fhir_user);
    put_json_object(b, o, bad);
}

/* kubectl's client.authentication.k8s.io/v1 ExecCredential: the token and
 * its expiry as RFC 3339 UTC (kubectl uses the token until then). */
static void
put_exec_credential(struct sbuf *b, const struct token_info *ti)
{
    json_object *o, *status;
    char when[32];
    struct tm tm;
    time_t t = ti->expiry;
    int bad = 0;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        b->failed = 1;
        return;
    }
    o = json_object_new_object();
    if (o == NULL) {
        b->failed = 1;
        return;
    }
    bad |= add_string(o, "apiVersion", "client.authentication.k8s.io/v1");
    bad |= add_string(o, "kind", "ExecCredential");
    status = json_object_new_object();
    if (status == NULL || json_object_object_add(o, "status", status) != 0) {
        json_object_put(status);
        bad = 1;
    } else {
        bad |= add_string(status, "token", ti->token);
        bad |= add_string(status, "expirationTimestamp", when);
    }
    put_json_object(b, o, bad);
}

static int
write_all(int fd, const char *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

int
format_write(int fd, enum token_format f, const struct token_info *ti)
{
    struct sbuf b = { NULL, 0, 0, 0 };
    int r, saved;

    switch (f) {
    case FORMAT_TOKEN:
        sb_str(&b, ti->token);
        sb_str(&b, "\n");
        break;
    case FORMAT_HEADER:
        sb_str(&b,
               ti->dpop_proof != NULL ? "Authorization: DPoP "
                                      : "Authorization: Bearer ");
        sb_str(&b, ti->token);
        sb_str(&b, "\n");
        if (ti->dpop_proof != NULL) {
            sb_str(&b, "DPoP: ");
            sb_str(&b, ti->dpop_proof);
            sb_str(&b, "\n");
        }
        break;
    case FORMAT_CURL:
        /* curl -K: a long option name without dashes, then the value. */
        sb_str(&b,
               ti->dpop_proof != NULL ? "header = \"Authorization: DPoP "
                                      : "header = \"Authorization: Bearer ");
        sb_curl_escaped(&b, ti->token);
        sb_str(&b, "\"\n");
        if (ti->dpop_proof != NULL) {
            sb_str(&b, "header = \"DPoP: ");
            sb_curl_escaped(&b, ti->dpop_proof);
            sb_str(&b, "\"\n");
        }
        break;
    case FORMAT_ENV:
        put_env(&b, ti);
        break;
    case FORMAT_JSON:
        put_json(&b, ti);
        break;
    case FORMAT_EXEC_CREDENTIAL:
        put_exec_credential(&b, ti);
        break;
    }
    if (b.failed) {
        sb_free(&b);
        errno = ENOMEM;
        return -1;
    }
    r = write_all(fd, b.p, b.len);
    saved = errno;
    sb_free(&b);
    errno = saved;
    return r;
}

/* ------------------------------------------------------------ exec */

/* Is the environment entry e one of our variables (NAME=… or NAME)? */
static int
ours(const char *e)
{
    size_t i, n;

    for (i = 0; i < N_VARS; i++) {
        n = strlen(var_names[i]);
        if (strncmp(e, var_names[i], n) == 0 && (e[n] == '=' || e[n] == '\0'))
            return 1;
    }
    return 0;
}

int
exec_env_build(struct exec_env *env, char *const *base,
               const struct token_info *ti)
{
    const char *values[N_VARS];
    char expiry[32], **envp;
    size_t n = 0, k = 0, i, nlen, vlen;

    env->envp = NULL;
    env->owned = 0;
    while (base != NULL && base[n] != NULL)
        n++;
    envp = calloc(n + N_VARS + 1, sizeof(*envp));
    if (envp == NULL)
        return -1;
    var_values(ti, expiry, sizeof(expiry), values);
    for (i = 0; i < N_VARS; i++) {
        if (values[i] == NULL)
            continue;
        nlen = strlen(var_names[i]);
        vlen = strlen(values[i]);
        envp[k] = malloc(nlen + 1 + vlen + 1);
        if (envp[k] == NULL) {
            env->envp = envp;
            env->owned = k;
            exec_env_free(env);
            return -1;
        }
        memcpy(envp[k], var_names[i], nlen);
        envp[k][nlen] = '=';
        memcpy(envp[k] + nlen + 1, values[i], vlen + 1);
        k++;
    }
    env->owned = k;
    /* The inherited environment, without any stale variable of ours. */
    for (i = 0; i < n; i++)
        if (!ours(base[i]))
            envp[k++] = base[i];
    envp[k] = NULL;
    env->envp = envp;
    return 0;
}

void
exec_env_free(struct exec_env *env)
{
    size_t i;

    if (env->envp == NULL)
        return;
    for (i = 0; i < env->owned; i++) {
        explicit_bzero(env->envp[i], strlen(env->envp[i]));
        free(env->envp[i]);
    }
    free(env->envp);
    env->envp = NULL;
    env->owned = 0;
}
