/* loopback.h - the browser flow's way back (RFC 8252 §7.3): a listener on
 * 127.0.0.1 for the authorization server's redirect, and the parsers of
 * what comes back, as an HTTP request line or as a URL the user pasted.
 * libc only: no libcurl, no OpenSSL. */
#ifndef FHIRAUTH_LOOPBACK_H
#define FHIRAUTH_LOOPBACK_H

#include <stddef.h>

#include "fhirauth.h"
#include "util.h"

#pragma GCC visibility push(hidden)

/* The redirect_uri is http://127.0.0.1:PORT followed by this path. */
#define FA_LB_PATH "/callback"
/* Longest request line (or pasted URL) we read. */
#define FA_LB_LINE_MAX 8192
/* Longest decoded parameter value. */
#define FA_LB_VALUE_MAX 4096

/* An authorization response (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207's
 * iss).  Heap strings, NULL when absent; code and state are secrets
 * (wiped by fa_redirect_free).  Every value is printable ASCII. */
struct fa_redirect {
    char *code;
    char *state;
    char *error;
    char *error_description; /* non-printable bytes replaced by '?' */
    char *iss;
};
void fa_redirect_free(struct fa_redirect *r);

enum fa_lb_result {
    FA_LB_OK = 0,      /* a request for our path: its query is parsed */
    FA_LB_NOT_FOUND,   /* a request for another path (a favicon) */
    FA_LB_BAD_METHOD,  /* our path, but not GET */
    FA_LB_BAD_REQUEST, /* malformed, oversized, or not our address */
    FA_LB_NOMEM
};

/*
 * The query of an authorization response (without the '?'), len bytes:
 * name=value pairs split on '&', percent-decoded ('+' is a space).  code,
 * state, error, error_description and iss are kept; other names are
 * ignored.  A kept name given twice (RFC 6749 §3.1), a bad escape, a NUL
 * or control byte in a kept value other than error_description, an empty
 * kept value, or a value longer than FA_LB_VALUE_MAX decoded bytes is
 * FA_LB_BAD_REQUEST.  ret is cleared first and freed on failure.
 */
enum fa_lb_result fa_lb_parse_query(const char *query, size_t len,
                                    struct fa_redirect *ret, struct fa_err *e);

/*
 * An HTTP request line without its line end, len bytes:
 * "METHOD SP /path[?query] SP HTTP/1.x".  The path must equal path
 * exactly (else FA_LB_NOT_FOUND), the method must be GET (else
 * FA_LB_BAD_METHOD), then the query goes to fa_lb_parse_query.
 */
enum fa_lb_result fa_lb_parse_request(const char *line, size_t len,
                                      const char *path,
                                      struct fa_redirect *ret,
                                      struct fa_err *e);

/*
 * A URL the user pasted: surrounding blanks are dropped; it must be
 * redirect_uri followed by '?' and the query (a '#fragment' is dropped).
 * Anything else is FA_LB_BAD_REQUEST.
 */
enum fa_lb_result fa_lb_parse_pasted(const char *url, const char *redirect_uri,
                                     struct fa_redirect *ret,
                                     struct fa_err *e);

/* A socket bound to 127.0.0.1. */
struct fa_listener {
    int fd; /* -1 when closed */
    unsigned port;
};

/*
 * Bind a socket to 127.0.0.1:port (0: a port the kernel picks) and, when
 * listening is non-zero, listen on it.  Without listening the port is
 * only reserved: a browser on this host that is sent there is refused
 * (and shows the address to paste), and no other local program can take
 * the port to catch the code.  Close-on-exec, non-blocking.
 * FHIRAUTH_ERR_CONFIG when a fixed port is taken or forbidden.
 */
fhirauth_rc fa_lb_open(long port, int listening, struct fa_listener *ret,
                       struct fa_err *e);
void fa_lb_close(struct fa_listener *l);

/*
 * Wait up to seconds for a browser's GET of path on the listener whose
 * state parameter equals state (compared in constant time).  Several
 * connections are served at once (browsers open spare ones that never
 * send), each bounded by its own read timeout; requests for other paths
 * get 404, bad requests 400, and the wait goes on.  A request for path
 * with a wrong or missing state is not this login's: it gets 400 and the
 * wait goes on too, so a local program that guesses the port can neither
 * hand us its own code nor end the login; the deadline stays the one set
 * at the start and the connections served at once stay LB_CONNS, however
 * many such requests come.  On FHIRAUTH_OK *ret holds the parsed query
 * and *ret_conn the connection, still open: answer it with fa_lb_answer.
 * FHIRAUTH_ERR_LOGIN_NEEDED when the time is up.
 */
fhirauth_rc fa_lb_wait(struct fa_listener *l, const char *path,
                       const char *state, long seconds,
                       struct fa_redirect *ret, int *ret_conn,
                       struct fa_err *e);

/* Send a small HTML page (status 200 when ok, else 400; title and text
 * are our own constants, not escaped) and close conn. */
void fa_lb_answer(int conn, int ok, const char *title, const char *text);

#pragma GCC visibility pop

#endif
