/* fhir-token - access tokens from the kernel keyring for shells and curl.
 * A thin front end over libfhirauth: no HTTP and no keyring calls here.
 * The commands token, exec, status and logout live here, login in
 * cmd_login.c, the output formats and exec's environment in format.c. */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "format.h"

/* Exit status of exec when fhir-token fails before running the command;
 * 126 and 127 as env(1): found but not executable, not found. */
enum {
    EXIT_EXEC_FAILED = 125,
    EXIT_EXEC_CANNOT = 126,
    EXIT_EXEC_NOTFOUND = 127
};

/* --min-valid's argument: seconds, 0 to a year. */
static int
parse_min_valid(const char *arg, long *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || *end != '\0' || end == arg || v < 0 || v > 86400 * 365)
        return -1;
    *ret = v;
    return 0;
}

/* The token (and, when with_context, the session's context) into *ti.
 * Messages go to stderr; returns the exit status. */
static int
get_token(fhirauth *h, long min_valid, int with_context, struct token_info *ti)
{
    char *json = NULL;
    fhirauth_rc rc;
    int r;

    rc = fhirauth_token(h, min_valid, &ti->token, &ti->expiry);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "no token");
    warn_detail(h);
    if (!with_context)
        return EXIT_OK;
    rc = fhirauth_status_json(h, &json);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "session context");
    r = token_info_set_context(ti, json);
    fhirauth_free_string(json);
    if (r != 0) {
        fprintf(stderr, "%s: cannot read the session context\n", progname);
        return EXIT_SERVER;
    }
    return EXIT_OK;
}

/* A DPoP-bound token (RFC 9449) is useless without a proof made for the
 * one request it goes with: only the header and curl formats, given
 * --url, can carry one; everything else refuses instead of handing out a
 * token that the server will turn away (fhir-token(1), DPOP). */
static int
dpop_refuse(fhirauth *h, const char *what)
{
    fprintf(stderr,
            "%s: profile %s has a DPoP-bound session: %s cannot carry "
            "the proof each request needs; use --format header or curl "
            "with --url URL [--method METHOD]\n",
            progname, fhirauth_profile(h), what);
    return exit_status(FHIRAUTH_ERR_DPOP_BOUND);
}

/* --help of token and exec: the common usage, then what they add. */
static void
command_help(void)
{
    usage(stdout);
    printf("  token [--min-valid SECONDS] [--format FORMAT]\n"
           "        [--url URL [--method METHOD]]\n"
           "      FORMAT: %s\n"
           "  exec [--min-valid SECONDS] [--] COMMAND [ARGS...]\n"
           "      run COMMAND with the token and the session's variables\n"
           "      in its environment\n",
           format_names());
}

static int
cmd_token(fhirauth *h, int argc, char **argv)
{
    static const struct option opts[] = {
        { "min-valid", required_argument, NULL, 'm' },
        { "format", required_argument, NULL, 'f' },
        { "url", required_argument, NULL, 'u' },
        { "method", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    long min_valid = -1;
    const char *url = NULL, *method = NULL;
    enum token_format format = FORMAT_TOKEN;
    fhirauth_rc rc;
    struct token_info ti = { 0 };
    int c, status;

    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (parse_min_valid(optarg, &min_valid) != 0)
                return usage_error("bad --min-valid", optarg);
            break;
        case 'f':
            if (format_from_name(optarg, &format) != 0) {
                fprintf(stderr, "%s: formats: %s\n", progname, format_names());
                return usage_error("unknown format", optarg);
            }
            break;
        case 'u':
            url = optarg;
            break;
        case 'M':
            method = optarg;
            break;
        case 'h':
            command_help();
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (method != NULL && url == NULL)
        return usage_error("--method needs --url", method);
    if (url != NULL && format != FORMAT_HEADER && format != FORMAT_CURL)
        return usage_error("--url goes with --format header or curl", url);
    /* The default format stays one keyring read: the context costs more. */
    status = get_token(h, min_valid, format_needs_context(format), &ti);
    if (status == EXIT_OK && strcmp(fhirauth_token_scheme(h), "DPoP") == 0) {
        if (url == NULL)
            status =
                dpop_refuse(h,
                            format == FORMAT_HEADER || format == FORMAT_CURL
                                ? "this format without --url"
                                : "this format");
        else if ((rc = fhirauth_dpop_proof(h, ti.token,
                                           method != NULL ? method : "GET",
                                           url, &ti.dpop_proof))
                 != FHIRAUTH_OK)
            status = fail(h, rc, "DPoP proof");
    }
    if (status == EXIT_OK && format_write(STDOUT_FILENO, format, &ti) != 0) {
        fprintf(stderr, "%s: cannot write the token: %s\n", progname,
                strerror(errno));
        status = EXIT_USAGE;
    }
    token_info_free(&ti);
    return status;
}

/* exec [--min-valid S] [--] CMD ARGS...: CMD with the env format's
 * variables in its environment.  Takes the handle over (*hp is closed
 * before CMD runs).  Returns only on failure: 125 before CMD, else 126 or
 * 127 as env(1). */
static int
cmd_exec(fhirauth **hp, int argc, char **argv)
{
    static const struct option opts[] = { { "min-valid", required_argument,
                                            NULL, 'm' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    long min_valid = -1;
    struct token_info ti = { 0 };
    struct exec_env env;
    int c, r, err;

    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (parse_min_valid(optarg, &min_valid) != 0) {
                usage_error("bad --min-valid", optarg);
                return EXIT_EXEC_FAILED;
            }
            break;
        case 'h':
            command_help();
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_EXEC_FAILED;
        }
    }
    if (optind >= argc) {
        usage_error("exec: no command given", NULL);
        return EXIT_EXEC_FAILED;
    }
    if (get_token(*hp, min_valid, 1, &ti) != EXIT_OK
        || (strcmp(fhirauth_token_scheme(*hp), "DPoP") == 0
            && dpop_refuse(*hp, "exec") != EXIT_OK)) {
        token_info_free(&ti);
        return EXIT_EXEC_FAILED;
    }
    r = exec_env_build(&env, environ, &ti);
    token_info_free(&ti);
    if (r != 0) {
        fprintf(stderr, "%s: exec: out of memory\n", progname);
        return EXIT_EXEC_FAILED;
    }
    fhirauth_close(*hp);
    *hp = NULL;
    fflush(NULL);
    execvpe(argv[optind], argv + optind, env.envp);
    err = errno;
    exec_env_free(&env);
    fprintf(stderr, "%s: %s: %s\n", progname, argv[optind], strerror(err));
    return err == ENOENT ? EXIT_EXEC_NOTFOUND : EXIT_EXEC_CANNOT;
}

static const char *
json_str(json_object *o, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v)
        || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static long long
json_int(json_object *o, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v)
        || !json_object_is_type(v, json_type_int))
        return 0;
    return json_object_get_int64(v);
}

static void
print_time(const char *label, long long when, time_t now)
{
    char buf[64];
    time_t t = (time_t) when;
    struct tm tm;

    if (when <= 0) {
        printf("%-15s none cached\n", label);
        return;
    }
    if (gmtime_r(&t, &tm) == NULL
        || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        buf[0] = '\0';
    if (when > now)
        printf("%-15s valid until %s (%llds left)\n", label, buf,
               when - (long long) now);
    else
        printf("%-15s expired %s\n", label, buf);
}

static int
cmd_status(fhirauth *h, int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    static const char *const fields[][2] = {
        { "Profile:", "profile" },    { "Keyring:", "keyring" },
        { "Issuer:", "issuer" },      { "Client:", "client_id" },
        { "User:", "username" },      { "Subject:", "subject" },
        { "Scope:", "scope" },        { "FHIR base:", "fhir_base" },
        { "Patient:", "patient" },    { "Encounter:", "encounter" },
        { "FHIR user:", "fhirUser" }, { "Tenant:", "tenant" },
    };
    int as_json = 0, c;
    char *json = NULL;
    json_object *o;
    json_object *v;
    const char *s;
    time_t now = time(NULL);
    size_t i;
    fhirauth_rc rc;

    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = 1;
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
    rc = fhirauth_status_json(h, &json);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "status");
    if (as_json) {
        printf("%s\n", json);
        fhirauth_free_string(json);
        return EXIT_OK;
    }
    o = json_tokener_parse(json);
    fhirauth_free_string(json);
    if (o == NULL) {
        fprintf(stderr, "%s: status: cannot read the session\n", progname);
        return EXIT_KEYRING;
    }
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        s = json_str(o, fields[i][1]);
        if (s != NULL)
            printf("%-15s %s\n", fields[i][0], s);
    }
    print_time("Access token:", json_int(o, "access_expires_at"), now);
    s = json_str(o, "session");
    if (s != NULL && strcmp(s, "service") == 0) {
        /* No refresh token to speak of: a new token is asked for. */
        s = json_str(o, "grant");
        printf("%-15s service (%s)\n",
               "Session:", s != NULL ? s : "client_credentials");
        json_object_put(o);
        return EXIT_OK;
    }
    printf("%-15s %s\n", "Refresh token:",
           json_object_object_get_ex(o, "has_refresh_token", &v)
                   && json_object_get_boolean(v)
               ? "present"
               : "none");
    if (json_int(o, "refresh_expires_at") > 0)
        print_time("Session ends:", json_int(o, "refresh_expires_at"), now);
    json_object_put(o);
    return EXIT_OK;
}

static int
cmd_logout(fhirauth *h, int argc, char **argv)
{
    int revoked = 0;
    fhirauth_rc rc;

    if (argc > 1)
        return usage_error("unexpected argument", argv[1]);
    rc = fhirauth_logout(h, &revoked);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "logout");
    warn_detail(h);
    fprintf(stderr, "%s: logged out of profile %s%s\n", progname,
            fhirauth_profile(h), revoked ? " (revoked at the server)" : "");
    return EXIT_OK;
}

/* The client's public key, to register it at the server (private_key_jwt);
 * printed on standard output, which then holds nothing secret. */
static int
cmd_client_jwks(fhirauth *h, int argc, char **argv)
{
    char *jwks = NULL;
    fhirauth_rc rc;

    if (argc > 1)
        return usage_error("unexpected argument", argv[1]);
    rc = fhirauth_client_jwks(h, &jwks);
    if (rc != FHIRAUTH_OK)
        return fail(h, rc, "client-jwks");
    printf("%s\n", jwks);
    fhirauth_free_string(jwks);
    return EXIT_OK;
}

/* If argv[*i] is the global option name (as "--name VALUE" or
 * "--name=VALUE"), store VALUE, advance *i and return 1; -1 when the value
 * is missing. */
static int
global_option(int argc, char **argv, int *i, const char *name,
              const char **value)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        (*i)++;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

int
main(int argc, char **argv)
{
    const char *config = NULL, *profile = NULL, *command = "token";
    char *detail = NULL;
    fhirauth *h = NULL;
    fhirauth_rc rc;
    int i = 1, r, status, is_exec;

    /* No core dumps or ptrace by other processes of the user while we
     * hold a token or a password. */
    (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    /* Global options come before the command.  Parsed by hand because
     * an option of the default command ("fhir-token --min-valid 60")
     * may follow them directly. */
    while (i < argc) {
        if ((r = global_option(argc, argv, &i, "--config", &config)) == 0)
            r = global_option(argc, argv, &i, "--profile", &profile);
        if (r < 0)
            return usage_error("option needs a value", argv[i]);
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("fhir-token %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        }
        break;
    }
    if (i < argc && argv[i][0] != '-') {
        command = argv[i];
        i++;
    }
    if (strcmp(command, "token") != 0 && strcmp(command, "login") != 0
        && strcmp(command, "status") != 0 && strcmp(command, "logout") != 0
        && strcmp(command, "exec") != 0 && strcmp(command, "client-jwks") != 0)
        return usage_error("unknown command", command);
    is_exec = strcmp(command, "exec") == 0;

    if (config != NULL)
        rc = fhirauth_open_file(&h, config, profile, 0, &detail);
    else
        rc = fhirauth_open(&h, profile, 0, &detail);
    if (rc != FHIRAUTH_OK) {
        fprintf(stderr, "%s: %s\n", progname,
                detail != NULL ? detail : fhirauth_strerror(rc));
        fhirauth_free_string(detail);
        return is_exec ? EXIT_EXEC_FAILED : exit_status(rc);
    }
    /* Each command parses its options as if its name were argv[0]. */
    argc -= i - 1;
    argv += i - 1;
    optind = 1;
    if (strcmp(command, "token") == 0)
        status = cmd_token(h, argc, argv);
    else if (strcmp(command, "login") == 0)
        status = cmd_login(h, argc, argv);
    else if (is_exec)
        status = cmd_exec(&h, argc, argv);
    else if (strcmp(command, "status") == 0)
        status = cmd_status(h, argc, argv);
    else if (strcmp(command, "client-jwks") == 0)
        status = cmd_client_jwks(h, argc, argv);
    else
        status = cmd_logout(h, argc, argv);
    fhirauth_close(h);
    return status;
}
