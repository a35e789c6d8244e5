/*
 * profiles.c - which profile answers for a URL (the "match" key, read by
 * git-credential-fhir), and a handle's configuration values as text.
 *
 * URLs are parsed by fa_url_parse (url.h), the rules of every URL of the
 * library: a URL git asks about may have any scheme, a user name and a
 * fragment; a match prefix is an http or https URL without a user name,
 * query or fragment.  Nothing is decoded: paths compare byte for byte, except that the hex
 * digits of %XX escapes compare without regard to case.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "handle.h"
#include "url.h"
#include "util.h"

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/*
 * Parse s with fa_url_parse (url.h): a match prefix (FA_URL_MATCH: http or
 * https, no user name, no query or fragment; trailing slashes of its path
 * dropped) or a URL git asks about (FA_URL_LOOKUP).  u->path is NULL when
 * the URL has no path, or only "/".  Returns 0, or -1 with the reason in
 * why.
 */
static int
split_url(const char *s, bool prefix, struct fa_url *u, char *why,
          size_t whylen)
{
    size_t n;

    if (fa_url_parse(s, strlen(s), prefix ? FA_URL_MATCH : FA_URL_LOOKUP, u,
                     why, whylen)
        != 0)
        return -1;
    n = u->path_len;
    if (prefix)
        while (n > 0 && u->path[n - 1] == '/')
            n--;
    if (n == 0 || (n == 1 && u->path[0] == '/')) {
        u->path = NULL;
        n = 0;
    }
    u->path_len = n;
    return 0;
}

/* Does path u start with prefix p at a segment boundary?  The hex digits
 * of %XX escapes compare without case. */
static bool
path_has_prefix(const char *u, size_t ulen, const char *p, size_t plen)
{
    size_t i, esc = 0;

    if (ulen < plen)
        return false;
    for (i = 0; i < plen; i++) {
        if (esc > 0) {
            if (lower(u[i]) != lower(p[i]))
                return false;
            esc--;
        } else {
            if (u[i] != p[i])
                return false;
            if (p[i] == '%')
                esc = 2;
        }
    }
    return ulen == plen || u[plen] == '/';
}

static bool
host_eq(const struct fa_url *a, const struct fa_url *b)
{
    size_t i;

    if (a->host_len != b->host_len)
        return false;
    for (i = 0; i < a->host_len; i++)
        if (lower(a->host[i]) != lower(b->host[i]))
            return false;
    return true;
}

/*
 * How well prefix m covers url u: -1 not at all; 0 m has a path that was
 * not compared (u has none); 1 m has no path; 2 + the length of m's path
 * when u's path starts with it.  Higher is more specific.
 */
static long
match_score(const struct fa_url *m, const struct fa_url *u)
{
    if (strcmp(m->scheme, u->scheme) != 0 || m->port != u->port
        || !host_eq(m, u))
        return -1;
    if (m->path == NULL)
        return 1;
    if (u->path == NULL)
        return 0;
    if (!path_has_prefix(u->path, u->path_len, m->path, m->path_len))
        return -1;
    return 2 + (long) m->path_len;
}

/*
 * The best score of the prefixes in a profile's match value into *ret
 * (-1: none matches).  FHIRAUTH_ERR_CONFIG when one of them is not a valid
 * prefix, FHIRAUTH_ERR_NOMEM; the message in e.
 */
static fhirauth_rc
profile_score(const char *profile, const char *match, const struct fa_url *u,
              long *ret, struct fa_err *e)
{
    struct fa_url m;
    char why[128];
    char *copy, *tok, *next;
    long best = -1, score;
    fhirauth_rc rc = FHIRAUTH_OK;
    unsigned idx = 0;

    *ret = -1;
    if (match == NULL)
        return FHIRAUTH_OK;
    copy = strdup(match);
    if (copy == NULL)
        return fa_nomem(e);
    for (tok = copy; *tok != '\0'; tok = next) {
        size_t n = strcspn(tok, " \t");

        next = tok + n;
        if (*next != '\0')
            *next++ = '\0';
        if (n == 0)
            continue;
        idx++;
        if (split_url(tok, true, &m, why, sizeof(why)) != 0) {
            /* A user part might hold a password: not repeated. */
            if (strchr(tok, '@') != NULL)
                rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                             "profile '%s': match URL %u: %s", profile, idx,
                             why);
            else
                rc = fa_fail(e, FHIRAUTH_ERR_CONFIG,
                             "profile '%s': bad match URL '%s': %s", profile,
                             tok, why);
            break;
        }
        score = match_score(&m, u);
        if (score > best)
            best = score;
    }
    free(copy);
    *ret = best;
    return rc;
}

static fhirauth_rc
set_detail(char **ret_detail, const struct fa_err *e)
{
    if (ret_detail != NULL)
        *ret_detail =
            strdup(e->msg[0] != '\0' ? e->msg : fhirauth_strerror(e->rc));
    return e->rc;
}

fhirauth_rc
fhirauth_profile_for_url(const char *config_file, const char *url,
                         char **ret_profile, char **ret_detail)
{
    struct fa_config_sources src;
    struct fa_profile_list list;
    struct fa_url u;
    struct fa_err e;
    char why[128];
    char *user_file = NULL, *found = NULL;
    const char *best_name = NULL;
    long best = -1, score;
    fhirauth_rc rc = FHIRAUTH_OK;
    size_t i;

    fa_err_clear(&e);
    if (url == NULL || ret_profile == NULL) {
        fa_err_set(&e, FHIRAUTH_ERR_INVALID_ARGUMENT, "no URL given");
        return set_detail(ret_detail, &e);
    }
    /* The URL itself is not repeated: it may carry a password. */
    if (split_url(url, false, &u, why, sizeof(why)) != 0) {
        fa_err_set(&e, FHIRAUTH_ERR_INVALID_ARGUMENT, "bad URL: %s", why);
        return set_detail(ret_detail, &e);
    }

    /* The sources of fhirauth_open_file() / fhirauth_open(). */
    fa_config_sources_for(&src, config_file, 0, &user_file);
    memset(&list, 0, sizeof(list));
    rc = fa_config_profiles(&src, &list, &e);
    free(user_file);
    if (rc != FHIRAUTH_OK)
        return set_detail(ret_detail, &e);

    /* The most specific prefix wins; on a tie the default profile, else
     * the profile that comes first. */
    for (i = 0; i < list.n; i++) {
        rc = profile_score(list.v[i].name, list.v[i].match, &u, &score, &e);
        if (rc != FHIRAUTH_OK)
            break;
        if (score > best
            || (score == best && score >= 0
                && strcmp(list.v[i].name, list.default_profile) == 0)) {
            best = score;
            best_name = list.v[i].name;
        }
    }
    if (rc == FHIRAUTH_OK && best_name != NULL
        && (found = strdup(best_name)) == NULL)
        rc = fa_nomem(&e);
    fa_profile_list_free(&list);
    if (rc != FHIRAUTH_OK)
        return set_detail(ret_detail, &e);
    *ret_profile = found;
    return FHIRAUTH_OK;
}

const char *
fhirauth_option(const fhirauth *h, const char *key)
{
    return h != NULL ? fa_config_text(&h->cfg, key) : NULL;
}
