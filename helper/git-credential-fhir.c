/*
 * git-credential-fhir - git's credential helper protocol (gitcredentials(7),
 * git-credential(1)) answered with access tokens from libfhirauth.
 *
 * A thin front end: it calls only the functions of include/fhirauth.h and links
 * only libfhirauth, so a cached token costs one keyring read and neither
 * libcurl nor OpenSSL is loaded.
 *
 *   get    a profile's "match" covers the URL and a token is available:
 *          username/password/password_expiry_utc, or, when git announced
 *          capability[]=authtype, capability[]=authtype, authtype=Bearer,
 *          credential and ephemeral=true.  Otherwise nothing (git moves on).
 *   erase  the password or credential git rejected is our cached access
 *          token: forget it (compare-and-invalidate), so the next get
 *          refreshes.
 *   store  nothing: the tokens live in the kernel keyring.
 *
 * Exit status: 0, also when there is nothing to say (no match, not logged
 * in, a server or keyring error, each explained on stderr); 1 for a usage
 * error or input that breaks the protocol (too long, NUL bytes, a line
 * without '='), with nothing on stdout.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "fhirauth.h"

/* One key=value line, without its newline, and the whole request. */
#define LINE_MAX_BYTES 4096
#define INPUT_MAX_BYTES (64 * 1024)

enum { EXIT_DONE = 0, EXIT_ERROR = 1 };

static const char progname[] = "git-credential-fhir";

/* What git told us.  The strings point into buf, which is wiped. */
struct request {
    char *buf;
    size_t size; /* allocated, for the wipe */
    const char *protocol, *host, *path, *url;
    const char *password, *credential;
    bool cap_authtype; /* capability[]=authtype */
};

/* A growable output buffer; it holds a token, so it is wiped. */
struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--config FILE] get|store|erase\n"
            "git credential helper: access tokens from pam_fhir's"
            " kernel keyring session.\n",
            progname);
}

static void
wipe_free(void *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

static void
out_add(struct out *o, const char *s)
{
    size_t n = strlen(s), cap;
    char *nb;

    if (o->failed)
        return;
    if (o->buf == NULL || o->len + n + 1 > o->cap) {
        cap = (o->len + n + 1) * 2;
        nb = malloc(cap);
        if (nb == NULL) {
            o->failed = true;
            return;
        }
        if (o->buf != NULL)
            memcpy(nb, o->buf, o->len);
        wipe_free(o->buf, o->cap);
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void
out_line(struct out *o, const char *key, const char *value)
{
    out_add(o, key);
    out_add(o, "=");
    out_add(o, value);
    out_add(o, "\n");
}

/* Write everything; -1 on failure. */
static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

/* A value that could break the line protocol: empty, or with a control
 * character (a newline would inject a key). */
static bool
unsafe_value(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return true;
    for (; *s != '\0'; s++)
        if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f)
            return true;
    return false;
}

/*
 * Read git's request from fd: key=value lines up to a blank line or end
 * of file.  Returns 0, or -1 with a message on stderr.
 */
static int
read_request(int fd, struct request *rq)
{
    size_t len = 0, end = 0, pos, n;
    char *line, *nl, *eq;
    bool done = false;

    memset(rq, 0, sizeof(*rq));
    rq->size = INPUT_MAX_BYTES + 1;
    rq->buf = malloc(rq->size);
    if (rq->buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return -1;
    }
    /* Read until the blank line, end of file, or one byte past the cap. */
    while (!done && len < INPUT_MAX_BYTES + 1) {
        ssize_t r = read(fd, rq->buf + len, INPUT_MAX_BYTES + 1 - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "%s: cannot read the request: %s\n", progname,
                    strerror(errno));
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t) r;
        /* Does what we have contain the blank line yet? */
        for (pos = 0; pos < len; pos = (size_t) (nl - rq->buf) + 1) {
            nl = memchr(rq->buf + pos, '\n', len - pos);
            if (nl == NULL)
                break;
            n = (size_t) (nl - rq->buf) - pos;
            if (n == 0 || (n == 1 && rq->buf[pos] == '\r')) {
                end = pos;
                done = true;
                break;
            }
        }
    }
    if (!done)
        end = len;
    if (end > INPUT_MAX_BYTES) {
        fprintf(stderr, "%s: request longer than %d bytes (refused)\n",
                progname, INPUT_MAX_BYTES);
        return -1;
    }
    if (memchr(rq->buf, '\0', end) != NULL) {
        fprintf(stderr, "%s: NUL byte in the request (refused)\n", progname);
        return -1;
    }
    rq->buf[end] = '\0';

    for (pos = 0; pos < end; pos += n + 1) {
        line = rq->buf + pos;
        nl = memchr(line, '\n', end - pos);
        n = nl != NULL ? (size_t) (nl - line) : end - pos;
        line[n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[n - 1] = '\0';
        if (n > LINE_MAX_BYTES) {
            fprintf(stderr,
                    "%s: request line longer than %d bytes"
                    " (refused)\n",
                    progname, LINE_MAX_BYTES);
            return -1;
        }
        eq = strchr(line, '=');
        if (eq == NULL) {
            fprintf(stderr, "%s: bad request line (expected key=value)\n",
                    progname);
            return -1;
        }
        *eq = '\0';
        if (strcmp(line, "protocol") == 0)
            rq->protocol = eq + 1;
        else if (strcmp(line, "host") == 0)
            rq->host = eq + 1;
        else if (strcmp(line, "path") == 0)
            rq->path = eq + 1;
        else if (strcmp(line, "url") == 0)
            rq->url = eq + 1;
        else if (strcmp(line, "password") == 0)
            rq->password = eq + 1;
        else if (strcmp(line, "credential") == 0)
            rq->credential = eq + 1;
        else if (strcmp(line, "capability[]") == 0
                 && strcmp(eq + 1, "authtype") == 0)
            rq->cap_authtype = true;
        /* Anything else (username, wwwauth[], ...) is not needed. */
    }
    return 0;
}

/* Path bytes that may stand in a URL as they are (RFC 3986 pchar, '/'). */
static bool
path_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/*
 * The URL of the request: url= when git (or a person) gave one, else
 * protocol://host/path, the path percent-encoded (git decodes it).  NULL
 * when the request names no http or https server, which is not ours to
 * answer; *ret_oom set when out of memory.
 */
static char *
request_url(const struct request *rq, bool *ret_oom)
{
    static const char hex[] = "0123456789ABCDEF";
    struct out o = { NULL, 0, 0, false };
    char esc[4];
    const unsigned char *p;

    *ret_oom = false;
    if (rq->url != NULL && rq->url[0] != '\0') {
        out_add(&o, rq->url);
    } else {
        if (rq->protocol == NULL || rq->host == NULL || rq->host[0] == '\0'
            || (strcmp(rq->protocol, "https") != 0
                && strcmp(rq->protocol, "http") != 0))
            return NULL;
        out_add(&o, rq->protocol);
        out_add(&o, "://");
        out_add(&o, rq->host);
        if (rq->path != NULL && rq->path[0] != '\0') {
            if (rq->path[0] != '/')
                out_add(&o, "/");
            for (p = (const unsigned char *) rq->path; *p != '\0'; p++) {
                if (path_byte_ok(*p)) {
                    esc[0] = (char) *p;
                    esc[1] = '\0';
                } else {
                    esc[0] = '%';
                    esc[1] = hex[*p >> 4];
                    esc[2] = hex[*p & 15];
                    esc[3] = '\0';
                }
                out_add(&o, esc);
            }
        }
    }
    if (o.failed) {
        wipe_free(o.buf, o.cap);
        *ret_oom = true;
        return NULL;
    }
    return o.buf;
}

/* "git-credential-fhir: what: detail" on stderr. */
static void
report(fhirauth_rc rc, const char *what, const char *detail)
{
    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, "%s: %s: %s\n", progname, what, detail);
    else
        fprintf(stderr, "%s: %s: %s\n", progname, what, fhirauth_strerror(rc));
}

/*
 * Open a handle on the profile that matches the request's URL.  Returns 1
 * with *ret_h set, 0 when no profile matches (or the request is not for
 * an http or https server), -1 after an error message.
 */
static int
open_for_request(const char *config, const struct request *rq,
                 fhirauth **ret_h)
{
    char *url, *profile = NULL, *detail = NULL;
    fhirauth_rc rc;
    bool oom;

    url = request_url(rq, &oom);
    if (url == NULL) {
        if (oom)
            fprintf(stderr, "%s: out of memory\n", progname);
        return oom ? -1 : 0;
    }
    rc = fhirauth_profile_for_url(config, url, &profile, &detail);
    /* url= may carry a password in its user part. */
    wipe_free(url, strlen(url));
    if (rc != FHIRAUTH_OK) {
        report(rc, "cannot choose a profile", detail);
        fhirauth_free_string(detail);
        return -1;
    }
    if (profile == NULL)
        return 0;
    if (config != NULL)
        rc = fhirauth_open_file(ret_h, config, profile, 0, &detail);
    else
        rc = fhirauth_open(ret_h, profile, 0, &detail);
    if (rc != FHIRAUTH_OK) {
        report(rc, "configuration", detail);
        fhirauth_free_string(detail);
        fhirauth_free_string(profile);
        return -1;
    }
    fhirauth_free_string(profile);
    return 1;
}

static int
cmd_get(const char *config, const struct request *rq)
{
    struct out o = { NULL, 0, 0, false };
    fhirauth *h = NULL;
    char *token = NULL;
    char num[32];
    const char *user;
    time_t expiry = 0;
    fhirauth_rc rc;
    int r, k;

    r = open_for_request(config, rq, &h);
    if (r <= 0)
        return EXIT_DONE;
    rc = fhirauth_token(h, -1, &token, &expiry);
    if (rc == FHIRAUTH_ERR_LOGIN_NEEDED) {
        fprintf(stderr,
                "%s: not logged in to profile %s: run 'fhir-token"
                "%s%s --profile %s login'\n",
                progname, fhirauth_profile(h),
                config != NULL ? " --config " : "",
                config != NULL ? config : "", fhirauth_profile(h));
        goto done;
    }
    if (rc != FHIRAUTH_OK) {
        report(rc, "no token", fhirauth_detail(h));
        goto done;
    }
    if (fhirauth_detail(h)[0] != '\0')
        fprintf(stderr, "%s: warning: %s\n", progname, fhirauth_detail(h));
    if (strcmp(fhirauth_token_scheme(h), "DPoP") == 0) {
        /* git sends a credential as it is, with no proof per request
         * (RFC 9449): the server would refuse it.  No answer, as when
         * logged out, so git moves on. */
        fprintf(stderr,
                "%s: profile %s has a DPoP-bound session, which git cannot "
                "use: not given to git\n",
                progname, fhirauth_profile(h));
        goto done;
    }
    if (unsafe_value(token)) {
        fprintf(stderr,
                "%s: the token has a control character: not given"
                " to git\n",
                progname);
        goto done;
    }
    if (rq->cap_authtype) {
        /* git >= 2.46: a bearer credential git sends as it is and does
         * not store (ephemeral). */
        out_add(&o, "capability[]=authtype\n");
        out_line(&o, "authtype", "Bearer");
        out_line(&o, "credential", token);
        out_line(&o, "ephemeral", "true");
    } else {
        user = fhirauth_option(h, "git_username");
        if (user == NULL || user[0] == '\0')
            user = "oauth2";
        if (unsafe_value(user)) {
            fprintf(stderr, "%s: bad git_username\n", progname);
            goto done;
        }
        out_line(&o, "username", user);
        out_line(&o, "password", token);
        k = snprintf(num, sizeof(num), "%lld", (long long) expiry);
        if (expiry > 0 && k > 0 && (size_t) k < sizeof(num))
            out_line(&o, "password_expiry_utc", num);
    }
    if (o.failed) {
        fprintf(stderr, "%s: out of memory\n", progname);
    } else if (write_all(STDOUT_FILENO, o.buf, o.len) != 0) {
        fprintf(stderr, "%s: cannot answer git: %s\n", progname,
                strerror(errno));
    }

done:
    wipe_free(o.buf, o.cap);
    fhirauth_free_secret(token);
    fhirauth_close(h);
    return EXIT_DONE;
}

static int
cmd_erase(const char *config, const struct request *rq)
{
    const char *rejected;
    fhirauth *h = NULL;
    fhirauth_rc rc;

    /* git >= 2.46 rejects a bearer token as credential=, older ones as
     * password=. */
    rejected = rq->credential != NULL && rq->credential[0] != '\0'
        ? rq->credential
        : rq->password;
    if (rejected == NULL || rejected[0] == '\0')
        return EXIT_DONE;
    if (open_for_request(config, rq, &h) <= 0)
        return EXIT_DONE;
    /* Forgotten only if it is still the cached token. */
    rc = fhirauth_invalidate(h, rejected);
    if (rc != FHIRAUTH_OK)
        report(rc, "cannot forget the rejected token", fhirauth_detail(h));
    fhirauth_close(h);
    return EXIT_DONE;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *config = NULL, *op;
    struct request rq;
    int c, status;

    /* No core dumps or ptrace by other processes of the user while a
     * token is in memory. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "%s: cannot protect memory: %s\n", progname,
                strerror(errno));
        return EXIT_ERROR;
    }
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_DONE;
        case 'V':
            printf("%s %s\n", progname, PACKAGE_VERSION);
            return EXIT_DONE;
        default:
            usage(stderr);
            return EXIT_ERROR;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_ERROR;
    }
    op = argv[optind];
    /* gitcredentials(7): an operation a helper does not know is ignored,
     * leaving room for new ones; store has nothing to do. */
    if (strcmp(op, "get") != 0 && strcmp(op, "erase") != 0)
        return EXIT_DONE;
    if (read_request(STDIN_FILENO, &rq) != 0) {
        wipe_free(rq.buf, rq.size);
        return EXIT_ERROR;
    }
    if (strcmp(op, "get") == 0)
        status = cmd_get(config, &rq);
    else
        status = cmd_erase(config, &rq);
    wipe_free(rq.buf, rq.size);
    return status;
}
