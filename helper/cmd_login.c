/* cmd_login.c - fhir-token login: password, device and browser flows. */
#include "autoconf.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "launch.h"

#define PASSWORD_MAX 1024

/* One line from fd into buf without echo when it is a terminal. */
static int
read_password(FILE *in, int prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    int tty = isatty(fileno(in)), restore = 0;
    size_t n;

    if (prompt) {
        fprintf(stderr, "Password: ");
        fflush(stderr);
    }
    if (tty && tcgetattr(fileno(in), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        restore = tcsetattr(fileno(in), TCSAFLUSH, &quiet) == 0;
    }
    if (fgets(buf, (int) len, in) == NULL)
        buf[0] = '\0';
    if (restore) {
        tcsetattr(fileno(in), TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == len - 1)
        return -1; /* longer than we accept */
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return n > 0 ? 0 : -1;
}

/* The password flow: prompt on /dev/tty unless --password-stdin. */
static int
login_password(fhirauth *h, const char *username, int from_stdin)
{
    char password[PASSWORD_MAX];
    struct passwd *pw;
    FILE *in;
    fhirauth_rc rc;
    int r;

    if (username == NULL) {
        /* cppcheck-suppress getpwuidCalled ; nothing else reads passwd meanwhile */
        pw = getpwuid(getuid());
        if (pw == NULL)
            return usage_error("cannot tell who you are: use --username",
                               NULL);
        username = pw->pw_name;
    }
    if (from_stdin) {
        r = read_password(stdin, 0, password, sizeof(password));
    } else {
        in = fopen("/dev/tty", "r+e");
        if (in == NULL)
            return usage_error("no terminal to ask for the password: use "
                               "--password-stdin",
                               NULL);
        /* Unbuffered: stdio's buffer, freed unwiped, gets no copy. */
        setvbuf(in, NULL, _IONBF, 0);
        r = read_password(in, 1, password, sizeof(password));
        fclose(in);
    }
    if (r != 0) {
        explicit_bzero(password, sizeof(password));
        return usage_error("no password given (or longer than 1023 bytes)",
                           NULL);
    }
    rc = fhirauth_login_password(h, username, password);
    explicit_bzero(password, sizeof(password));
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "login failed");
    return EXIT_OK;
}

/* Device flow: where to go and what to type, on stderr (stdout carries
 * only tokens). */
static int
show_device(enum fhirauth_device_event event, const fhirauth_device_info *info,
            void *arg)
{
    fhirauth *h = arg;

    if (event != FHIRAUTH_DEVICE_SHOW)
        return 0;
    fprintf(stderr, "To log in, open %s\nand enter the code %s\n",
            info->verification_uri, info->user_code);
    if (info->verification_uri_complete != NULL)
        fprintf(stderr, "(or open %s)\n", info->verification_uri_complete);
    if (qr_wanted(fhirauth_option(h, "qr"), stderr))
        (void) qr_print(stderr,
                        info->verification_uri_complete != NULL
                            ? info->verification_uri_complete
                            : info->verification_uri);
    fprintf(stderr,
            "Waiting for approval (the code is valid for %ld "
            "seconds)...\n",
            info->expires_in);
    return 0;
}

/* What the browser flow's callbacks share. */
struct browser_arg {
    int no_browser;
    char page[PATH_MAX]; /* the page the browser was given, or "" */
};

/* Browser flow: start $BROWSER with file://PAGE, or xdg-open PAGE, where
 * PAGE redirects to the URL (launch.c): the URL itself never goes into a
 * process's argv, where every local user could read it.  Not waited for.
 * The URL is printed too, for when no browser appears. */
static int
open_browser(const char *url, void *arg)
{
    const char *browser = getenv("BROWSER");
    struct browser_arg *ba = arg;
    char target[PATH_MAX + 8], err[PATH_MAX + 128];
    int xdg, n;
    pid_t pid;

    fprintf(stderr, "Log in at:\n  %s\n", url);
    if (ba->no_browser)
        return 0;
    xdg = browser == NULL || browser[0] == '\0';
    if (xdg)
        browser = "xdg-open";
    if (launch_page_write(url, ba->page, sizeof(ba->page), err, sizeof(err))
        != 0) {
        fprintf(stderr,
                "%s: not starting a browser: %s\n(open the address "
                "above yourself)\n",
                progname, err);
        return 0;
    }
    /* $BROWSER programs expect a URL; xdg-open takes a path as well. */
    n = snprintf(target, sizeof(target), "%s%s", xdg ? "" : "file://",
                 ba->page);
    if (n < 0 || (size_t) n >= sizeof(target))
        return 0;
    /* Fork twice so the browser is nobody's zombie while we wait. */
    pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            /* The browser must not share our output streams. */
            if (freopen("/dev/null", "w", stdout) == NULL
                || freopen("/dev/null", "w", stderr) == NULL)
                _exit(127);
            execlp(browser, browser, target, (char *) NULL);
            _exit(127);
        }
        _exit(0);
    }
    if (pid > 0)
        (void) waitpid(pid, NULL, 0);
    return 0;
}

/* --no-browser: the user pastes the URL the browser was sent to. */
static char *
read_pasted(void *arg)
{
    char line[8192];
    char *copy;
    size_t n;

    (void) arg;
    fprintf(stderr,
            "After logging in, paste the address your browser was "
            "sent to\n(it starts with http://127.0.0.1) and press Enter:\n");
    if (fgets(line, sizeof(line), stdin) == NULL) {
        explicit_bzero(line, sizeof(line));
        return NULL;
    }
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    /* The address carries the authorization code: wipe our copy. */
    copy = strdup(line);
    explicit_bzero(line, sizeof(line));
    return copy;
}

static int
login_browser(fhirauth *h, int no_browser)
{
    fhirauth_browser_io io;
    struct browser_arg ba;
    fhirauth_rc rc;

    ba.no_browser = no_browser;
    ba.page[0] = '\0';
    io.open_url = open_browser;
    io.read_redirect = no_browser ? read_pasted : NULL;
    io.arg = &ba;
    rc = fhirauth_login_browser(h, &io);
    /* The login is over: the page has served its purpose. */
    launch_page_remove(ba.page);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "login failed");
    return EXIT_OK;
}

static int
login_device(fhirauth *h)
{
    fhirauth_rc rc = fhirauth_login_device(h, show_device, h);

    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "login failed");
    return EXIT_OK;
}

static int
have_display(void)
{
    const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");

    return (x != NULL && x[0] != '\0') || (w != NULL && w[0] != '\0');
}

int
cmd_login(fhirauth *h, int argc, char **argv)
{
    static const struct option opts[] = {
        { "password", no_argument, NULL, 'p' },
        { "username", required_argument, NULL, 'u' },
        { "password-stdin", no_argument, NULL, 's' },
        { "device", no_argument, NULL, 'd' },
        { "browser", no_argument, NULL, 'b' },
        { "no-browser", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    enum { DEFAULT, PASSWORD, DEVICE, BROWSER } mode = DEFAULT;
    const char *username = NULL, *grant;
    int from_stdin = 0, no_browser = 0, c, status;
    fhirauth_rc rc;

    /* Standard input may carry the password or the pasted redirect (with
     * the authorization code): read it unbuffered, so that libc's buffer
     * for it, which nothing wipes, never holds a copy. */
    setvbuf(stdin, NULL, _IONBF, 0);

    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            mode = PASSWORD;
            break;
        case 'u':
            username = optarg;
            break;
        case 's':
            from_stdin = 1;
            break;
        case 'd':
            mode = DEVICE;
            break;
        case 'b':
            mode = BROWSER;
            break;
        case 'n':
            no_browser = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if ((username != NULL || from_stdin) && mode != PASSWORD)
        return usage_error("--username and --password-stdin go with "
                           "--password",
                           NULL);
    if (no_browser && mode == DEFAULT)
        mode = BROWSER;
    if (no_browser && mode != BROWSER)
        return usage_error("--no-browser goes with --browser", NULL);
    grant = fhirauth_option(h, "grant");
    if (grant != NULL && strcmp(grant, "client_credentials") == 0) {
        fprintf(stderr,
                "%s: profile %s is a service profile (grant = "
                "client_credentials): it has no login; '%s' obtains its "
                "tokens when asked\n",
                progname, fhirauth_profile(h), progname);
        return EXIT_USAGE;
    }

    switch (mode) {
    case PASSWORD:
        status = login_password(h, username, from_stdin);
        break;
    case DEVICE:
        status = login_device(h);
        break;
    case BROWSER:
        status = login_browser(h, no_browser);
        break;
    case DEFAULT:
    default:
        /* A browser where there is a display; else the device flow when
         * the server offers it; else the browser flow by pasting. */
        if (have_display()) {
            status = login_browser(h, 0);
            break;
        }
        rc = fhirauth_login_device(h, show_device, h);
        if (rc == FHIRAUTH_ERR_UNSUPPORTED)
            status = login_browser(h, 1);
        else
            status = rc == FHIRAUTH_OK ? EXIT_OK : fail(h, rc, "login failed");
        break;
    }
    if (status != EXIT_OK)
        return status;
    warn_detail(h);
    fprintf(stderr, "%s: logged in (profile %s)\n", progname,
            fhirauth_profile(h));
    return EXIT_OK;
}
