/* discovery.c - find the authorization server's endpoints: the OpenID
 * Connect document, RFC 8414's as fallback, or a FHIR server's SMART
 * configuration; endpoint overrides from the configuration win.  As root
 * the document comes from the root-side cache (rootcache.h) while the
 * server's cache lifetime lasts; a cached document is parsed and checked
 * exactly like a fetched one, and one that fails is fetched afresh. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "grants.h"
#include "http.h"
#include "oauth.h"
#include "oauth_json.h"
#include "rootcache.h"
#include "url.h"
#include "util.h"

#define OIDC_SUFFIX "/.well-known/openid-configuration"
#define RFC8414_INFIX "/.well-known/oauth-authorization-server"
#define SMART_SUFFIX "/.well-known/smart-configuration"

/* Length of s without its trailing slashes. */
static size_t
trimmed_len(const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

/* base (trailing slashes dropped) + suffix, on the heap. */
static char *
well_known(const char *base, const char *suffix)
{
    struct fa_buf b;
    char *ret;

    fa_buf_init(&b, 8192);
    if (fa_buf_append(&b, base, trimmed_len(base)) != 0
        || fa_buf_append(&b, suffix, strlen(suffix)) != 0) {
        fa_buf_wipe(&b);
        return NULL;
    }
    ret = fa_strdup(b.data);
    fa_buf_wipe(&b);
    return ret;
}

/*
 * RFC 8414 §3.1: the well-known part goes between the host and the path
 * of the issuer, whose terminating "/" is removed:
 * https://as.example/realm -> https://as.example/.well-known/
 * oauth-authorization-server/realm.  The issuer is split by fa_url_parse
 * (url.h), under the rules the configuration checked it with.
 */
static char *
rfc8414_url(const char *issuer)
{
    struct fa_url u;
    struct fa_buf b;
    size_t pathlen;
    char *ret;

    if (fa_url_parse(issuer, strlen(issuer), FA_URL_BASE, &u, NULL, 0) != 0)
        return NULL;
    pathlen = u.path_len;
    while (pathlen > 0 && u.path[pathlen - 1] == '/')
        pathlen--;
    fa_buf_init(&b, 8192);
    if (fa_buf_append(&b, issuer, (size_t) (u.path - issuer)) != 0
        || fa_buf_append(&b, RFC8414_INFIX, strlen(RFC8414_INFIX)) != 0
        || fa_buf_append(&b, u.path, pathlen) != 0) {
        fa_buf_wipe(&b);
        return NULL;
    }
    ret = fa_strdup(b.data);
    fa_buf_wipe(&b);
    return ret;
}

/*
 * The document cached for key (the issuer, or the FHIR base for SMART),
 * parsed and checked as if just fetched: 0 and *ep filled, or -1 (no
 * entry, expired, or it does not pass: then it is fetched and replaced).
 */
static int
cached(const struct fa_net_ctx *ctx, const char *key, const char *issuer,
       struct fa_endpoints *ep)
{
    char *text = NULL;
    size_t len = 0;
    struct fa_err why;
    fhirauth_rc rc;

    if (!fa_rootcache_active(ctx->system_only)
        || fa_rootcache_get(FA_RC_DISCOVERY, key, &text, &len, NULL) != 0)
        return -1;
    rc = fa_parse_discovery(text, len, issuer,
                            ctx->cfg->client_secret_file != NULL, ep, &why);
    free(text);
    if (rc != FHIRAUTH_OK) {
        fa_endpoints_free(ep);
        memset(ep, 0, sizeof(*ep));
        return -1;
    }
    return 0;
}

/*
 * GET one discovery document and parse it.  *status receives the HTTP
 * status (0 when there was no answer) so that the caller can fall back on
 * a 404.  Up to three redirects within url's https origin are followed
 * (fa_http_get_metadata: some servers move the document to a path with a
 * trailing slash); the issuer check applies to what is finally served.
 * A document that passes is kept under key (the issuer or the configured
 * SMART URL, never a redirect's target) in the root-side cache for as
 * long as the server allows.  Messages name the URL: it comes from the
 * configuration and holds no secret.
 */
static fhirauth_rc
fetch(const struct fa_net_ctx *ctx, const char *url, const char *issuer,
      const char *key, struct fa_endpoints *ep, long *status, struct fa_err *e)
{
    struct fa_http_resp resp;
    struct fa_err why;
    fhirauth_rc rc;

    *status = 0;
    rc = fa_http_get_metadata(ctx, url, &resp, e);
    if (rc != FHIRAUTH_OK) {
        fa_http_resp_free(&resp);
        return rc;
    }
    *status = resp.status;
    if (resp.status >= 200 && resp.status <= 299) {
        fa_err_clear(&why);
        rc =
            fa_parse_discovery(resp.body.data, resp.body.len, issuer,
                               ctx->cfg->client_secret_file != NULL, ep, &why);
        if (rc != FHIRAUTH_OK)
            fa_err_set(e, rc, "discovery at %s: %s", url, why.msg);
        else if (fa_rootcache_active(ctx->system_only))
            fa_rootcache_put(FA_RC_DISCOVERY, key, resp.body.data,
                             resp.body.len, resp.lifetime);
    } else if (resp.status >= 500 || resp.status == 429) {
        rc = fa_fail(e, FHIRAUTH_ERR_UNREACHABLE,
                     "discovery at %s: server error HTTP %ld", url,
                     resp.status);
    } else {
        rc = fa_fail(e, FHIRAUTH_ERR_PROTOCOL, "discovery at %s: HTTP %ld",
                     url, resp.status);
    }
    fa_http_resp_free(&resp);
    return rc;
}

/* The OpenID Connect document, then RFC 8414's on a 404. */
static fhirauth_rc
discover_issuer(const struct fa_net_ctx *ctx, struct fa_endpoints *ep,
                struct fa_err *e)
{
    const char *issuer = ctx->cfg->issuer;
    char *url;
    long status;
    fhirauth_rc rc;

    url = well_known(issuer, OIDC_SUFFIX);
    if (url == NULL)
        goto nomem;
    rc = fetch(ctx, url, issuer, issuer, ep, &status, e);
    free(url);
    if (status != 404)
        return rc;
    /* The fallback's outcome is the whole story: no stale 404 message
     * left behind to read as a warning after a success. */
    fa_err_clear(e);
    url = rfc8414_url(issuer);
    if (url == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG, "issuer %s is not a URL",
                       issuer);
    }
    rc = fetch(ctx, url, issuer, issuer, ep, &status, e);
    free(url);
    if (status == 404)
        fa_err_set(e, rc,
                   "no discovery document for issuer %s (HTTP 404 "
                   "for both the OpenID Connect and the RFC 8414 location)",
                   issuer);
    return rc;

nomem:
    return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
}

fhirauth_rc
fa_net_discover(const struct fa_net_ctx *ctx, struct fa_endpoints *ret,
                struct fa_err *e)
{
    const struct fa_config *cfg;
    struct fa_endpoints ep;
    char *url;
    long status;
    fhirauth_rc rc;

    if (ctx == NULL || ctx->cfg == NULL || ret == NULL) {
        return fa_fail(e, FHIRAUTH_ERR_INTERNAL, "discover: missing argument");
    }
    fa_err_clear(e);
    cfg = ctx->cfg;
    memset(&ep, 0, sizeof(ep));
    if (cfg->issuer != NULL) {
        /* Keyed by the issuer, whichever well-known location answered. */
        if (cached(ctx, cfg->issuer, cfg->issuer, &ep) == 0)
            rc = FHIRAUTH_OK;
        else
            rc = discover_issuer(ctx, &ep, e);
    } else if (cfg->token_endpoint != NULL) {
        /* Everything is configured: no request at all.  RFC 8414's default
         * client authentication applies. */
        ep.client_auth =
            cfg->client_secret_file != NULL ? FA_AUTH_BASIC : FA_AUTH_NONE;
        rc = FHIRAUTH_OK;
    } else if (cfg->fhir_base != NULL) {
        /* SMART App Launch 2: the FHIR server names its AS; the document
         * need not carry an issuer, and when it does we take it. */
        url = well_known(cfg->fhir_base, SMART_SUFFIX);
        if (url == NULL) {
            return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
        }
        if (cached(ctx, url, NULL, &ep) == 0)
            rc = FHIRAUTH_OK;
        else
            rc = fetch(ctx, url, NULL, url, &ep, &status, e);
        free(url);
    } else {
        return fa_fail(e, FHIRAUTH_ERR_CONFIG,
                       "no issuer, fhir_base or token_endpoint "
                       "configured");
    }
    if (rc != FHIRAUTH_OK)
        return rc;

    if (fa_endpoints_apply_config(&ep, cfg) != 0) {
        fa_endpoints_free(&ep);
        return fa_fail(e, FHIRAUTH_ERR_NOMEM, "out of memory");
    }
    if (ep.token_endpoint == NULL) {
        fa_endpoints_free(&ep);
        return fa_fail(
            e, FHIRAUTH_ERR_PROTOCOL,
            "the discovery document names no "
            "token_endpoint (set token_endpoint in the configuration)");
    }
    *ret = ep;
    return FHIRAUTH_OK;
}
