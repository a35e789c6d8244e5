/*
 * fhirauth-curl.h - bearer tokens from libfhirauth on libcurl easy handles:
 * the prepare / should-retry pair.
 *
 *     fhirauth_curl_state st = FHIRAUTH_CURL_STATE_INIT;
 *
 *     rc = fhirauth_curl_prepare(h, curl, &st);      // before each request
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
 * Rules, as for the rest of the API:
 *  - One fhirauth handle, one CURL handle and one state are used by one
 *    thread at a time.
 *  - The helpers set CURLOPT_XOAUTH2_BEARER and CURLOPT_HTTPAUTH
 *    (CURLAUTH_BEARER) and nothing else: the caller's CURLOPT_HTTPHEADER
 *    is left alone.  Do not put an Authorization header there as well.
 *  - libcurl keeps its own copy of the token, which it frees without
 *    wiping it, until the handle is cleaned up or the option is reset with
 *    curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, NULL).
 */
#ifndef FHIRAUTH_CURL_H
#define FHIRAUTH_CURL_H

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
} fhirauth_curl_state;

#define FHIRAUTH_CURL_STATE_INIT \
 {                               \
  NULL, 0                        \
 }

static inline void
fhirauth_curl_state_init(fhirauth_curl_state *st)
{
    if (st == NULL)
        return;
    st->token = NULL;
    st->retried = 0;
}

/* Wipe and free the token the state holds; the state can be used again.
 * NULL is accepted. */
static inline void
fhirauth_curl_state_free(fhirauth_curl_state *st)
{
    if (st == NULL)
        return;
    fhirauth_free_secret(st->token);
    st->token = NULL;
    st->retried = 0;
}

/* Not part of the API: get a token and set it on the handle; the state
 * keeps it.  On failure the state keeps its old token. */
static inline fhirauth_rc
fhirauth_curl_priv_set(fhirauth *h, CURL *curl, fhirauth_curl_state *st)
{
    char *token = NULL;
    fhirauth_rc rc;
    CURLcode cc;

    rc = fhirauth_token(h, -1, &token, NULL);
    if (rc != FHIRAUTH_OK)
        return rc;
    cc = curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, token);
    if (cc != CURLE_OK) {
        fhirauth_free_secret(token);
        return cc == CURLE_OUT_OF_MEMORY ? FHIRAUTH_ERR_NOMEM
                                         : FHIRAUTH_ERR_MODULE;
    }
    fhirauth_free_secret(st->token);
    st->token = token;
    return FHIRAUTH_OK;
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
    return fhirauth_curl_priv_set(h, curl, st);
}

/* Not part of the API: does the last response carry a WWW-Authenticate
 * Bearer challenge that a new token may answer, or none at all?  RFC 9110
 * requires one with every 401, but some proxies (the SMART reference
 * launcher's) send none: a token they refuse is worth one retry too.  Only
 * challenges of other schemes, insufficient_scope and invalid_request
 * rule it out. */
static inline int
fhirauth_curl_priv_challenged(CURL *curl)
{
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM >= 0x075300
    struct curl_header *hd = NULL;
    size_t i, amount = 1;
    CURLHcode hc;

    /* Each WWW-Authenticate field of the final response, at most 32. */
    for (i = 0; i < amount && i < 32; i++) {
        hc = curl_easy_header(curl, "WWW-Authenticate", i, CURLH_HEADER, -1,
                              &hd);
        if (hc == CURLHE_NOT_BUILT_IN)
            return 1; /* cannot tell: one retry is the bounded cost */
        if (hc == CURLHE_MISSING && i == 0)
            return 1; /* no challenge at all */
        if (hc != CURLHE_OK || hd == NULL)
            return 0;
        amount = hd->amount;
        if (fhirauth_bearer_challenge_retry(hd->value))
            return 1;
    }
    return 0;
#else
    /* libcurl before 7.83 cannot show the response's headers here: any
     * 401 is worth one retry. */
    (void) curl;
    return 1;
#endif
}

/*
 * After curl_easy_perform() returned CURLE_OK: 1 when the caller should
 * reset its response buffers (and rewind its upload, if it can replay it)
 * and perform the same request once more; 0 when the response stands.
 *
 * 1 only when the status is 401, the response's WWW-Authenticate is a
 * Bearer challenge a new token may answer (see
 * fhirauth_bearer_challenge_retry()) or the response has none, and this
 * request was not retried yet.  Then the token in st is invalidated (fhirauth_invalidate(): only
 * if it is still the cached one), a new one is obtained (refreshed once
 * across every process of the user) and set on curl, and st->retried
 * becomes 1.
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
    char *old;
    int same;

    if (h == NULL || curl == NULL || st == NULL || st->token == NULL
        || st->retried)
        return 0;
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK
        || status != 401 || !fhirauth_curl_priv_challenged(curl))
        return 0;
    st->retried = 1;
    if (fhirauth_invalidate(h, st->token) != FHIRAUTH_OK)
        return 0;
    old = st->token;
    st->token = NULL;
    if (fhirauth_curl_priv_set(h, curl, st) != FHIRAUTH_OK) {
        st->token = old;
        return 0;
    }
    same = strcmp(old, st->token) == 0;
    fhirauth_free_secret(old);
    return !same;
}

#ifdef __cplusplus
}
#endif

#endif /* FHIRAUTH_CURL_H */
