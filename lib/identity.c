/* identity.c - fhirauth_identity_check(): is the pending login the PAM
 * user?  username_claim from the verified id_token, or from UserInfo when
 * the id_token does not carry it (OIDC Core §5.4), directly or through the
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
#include "dpop.h"
#include "identity.h"
#include "oauth.h"
#include "pending.h"
#include "util.h"

#define USERMAP_MAX_BYTES (256 * 1024) /* a larger usermap is refused */
#define CLAIMS_MAX_DEPTH 16
#define SHOWN_MAX 96 /* claim text shown in a message */

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

fhirauth_rc
fa_usermap_match(const char *name, const char *text, size_t len,
                 const char *value, const char *user, int *ret_found,
                 struct fa_err *e)
{
    const char *p, *end, *eol;
    const char *f[2];
    size_t fl[2], nf;
    unsigned long line = 0;
    int found = 0;

    *ret_found = 0;
    if (text == NULL || value == NULL || user == NULL)
        return fa_fail(e, FHIRAUTH_ERR_INVALID_ARGUMENT, "no usermap given");
    p = text;
    end = text + len;
    if (memchr(text, '\0', len) != NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "%s: a NUL byte", name);
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
                break; /* a comment runs to the end of the line */
            s = p;
            while (p < eol && !is_space(*p))
                p++;
            if (nf == 2) {
                return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                               "%s line %lu: more than "
                               "'claim-value local-user'",
                               name, line);
            }
            f[nf] = s;
            fl[nf] = (size_t) (p - s);
            nf++;
        }
        if (nf == 1) {
            return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                           "%s line %lu: expected 'claim-value "
                           "local-user'",
                           name, line);
        }
        /* Read on to the end, so a malformed line later fails closed. */
        if (nf == 2 && field_is(f[0], fl[0], value)
            && field_is(f[1], fl[1], user))
            found = 1;
        p = eol < end ? eol + 1 : end;
    }
    *ret_found = found;
    return FHIRAUTH_OK;
}

/*
 * Read the usermap as pam-u2f reads its configuration: no symlink, a
 * regular file, owned by root, not writable by group or others, bounded.
 */
static fhirauth_rc
read_usermap(const char *path, char **ret, size_t *ret_len, struct fa_err *e)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    ssize_t n = 0;
    fhirauth_rc rc;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "usermap %s: %s", path,
                       strerror(errno));
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "usermap %s: not a regular file",
                     path);
        goto fail;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                     "usermap %s: must be owned by root and not "
                     "writable by group or others",
                     path);
        goto fail;
    }
    if (st.st_size > USERMAP_MAX_BYTES) {
        rc =
            fa_fail(e, FHIRAUTH_ERR_CONFIG, "usermap %s: larger than %d bytes",
                    path, USERMAP_MAX_BYTES);
        goto fail;
    }
    buf = malloc((size_t) st.st_size + 1);
    if (buf == NULL) {
        rc = fa_fail(e, FHIRAUTH_ERR_NOMEM, "usermap %s: out of memory", path);
        goto fail;
    }
    while (got < (size_t) st.st_size) {
        n = read(fd, buf + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shrank meanwhile: use what is there */
        got += (size_t) n;
    }
    if (n < 0) {
        rc = fa_fail(e, FHIRAUTH_ERR_CONFIG, "usermap %s: %s", path,
                     strerror(errno));
        free(buf);
        goto fail;
    }
    buf[got] = '\0';
    close(fd);
    *ret = buf;
    *ret_len = got;
    return FHIRAUTH_OK;
fail:
    close(fd);
    return rc;
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

/* The scope that asks a standard server for a claim (OIDC Core §5.4;
 * SMART App Launch for fhirUser); NULL when we do not know. */
static const char *
claim_scope(const char *claim)
{
    static const struct {
        const char *claim, *scope;
    } map[] = {
        { "sub", "openid" },
        { "name", "profile" },
        { "family_name", "profile" },
        { "given_name", "profile" },
        { "middle_name", "profile" },
        { "nickname", "profile" },
        { "preferred_username", "profile" },
        { "profile", "profile" },
        { "picture", "profile" },
        { "website", "profile" },
        { "email", "email" },
        { "phone_number", "phone" },
        { "fhirUser", "fhirUser" },
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].claim, claim) == 0)
            return map[i].scope;
    return NULL;
}

/* Parse claims JSON text (ours: the verified id_token's payload, or the
 * filtered UserInfo claims) into an object; NULL when unreadable. */
static json_object *
parse_claims(const char *text)
{
    json_tokener *tok;
    json_object *o = NULL;
    size_t len = strlen(text);

    tok = json_tokener_new_ex(CLAIMS_MAX_DEPTH);
    if (tok == NULL)
        return NULL;
    if (len <= (size_t) 0x7fffffff)
        o = json_tokener_parse_ex(tok, text, (int) len);
    json_tokener_free(tok);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* A string claim of claims (borrowed), NULL when absent or not a string. */
static const char *
string_claim(json_object *claims, const char *name)
{
    json_object *v;

    if (claims == NULL || !json_object_object_get_ex(claims, name, &v)
        || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/*
 * The UserInfo claims for the pending login, fetched with its new access
 * token.  With a verified id_token, UserInfo's sub must be the id_token's
 * (OIDC Core §5.3.2): otherwise the answer is about someone else.
 */
static fhirauth_rc
userinfo_claims(fhirauth *h, json_object *idc, json_object **ret)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    const char *id_sub, *ui_sub;
    char *text = NULL;
    char a[SHOWN_MAX], b[SHOWN_MAX];
    json_object *uic;
    fhirauth_rc rc;

    *ret = NULL;
    if (h->pending->resp.access_token == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_INTERNAL,
                       "no access token for "
                       "userinfo");
    /* A DPoP-bound login's token needs a proof: its key is the pending
     * session's now (the login wiped the handle's copy), lent to the
     * handle for this one request. */
    if (h->pending->dpop_key != NULL) {
        rc = fa_dpop_adopt(h, h->pending->dpop_key, h->pending->dpop_keylen,
                           h->pending->meta.dpop_nonce);
        if (rc != FHIRAUTH_OK)
            return rc;
    }
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc == FHIRAUTH_OK && ops->userinfo == NULL)
        rc = fa_fail(&h->err, FHIRAUTH_ERR_MODULE,
                     "the network module has no "
                     "userinfo request");
    if (rc == FHIRAUTH_OK)
        rc = ops->userinfo(&ctx, &h->pending->meta.ep,
                           h->pending->resp.access_token, &text, &h->err);
    /* A newer nonce of the AS goes with the session. */
    if (h->dpop != NULL && fa_dpop_note_nonce(h, &h->pending->meta) < 0
        && rc == FHIRAUTH_OK)
        rc = fa_nomem(&h->err);
    fa_dpop_forget(h);
    if (rc != FHIRAUTH_OK) {
        free(text);
        return rc;
    }
    uic = parse_claims(text);
    free(text);
    if (uic == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    if (idc != NULL) {
        id_sub = string_claim(idc, "sub");
        ui_sub = string_claim(uic, "sub");
        if (id_sub == NULL || ui_sub == NULL || strcmp(id_sub, ui_sub) != 0) {
            shown(a, sizeof(a), ui_sub != NULL ? ui_sub : "");
            shown(b, sizeof(b), id_sub != NULL ? id_sub : "");
            json_object_put(uic);
            return fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                           "userinfo is about sub "
                           "'%s', the id_token about '%s'",
                           a, b);
        }
    }
    *ret = uic;
    return FHIRAUTH_OK;
}

/* Remember what UserInfo said in the pending session's metadata, where the
 * id_token said nothing (status shows it). */
static fhirauth_rc
note_userinfo(fhirauth *h, json_object *uic, const char *value)
{
    struct fa_meta *m = &h->pending->meta;
    const char *sub = string_claim(uic, "sub");

    if (m->subject == NULL && sub != NULL
        && (m->subject = strdup(sub)) == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    if (m->username == NULL && (m->username = strdup(value)) == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    return FHIRAUTH_OK;
}

/* The claim is nowhere: say what was asked, and which scope asks a
 * standard server for the claim.  how: 0 the id_token lacks it and there
 * is no userinfo_endpoint, 1 neither the id_token nor userinfo has it, 2
 * no id_token and no userinfo_endpoint, 3 no id_token and userinfo lacks
 * it. */
static fhirauth_rc
claim_missing(fhirauth *h, const char *claim_name, int how, const char *ushow)
{
    const char *scope = claim_scope(claim_name);
    char show[SHOWN_MAX], hint[SHOWN_MAX + 80], lead[SHOWN_MAX + 120];
    int r;

    shown(show, sizeof(show), claim_name);
    switch (how) {
    case 0:
        r = snprintf(lead, sizeof(lead),
                     "the id_token has no string claim "
                     "'%s' and the server has no userinfo_endpoint",
                     show);
        break;
    case 2:
        r = snprintf(lead, sizeof(lead),
                     "the server sent no id_token and "
                     "has no userinfo_endpoint to ask for '%s'",
                     show);
        break;
    case 3:
        r = snprintf(lead, sizeof(lead),
                     "the server sent no id_token and "
                     "userinfo has no string claim '%s'",
                     show);
        break;
    default:
        r = snprintf(lead, sizeof(lead),
                     "neither the id_token nor userinfo "
                     "has a string claim '%s'",
                     show);
        break;
    }
    if (r < 0 || (size_t) r >= sizeof(lead))
        lead[0] = '\0';
    if (scope == NULL)
        r = snprintf(hint, sizeof(hint), "does the scope ask for it?");
    else if (h->cfg.scope == NULL || !fa_has_word(h->cfg.scope, scope))
        r = snprintf(hint, sizeof(hint),
                     "add '%s' to scope: standard "
                     "servers send it for that scope",
                     scope);
    else
        r = snprintf(hint, sizeof(hint),
                     "the server did not send it for "
                     "the scope '%s'",
                     scope);
    if (r < 0 || (size_t) r >= sizeof(hint))
        hint[0] = '\0';
    return fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                   "%s, so it does not vouch for "
                   "'%s' (%s)",
                   lead, ushow, hint);
}

fhirauth_rc
fhirauth_identity_check(fhirauth *h, const char *user)
{
    const char *claim_name, *value = NULL;
    json_object *idc = NULL, *uic = NULL;
    char show[SHOWN_MAX], ushow[SHOWN_MAX];
    char *map = NULL;
    size_t maplen = 0;
    int m;
    fhirauth_rc rc;

    if (h == NULL || user == NULL || user[0] == '\0')
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (h->pending == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_LOGIN_NEEDED, "no pending login");
    claim_name = h->cfg.username_claim != NULL ? h->cfg.username_claim
                                               : "preferred_username";
    shown(ushow, sizeof(ushow), user);
    if (h->pending->claims != NULL) {
        idc = parse_claims(h->pending->claims);
        if (idc == NULL)
            return fa_fail(&h->err, FHIRAUTH_ERR_PROTOCOL,
                           "unreadable id_token claims");
        value = string_claim(idc, claim_name);
    } else if (h->cfg.require_id_token) {
        return fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                       "no verified id_token, and "
                       "require_id_token = yes");
    }
    if (value == NULL) {
        /* OIDC Core §5.4: with an access token, the scope's claims come
         * from UserInfo; standard servers leave them out of the id_token,
         * and some send no id_token at all. */
        if (h->pending->meta.ep.userinfo_endpoint == NULL) {
            rc = claim_missing(h, claim_name, idc != NULL ? 0 : 2, ushow);
            goto out;
        }
        rc = userinfo_claims(h, idc, &uic);
        if (rc != FHIRAUTH_OK)
            goto out;
        value = string_claim(uic, claim_name);
        if (value == NULL) {
            rc = claim_missing(h, claim_name, idc != NULL ? 1 : 3, ushow);
            goto out;
        }
    }
    if (strcmp(value, user) == 0) {
        rc = FHIRAUTH_OK;
        goto found;
    }
    if (h->cfg.usermap != NULL) {
        rc = read_usermap(h->cfg.usermap, &map, &maplen, &h->err);
        if (rc != FHIRAUTH_OK)
            goto out;
        rc = fa_usermap_match(h->cfg.usermap, map, maplen, value, user, &m,
                              &h->err);
        free(map);
        if (rc != FHIRAUTH_OK)
            goto out;
        if (m == 1) {
            rc = FHIRAUTH_OK;
            goto found;
        }
    }
    shown(show, sizeof(show), value);
    rc = fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                 "the authorization server vouched "
                 "for '%s' (%s%s), not for '%s'",
                 show, claim_name, uic != NULL ? " from userinfo" : "", ushow);
    goto out;
found:
    if (uic != NULL)
        rc = note_userinfo(h, uic, value);
out:
    if (idc != NULL)
        json_object_put(idc);
    if (uic != NULL)
        json_object_put(uic);
    return rc;
}
