/*
 * token-client.c - fetch a FHIR resource with an access token from the
 * kernel keyring: libfhirauth for the token, libcurl for the request.
 *
 *   cc -o token-client token-client.c \
 *       $(pkg-config --cflags --libs fhirauth libcurl)
 *   ./token-client https://fhir.example.org/r4/metadata [PROFILE]
 *
 * This program shows the two calls underneath the libcurl helpers, as a
 * program that does its own HTTP would use them; with libcurl, the
 * prepare / should-retry pair of <fhirauth-curl.h> does all of this (see
 * fhir-get.c).
 *
 * Log in first (fhir-token login).  The token is handed to
 * libcurl with CURLOPT_XOAUTH2_BEARER and CURLAUTH_BEARER, which leaves the
 * program's own CURLOPT_HTTPHEADER list alone.  When the resource server
 * answers 401 with a WWW-Authenticate Bearer challenge that a new token
 * may answer (fhirauth_bearer_challenge_retry(): no error, or
 * error="invalid_token"), the program tells libfhirauth to forget that token
 * (fhirauth_invalidate() only drops it if it is still the cached one),
 * asks for a fresh one and tries once more.  A GET can always be replayed;
 * a program that uploads a body must decide itself whether it can send it
 * again.
 *
 * The response body is collected in memory and printed only for the final
 * answer, so a rejected first attempt leaves nothing on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <fhirauth.h>

#define BODY_MAX (16L * 1024 * 1024) /* refuse larger answers */

struct body {
    char *data;
    size_t len;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    char *p;

    if (n > (size_t) BODY_MAX - b->len)
        return 0; /* libcurl reports CURLE_WRITE_ERROR */
    p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

/* Does the last response's WWW-Authenticate ask for a new token? */
static int
new_token_may_help(CURL *curl)
{
    struct curl_header *hd;
    size_t i, amount = 1;

    for (i = 0; i < amount; i++) {
        if (curl_easy_header(curl, "WWW-Authenticate", i, CURLH_HEADER, -1,
                             &hd)
            != CURLHE_OK)
            return 0;
        amount = hd->amount;
        if (fhirauth_bearer_challenge_retry(hd->value))
            return 1;
    }
    return 0;
}

/* One GET with token as the bearer token; *ret_status is the HTTP status. */
static CURLcode
get(CURL *curl, const char *url, const char *token, struct body *b,
    long *ret_status)
{
    CURLcode cc;

    b->len = 0;
    if ((cc = curl_easy_setopt(curl, CURLOPT_URL, url)) != CURLE_OK
        || (cc = curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, token))
            != CURLE_OK
        || (cc = curl_easy_setopt(curl, CURLOPT_HTTPAUTH,
                                  (long) CURLAUTH_BEARER))
            != CURLE_OK)
        return cc;
    cc = curl_easy_perform(curl);
    /* libcurl keeps its own copy of the token (and does not wipe it):
     * release that copy now rather than at curl_easy_cleanup(). */
    (void) curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, NULL);
    if (cc == CURLE_OK)
        cc = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, ret_status);
    return cc;
}

int
main(int argc, char **argv)
{
    const char *url, *profile;
    char *detail = NULL, *token = NULL;
    fhirauth *h = NULL;
    fhirauth_rc rc;
    struct curl_slist *headers = NULL;
    struct body b = { NULL, 0 };
    CURL *curl = NULL;
    CURLcode cc;
    long status = 0;
    int attempt, ret = 1;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s URL [PROFILE]\n", argv[0]);
        return 2;
    }
    url = argv[1];
    profile = argc == 3 ? argv[2] : NULL; /* NULL: the default profile */

    rc = fhirauth_open(&h, profile, 0, &detail);
    if (rc != FHIRAUTH_OK) {
        fprintf(stderr, "token-client: %s\n",
                detail != NULL ? detail : fhirauth_strerror(rc));
        fhirauth_free_string(detail);
        return 1;
    }

    /* libfhirauth's network half initialises libcurl too and never
     * cleans it up globally; neither does this program. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || (curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "token-client: cannot initialise libcurl\n");
        goto out;
    }
    headers = curl_slist_append(NULL, "Accept: application/fhir+json");
    if (headers == NULL
        || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L) != CURLE_OK) {
        fprintf(stderr, "token-client: cannot set up the request\n");
        goto out;
    }

    for (attempt = 0; attempt < 2; attempt++) {
        /* -1: valid for at least the configured min_valid seconds. */
        rc = fhirauth_token(h, -1, &token, NULL);
        if (rc != FHIRAUTH_OK) {
            fprintf(stderr, "token-client: no token: %s\n",
                    fhirauth_detail(h)[0] != '\0' ? fhirauth_detail(h)
                                                  : fhirauth_strerror(rc));
            goto out;
        }
        /* After FHIRAUTH_OK the detail is a warning, or empty. */
        if (fhirauth_detail(h)[0] != '\0')
            fprintf(stderr, "token-client: %s\n", fhirauth_detail(h));

        cc = get(curl, url, token, &b, &status);
        if (cc != CURLE_OK) {
            fprintf(stderr, "token-client: %s: %s\n", url,
                    curl_easy_strerror(cc));
            goto out;
        }
        if (status != 401 || !new_token_may_help(curl))
            break;
        /* Rejected: forget this token (only if it is still the cached
         * one), so the next fhirauth_token() gets a fresh one. */
        rc = fhirauth_invalidate(h, token);
        fhirauth_free_secret(token);
        token = NULL;
        if (rc != FHIRAUTH_OK) {
            fprintf(stderr, "token-client: %s\n", fhirauth_strerror(rc));
            goto out;
        }
    }

    if (b.len > 0)
        fwrite(b.data, 1, b.len, stdout);
    if (status >= 200 && status <= 299) {
        ret = 0;
    } else {
        fprintf(stderr, "token-client: %s: HTTP %ld\n", url, status);
    }

out:
    fhirauth_free_secret(token);
    free(b.data);
    curl_slist_free_all(headers);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    fhirauth_close(h);
    return ret;
}
