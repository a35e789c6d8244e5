/* format.h - fhir-token's outputs: the token formats (--format) and the
 * variables that the env format prints and exec puts into a command's
 * environment.  No keyring or network calls here: the caller fetches
 * the token and, for the formats that need it, the session context. */
#ifndef FHIR_TOKEN_FORMAT_H
#define FHIR_TOKEN_FORMAT_H

#include <stddef.h>
#include <time.h>

enum token_format {
    FORMAT_TOKEN,          /* the token and a newline (default) */
    FORMAT_HEADER,         /* Authorization: Bearer TOKEN */
    FORMAT_CURL,           /* header = "Authorization: Bearer TOKEN" */
    FORMAT_ENV,            /* export NAME='value' lines */
    FORMAT_JSON,           /* one JSON object */
    FORMAT_EXEC_CREDENTIAL /* kubectl ExecCredential (v1) */
};

/* A token and what comes with it.  Every string is owned and freed by
 * token_info_free(); the token is wiped first.  NULL: absent. */
struct token_info {
    char *token;
    char *dpop_proof; /* a DPoP-bound token's proof for one request (the
                       * header and curl formats), else NULL; a secret */
    time_t expiry;
    char *profile;
    char *scope;
    char *fhir_base;
    char *patient;
    char *encounter;
    char *fhir_user;
};

/* The format called name: 0, or -1 when there is none. */
int format_from_name(const char *name, enum token_format *ret);

/* The format names, comma-separated, for messages. */
const char *format_names(void);

/* Does the format show the session context (one more keyring read)? */
int format_needs_context(enum token_format f);

/* Fill ti's context (profile, scope, fhir_base, SMART context) from the
 * JSON of fhirauth_status_json().  0, or -1 (unparsable or out of
 * memory). */
int token_info_set_context(struct token_info *ti, const char *status_json);

/* Wipe the token, free everything, zero *ti. */
void token_info_free(struct token_info *ti);

/* Write ti in format f to the file descriptor fd, all at once, from a
 * buffer that is wiped afterwards.  0, or -1 with errno set. */
int format_write(int fd, enum token_format f, const struct token_info *ti);

/* A command's environment: base (normally environ) with every variable of
 * ours removed, then ours added for the values ti has.  envp is
 * NULL-terminated; its first `owned` entries are ours (they hold the
 * token). */
struct exec_env {
    char **envp;
    size_t owned;
};

/* 0, or -1 when out of memory. */
int exec_env_build(struct exec_env *env, char *const *base,
                   const struct token_info *ti);
/* Wipe and free what exec_env_build() made. */
void exec_env_free(struct exec_env *env);

#endif
