/* cachetime.h - how long an HTTP answer may be reused (RFC 9111 §4.2.1),
 * from its Cache-Control, Expires, Date and Age header values.  Used for
 * the discovery documents and the JWKS kept in the root-side cache. */
#ifndef FHIRAUTH_CACHETIME_H
#define FHIRAUTH_CACHETIME_H

#pragma GCC visibility push(hidden)

/* A server that says nothing about freshness: its document is kept this
 * many seconds (one hour). */
#define FA_CACHE_DEFAULT_LIFETIME 3600L
/* The most any server can ask for (one day): a key rotation or an
 * endpoint move at the AS is picked up within a day at the latest. */
#define FA_CACHE_MAX_LIFETIME 86400L

/* Header values as received (NULL when absent).  Several Cache-Control
 * lines are joined with ", " by the caller. */
struct fa_cache_headers {
    const char *cache_control;
    const char *expires;
    const char *date;
    const char *age;
};

/*
 * Seconds the answer may be reused, counted from now (seconds since the
 * epoch, when it was received): 0 for "do not store" (no-store, no-cache,
 * max-age=0, an Expires in the past or unreadable, a malformed max-age);
 * FA_CACHE_DEFAULT_LIFETIME when nothing is said; never more than
 * FA_CACHE_MAX_LIFETIME.  max-age wins over Expires; Expires counts from
 * Date when Date is readable; Age is subtracted.  Directives we do not
 * know are ignored, as RFC 9111 §5.2 asks.
 */
long fa_cache_lifetime(const struct fa_cache_headers *h, long long now);

/* An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and
 * asctime forms) as seconds since the epoch.  0, or -1 when malformed. */
int fa_http_date(const char *s, long long *ret);

#pragma GCC visibility pop

#endif
