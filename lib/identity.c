/* identity.c - fhirauth_identity_check(): is the pending login the PAM
 * user?  The verified id_token's username_claim, directly or through the
 * usermap file.  Library code: no logging. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "handle.h"
#include "util.h"

#define USERMAP_MAX_BYTES (256 * 1024)   /* a larger usermap is refused */
#define CLAIMS_MAX_DEPTH 16
#define SHOWN_MAX 96                     /* claim text shown in a message */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Does field [s, s+n) equal the NUL-terminated t? */
static int
field_is(const char *s, size_t n, const char *t)
{
    return strlen(t) == n && memcmp(s, t, n) == 0;
}

int
fa_usermap_match(const char *name, const char *text, size_t len,
                 const char *value, const char *user, char *err,
                 size_t errlen)
{
    const char *p, *end, *eol;
    const char *f[2];
    size_t fl[2], nf;
    unsigned long line = 0;
    int found = 0;

    if (text == NULL || value == NULL || user == NULL)
        return -1;
    p = text;
    end = text + len;
    if (memchr(text, '\0', len) != NULL) {
        fa_err(err, errlen, "%s: a NUL byte", name);
        return -1;
    }
    while (p < end) {
        line++;
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL)
            eol = end;
        nf = 0;
        while (p < eol) {
            const char *s;

            while (p < eol && is_space(*p))
                p++;
            if (p == eol || *p == '#')
                break;          /* a comment runs to the end of the line */
            s = p;
            while (p < eol && !is_space(*p))
                p++;
            if (nf == 2) {
                fa_err(err, errlen, "%s line %lu: more than "
                       "'claim-value local-user'", name, line);
                return -1;
            }
            f[nf] = s;
            fl[nf] = (size_t) (p - s);
            nf++;
        }
        if (nf == 1) {
            fa_err(err, errlen, "%s line %lu: expected 'claim-value "
                   "local-user'", name, line);
            return -1;
        }
        /* Read on to the end, so a malformed line later fails closed. */
        if (nf == 2 && field_is(f[0], fl[0], value)
            && field_is(f[1], fl[1], user))
            found = 1;
        p = eol < end ? eol + 1 : end;
    }
    return found;
}

/*
 * Read the usermap as pam-u2f reads its configuration: no symlink, a
 * regular file, owned by root, not writable by group or others, bounded.
 */
static int
read_usermap(const char *path, char **ret, size_t *ret_len, char *err,
             size_t errlen)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    ssize_t n = 0;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        fa_err(err, errlen, "usermap %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        fa_err(err, errlen, "usermap %s: not a regular file", path);
        goto fail;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        fa_err(err, errlen, "usermap %s: must be owned by root and not "
               "writable by group or others", path);
        goto fail;
    }
    if (st.st_size > USERMAP_MAX_BYTES) {
        fa_err(err, errlen, "usermap %s: larger than %d bytes", path,
               USERMAP_MAX_BYTES);
        goto fail;
    }
    buf = malloc((size_t) st.st_size + 1);
    if (buf == NULL) {
        fa_err(err, errlen, "usermap %s: out of memory", path);
        goto fail;
    }
    while (got < (size_t) st.st_size) {
        n = read(fd, buf + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;              /* shrank meanwhile: use what is there */
        got += (size_t) n;
    }
    if (n < 0) {
        fa_err(err, errlen, "usermap %s: %s", path, strerror(errno));
        free(buf);
        goto fail;
    }
    buf[got] = '\0';
    close(fd);
    *ret = buf;
    *ret_len = got;
    return 0;
fail:
    close(fd);
    return -1;
}

/* Server-chosen text made fit for a message (and the PAM module's log):
 * printable ASCII, bounded. */
static void
shown(char *dst, size_t len, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < len && src[i] != '\0'; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

fhirauth_rc
fhirauth_identity_check(fhirauth *h, const char *user)
{
    const char *claim_name, *value;
    json_tokener *tok;
    json_object *claims = NULL, *v;
    char show[SHOWN_MAX], ushow[SHOWN_MAX];
    char *map = NULL;
    size_t maplen = 0, len;
    int m;
    fhirauth_rc rc;

    if (h == NULL || user == NULL || user[0] == '\0')
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_clear_detail(h);
    if (h->pending == NULL)
        return fa_fail(h, FHIRAUTH_ERR_LOGIN_NEEDED, "no pending login");
    if (h->pending->claims == NULL)
        return fa_fail(h, FHIRAUTH_ERR_PROTOCOL, "no verified id_token");
    claim_name = h->cfg.username_claim != NULL ? h->cfg.username_claim
                                               : "preferred_username";
    len = strlen(h->pending->claims);
    tok = json_tokener_new_ex(CLAIMS_MAX_DEPTH);
    if (tok == NULL)
        return fa_fail(h, FHIRAUTH_ERR_NOMEM, "out of memory");
    if (len <= (size_t) 0x7fffffff)
        claims = json_tokener_parse_ex(tok, h->pending->claims, (int) len);
    json_tokener_free(tok);
    if (claims == NULL || !json_object_is_type(claims, json_type_object)) {
        rc = fa_fail(h, FHIRAUTH_ERR_PROTOCOL, "unreadable id_token claims");
        goto out;
    }
    shown(ushow, sizeof(ushow), user);
    if (!json_object_object_get_ex(claims, claim_name, &v)
        || !json_object_is_type(v, json_type_string)) {
        shown(show, sizeof(show), claim_name);
        rc = fa_fail(h, FHIRAUTH_ERR_DENIED, "the id_token has no string "
                     "claim '%s', so it does not vouch for '%s'", show,
                     ushow);
        goto out;
    }
    value = json_object_get_string(v);
    if (strcmp(value, user) == 0) {
        rc = FHIRAUTH_OK;
        goto out;
    }
    if (h->cfg.usermap != NULL) {
        if (read_usermap(h->cfg.usermap, &map, &maplen, h->detail,
                         sizeof(h->detail)) != 0) {
            rc = FHIRAUTH_ERR_CONFIG;
            goto out;
        }
        m = fa_usermap_match(h->cfg.usermap, map, maplen, value, user,
                             h->detail, sizeof(h->detail));
        free(map);
        if (m < 0) {
            rc = FHIRAUTH_ERR_CONFIG;
            goto out;
        }
        if (m == 1) {
            rc = FHIRAUTH_OK;
            goto out;
        }
    }
    shown(show, sizeof(show), value);
    rc = fa_fail(h, FHIRAUTH_ERR_DENIED, "the authorization server vouched "
                 "for '%s' (%s), not for '%s'", show, claim_name, ushow);
out:
    if (claims != NULL)
        json_object_put(claims);
    return rc;
}
