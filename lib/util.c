/* util.c - small helpers shared by libfhirauth and its network module. */
#include "autoconf.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fa_secret_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void
fa_secret_free_len(void *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

char *
fa_strdup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

int
fa_strlcpy(char *dst, const char *src, size_t len)
{
    size_t n;

    if (len == 0)
        return -1;
    n = strlen(src);
    if (n >= len) {
        dst[0] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

void
fa_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || len == 0)
        return;
    va_start(ap, fmt);
    if (vsnprintf(err, len, fmt, ap) < 0)
        err[0] = '\0';
    va_end(ap);
}

void
fa_err_clear(struct fa_err *e)
{
    if (e == NULL)
        return;
    e->rc = FHIRAUTH_OK;
    e->msg[0] = '\0';
}

__attribute__((format(printf, 3, 0))) static void
err_vset(struct fa_err *e, fhirauth_rc rc, const char *fmt, va_list ap)
{
    e->rc = rc;
    if (vsnprintf(e->msg, sizeof(e->msg), fmt, ap) < 0)
        e->msg[0] = '\0';
}

void
fa_err_set(struct fa_err *e, fhirauth_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return;
    va_start(ap, fmt);
    err_vset(e, rc, fmt, ap);
    va_end(ap);
}

void
fa_warn(struct fa_err *e, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return;
    va_start(ap, fmt);
    err_vset(e, FHIRAUTH_OK, fmt, ap);
    va_end(ap);
}

fhirauth_rc
fa_err_rc(struct fa_err *e, fhirauth_rc rc)
{
    if (e != NULL)
        e->rc = rc;
    return rc;
}

int
fa_parse_long(const char *s, long min, long max, long *ret)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *ret = v;
    return 0;
}

int
fa_has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        while (*p == ' ')
            p++;
        if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p = strchr(p, ' ');
    }
    return 0;
}

int
fa_profile_name_valid(const char *s)
{
    size_t n;

    /* A leading '.' or '-' would read as a hidden file, a relative path
     * component or a command-line option where the name is reused. */
    if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
        return 0;
    for (n = 0; s[n] != '\0'; n++) {
        char c = s[n];

        /* Explicit ranges: isalnum() would follow the host's locale. */
        if (n >= FA_PROFILE_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void
fa_buf_init(struct fa_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int
fa_buf_append(struct fa_buf *b, const void *p, size_t n)
{
    size_t need, cap;
    char *nd;

    if (n > b->max || b->len > b->max - n)
        return -1;
    need = b->len + n + 1;
    if (need > b->cap) {
        cap = b->cap ? b->cap : 1024;
        while (cap < need)
            cap *= 2;
        /* Grow by copy, not realloc, so the old block can be wiped. */
        nd = malloc(cap);
        if (nd == NULL)
            return -1;
        if (b->data != NULL) {
            memcpy(nd, b->data, b->len);
            explicit_bzero(b->data, b->cap);
            free(b->data);
        }
        b->data = nd;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void
fa_buf_wipe(struct fa_buf *b)
{
    if (b->data != NULL) {
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
