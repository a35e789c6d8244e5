/*
 * fhirauth-curl.h - bearer tokens from libfhirauth on libcurl easy handles:
 * the prepare / should-retry pair.
 *
 *     fhirauth_curl_state st = FHIRAUTH_CURL_STATE_INIT;
 *
 *     rc = fhirauth_curl_prepare_request(h, curl, &st, "GET", url,
 *                                        my_headers); // before each request
 *     ...
 *     do {
 *         reset the response buffers (and the upload, if any);
 *         cc = curl_easy_perform(curl);
 *     } while (cc == CURLE_OK && fhirauth_curl_should_retry(h, curl, &st));
 *     ...
 *     fhirauth_curl_state_free(&st);
 *
 * Everything here is static inline and compiled into the caller, which
 * links libcurl anyway: libfhirauth itself does not link libcurl (a
 * program whose token is cached never loads it).  Only functions of
 * fhirauth.h and curl_easy_setopt(), curl_easy_getinfo() and
 * curl_easy_header() (libcurl 7.83 or later) are used.
 *
 * Two ways to prepare a request:
 *  - fhirauth_curl_prepare_request() knows the request (method, URL, the
 *    caller's header list) and serves both kinds of session: a bearer
 *    token as below, and a DPoP-bound token (RFC 9449, dpop = yes) as
 *    "Authorization: DPoP TOKEN" with a "DPoP: PROOF" made for that
 *    method and URL.  Those two go on a header list of the state's own:
 *    the caller's headers, copied, then ours, set as CURLOPT_HTTPHEADER.
 *    Pass your header list here instead of setting it on curl yourself.
 *  - fhirauth_curl_prepare(), the first form, knows only the handle, and
 *    a proof is made for one method and URL: for a DPoP-bound session it
 *    fails with FHIRAUTH_ERR_DPOP_BOUND.  Programs built against it keep
 *    working for bearer sessions.
 *
 * Rules, as for the rest of the API:
 *  - One fhirauth handle, one CURL handle and one state are used by one
 *    thread at a time.
 *  - For a bearer token the helpers set CURLOPT_XOAUTH2_BEARER and
 *    CURLOPT_HTTPAUTH (CURLAUTH_BEARER); fhirauth_curl_prepare() sets
 *    nothing else, and fhirauth_curl_prepare_request() sets
 *    CURLOPT_HTTPHEADER to the caller's list.  Do not put an Authorization
 *    header among your own headers.
 *  - libcurl keeps its own copy of a bearer token, which it frees without
 *    wiping it, until the handle is cleaned up or the option is reset with
 *    curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, NULL).  A DPoP
 *    request's header list is the state's, which libcurl uses in place:
 *    free the state (which wipes it) only after curl_easy_cleanup() or
 *    after resetting CURLOPT_HTTPHEADER.
 *  - Do not let libcurl follow redirects (CURLOPT_FOLLOWLOCATION) on a
 *    DPoP-bound request: its proof names the one method and URL and is
 *    refused anywhere else, and libcurl sends the DPoP header along to
 *    the redirect's target.  A DPoP-Nonce is kept for the server that
 *    sent it (CURLINFO_EFFECTIVE_URL).
 */
#ifndef FHIRAUTH_CURL_H
#define FHIRAUTH_CURL_H

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fhirauth.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What the pair remembers between prepare and should-retry: the token set
 * on the handle (for compare-and-invalidate after a 401) and whether the
 * request was already retried.  Owned by the caller; initialise it with
 * FHIRAUTH_CURL_STATE_INIT or fhirauth_curl_state_init(), release what it
 * holds with fhirauth_curl_state_free().  The caller may read `retried`;
 * the members are otherwise the helpers' own.
 */
typedef struct fhirauth_curl_state {
    char *token; /* the token set on the handle; a secret */
    int retried; /* 1 once should_retry handled a 401 of this request,
                      * whether or not it could ask for a retry */
    /* fhirauth_curl_prepare_request() only: */
    char *method, *url;              /* the request's */
    const struct curl_slist *caller; /* the caller's headers (borrowed) */
    struct curl_slist *headers;      /* theirs and ours: holds secrets */
    int dpop;                        /* the token is DPoP-bound */
    int nonce_retried;               /* answered one use_dpop_nonce */
} fhirauth_curl_state;

#define FHIRAUTH_CURL_STATE_INIT        \
 {                                      \
  NULL, 0, NULL, NULL, NULL, NULL, 0, 0 \
 }

static inline void
fhirauth_curl_state_init(fhirauth_curl_state *st)
{
    if (st == NULL)
        return;
    memset(st, 0, sizeof(*st));
}

/* Not part of the API: strdup(), which strict C11 lacks. */
static inline char *
fhirauth_curl_priv_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *) malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Not part of the API: wipe a string of ours (explicit_bzero is not
 * in every caller's feature set). */
static inline void
fhirauth_curl_priv_wipe(char *s)
{
    volatile char *c;

    for (c = s; c != NULL && *c != '\0'; c++)
        *c = '\0';
}

/* Not part of the API: wipe and free a header list we made. */
static inline void
fhirauth_curl_priv_free_list(struct curl_slist *l)
{
    struct curl_slist *p;

    for (p = l; p != NULL; p = p->next)
        fhirauth_curl_priv_wipe(p->data);
    curl_slist_free_all(l);
}

/* Wipe and free what the state holds; the state can be used again.
 * NULL is accepted. */
static inline void
fhirauth_curl_state_free(fhirauth_curl_state *st)
{
    if (st == NULL)
        return;
    fhirauth_free_secret(st->token);
    fhirauth_curl_priv_free_list(st->headers);
    free(st->method);
    free(st->url);
    memset(st, 0, sizeof(*st));
}

static inline fhirauth_rc
fhirauth_curl_priv_cc(CURLcode cc)
{
    if (cc == CURLE_OK)
        return FHIRAUTH_OK;
    return cc == CURLE_OUT_OF_MEMORY ? FHIRAUTH_ERR_NOMEM
                                     : FHIRAUTH_ERR_MODULE;
}

/* Not part of the API: a copy of the caller's headers with "NAME VALUE"
 * lines for the DPoP scheme's token and proof appended. */
static inline fhirauth_rc
fhirauth_curl_priv_dpop_list(const fhirauth_curl_state *st, const char *token,
                             const char *proof, struct curl_slist **ret)
{
    static const char auth[] = "Authorization: DPoP ", dpop[] = "DPoP: ";
    const struct curl_slist *p;
    struct curl_slist *l = NULL, *n;
    size_t tl = strlen(token), pl = strlen(proof);
    char *line;
    int i;

    for (p = st->caller; p != NULL; p = p->next) {
        n = curl_slist_append(l, p->data);
        if (n == NULL)
            goto nomem;
        l = n;
    }
    for (i = 0; i < 2; i++) {
        const char *name = i == 0 ? auth : dpop, *v = i == 0 ? token : proof;
        size_t nl = strlen(name), vl = i == 0 ? tl : pl;

        line = (char *) malloc(nl + vl + 1);
        if (line == NULL)
            goto nomem;
        memcpy(line, name, nl);
        memcpy(line + nl, v, vl + 1);
        n = curl_slist_append(l, line);
        fhirauth_curl_priv_wipe(line);
        free(line);
        if (n == NULL)
            goto nomem;
        l = n;
    }
    *ret = l;
    return FHIRAUTH_OK;
nomem:
    fhirauth_curl_priv_free_list(l);
    return FHIRAUTH_ERR_NOMEM;
}

/* Not part of the API: put token on curl.  A bearer token as libcurl's
 * bearer; a DPoP-bound one with a new proof for st's request, on a new
 * header list.  The state then keeps the token.  On failure the state
 * and curl keep what they had. */
static inline fhirauth_rc
fhirauth_curl_priv_apply(fhirauth *h, CURL *curl, fhirauth_curl_state *st,
                         char *token, int dpop)
{
    struct curl_slist *list = NULL;
    char *proof = NULL;
    fhirauth_rc rc;

    if (!dpop) {
        rc = fhirauth_curl_priv_cc(
            curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER));
        if (rc == FHIRAUTH_OK)
            rc = fhirauth_curl_priv_cc(
                curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, token));
        if (rc == FHIRAUTH_OK && st->url != NULL)
            rc = fhirauth_curl_priv_cc(
                curl_easy_setopt(curl, CURLOPT_HTTPHEADER, st->caller));
        if (rc == FHIRAUTH_OK && st->url != NULL) {
            fhirauth_curl_priv_free_list(st->headers);
            st->headers = NULL;
        }
    } else {
        rc = fhirauth_dpop_proof(h, token, st->method, st->url, &proof);
        if (rc == FHIRAUTH_OK)
            rc = fhirauth_curl_priv_dpop_list(st, token, proof, &list);
        fhirauth_free_secret(proof);
        if (rc == FHIRAUTH_OK)
            rc = fhirauth_curl_priv_cc(
                curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list));
        if (rc == FHIRAUTH_OK)
            (void) curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, NULL);
        if (rc != FHIRAUTH_OK) {
            fhirauth_curl_priv_free_list(list);
        } else {
            fhirauth_curl_priv_free_list(st->headers);
            st->headers = list;
        }
    }
    if (rc != FHIRAUTH_OK)
        return rc;
    if (st->token != token) {
        fhirauth_free_secret(st->token);
        st->token = token;
    }
    st->dpop = dpop;
    return FHIRAUTH_OK;
}

/* Not part of the API: get a token and set it on the handle; the state
 * keeps it.  On failure the state keeps its old token.  A DPoP-bound
 * token needs the request st knows (fhirauth_curl_prepare_request()). */
static inline fhirauth_rc
fhirauth_curl_priv_set(fhirauth *h, CURL *curl, fhirauth_curl_state *st)
{
    char *token = NULL;
    fhirauth_rc rc;
    int dpop;

    rc = fhirauth_token(h, -1, &token, NULL);
    if (rc != FHIRAUTH_OK)
        return rc;
    dpop = strcmp(fhirauth_token_scheme(h), "DPoP") == 0;
    if (dpop && st->url == NULL)
        rc = FHIRAUTH_ERR_DPOP_BOUND;
    else
        rc = fhirauth_curl_priv_apply(h, curl, st, token, dpop);
    if (rc != FHIRAUTH_OK)
        fhirauth_free_secret(token);
    return rc;
}

/*
 * Before each request: an access token valid for at least the configured
 * min_valid seconds (fhirauth_token()), set on curl as its bearer token,
 * and kept in st.  Starts a new request: st->retried goes back to 0.
 * Returns fhirauth_token()'s result (FHIRAUTH_OK may come with a warning
 * in fhirauth_detail(h)); FHIRAUTH_ERR_NOMEM or FHIRAUTH_ERR_MODULE when
 * libcurl refuses an option; FHIRAUTH_ERR_INVALID_ARGUMENT for a NULL
 * argument.  On failure st keeps its old token and curl its old bearer
 * token: do not perform the request.
 */
static inline fhirauth_rc
fhirauth_curl_prepare(fhirauth *h, CURL *curl, fhirauth_curl_state *st)
{
    if (h == NULL || curl == NULL || st == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    st->retried = 0;
    st->nonce_retried = 0;
    free(st->method);
    free(st->url);
    st->method = st->url = NULL;
    st->caller = NULL;
    return fhirauth_curl_priv_set(h, curl, st);
}

/*
 * Before each request, knowing the request: as fhirauth_curl_prepare(),
 * for the request method (as sent: "GET", "POST", ...) of url (the URL
 * set with CURLOPT_URL), with the caller's header list headers (may be
 * NULL), which must live until the request is done.  A bearer token is
 * set as by fhirauth_curl_prepare() and headers becomes curl's
 * CURLOPT_HTTPHEADER.  A DPoP-bound token goes with a proof for method
 * and url (fhirauth_dpop_proof()) in a copy of headers with
 * "Authorization: DPoP TOKEN" and "DPoP: PROOF" appended, which the state
 * owns and sets as CURLOPT_HTTPHEADER.  Returns as fhirauth_curl_prepare(),
 * and fhirauth_dpop_proof()'s failures.
 */
static inline fhirauth_rc
fhirauth_curl_prepare_request(fhirauth *h, CURL *curl, fhirauth_curl_state *st,
                              const char *method, const char *url,
                              const struct curl_slist *headers)
{
    char *m, *u;

    if (h == NULL || curl == NULL || st == NULL || method == NULL
        || url == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    m = fhirauth_curl_priv_strdup(method);
    u = fhirauth_curl_priv_strdup(url);
    if (m == NULL || u == NULL) {
        free(m);
        free(u);
        return FHIRAUTH_ERR_NOMEM;
    }
    free(st->method);
    free(st->url);
    st->method = m;
    st->url = u;
    st->caller = headers;
    st->retried = 0;
    st->nonce_retried = 0;
    return fhirauth_curl_priv_set(h, curl, st);
}

/* Not part of the API: what the last response's WWW-Authenticate fields
 * ask of a bearer token (*bearer: a Bearer challenge a new token may
 * answer, or none at all) and of a DPoP-bound one (*dpop: the most
 * specific DPoP challenge, enum fhirauth_dpop_challenge; none at all
 * counts as FHIRAUTH_DPOP_RETRY).  RFC 9110 requires a challenge with
 * every 401, but some proxies (the SMART reference launcher's) send none:
 * a token they refuse is worth one retry too. */
static inline void
fhirauth_curl_priv_challenges(CURL *curl, int *bearer, int *dpop)
{
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM >= 0x075300
    struct curl_header *hd = NULL;
    size_t i, amount = 1;
    CURLHcode hc;
    int d;

    *bearer = 0;
    *dpop = FHIRAUTH_DPOP_NONE;
    /* Each WWW-Authenticate field of the final response, at most 32. */
    for (i = 0; i < amount && i < 32; i++) {
        hc = curl_easy_header(curl, "WWW-Authenticate", i, CURLH_HEADER, -1,
                              &hd);
        if (hc == CURLHE_NOT_BUILT_IN || (hc == CURLHE_MISSING && i == 0)) {
            /* cannot tell, or no challenge at all: one retry is the
             * bounded cost */
            *bearer = 1;
            *dpop = FHIRAUTH_DPOP_RETRY;
            return;
        }
        if (hc != CURLHE_OK || hd == NULL)
            return;
        amount = hd->amount;
        if (fhirauth_bearer_challenge_retry(hd->value))
            *bearer = 1;
        d = fhirauth_dpop_challenge(hd->value);
        if (d != FHIRAUTH_DPOP_NONE
            && (*dpop == FHIRAUTH_DPOP_NONE || d < *dpop))
            *dpop = d;
    }
#else
    /* libcurl before 7.83 cannot show the response's headers here: any
     * 401 is worth one retry. */
    (void) curl;
    *bearer = 1;
    *dpop = FHIRAUTH_DPOP_RETRY;
#endif
}

/* Not part of the API: keep the last response's DPoP-Nonce for the
 * server that sent it (fhirauth_dpop_nonce()): the effective URL's, which
 * is st's URL unless the caller let libcurl follow a redirect; 1 when one
 * came and was kept. */
static inline int
fhirauth_curl_priv_nonce(fhirauth *h, CURL *curl, fhirauth_curl_state *st)
{
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM >= 0x075300
    struct curl_header *hd = NULL;
    char *from = NULL;

    if (curl_easy_header(curl, "DPoP-Nonce", 0, CURLH_HEADER, -1, &hd)
            != CURLHE_OK
        || hd == NULL)
        return 0;
    if (curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &from) != CURLE_OK
        || from == NULL)
        from = st->url;
    return fhirauth_dpop_nonce(h, from, hd->value) == FHIRAUTH_OK;
#else
    (void) h;
    (void) curl;
    (void) st;
    return 0;
#endif
}

/*
 * After curl_easy_perform() returned CURLE_OK: 1 when the caller should
 * reset its response buffers (and rewind its upload, if it can replay it)
 * and perform the same request once more; 0 when the response stands.
 *
 * A bearer token: 1 only when the status is 401, the response's
 * WWW-Authenticate is a Bearer challenge a new token may answer (see
 * fhirauth_bearer_challenge_retry()) or the response has none, and this
 * request was not retried yet.  Then the token in st is invalidated
 * (fhirauth_invalidate(): only if it is still the cached one), a new one
 * is obtained (refreshed once across every process of the user) and set
 * on curl, and st->retried becomes 1.
 *
 * A DPoP-bound token (fhirauth_curl_prepare_request()): a DPoP-Nonce in
 * any answer is kept for the server (fhirauth_dpop_nonce()).  A 401 with
 * `DPoP error="use_dpop_nonce"` and a new nonce is answered once with the
 * same token and a proof carrying the nonce, no refresh
 * (st->nonce_retried becomes 1); a 401 with invalid_dpop_proof once
 * with the same token and a fresh proof, no refresh; a 401 with a DPoP
 * challenge without error, with invalid_token, or with none at all, once
 * as for a bearer token, with a new proof.  st->retried becomes 1 for
 * either of the last two.
 *
 * When invalidating or refreshing fails (the session has ended, the
 * authorization server is unreachable, ...), or the new token is the
 * rejected one again, the answer is 0: the 401 stands, the reason is left
 * in fhirauth_detail(h) (empty when the same token came back), and curl
 * keeps the rejected token.
 */
static inline int
fhirauth_curl_should_retry(fhirauth *h, CURL *curl, fhirauth_curl_state *st)
{
    long status = 0;
    char *token;
    int same, new_dpop, bearer = 0, dpop = FHIRAUTH_DPOP_NONE, nonce = 0;

    if (h == NULL || curl == NULL || st == NULL || st->token == NULL)
        return 0;
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        return 0;
    if (st->dpop)
        nonce = fhirauth_curl_priv_nonce(h, curl, st);
    if (status != 401)
        return 0;
    fhirauth_curl_priv_challenges(curl, &bearer, &dpop);
    if (st->dpop && dpop == FHIRAUTH_DPOP_USE_NONCE) {
        if (!nonce || st->nonce_retried)
            return 0;
        st->nonce_retried = 1;
        return fhirauth_curl_priv_apply(h, curl, st, st->token, 1)
            == FHIRAUTH_OK;
    }
    if (st->retried || (st->dpop ? dpop == FHIRAUTH_DPOP_NONE : !bearer))
        return 0;
    st->retried = 1;
    if (st->dpop && dpop == FHIRAUTH_DPOP_INVALID_PROOF)
        /* The proof was refused, not the token (RFC 9449 §7.1): a new
         * token would not help; a fresh proof (its jti, iat) may. */
        return fhirauth_curl_priv_apply(h, curl, st, st->token, 1)
            == FHIRAUTH_OK;
    if (fhirauth_invalidate(h, st->token) != FHIRAUTH_OK)
        return 0;
    if (fhirauth_token(h, -1, &token, NULL) != FHIRAUTH_OK)
        return 0;
    same = strcmp(token, st->token) == 0;
    if (same) {
        fhirauth_free_secret(token);
        return 0;
    }
    /* The state's old token goes once the new one is set. */
    new_dpop = strcmp(fhirauth_token_scheme(h), "DPoP") == 0;
    if ((new_dpop && st->url == NULL)
        || fhirauth_curl_priv_apply(h, curl, st, token, new_dpop)
            != FHIRAUTH_OK) {
        fhirauth_free_secret(token);
        return 0;
    }
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* FHIRAUTH_CURL_H */
