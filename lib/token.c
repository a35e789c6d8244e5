/* token.c - fhirauth_token(): the cached fast path, the locked refresh (or
 * a service profile's new token, service.c), and compare-and-invalidate
 * after a 401. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dpop.h"
#include "keystore.h"
#include "lock.h"
#include "service.h"
#include "token.h"
#include "util.h"

#define CRASH_POINT(name) fa_crash_point(name)

#ifdef FHIRAUTH_TEST_HOOKS
# include <signal.h>
/* Test builds only: die at a named point so kill tests can check that
 * nothing is lost wherever a refresh stops. */
static void
fa_crash_point(const char *name)
{
    const char *want = getenv("FHIRAUTH_CRASH_AT");

    if (want != NULL && strcmp(want, name) == 0)
        raise(SIGKILL);
}
#else
# define fa_crash_point(name) ((void) 0)
#endif

/*
 * Look for a cached access token valid at least min_valid more seconds.
 * On FHIRAUTH_OK *ret_token is a copy.  *ret_expiry gets the cached
 * token's expiry even when it is too short (0 when none is cached).
 */
static fhirauth_rc
read_access(fhirauth *h, time_t now, long min_valid, char **ret_token,
            time_t *ret_expiry)
{
    char *data = NULL;
    size_t len = 0;
    const char *tok;
    time_t expiry;
    fhirauth_rc rc;
    int dpop = 0;

    *ret_expiry = 0;
    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, &data, &len,
                    NULL, &h->err);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (fa_access_decode_as(data, &expiry, &tok, &dpop) != 0) {
        fa_secret_free_len(data, len);
        return FHIRAUTH_ERR_LOGIN_NEEDED; /* damaged: treat as absent */
    }
    *ret_expiry = expiry;
    if (expiry - now < min_valid) {
        fa_secret_free_len(data, len);
        return FHIRAUTH_ERR_LOGIN_NEEDED;
    }
    *ret_token = strdup(tok);
    fa_secret_free_len(data, len);
    if (*ret_token == NULL)
        return FHIRAUTH_ERR_NOMEM;
    h->token_dpop = dpop;
    return FHIRAUTH_OK;
}

/* As long as a holder may keep the lock (FA_LOCK_HOLD_REQUESTS). */
static long
lock_wait_ms(const fhirauth *h)
{
    return FA_LOCK_HOLD_REQUESTS * h->cfg.timeout * 1000L + FA_LOCK_SLACK_MS;
}

fhirauth_rc
fa_take_lock(fhirauth *h, int *ret_fd)
{
    return fa_lock_acquire(getuid(), h->cfg.profile, lock_wait_ms(h), NULL,
                           NULL, ret_fd, &h->err);
}

/* A waiter for the refresh lock, and the token a sibling may store. */
struct waiter {
    fhirauth *h;
    long min_valid;
    char *token;
    time_t expiry;
};

/* Has the process holding the lock stored a token good enough for us? */
static int
sibling_refreshed(void *arg)
{
    struct waiter *w = arg;

    return read_access(w->h, time(NULL), w->min_valid, &w->token, &w->expiry)
        == FHIRAUTH_OK;
}

int
fa_token_is_dpop(const struct fa_token_response *r)
{
    /* RFC 9449 §5: token_type DPoP; the token parser has checked that
     * such a token came for a request with a proof. */
    return r->token_type != NULL && strcasecmp(r->token_type, "DPoP") == 0;
}

long
fa_token_lifetime(const fhirauth *h, const struct fa_token_response *r)
{
    /* expires_in is only RECOMMENDED (RFC 6749 §5.1): without it assume a
     * short life and let 401 handling catch an earlier end. */
    return r->expires_in >= 0 ? r->expires_in : h->cfg.assumed_lifetime;
}

/*
 * Store one key; on a full quota make room once by shrinking the cached
 * access key (the token in hand supersedes it) and try again.  add_key()
 * updates a key in place and the kernel charges only the growth, so room
 * that small is usually enough.
 */
static fhirauth_rc
store_key(fhirauth *h, enum fa_key which, const char *data, size_t len,
          unsigned timeout, int *room_made)
{
    fhirauth_rc rc;

    rc = fa_ks_store(h->cfg.keyring, h->cfg.profile, which, data, len, timeout,
                     &h->err);
    if (rc != FHIRAUTH_ERR_QUOTA || *room_made || which == FA_KEY_ACCESS)
        return rc;
    *room_made = 1;
    if (fa_ks_shrink(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, NULL)
        != FHIRAUTH_OK)
        return rc; /* the quota message stays */
    return fa_ks_store(h->cfg.keyring, h->cfg.profile, which, data, len,
                       timeout, &h->err);
}

#define QUOTA_SYSCTLS "kernel.keys.maxbytes, kernel.keys.maxkeys"

/* How far a save got, and what it could not keep. */
struct save_state {
    int login;        /* FA_SAVE_LOGIN: all of the session or none */
    int room;         /* store_key() has made room once */
    int wrote;        /* the keyring no longer holds the old session */
    int lost_refresh; /* the rotated refresh token did not fit */
    int stale_meta;   /* the metadata did not fit */
    int uncached;     /* the access token did not fit */
    int short_lived;  /* a key's timeout could not be renewed */
};

/* The refresh token, first of all.  A refresh whose new token does not
 * fit removes the old one; a login that cannot store it fails, nothing
 * written. */
static fhirauth_rc
save_refresh(fhirauth *h, const char *token, unsigned timeout,
             struct save_state *st)
{
    fhirauth_rc rc;

    rc =
        store_key(h, FA_KEY_REFRESH, token, strlen(token), timeout, &st->room);
    if (rc == FHIRAUTH_ERR_QUOTA && !st->login) {
        /*
         * The server has rotated: the token in the keyring is dead,
         * and presenting it again may make the server revoke the
         * whole grant (refresh token reuse detection).  Remove it;
         * the access token in hand still works until it expires.
         */
        (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                            NULL);
        st->lost_refresh = 1;
        rc = FHIRAUTH_OK;
    }
    return rc;
}

/*
 * A refresh that renews the refresh token's lifetime (a rotated token, or
 * refresh_expires_in for the one kept): the refresh key and the DPoP key
 * the token is bound to get the same kernel timeout, so that the key
 * never expires while the token lives on (sliding lifetimes).  A rotated
 * token got its timeout when it was stored.
 */
static void
save_lifetimes(fhirauth *h, const struct fa_token_response *r,
               unsigned timeout, struct save_state *st)
{
    fhirauth_rc rc;

    if (st->login || st->lost_refresh
        || (r->refresh_token == NULL && r->refresh_expires_in <= 0))
        return;
    if (r->refresh_token == NULL) {
        rc = fa_ks_set_timeout(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                               timeout, NULL);
        if (rc != FHIRAUTH_OK && rc != FHIRAUTH_ERR_LOGIN_NEEDED)
            st->short_lived = 1;
    }
    rc = fa_ks_set_timeout(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP,
                           timeout, NULL);
    if (rc != FHIRAUTH_OK && rc != FHIRAUTH_ERR_LOGIN_NEEDED)
        st->short_lived = 1;
}

/* A login's DPoP key, with the refresh token's lifetime; a login without
 * one removes the key of the session it replaces (its new tokens are
 * not bound to it). */
static fhirauth_rc
save_dpop(fhirauth *h, unsigned timeout, struct save_state *st)
{
    if (h->dpop == NULL)
        return fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP,
                            &h->err);
    return store_key(h, FA_KEY_DPOP, h->dpop->key, h->dpop->keylen, timeout,
                     &st->room);
}

/* The metadata, when asked to (write) or when the answer changed it; a
 * refresh keeps the stored one when the new one does not fit. */
static fhirauth_rc
save_meta(fhirauth *h, const struct fa_token_response *r, struct fa_meta *meta,
          int write, struct save_state *st)
{
    char *json = NULL;
    int changed;
    fhirauth_rc rc;

    changed = fa_meta_merge_response(meta, r);
    if (changed < 0)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    if (!write && !changed)
        return FHIRAUTH_OK;
    rc = fa_meta_encode(meta, &json);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = store_key(h, FA_KEY_META, json, strlen(json), 0, &st->room);
    free(json);
    if (rc == FHIRAUTH_ERR_QUOTA && !st->login) {
        /* The stored metadata still serves the session. */
        st->stale_meta = 1;
        rc = FHIRAUTH_OK;
    }
    return rc;
}

/* The access token with its expiry, last: only a cache, so what does
 * not fit is dropped, except by a login with nothing else to keep. */
static fhirauth_rc
save_access(fhirauth *h, const struct fa_token_response *r, long life,
            time_t expiry, struct save_state *st)
{
    char *payload;
    size_t plen;
    fhirauth_rc rc;

    plen = strlen(r->access_token) + 32;
    payload = malloc(plen);
    if (payload == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    if (fa_access_encode_as(payload, plen, expiry, fa_token_is_dpop(r),
                            r->access_token)
        != 0) {
        fa_secret_free_len(payload, plen);
        return fa_fail(&h->err, FHIRAUTH_ERR_INTERNAL,
                       "cannot encode the token");
    }
    /* The kernel drops the key when the token expires. */
    rc = store_key(h, FA_KEY_ACCESS, payload, strlen(payload),
                   life > 0 ? (unsigned) life : 1, &st->room);
    fa_secret_free_len(payload, plen);
    if (rc == FHIRAUTH_ERR_QUOTA && (!st->login || r->refresh_token != NULL)) {
        /* Only a cache: the session is whole without it.  The token
         * cached before this one must not be served after it. */
        if (!st->room)
            (void) fa_ks_shrink(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS,
                                NULL);
        st->uncached = 1;
        rc = FHIRAUTH_OK;
    }
    return rc;
}

/* A saved answer that lost something to the quota: the warning in the
 * detail, with FHIRAUTH_OK. */
static void
save_warning(fhirauth *h, const struct save_state *st)
{
    if (st->lost_refresh)
        fa_warn(&h->err,
                "warning: the new refresh token does not "
                "fit in the user's kernel keyring quota (" QUOTA_SYSCTLS
                "): the session ends when this access token expires; "
                "remove unused keys or raise the limits, then log in again");
    else if (st->uncached)
        fa_warn(&h->err,
                "warning: the access token was not cached: "
                "the user's kernel keyring quota is full (" QUOTA_SYSCTLS
                "); the session is kept, the next call refreshes again");
    else if (st->stale_meta)
        fa_warn(
            &h->err,
            "warning: the session metadata was not "
            "updated: the user's kernel keyring quota is full (" QUOTA_SYSCTLS
            ")");
    else if (st->short_lived)
        fa_warn(&h->err,
                "warning: the kernel timeout of the session's keys could not "
                "be renewed: the session may end before the server's "
                "refresh token does");
}

/* Never half a session: no refresh token without its metadata, no
 * metadata of another session beside it. */
static void
drop_session(fhirauth *h)
{
    (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, NULL);
    (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_META, NULL);
    (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH, NULL);
    (void) fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP, NULL);
}

fhirauth_rc
fa_save_tokens(fhirauth *h, const struct fa_token_response *r,
               struct fa_meta *meta, int flags, time_t now, time_t *ret_expiry,
               int *ret_dropped)
{
    struct save_state st;
    long life = fa_token_lifetime(h, r);
    unsigned refresh_timeout = 0;
    int write_meta = (flags & FA_SAVE_META) != 0;
    time_t expiry = now + life;
    fhirauth_rc rc;

    memset(&st, 0, sizeof(st));
    st.login = (flags & FA_SAVE_LOGIN) != 0;
    if (ret_dropped != NULL)
        *ret_dropped = 0;
    if (r->refresh_expires_in > 0) {
        refresh_timeout = (unsigned) r->refresh_expires_in;
        meta->refresh_expires_at = (long long) now + r->refresh_expires_in;
        write_meta = 1;
    }
    /* A login without a refresh token has dropped the old one already. */
    if (st.login && r->refresh_token == NULL)
        st.wrote = 1;
    if (r->refresh_token != NULL) {
        rc = save_refresh(h, r->refresh_token, refresh_timeout, &st);
        if (rc != FHIRAUTH_OK)
            return rc; /* a login: nothing written yet */
        st.wrote = 1;
    }
    save_lifetimes(h, r, refresh_timeout, &st);
    CRASH_POINT("between-writes");
    /* A login's DPoP key once the old session is being replaced, never
     * before: a login that fails first leaves the old session's key
     * (the old refresh token is bound to it). */
    rc = st.login ? save_dpop(h, refresh_timeout, &st) : FHIRAUTH_OK;
    if (rc == FHIRAUTH_OK)
        rc = save_meta(h, r, meta, write_meta, &st);
    if (rc == FHIRAUTH_OK)
        rc = save_access(h, r, life, expiry, &st);
    if (rc != FHIRAUTH_OK) {
        if (st.login && st.wrote) {
            drop_session(h);
            if (ret_dropped != NULL)
                *ret_dropped = 1;
        }
        return rc;
    }
    if (ret_expiry != NULL)
        *ret_expiry = expiry;
    save_warning(h, &st);
    return FHIRAUTH_OK;
}

/* Read the refresh token and the metadata; LOGIN_NEEDED when absent. */
static fhirauth_rc
read_session(fhirauth *h, char **ret_refresh, size_t *ret_rlen,
             struct fa_meta *meta)
{
    char *data = NULL;
    size_t len = 0;
    fhirauth_rc rc;

    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_META, &data, &len,
                    NULL, &h->err);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_meta_decode(data, len, meta, &h->err);
    fa_secret_free_len(data, len);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH,
                    ret_refresh, ret_rlen, NULL, &h->err);
    /* Without a refresh token the metadata stays filled in, so the
     * caller can tell "no session" from "no refresh token". */
    if (rc != FHIRAUTH_OK && rc != FHIRAUTH_ERR_LOGIN_NEEDED)
        fa_meta_free(meta);
    return rc;
}


/* Did the AS itself end the grant?  Only its invalid_grant answer
 * (RFC 6749 §5.2) removes a session's keys: a local failure (a key that
 * cannot be read, a request not made) leaves everything as it is. */
static int
ended_by_server(fhirauth_rc rc, const char *oauth_error)
{
    return rc == FHIRAUTH_ERR_LOGIN_NEEDED
        && strcmp(oauth_error, "invalid_grant") == 0;
}

/* One refresh grant; the lock is held. */
static fhirauth_rc
refresh_locked(fhirauth *h, char **ret_token, time_t *ret_expiry)
{
    const struct fa_net_ops *ops;
    struct fa_net_ctx ctx;
    struct fa_meta meta;
    struct fa_token_response resp;
    char *refresh = NULL, *again = NULL;
    size_t rlen = 0, alen = 0;
    char oerr[64];
    time_t now;
    fhirauth_rc rc;
    int tries;

    memset(&resp, 0, sizeof(resp));
    memset(&meta, 0, sizeof(meta));
    rc = read_session(h, &refresh, &rlen, &meta);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED && fa_meta_is_service(&meta)) {
        /* The profile was a service profile when this was stored. */
        fa_meta_free(&meta);
        return fa_fail(&h->err, rc,
                       "the session of profile %s is a service session "
                       "(grant = client_credentials), which has no refresh "
                       "token: log in",
                       h->cfg.profile);
    }
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED && meta.ep.token_endpoint != NULL) {
        /* Granted offline_access, the session had a refresh token: the
         * AS ended the session (the token was dropped then), it did not
         * fit in a full keyring quota (see fa_save_tokens()), or it was
         * removed by hand.  Asking for the scope would not help. */
        if (fa_has_word(meta.scope, "offline_access"))
            rc = fa_fail(&h->err, rc,
                         "the cached token expires too soon and the "
                         "session's refresh token is gone (the server ended "
                         "the session, it did not fit in the kernel keyring "
                         "quota, or it was removed): log in again");
        else
            rc = fa_fail(&h->err, rc,
                         "the cached token expires too soon and the "
                         "session has no refresh token (ask for the "
                         "offline_access scope)");
        fa_meta_free(&meta);
        return rc;
    }
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
        return fa_fail(&h->err, rc, "no session for profile %s",
                       h->cfg.profile);
    if (rc != FHIRAUTH_OK)
        return rc;
    if (fa_endpoints_apply_config(&meta.ep, &h->cfg) != 0) {
        rc = fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!fa_meta_matches(&meta, &h->cfg)) {
        rc = fa_fail(&h->err, FHIRAUTH_ERR_LOGIN_NEEDED,
                     "the session was made for another server or client: "
                     "log in again");
        goto out;
    }
    rc = fa_dpop_load(h, &meta);
    if (rc != FHIRAUTH_OK)
        goto out;
    rc = fa_handle_net(h, &ops, &ctx);
    if (rc != FHIRAUTH_OK)
        goto out;
    for (tries = 0; tries < 2; tries++) {
        CRASH_POINT("before-request");
        memset(&resp, 0, sizeof(resp));
        oerr[0] = '\0';
        rc = ops->refresh_grant(&ctx, &meta.ep, refresh, &resp, oerr,
                                sizeof(oerr), &h->err);
        if (!ended_by_server(rc, oerr) || tries > 0)
            break;
        /* invalid_grant: a process on another host or one that ignored
         * the lock may have rotated the token; look once more. */
        if (fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH, &again,
                       &alen, NULL, NULL)
                != FHIRAUTH_OK
            || (alen == rlen && memcmp(again, refresh, rlen) == 0)) {
            fa_secret_free_len(again, alen);
            again = NULL;
            break;
        }
        fa_secret_free_len(refresh, rlen);
        refresh = again;
        rlen = alen;
        again = NULL;
    }
    CRASH_POINT("after-answer");
    now = time(NULL);
    if (ended_by_server(rc, oerr)) {
        /* The AS ended the grant: drop what can no longer be used, so
         * later calls answer at once instead of asking the AS again. */
        fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, NULL);
        fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_REFRESH, NULL);
        fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_DPOP, NULL);
        fa_err_set(&h->err, rc, "the session has ended (%s): log in again",
                   oerr);
        goto out;
    }
    if (rc == FHIRAUTH_ERR_DENIED && oerr[0] == '\0') {
        /* Refused without an OAuth error (an empty body): maybe the grant
         * is over, maybe not; nothing is deleted, and the user is told. */
        char why[FA_DETAIL_MAX];

        if (snprintf(why, sizeof(why), "%s", h->err.msg) < 0)
            why[0] = '\0';
        fa_err_set(&h->err, rc,
                   "%s; the session is kept: log in again if this "
                   "persists",
                   why);
        goto out;
    }
    if (rc != FHIRAUTH_OK)
        goto out;
    fa_err_clear(&h->err);
    /* The server's newest DPoP nonce saves the next refresh a retry. */
    tries = fa_dpop_note_nonce(h, &meta);
    if (tries < 0) {
        rc = fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = fa_save_tokens(h, &resp, &meta, tries > 0 ? FA_SAVE_META : 0, now,
                        ret_expiry, NULL);
    if (rc != FHIRAUTH_OK)
        goto out;
    /* The detail now holds nothing or a warning about the quota. */
    *ret_token = strdup(resp.access_token);
    if (*ret_token == NULL)
        rc = fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    else
        h->token_dpop = fa_token_is_dpop(&resp);
out:
    /* The private key stays in memory for this one call (SECURITY.md). */
    fa_dpop_forget(h);
    fa_token_response_free(&resp);
    fa_secret_free_len(refresh, rlen);
    fa_meta_free(&meta);
    return rc;
}

/* A service profile's new token (service.c), saved as a refresh is; the
 * lock is held. */
static fhirauth_rc
service_locked(fhirauth *h, char **ret_token, time_t *ret_expiry)
{
    struct fa_token_response resp;
    struct fa_meta meta;
    fhirauth_rc rc;
    int fresh = 0;

    rc = fa_service_request(h, &resp, &meta, &fresh);
    if (rc != FHIRAUTH_OK)
        return rc;
    fa_err_clear(&h->err);
    rc = fa_save_tokens(h, &resp, &meta, fresh ? FA_SAVE_META : 0, time(NULL),
                        ret_expiry, NULL);
    /* The detail now holds nothing or a warning about the quota. */
    if (rc == FHIRAUTH_OK && (*ret_token = strdup(resp.access_token)) == NULL)
        rc = fa_fail(&h->err, FHIRAUTH_ERR_NOMEM, "out of memory");
    else if (rc == FHIRAUTH_OK)
        /* Never DPoP-bound (no proof is sent), whatever this handle
         * returned before: fhirauth_token_scheme() says Bearer. */
        h->token_dpop = 0;
    fa_token_response_free(&resp);
    fa_meta_free(&meta);
    return rc;
}

/* Failures after which a cached token, still valid if shorter than asked,
 * beats no token: the AS or the lock may well answer later. */
static int
transient(fhirauth_rc rc)
{
    return rc == FHIRAUTH_ERR_UNREACHABLE || rc == FHIRAUTH_ERR_TLS
        || rc == FHIRAUTH_ERR_PROTOCOL || rc == FHIRAUTH_ERR_MODULE
        || rc == FHIRAUTH_ERR_LOCK;
}

fhirauth_rc
fhirauth_token(fhirauth *h, long min_valid, char **ret_token,
               time_t *ret_expiry)
{
    char *token = NULL;
    time_t now, expiry = 0, cached = 0;
    char saved[FA_DETAIL_MAX];
    struct waiter w;
    fhirauth_rc rc;
    int fd;

    if (h == NULL || ret_token == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    if (min_valid < 0)
        min_valid = h->cfg.min_valid;
    now = time(NULL);
    rc = read_access(h, now, min_valid, &token, &expiry);
    if (rc == FHIRAUTH_OK)
        goto done;
    if (rc != FHIRAUTH_ERR_LOGIN_NEEDED)
        return rc;

    cached = expiry;
    w.h = h;
    w.min_valid = min_valid;
    w.token = NULL;
    w.expiry = 0;
    rc =
        fa_lock_acquire_unless(getuid(), h->cfg.profile, lock_wait_ms(h), NULL,
                               NULL, sibling_refreshed, &w, &fd, &h->err);
    if (rc == FHIRAUTH_OK && fd == -1) {
        /* Refreshed by the process that held the lock. */
        fa_err_clear(&h->err);
        token = w.token;
        expiry = w.expiry;
    } else if (rc == FHIRAUTH_OK) {
        /* Someone may have refreshed while we waited for the lock. */
        fa_err_clear(&h->err);
        rc = read_access(h, time(NULL), min_valid, &token, &expiry);
        if (rc == FHIRAUTH_ERR_LOGIN_NEEDED) {
            cached = expiry;
            /* A service profile has no refresh token: it asks anew. */
            if (h->cfg.grant == FA_GRANT_CLIENT_CREDENTIALS)
                rc = service_locked(h, &token, &expiry);
            else
                rc = refresh_locked(h, &token, &expiry);
        }
        fa_lock_release(fd);
    }
    if (rc != FHIRAUTH_OK && transient(rc) && cached > time(NULL)) {
        /* Nothing is lost while the AS is away: serve the cached token
         * that is still valid, if shorter than asked, with a warning. */
        fa_strlcpy(saved, h->err.msg, sizeof(saved));
        if (read_access(h, time(NULL), 1, &token, &expiry) == FHIRAUTH_OK) {
            fa_warn(&h->err,
                    "warning: could not refresh (%s); "
                    "using the cached token, valid until %lld",
                    saved, (long long) expiry);
            rc = FHIRAUTH_OK;
        } else {
            fa_strlcpy(h->err.msg, saved, sizeof(h->err.msg));
        }
    }
    if (rc != FHIRAUTH_OK)
        return rc;
done:
    *ret_token = token;
    if (ret_expiry != NULL)
        *ret_expiry = expiry;
    return FHIRAUTH_OK;
}

/* Constant-time comparison: the cached token must not leak by timing. */
static int
same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i;
    unsigned char d = 0;

    if (la != lb)
        return 0;
    for (i = 0; i < la; i++)
        d |= (unsigned char) (a[i] ^ b[i]);
    return d == 0;
}

fhirauth_rc
fhirauth_invalidate(fhirauth *h, const char *token)
{
    char *data = NULL;
    size_t len = 0;
    const char *cached;
    time_t expiry;
    fhirauth_rc rc;
    int fd;

    if (h == NULL || token == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    fa_err_clear(&h->err);
    /* Under the lock, so a token refreshed meanwhile is not thrown away. */
    rc = fa_take_lock(h, &fd);
    if (rc != FHIRAUTH_OK)
        return rc;
    rc = fa_ks_read(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS, &data, &len,
                    NULL, &h->err);
    if (rc == FHIRAUTH_OK) {
        if (fa_access_decode(data, &expiry, &cached) == 0
            && same_secret(cached, token))
            rc = fa_ks_unlink(h->cfg.keyring, h->cfg.profile, FA_KEY_ACCESS,
                              &h->err);
        fa_secret_free_len(data, len);
    } else if (rc == FHIRAUTH_ERR_LOGIN_NEEDED) {
        fa_err_clear(&h->err);
        rc = FHIRAUTH_OK; /* nothing cached: nothing to forget */
    }
    fa_lock_release(fd);
    return rc;
}
