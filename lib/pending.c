/* pending.c - a login kept in the handle (FHIRAUTH_OPEN_DEFER_STORE), the
 * PAM module's stash of it in root's user keyring, and storing it for the
 * user.  Library code: no logging; every copy of a token is wiped. */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dpop.h"
#include "handle.h"
#include "keystore.h"
#include "net.h"
#include "pending.h"
#include "store.h"
#include "util.h"

/* Seconds the kernel keeps a stash nobody picked up. */
#define FA_STASH_TIMEOUT 300
#define FA_STASH_PREFIX "pam_fhir:stash:"
#define FA_STASH_NONCE_BYTES 16 /* 128 bits */
#define FA_STASH_USER_MAX 256
#define FA_STASH_DESC_MAX                                                    \
 (sizeof(FA_STASH_PREFIX) + FA_STASH_USER_MAX + 1 + 2 * FA_STASH_NONCE_BYTES \
  + 1)
#define FA_STASH_VERSION 1
#define FA_STASH_MAX_DEPTH 3

void
fa_pending_free(struct fa_pending *p)
{
    if (p == NULL)
        return;
    fa_token_response_free(&p->resp);
    fa_meta_free(&p->meta);
    fa_secret_free(p->claims);
    fa_secret_free_len(p->dpop_key, p->dpop_keylen);
    explicit_bzero(p, sizeof(*p));
}

static void
pending_destroy(struct fa_pending *p)
{
    fa_pending_free(p);
    free(p);
}

void
fa_pending_clear(fhirauth *h)
{
    if (h->pending != NULL)
        pending_destroy(h->pending);
    h->pending = NULL;
}

static void
pending_set(fhirauth *h, struct fa_pending *p)
{
    fa_pending_clear(h);
    h->pending = p;
}

/* *dst = copy of src (NULL stays NULL); -1 out of memory. */
static int
dup_field(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

static int
copy_response(struct fa_token_response *dst,
              const struct fa_token_response *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->expires_in = src->expires_in;
    dst->refresh_expires_in = src->refresh_expires_in;
    /* The id_token is not kept: its claims are, once verified. */
    if (dup_field(&dst->access_token, src->access_token) != 0
        || dup_field(&dst->token_type, src->token_type) != 0
        || dup_field(&dst->refresh_token, src->refresh_token) != 0
        || dup_field(&dst->scope, src->scope) != 0
        || dup_field(&dst->patient, src->patient) != 0
        || dup_field(&dst->encounter, src->encounter) != 0
        || dup_field(&dst->fhir_user, src->fhir_user) != 0
        || dup_field(&dst->tenant, src->tenant) != 0) {
        fa_token_response_free(dst);
        return -1;
    }
    return 0;
}

fhirauth_rc
fa_pending_keep(fhirauth *h, const struct fa_token_response *resp,
                struct fa_meta *meta, char *claims)
{
    struct fa_pending *p;

    fa_pending_clear(h);
    p = calloc(1, sizeof(*p));
    if (p == NULL || copy_response(&p->resp, resp) != 0) {
        free(p);
        fa_secret_free(claims);
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    /* The key the tokens are bound to goes with them; the handle keeps
     * its own copy for the identity check's UserInfo request. */
    if (h->dpop != NULL && h->dpop->key != NULL) {
        p->dpop_key = malloc(h->dpop->keylen + 1);
        if (p->dpop_key == NULL) {
            pending_destroy(p);
            fa_secret_free(claims);
            return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
        }
        memcpy(p->dpop_key, h->dpop->key, h->dpop->keylen);
        p->dpop_key[h->dpop->keylen] = '\0';
        p->dpop_keylen = h->dpop->keylen;
    }
    p->meta = *meta;
    memset(meta, 0, sizeof(*meta));
    p->claims = claims;
    p->obtained_at = (long long) time(NULL);
    pending_set(h, p);
    return FHIRAUTH_OK;
}

int
fhirauth_has_pending(const fhirauth *h)
{
    return h != NULL && h->pending != NULL;
}

/* ------------------------------------------------------------------ */

int
fa_stash_prefix(char *buf, size_t len, const char *user)
{
    const unsigned char *u;
    size_t n;
    int r;

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    if (user == NULL)
        return -1;
    n = strlen(user);
    if (n == 0 || n > FA_STASH_USER_MAX)
        return -1;
    /* A ':' would let one user's prefix reach into another's nonce. */
    for (u = (const unsigned char *) user; *u != '\0'; u++)
        if (*u <= 0x20 || *u >= 0x7f || *u == ':')
            return -1;
    r = snprintf(buf, len, "%s%s:", FA_STASH_PREFIX, user);
    if (r < 0 || (size_t) r >= len) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

int
fa_stash_parse_serial(const char *s, long *ret)
{
    long v = 0;
    const char *p;

    if (s == NULL || ret == NULL || *s == '\0' || *s == '0')
        return -1;
    for (p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || p - s >= 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0 || v > INT_MAX)
        return -1;
    *ret = v;
    return 0;
}

/* ------------------------------------------------------------------ */

/* Append s as a JSON string (quoted, escaped) to b. */
static int
json_str(struct fa_buf *b, const char *s)
{
    const unsigned char *p;
    char esc[8];
    int r;

    if (fa_buf_append(b, "\"", 1) != 0)
        return -1;
    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *p;
            r = fa_buf_append(b, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            r = snprintf(esc, sizeof(esc), "\\u%04x", (unsigned) *p);
            r = r == 6 ? fa_buf_append(b, esc, 6) : -1;
        } else {
            r = fa_buf_append(b, p, 1);
        }
        if (r != 0)
            return -1;
    }
    return fa_buf_append(b, "\"", 1);
}

/* ,"name":"value" (nothing for NULL) */
static int
member_str(struct fa_buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return 0;
    if (fa_buf_append(b, ",", 1) != 0 || json_str(b, name) != 0
        || fa_buf_append(b, ":", 1) != 0)
        return -1;
    return json_str(b, value);
}

static int
member_int(struct fa_buf *b, const char *name, long long value)
{
    char num[32];
    int r;

    r = snprintf(num, sizeof(num), "%lld", value);
    if (r < 0 || (size_t) r >= sizeof(num))
        return -1;
    if (fa_buf_append(b, ",", 1) != 0 || json_str(b, name) != 0
        || fa_buf_append(b, ":", 1) != 0)
        return -1;
    return fa_buf_append(b, num, (size_t) r);
}

/*
 * The stash payload, written by hand into a buffer that is wiped when
 * freed (json-c's printing buffers cannot be wiped): the token answer,
 * the metadata (its own JSON text, no secret), the verified claims.
 */
fhirauth_rc
fa_pending_encode(const struct fa_pending *p, char **ret_json, size_t *ret_len)
{
    struct fa_buf b;
    char *meta = NULL;
    const struct fa_token_response *r = &p->resp;
    int bad;
    fhirauth_rc rc;

    rc = fa_meta_encode(&p->meta, &meta);
    if (rc != FHIRAUTH_OK)
        return rc;
    fa_buf_init(&b, FA_KEY_MAX_PAYLOAD);
    bad = fa_buf_append(&b, "{\"v\":1", 6);
    bad |= member_int(&b, "obtained_at", p->obtained_at);
    bad |= member_int(&b, "expires_in", r->expires_in);
    bad |= member_int(&b, "refresh_expires_in", r->refresh_expires_in);
    bad |= member_str(&b, "access_token", r->access_token);
    bad |= member_str(&b, "token_type", r->token_type);
    bad |= member_str(&b, "refresh_token", r->refresh_token);
    bad |= member_str(&b, "scope", r->scope);
    bad |= member_str(&b, "patient", r->patient);
    bad |= member_str(&b, "encounter", r->encounter);
    bad |= member_str(&b, "fhirUser", r->fhir_user);
    bad |= member_str(&b, "tenant", r->tenant);
    bad |= member_str(&b, "meta", meta);
    bad |= member_str(&b, "claims", p->claims);
    bad |= member_str(&b, "dpop_key", p->dpop_key);
    bad |= fa_buf_append(&b, "}", 1);
    free(meta);
    if (bad != 0 || b.data == NULL) {
        fa_buf_wipe(&b);
        return FHIRAUTH_ERR_NOMEM; /* or over the key's size */
    }
    *ret_json = b.data;
    *ret_len = b.len;
    return FHIRAUTH_OK;
}

/* A string member copied (NULL when absent); -1 wrong type or no memory. */
static int
get_str(json_object *o, const char *name, char **ret)
{
    json_object *v;

    *ret = NULL;
    if (!json_object_object_get_ex(o, name, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *ret = strdup(json_object_get_string(v));
    return *ret == NULL ? -1 : 0;
}

static int
get_int(json_object *o, const char *name, long long *ret)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v)
        || !json_object_is_type(v, json_type_int))
        return -1;
    *ret = json_object_get_int64(v);
    return 0;
}

fhirauth_rc
fa_pending_decode(const char *json, size_t len, struct fa_pending *p)
{
    json_tokener *tok;
    json_object *o;
    char *meta = NULL;
    long long v = 0, ei = 0, rei = 0;
    fhirauth_rc rc = FHIRAUTH_ERR_KEYRING;

    memset(p, 0, sizeof(*p));
    p->resp.expires_in = p->resp.refresh_expires_in = -1;
    if (json == NULL || len == 0 || len > FA_KEY_MAX_PAYLOAD || len > INT_MAX)
        return FHIRAUTH_ERR_KEYRING;
    tok = json_tokener_new_ex(FA_STASH_MAX_DEPTH);
    if (tok == NULL)
        return FHIRAUTH_ERR_NOMEM;
    o = json_tokener_parse_ex(tok, json, (int) len);
    if (o == NULL || json_tokener_get_parse_end(tok) != len
        || !json_object_is_type(o, json_type_object))
        goto out;
    if (get_int(o, "v", &v) != 0 || v != FA_STASH_VERSION
        || get_int(o, "obtained_at", &p->obtained_at) != 0
        || get_int(o, "expires_in", &ei) != 0
        || get_int(o, "refresh_expires_in", &rei) != 0 || ei < -1
        || ei > LONG_MAX || rei < -1 || rei > LONG_MAX)
        goto out;
    p->resp.expires_in = (long) ei;
    p->resp.refresh_expires_in = (long) rei;
    if (get_str(o, "access_token", &p->resp.access_token) != 0
        || get_str(o, "token_type", &p->resp.token_type) != 0
        || get_str(o, "refresh_token", &p->resp.refresh_token) != 0
        || get_str(o, "scope", &p->resp.scope) != 0
        || get_str(o, "patient", &p->resp.patient) != 0
        || get_str(o, "encounter", &p->resp.encounter) != 0
        || get_str(o, "fhirUser", &p->resp.fhir_user) != 0
        || get_str(o, "tenant", &p->resp.tenant) != 0
        || get_str(o, "claims", &p->claims) != 0
        || get_str(o, "dpop_key", &p->dpop_key) != 0
        || get_str(o, "meta", &meta) != 0)
        goto out;
    if (p->dpop_key != NULL) {
        p->dpop_keylen = strlen(p->dpop_key);
        if (p->dpop_keylen == 0)
            goto out;
    }
    if (p->resp.access_token == NULL || p->resp.token_type == NULL
        || meta == NULL)
        goto out;
    rc = fa_meta_decode(meta, strlen(meta), &p->meta, NULL);
    if (rc == FHIRAUTH_ERR_NOMEM)
        goto out;
    if (rc != FHIRAUTH_OK) {
        rc = FHIRAUTH_ERR_KEYRING;
        goto out;
    }
    rc = FHIRAUTH_OK;
out:
    free(meta);
    fa_json_put_wiped(o); /* the stash's tokens */
    json_tokener_free(tok);
    if (rc != FHIRAUTH_OK)
        fa_pending_free(p);
    return rc;
}

/* ------------------------------------------------------------------ */

static int
make_nonce(char *hex, size_t len)
{
    unsigned char raw[FA_STASH_NONCE_BYTES];
    static const char digits[] = "0123456789abcdef";
    size_t got = 0, i;
    ssize_t n;

    if (len < 2 * sizeof(raw) + 1)
        return -1;
    while (got < sizeof(raw)) {
        n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t) n;
    }
    for (i = 0; i < sizeof(raw); i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0xf];
    }
    hex[2 * sizeof(raw)] = '\0';
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

fhirauth_rc
fhirauth_stash_put(fhirauth *h, const char *user, char **ret_serial)
{
    char desc[FA_STASH_DESC_MAX];
    char nonce[2 * FA_STASH_NONCE_BYTES + 1];
    char num[24];
    char *json = NULL, *out;
    size_t len = 0, plen;
    long serial = 0;
    fhirauth_rc rc;
    int n;

    if (h == NULL || user == NULL || ret_serial == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (h->pending == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_LOGIN_NEEDED,
                       "no pending login "
                       "to stash");
    if (fa_stash_prefix(desc, sizeof(desc), user) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a user name "
                       "unfit for a key description");
    /* The user keyring is the real uid's: under a set-uid caller (su)
     * that is the invoking user's, whose processes possess it and so
     * could read the stash. */
    if (getuid() != geteuid())
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "no stash while "
                       "the real and effective uid differ (a set-uid "
                       "caller): keep the handle instead");
    if (make_nonce(nonce, sizeof(nonce)) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INTERNAL, "no random bytes: %s",
                       strerror(errno));
    plen = strlen(desc);
    if (fa_strlcpy(desc + plen, nonce, sizeof(desc) - plen) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INTERNAL,
                       "key description too long");
    rc = fa_pending_encode(h->pending, &json, &len);
    if (rc != FHIRAUTH_OK)
        return fa_fail(&h->err, rc,
                       "cannot encode the stash (out of memory, or "
                       "over %d bytes)",
                       FA_KEY_MAX_PAYLOAD);
    rc =
        fa_ks_private_put(desc, json, len, FA_STASH_TIMEOUT, &serial, &h->err);
    fa_secret_free_len(json, len);
    if (rc != FHIRAUTH_OK)
        return rc;
    n = snprintf(num, sizeof(num), "%ld", serial);
    out = n > 0 && (size_t) n < sizeof(num) ? strdup(num) : NULL;
    if (out == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    *ret_serial = out;
    return FHIRAUTH_OK;
}

fhirauth_rc
fhirauth_stash_take(fhirauth *h, const char *user, const char *serial)
{
    char prefix[FA_STASH_DESC_MAX];
    struct fa_pending *p;
    char *data = NULL;
    size_t len = 0;
    long key;
    fhirauth_rc rc;

    if (h == NULL || user == NULL || serial == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (fa_stash_parse_serial(serial, &key) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a malformed "
                       "stash serial");
    if (fa_stash_prefix(prefix, sizeof(prefix), user) != 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_INVALID_ARGUMENT,
                       "a user name "
                       "unfit for a key description");
    rc = fa_ks_private_take(key, prefix, &data, &len, &h->err);
    if (rc == FHIRAUTH_ERR_DENIED)
        return fa_fail(&h->err, rc, "key %ld is not a stash for this user",
                       key);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        return fa_fail(&h->err, rc, "no stash %ld (taken, or expired)", key);
    if (rc != FHIRAUTH_OK)
        return rc;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fa_secret_free_len(data, len);
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    rc = fa_pending_decode(data, len, p);
    fa_secret_free_len(data, len);
    if (rc != FHIRAUTH_OK) {
        free(p);
        if (rc == FHIRAUTH_ERR_NOMEM)
            return fa_fail(&h->err, rc, "out of memory");
        return fa_fail(&h->err, FHIRAUTH_ERR_KEYRING,
                       "the stash %ld is damaged", key);
    }
    pending_set(h, p);
    return FHIRAUTH_OK;
}

/* Seconds left of a lifetime counted from obtained_at (at least 1). */
static long
left(long life, long long obtained_at, long long now)
{
    long long elapsed = now - obtained_at;

    if (life < 0 || elapsed <= 0)
        return life;
    if (elapsed >= life)
        return 1;
    return life - (long) elapsed;
}

fhirauth_rc
fhirauth_store_pending(fhirauth *h)
{
    struct fa_pending *p;
    time_t now;
    fhirauth_rc rc;

    if (h == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    p = h->pending;
    if (p == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_LOGIN_NEEDED,
                       "no pending login "
                       "to store");
    /* The answer's lifetimes count from when it came, not from now. */
    now = time(NULL);
    p->resp.expires_in =
        left(p->resp.expires_in, p->obtained_at, (long long) now);
    if (p->resp.refresh_expires_in > 0)
        p->resp.refresh_expires_in =
            left(p->resp.refresh_expires_in, p->obtained_at, (long long) now);
    p->obtained_at = (long long) now;
    /* The key the tokens are bound to is stored with them (fa_save_tokens,
     * before the refresh token); a session without one removes the old
     * session's key. */
    if (p->dpop_key != NULL) {
        rc = fa_dpop_adopt(h, p->dpop_key, p->dpop_keylen, p->meta.dpop_nonce);
        if (rc != FHIRAUTH_OK)
            return rc;
    } else {
        fa_dpop_forget(h);
    }
    rc = fa_store_session(h, &p->resp, &p->meta, now);
    fa_dpop_forget(h);
    if (rc == FHIRAUTH_OK)
        fa_pending_clear(h);
    return rc;
}
