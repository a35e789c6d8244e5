/* url.h - the one URL parser: which URLs the library accepts, wherever
 * they come from (configuration keys and module arguments, discovery
 * documents, device authorization answers, match prefixes and the URLs
 * git asks about).  The rules are pam_fhir.conf(5)'s "URL" value type;
 * a caller that legitimately needs a variant passes a flag.  libc only:
 * both halves of the library link it. */
#ifndef FHIRAUTH_URL_H
#define FHIRAUTH_URL_H

#include <stdbool.h>
#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Longer URLs are refused (a configuration line is shorter still). */
#define FA_URL_MAX 8192
/* RFC 1035's limit on a host name (an IPv6 literal is shorter). */
#define FA_URL_HOST_MAX 255

/* Variants of the rules.  Without any flag: an https URL with a host, an
 * optional port (1 to 65535), path and query; no user name or password,
 * no fragment. */
enum fa_url_flag {
    FA_URL_HTTP = 1 << 0,       /* http:// as well as https:// */
    FA_URL_ANY_SCHEME = 1 << 1, /* any scheme at all */
    FA_URL_USERINFO = 1 << 2,   /* user[:password]@ before the host */
    FA_URL_FRAGMENT = 1 << 3,   /* a #fragment at the end */
    FA_URL_NO_QUERY = 1 << 4    /* no ?query */
};

/* Endpoints we send requests to (configured or discovered) and the device
 * grant's verification URIs (RFC 6749 §3.1, §3.2: a query is allowed, a
 * fragment is not; userinfo would become Basic credentials in libcurl). */
#define FA_URL_ENDPOINT 0u
/* issuer and fhir_base: well-known suffixes are appended to them; an
 * issuer has no query and no fragment (RFC 8414 §2, OpenID Connect Core
 * §1.2).  A trailing slash stays: it makes another issuer. */
#define FA_URL_BASE ((unsigned) FA_URL_NO_QUERY)
/* A match prefix (git-credential-fhir(1)): http too, no query. */
#define FA_URL_MATCH ((unsigned) (FA_URL_HTTP | FA_URL_NO_QUERY))
/* A URL git asks about: any scheme (it simply matches no prefix), a
 * user name, a fragment. */
#define FA_URL_LOOKUP \
 ((unsigned) (FA_URL_ANY_SCHEME | FA_URL_USERINFO | FA_URL_FRAGMENT))

/* A parsed URL: pointers into the string parsed, not terminated. */
struct fa_url {
    char scheme[16];  /* lower case */
    const char *host; /* compared without case; [..] of IPv6 kept */
    size_t host_len;
    long port;        /* explicit, else 443 (https), 80 (http), 0 */
    const char *path; /* "" (path_len 0) when none, else from '/' */
    size_t path_len;
    const char *query; /* after '?'; NULL when there is none */
    size_t query_len;
    bool userinfo; /* had user[:password]@ (FA_URL_USERINFO) */
};

/*
 * Parse the len bytes at s (a NUL among them is refused) under the rules
 * and the flags (FA_URL_* above).  Returns 0 with *ret filled (ret may be
 * NULL), or -1 with the first rule broken in why (which never repeats
 * the URL: it may hold a password).  Nothing is decoded: %XX escapes must
 * be well formed and stay as they are.
 */
int fa_url_parse(const char *s, size_t len, unsigned flags, struct fa_url *ret,
                 char *why, size_t whylen);

/*
 * The origin of an https URL as FA_URL_ENDPOINT takes it (a fragment
 * allowed and ignored), "https://host:port" with scheme and host in lower
 * case and the port always written (443 by default), into buf: the key
 * under which a resource server's DPoP nonce is kept (RFC 9449 §9).
 * Returns 0, or -1 with buf empty for a URL refused or an origin longer
 * than len - 1.
 */
int fa_url_origin(const char *url, char *buf, size_t len);

#pragma GCC visibility pop

#endif
