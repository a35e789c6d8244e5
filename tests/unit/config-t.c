/* config-t.c - pam_fhir.conf(5) grammar, option table, files, precedence. */
#include "autoconf.h"
#include "config.h"
#include "tests/tap/basic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static struct fa_config cfg;
static struct fa_err ectx;
static char tmpdir[256];

/* Every temporary path, removed at the end. */
static char *paths[64];
static size_t npaths;

static const char issuer[] = "issuer = https://as.example\n";

#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int
parse(const char *text, const char *profile)
{
    fa_config_free(&cfg);
    if (fa_config_init(&cfg) != 0)
        bail("fa_config_init failed");
    fa_err_clear(&ectx);
    return fa_config_parse_text(&cfg, "t.conf", text, strlen(text), profile,
                                &ectx);
}

/* Parse issuer plus one more line and return the result. */
static int
parse1(const char *line)
{
    char text[8192];

    if (snprintf(text, sizeof(text), "%s%s\n", issuer, line)
        >= (int) sizeof(text))
        bail("test text too long");
    return parse(text, NULL);
}

static bool
contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static char *
remember(char *path)
{
    if (npaths >= sizeof(paths) / sizeof(paths[0]))
        bail("too many temporary files");
    paths[npaths++] = path;
    return path;
}

static char *
tmp_path(const char *name)
{
    char *path = malloc(512);

    if (path == NULL || snprintf(path, 512, "%s/%s", tmpdir, name) >= 512)
        bail("path too long");
    return remember(path);
}

static char *
write_file_len(const char *text, size_t len, mode_t mode)
{
    char *path = malloc(512);
    size_t done = 0;
    int fd;

    if (path == NULL || snprintf(path, 512, "%s/cfXXXXXX", tmpdir) >= 512)
        bail("path too long");
    fd = mkstemp(path);
    if (fd < 0)
        bail("mkstemp: %s", strerror(errno));
    while (done < len) {
        ssize_t r = write(fd, text + done, len - done);

        if (r <= 0)
            bail("write: %s", strerror(errno));
        done += (size_t) r;
    }
    if (fchmod(fd, mode) != 0 || close(fd) != 0)
        bail("fchmod: %s", strerror(errno));
    return remember(path);
}

static char *
write_file(const char *text, mode_t mode)
{
    return write_file_len(text, strlen(text), mode);
}

static int
load(const char *sys, const char *user, const char *explicit_file, bool root,
     const char *profile)
{
    struct fa_config_sources src;

    memset(&src, 0, sizeof(src));
    src.system_file = sys;
    src.user_file = user;
    src.explicit_file = explicit_file;
    src.require_root_owned = root;
    fa_config_free(&cfg);
    if (fa_config_init(&cfg) != 0)
        bail("fa_config_init failed");
    fa_err_clear(&ectx);
    return fa_config_load(&cfg, &src, profile, &ectx);
}

static void
test_defaults(void)
{
    if (fa_config_init(&cfg) != 0)
        bail("fa_config_init failed");
    is_int(30, cfg.timeout, "default timeout");
    is_int(60, cfg.min_valid, "default min_valid");
    is_int(300, cfg.assumed_lifetime, "default assumed_lifetime");
    is_int(FA_ANCHOR_PERSISTENT, cfg.keyring, "default keyring");
    is_int(FA_GRANT_DEVICE, cfg.grant, "default grant");
    is_int(FA_QR_AUTO, cfg.qr, "default qr");
    is_string("preferred_username", cfg.username_claim,
              "default username_claim");
    is_string("oauth2", cfg.git_username, "default git_username");
    is_int(0, cfg.redirect_port, "default redirect_port");
    is_int(0, cfg.minimum_uid, "default minimum_uid");
    ok(!cfg.debug && !cfg.revoke_on_close && !cfg.use_first_pass
           && !cfg.try_first_pass,
       "booleans default to false");
    ok(cfg.issuer == NULL && cfg.fhir_base == NULL && cfg.proxy == NULL
           && cfg.profile == NULL && cfg.config == NULL
           && cfg.token_endpoint == NULL,
       "other strings default to unset");
    fa_config_free(&cfg);
    ok(cfg.username_claim == NULL && cfg.timeout == 0,
       "fa_config_free zeroes the struct");
    fa_config_free(&cfg);
    ok(1, "fa_config_free twice is harmless");

    is_string("persistent", fa_anchor_name(FA_ANCHOR_PERSISTENT),
              "anchor name persistent");
    is_string("user", fa_anchor_name(FA_ANCHOR_USER), "anchor name user");
    is_string("session", fa_anchor_name(FA_ANCHOR_SESSION),
              "anchor name session");
}

static void
test_grammar(void)
{
    is_int(0, parse("issuer=https://as.example\nclient_id=abc\n", NULL),
           "no spaces around =");
    is_string("https://as.example", cfg.issuer, "  issuer");
    is_string("abc", cfg.client_id, "  client_id");
    is_string("default", cfg.profile, "  profile is default");

    is_int(0,
           parse("   issuer   =   https://as.example   \n"
                 "\tclient_id\t=\tmy client\t\n",
                 NULL),
           "spaces and tabs around key and value");
    is_string("https://as.example", cfg.issuer, "  value trimmed");
    is_string("my client", cfg.client_id, "  inner space kept");

    is_int(0,
           parse("# a comment\n"
                 "   # an indented comment\n"
                 "; a semicolon comment\n"
                 "\t; indented too\n"
                 "\n"
                 "   \n"
                 "issuer = https://as.example\n"
                 "#issuer = https://other.example\n",
                 NULL),
           "comments and blank lines");
    is_string("https://as.example", cfg.issuer, "  commented-out key ignored");

    is_int(0,
           parse("issuer = https://as.example\n"
                 "scope = openid ;offline_access #x\n"
                 "client_id = a=b\n",
                 NULL),
           "';', '#' and '=' inside a value");
    is_string("openid ;offline_access #x", cfg.scope, "  no inline comments");
    is_string("a=b", cfg.client_id, "  value runs to end of line");

    is_int(0, parse("issuer = https://as.example\r\nclient_id = c\r\n", NULL),
           "CRLF line endings");
    is_string("c", cfg.client_id, "  carriage return trimmed");

    is_int(0, parse("client_id = c\nissuer = https://as.example", NULL),
           "last line without newline");
    is_string("https://as.example", cfg.issuer, "  last line read");

    is_int(0,
           parse("issuer = https://as.example\n"
                 "match = https://git.example/ https://x.example:8443/a\n",
                 NULL),
           "list value");
    is_string("https://git.example/ https://x.example:8443/a", cfg.match,
              "  list stored as the raw string");

    is_int(0,
           parse("issuer = https://as.example\ntimeout = 5\n"
                 "timeout = 7\n",
                 NULL),
           "key given twice");
    is_int(7, cfg.timeout, "  last one wins");

    is_int(0,
           parse("issuer = https://as.example\ntimeout = 5\n"
                 "timeout =\nusername_claim = sub\nusername_claim =\n"
                 "keyring = user\nkeyring = \n",
                 NULL),
           "empty values");
    is_int(30, cfg.timeout, "  empty number restores the default");
    is_string("preferred_username", cfg.username_claim,
              "  empty string restores the default");
    is_int(FA_ANCHOR_PERSISTENT, cfg.keyring,
           "  empty enum restores the default");

    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\njust words\n", NULL),
           "line without =");
    is_string("t.conf:2: expected 'key = value'", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\n = value\n", NULL),
           "empty key");
    is_string("t.conf:2: expected 'key = value'", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\n\ncolour = blue\n", NULL),
           "unknown key");
    is_string("t.conf:3: unknown key 'colour'", ectx.msg,
              "  message names file, line and key");
    is_int(FHIRAUTH_ERR_CONFIG, parse("Issuer = https://as.example\n", NULL),
           "keys are case-sensitive");
    is_string("t.conf:1: unknown key 'Issuer'", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\nscope = a\033b\n", NULL),
           "control character refused");
    is_string("t.conf:2: control character in line", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_parse_text(&cfg, "t.conf",
                                "issuer = https://a.example\nx\0y\n", 31, NULL,
                                &ectx),
           "NUL byte refused");
    is_string("t.conf:2: NUL byte in line", ectx.msg, "  message");
}

static void
test_lines(void)
{
    char *text;
    size_t i, n;

    /* issuer line, then a comment line of exactly 4096 bytes */
    n = strlen(issuer);
    text = malloc(n + 4096 + 2 + 1);
    if (text == NULL)
        bail("out of memory");
    memcpy(text, issuer, n);
    text[n] = '#';
    for (i = 1; i < 4096; i++)
        text[n + i] = 'x';
    text[n + 4096] = '\n';
    text[n + 4097] = '\0';
    is_int(0, parse(text, NULL), "4096-byte line accepted");
    text[n + 4096] = 'x';
    text[n + 4097] = '\n';
    text[n + 4098] = '\0';
    is_int(FHIRAUTH_ERR_CONFIG, parse(text, NULL), "4097-byte line refused");
    is_string("t.conf:2: line longer than 4096 bytes", ectx.msg, "  message");
    free(text);

    text = malloc(FA_CONFIG_MAX_BYTES + 2);
    if (text == NULL)
        bail("out of memory");
    memset(text, '\n', FA_CONFIG_MAX_BYTES + 1);
    memcpy(text, issuer, n);
    text[FA_CONFIG_MAX_BYTES + 1] = '\0';
    is_int(0,
           fa_config_parse_text(&cfg, "t.conf", text, FA_CONFIG_MAX_BYTES,
                                NULL, &ectx),
           "text of exactly the cap accepted");
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_parse_text(&cfg, "t.conf", text, FA_CONFIG_MAX_BYTES + 1,
                                NULL, &ectx),
           "text over the cap refused");
    is_string("t.conf: larger than 65536 bytes", ectx.msg, "  message");
    free(text);

    is_int(FHIRAUTH_ERR_CONFIG, parse("", NULL), "empty text");
    is_string(
        "no issuer, fhir_base or token_endpoint configured for profile 'default'",
        ectx.msg, "  needs an issuer");
    is_int(0, parse("fhir_base = https://fhir.example/r4\n", NULL),
           "fhir_base alone is enough");
    is_int(0, parse("token_endpoint = https://as.example/token\n", NULL),
           "token_endpoint alone is enough (no discovery)");
    ok(cfg.issuer == NULL, "  issuer stays unset");
}

static void
test_values(void)
{
    static const char *const yes[] = { "yes", "true", "1", "YES", "True" };
    static const char *const no[] = { "no", "false", "0", "No", "FALSE" };
    char line[128];
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(line, sizeof(line), "debug = %s", yes[i]);
        ok(parse1(line) == 0 && cfg.debug, "boolean %s", yes[i]);
        snprintf(line, sizeof(line), "revoke_on_close = %s", no[i]);
        ok(parse1(line) == 0 && !cfg.revoke_on_close, "boolean %s", no[i]);
    }
    is_int(FHIRAUTH_ERR_CONFIG, parse1("debug = maybe"), "bad boolean");
    is_string("t.conf:2: bad value for 'debug': 'maybe' (expected yes, no,"
              " true, false, 1 or 0)",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("debug = yess"),
           "boolean prefix is not enough");

    ok(parse1("timeout = 1") == 0 && cfg.timeout == 1, "timeout 1");
    ok(parse1("timeout = 600") == 0 && cfg.timeout == 600, "timeout 600");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("timeout = 0"), "timeout 0 refused");
    is_string("t.conf:2: bad value for 'timeout': '0' (expected a whole"
              " number from 1 to 600)",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("timeout = 601"),
           "timeout 601 refused");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("timeout = 30s"),
           "timeout with a unit refused");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("timeout = 3 0"),
           "timeout with a space refused");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("timeout = 99999999999999999999999"),
           "timeout overflow refused");
    ok(parse1("min_valid = 0") == 0 && cfg.min_valid == 0, "min_valid 0");
    ok(parse1("min_valid = 86400") == 0 && cfg.min_valid == 86400,
       "min_valid 86400");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("min_valid = 86401"),
           "min_valid 86401 refused");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("min_valid = -1"),
           "min_valid -1 refused");
    ok(parse1("assumed_lifetime = 120") == 0 && cfg.assumed_lifetime == 120,
       "assumed_lifetime");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("assumed_lifetime = 0"),
           "assumed_lifetime 0 refused");
    ok(parse1("redirect_port = 65535") == 0 && cfg.redirect_port == 65535,
       "redirect_port 65535");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("redirect_port = 65536"),
           "redirect_port 65536");
    ok(parse1("minimum_uid = 1000") == 0 && cfg.minimum_uid == 1000,
       "minimum_uid");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("minimum_uid = -5"),
           "negative minimum_uid refused");

    ok(parse1("keyring = user") == 0 && cfg.keyring == FA_ANCHOR_USER,
       "keyring user");
    ok(parse1("keyring = Session") == 0 && cfg.keyring == FA_ANCHOR_SESSION,
       "keyring Session (case-insensitive)");
    ok(parse1("keyring = persistent") == 0
           && cfg.keyring == FA_ANCHOR_PERSISTENT,
       "keyring persistent");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("keyring = thread"),
           "keyring thread refused");
    is_string("t.conf:2: bad value for 'keyring': 'thread' (expected"
              " persistent, user or session)",
              ectx.msg, "  message");
    ok(parse1("grant = password") == 0 && cfg.grant == FA_GRANT_PASSWORD,
       "grant password");
    ok(parse1("grant = device") == 0 && cfg.grant == FA_GRANT_DEVICE,
       "grant device");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("grant = implicit"),
           "grant implicit refused");
    is_string("t.conf:2: bad value for 'grant': 'implicit' (expected"
              " device, password or client_credentials)",
              ectx.msg, "  message");
    ok(parse1("qr = on") == 0 && cfg.qr == FA_QR_ON, "qr on");
    ok(parse1("qr = off") == 0 && cfg.qr == FA_QR_OFF, "qr off");
    ok(parse1("qr = auto") == 0 && cfg.qr == FA_QR_AUTO, "qr auto");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("qr = sometimes"),
           "qr sometimes refused");

    is_int(FHIRAUTH_ERR_CONFIG, parse("issuer = http://as.example\n", NULL),
           "http issuer refused");
    is_string("t.conf:1: bad value for 'issuer': 'http://as.example':"
              " only https:// URLs are allowed",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("fhir_base = https://"),
           "bare https:// refused");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("token_endpoint = https://a.example/x y"),
           "URL with a space refused");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("jwks_uri = file:///etc/passwd"),
           "file URL refused");
    ok(parse1("token_endpoint = HTTPS://as.example/token") == 0
           && contains(cfg.token_endpoint, "as.example/token"),
       "scheme is case-insensitive");
    ok(parse1("proxy = http://proxy.example:3128") == 0
           && contains(cfg.proxy, "3128"),
       "proxy may be http");
    ok(parse1("proxy = none") == 0 && contains(cfg.proxy, "none"),
       "proxy none");

    is_int(FHIRAUTH_ERR_CONFIG, parse1("use_first_pass = yes"),
           "use_first_pass refused in a file");
    is_string("t.conf:2: 'use_first_pass' is a PAM module argument, not a"
              " configuration file key",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("try_first_pass = yes"),
           "try_first_pass refused in a file");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("config = /etc/other.conf"),
           "config refused in a file");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("profile = work"),
           "profile refused in a file");
}

/*
 * Every URL key follows the one set of rules (lib/url.c, tested in
 * url-t): no user name or password, no fragment, in files and module
 * arguments alike, with a message naming file, line and key that never
 * repeats a password; issuer and fhir_base take no query either.
 */
static void
test_url_keys(void)
{
    static const char *const url_keys[] = {
        "authorization_endpoint",
        "device_authorization_endpoint",
        "fhir_base",
        "introspection_endpoint",
        "issuer",
        "jwks_uri",
        "revocation_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
    };
    static const char *const base_keys[] = { "issuer", "fhir_base" };
    char line[256], want[512];
    size_t i;

    for (i = 0; i < sizeof(url_keys) / sizeof(url_keys[0]); i++) {
        const char *k = url_keys[i];

        snprintf(line, sizeof(line),
                 "%s = https://user:pw@as.example/token#frag", k);
        is_int(FHIRAUTH_ERR_CONFIG, parse1(line),
               "%s with user:pw@ and #frag refused", k);
        snprintf(want, sizeof(want),
                 "t.conf:2: bad value for '%s': a user"
                 " name or password does not belong in the URL (the URL is"
                 " not repeated: it may hold a password)",
                 k);
        is_string(want, ectx.msg, "  message names file:line and key");
        ok(!contains(ectx.msg, "pw@"), "  without the password");

        snprintf(line, sizeof(line), "%s = https://user@as.example/token", k);
        is_int(FHIRAUTH_ERR_CONFIG, parse1(line),
               "%s with a user name refused", k);

        snprintf(line, sizeof(line), "%s = https://as.example/token#frag", k);
        is_int(FHIRAUTH_ERR_CONFIG, parse1(line), "%s with a fragment refused",
               k);
        snprintf(want, sizeof(want),
                 "t.conf:2: bad value for '%s':"
                 " 'https://as.example/token#frag': a fragment ('#') does"
                 " not belong in the URL",
                 k);
        is_string(want, ectx.msg, "  message names file:line and key");

        /* The same rules for a module argument (fhirauth_set_option). */
        fa_config_free(&cfg);
        if (fa_config_init(&cfg) != 0)
            bail("fa_config_init failed");
        fa_err_clear(&ectx);
        is_int(FHIRAUTH_ERR_CONFIG,
               fa_config_set(&cfg, k, "https://u:pw@as.example/x", &ectx),
               "%s=https://u:pw@... refused as a module argument", k);
        ok(contains(ectx.msg, "user name or password")
               && !contains(ectx.msg, "pw@"),
           "  message without the password: %s", ectx.msg);
        is_int(FHIRAUTH_ERR_CONFIG,
               fa_config_set(&cfg, k, "https://as.example/x#f", &ectx),
               "%s=...#f refused as a module argument", k);
        ok(contains(ectx.msg, "fragment"), "  message: %s", ectx.msg);
        fa_config_free(&cfg);
    }

    /* A query: endpoints may have one (RFC 6749 §3.1), an issuer or a
     * FHIR base may not (a well-known suffix is appended to them). */
    ok(parse1("authorization_endpoint = https://as.example/auth?tenant=a") == 0
           && contains(cfg.authorization_endpoint, "tenant=a"),
       "an endpoint may have a query");
    for (i = 0; i < sizeof(base_keys) / sizeof(base_keys[0]); i++) {
        snprintf(line, sizeof(line), "%s = https://as.example/r?x=1",
                 base_keys[i]);
        is_int(FHIRAUTH_ERR_CONFIG, parse1(line), "%s with a query refused",
               base_keys[i]);
        ok(contains(ectx.msg, "query"), "  message: %s", ectx.msg);
        snprintf(line, sizeof(line), "%s = https://as.example/r/",
                 base_keys[i]);
        is_int(0, parse1(line), "%s with a trailing slash kept", base_keys[i]);
    }
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("token_endpoint = https://as.example:0/token"),
           "port 0 refused");
    ok(contains(ectx.msg, "bad port"), "  message: %s", ectx.msg);
    ok(parse1("proxy = http://user:pw@proxy.example:3128") == 0
           && contains(cfg.proxy, "3128"),
       "proxy is not a URL key: it may carry credentials");
}

/* Every key of pam_fhir.conf(5) is known and lands in its field. */
/* client_auth against the files it needs (fa_client_auth_method). */
static void
test_client_auth(void)
{
    enum fa_auth_method m;

    ok(parse1("client_id = c") == 0 && cfg.client_auth == FA_METHOD_AUTO
           && fa_client_auth_method(&cfg, &m, &ectx) == 0
           && m == FA_METHOD_NONE,
       "no file: a public client");
    ok(parse1("client_secret_file = /s") == 0
           && fa_client_auth_method(&cfg, &m, &ectx) == 0
           && m == FA_METHOD_AUTO,
       "a secret: as discovery says (auto)");
    ok(parse1("client_key_file = /k") == 0
           && fa_client_auth_method(&cfg, &m, &ectx) == 0
           && m == FA_METHOD_PRIVATE_KEY_JWT,
       "a key: private_key_jwt");
    is_int(0, cfg.client_key_alg, "  RS384 by default");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("client_key_file = /k\nclient_secret_file = /s"),
           "both files with auto: refused at load");
    ok(contains(ectx.msg, "choose one with client_auth"), "  message: %s",
       ectx.msg);
    is_int(0,
           parse1("client_key_file = /k\nclient_secret_file = /s\n"
                  "client_auth = private_key_jwt"),
           "both files, client_auth chooses");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_auth = private_key_jwt"),
           "private_key_jwt without client_key_file");
    ok(contains(ectx.msg, "needs client_key_file"), "  message: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_auth = client_secret_basic"),
           "client_secret_basic without client_secret_file");
    is_int(0, parse1("client_auth = none\nclient_secret_file = /s"),
           "none with a secret file: the file is not used");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_auth = tls_client_auth"),
           "an unknown method");
    ok(contains(ectx.msg,
                "auto, none, client_secret_basic, "
                "client_secret_post or private_key_jwt"),
       "  message lists them all: %s", ectx.msg);
    ok(parse1("client_key_alg = es256") == 0
           && cfg.client_key_alg == FA_KEY_ALG_ES256
           && strcmp(fa_config_text(&cfg, "client_key_alg"), "ES256") == 0,
       "client_key_alg in any case, kept as its JOSE name");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_key_alg = HS256"),
           "no shared-key alg");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_key_alg = none"),
           "no alg none");
    ok(parse1("client_id = c") == 0
           && cfg.client_key_aud == FA_KEY_AUD_TOKEN_ENDPOINT
           && strcmp(fa_config_text(&cfg, "client_key_aud"), "token_endpoint")
               == 0,
       "client_key_aud: the token endpoint by default");
    ok(parse1("client_key_aud = Endpoint") == 0
           && cfg.client_key_aud == FA_KEY_AUD_ENDPOINT,
       "client_key_aud = endpoint, in any case");
    is_int(FHIRAUTH_ERR_CONFIG, parse1("client_key_aud = issuer"),
           "client_key_aud: no other value");
    ok(contains(ectx.msg, "token_endpoint or endpoint"),
       "  message lists both: %s", ectx.msg);
}

/* grant = client_credentials: a service profile needs a client credential,
 * and the message names the line that chose the grant. */
static void
test_client_credentials(void)
{
    enum fa_auth_method m;

    ok(parse1("client_id = svc\nclient_key_file = /k\n"
              "grant = client_credentials")
               == 0
           && cfg.grant == FA_GRANT_CLIENT_CREDENTIALS
           && strcmp(fa_config_text(&cfg, "grant"), "client_credentials") == 0,
       "client_credentials with a key");
    ok(fa_client_auth_method(&cfg, &m, &ectx) == 0
           && m == FA_METHOD_PRIVATE_KEY_JWT,
       "  authenticated with private_key_jwt");
    is_int(0,
           parse1("client_id = svc\nclient_secret_file = /s\n"
                  "grant = client_credentials"),
           "client_credentials with a secret");
    is_int(0,
           parse1("client_id = svc\nclient_secret_file = /s\n"
                  "client_auth = client_secret_post\n"
                  "grant = CLIENT_CREDENTIALS"),
           "client_credentials with client_secret_post, in any case");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("client_id = svc\ngrant = client_credentials"),
           "client_credentials for a public client: refused at load");
    ok(contains(ectx.msg,
                "t.conf:3: grant = client_credentials needs a "
                "client credential"),
       "  message names file and line: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("client_id = svc\nclient_secret_file = /s\n"
                  "client_auth = none\ngrant = client_credentials"),
           "client_credentials with client_auth = none: refused");
    ok(contains(ectx.msg, "t.conf:5:"), "  the grant's line: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("grant = client_credentials\n[profile a]\n"
                 "issuer = https://as.example\n[profile b]\n"
                 "issuer = https://as.example\n"
                 "client_secret_file = /s\n",
                 "a"),
           "a grant before the first section applies to every profile");
    ok(contains(ectx.msg, "t.conf:1:"), "  that line is named: %s", ectx.msg);
    is_int(0,
           parse("grant = client_credentials\n[profile a]\n"
                 "issuer = https://as.example\n[profile b]\n"
                 "issuer = https://as.example\n"
                 "client_secret_file = /s\n",
                 "b"),
           "  a profile with a credential takes it");
    is_int(0,
           parse("grant = client_credentials\n[profile a]\n"
                 "issuer = https://as.example\ngrant = device\n",
                 "a"),
           "a profile's own grant wins over the top's");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("[profile a]\nissuer = https://as.example\n"
                 "grant = device\n\ngrant = client_credentials\n",
                 "a"),
           "the later of two lines wins");
    ok(contains(ectx.msg, "t.conf:5:"), "  and is named: %s", ectx.msg);
    is_int(0, parse1("client_id = c\ngrant = client_credentials\ngrant ="),
           "an empty value restores the default grant (device)");
    is_int(FA_GRANT_DEVICE, cfg.grant, "  device");

    /* A service profile's tokens are never DPoP-bound: dpop = yes there
     * is refused, naming the line that set it. */
    is_int(FHIRAUTH_ERR_CONFIG,
           parse1("client_id = svc\nclient_key_file = /k\ndpop = yes\n"
                  "grant = client_credentials"),
           "client_credentials with dpop = yes: refused at load");
    ok(contains(ectx.msg, "t.conf:4: dpop = yes is for a user's session"),
       "  message names file and the line of dpop: %s", ectx.msg);
    ok(contains(ectx.msg, "grant = client_credentials"), "  and the grant: %s",
       ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("dpop = yes\n[profile a]\nissuer = https://as.example\n"
                 "client_secret_file = /s\ngrant = client_credentials\n",
                 "a"),
           "  also from before the first section");
    ok(contains(ectx.msg, "t.conf:1:"), "  that line is named: %s", ectx.msg);
    is_int(0,
           parse1("client_id = svc\nclient_key_file = /k\ndpop = no\n"
                  "grant = client_credentials"),
           "  dpop = no is fine");
    is_int(0,
           parse("dpop = yes\n[profile a]\nissuer = https://as.example\n"
                 "client_secret_file = /s\ngrant = client_credentials\n"
                 "dpop = no\n[profile b]\nissuer = https://as.example\n",
                 "a"),
           "  a profile's own dpop = no wins over the top's");
    is_int(0,
           parse("dpop = yes\n[profile b]\nissuer = https://as.example\n",
                 "b"),
           "  and a user's profile keeps dpop = yes");
    ok(cfg.dpop, "  set");
}

static void
test_all_keys(void)
{
    static const struct {
        const char *key, *value;
    } keys[] = {
        { "issuer", "https://as.example" },
        { "fhir_base", "https://fhir.example/r4" },
        { "client_id", "cid" },
        { "client_secret_file", "/etc/pam_fhir/secret" },
        { "client_auth", "client_secret_post" },
        { "client_key_file", "/etc/pam_fhir/client.pem" },
        { "client_key_alg", "ES384" },
        { "client_key_aud", "endpoint" },
        { "client_key_id", "k-1" },
        { "scope", "openid fhirUser" },
        { "aud", "https://fhir.example/r4" },
        { "resource", "https://fhir.example/r4" },
        { "ca_file", "/etc/ssl/ca.pem" },
        { "ca_path", "/etc/ssl/certs" },
        { "proxy", "none" },
        { "timeout", "12" },
        { "min_valid", "13" },
        { "assumed_lifetime", "14" },
        { "keyring", "session" },
        { "grant", "password" },
        { "username_claim", "sub" },
        { "usermap", "/etc/pam_fhir/usermap" },
        { "match", "https://git.example/" },
        { "git_username", "x-token" },
        { "redirect_port", "8400" },
        { "revoke_on_close", "yes" },
        { "minimum_uid", "1000" },
        { "ignore_users", "root admin" },
        { "qr", "off" },
        { "debug", "true" },
        { "authorization_endpoint", "https://as.example/auth" },
        { "token_endpoint", "https://as.example/token" },
        { "revocation_endpoint", "https://as.example/revoke" },
        { "device_authorization_endpoint", "https://as.example/device" },
        { "introspection_endpoint", "https://as.example/introspect" },
        { "jwks_uri", "https://as.example/jwks" },
        { "userinfo_endpoint", "https://as.example/me" },
        { "require_id_token", "yes" },
        { "dpop", "yes" },
    };
    char text[4096];
    size_t i, pos = 0;
    int n;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        n = snprintf(text + pos, sizeof(text) - pos, "%s = %s\n", keys[i].key,
                     keys[i].value);
        if (n < 0 || (size_t) n >= sizeof(text) - pos)
            bail("test text too long");
        pos += (size_t) n;
    }
    is_int(0, parse(text, NULL), "every file key parses");
    is_string("https://as.example", cfg.issuer, "  issuer");
    is_string("https://fhir.example/r4", cfg.fhir_base, "  fhir_base");
    is_string("cid", cfg.client_id, "  client_id");
    is_string("/etc/pam_fhir/secret", cfg.client_secret_file,
              "  client_secret_file");
    is_int(FA_METHOD_SECRET_POST, cfg.client_auth, "  client_auth");
    is_string("/etc/pam_fhir/client.pem", cfg.client_key_file,
              "  client_key_file");
    is_int(FA_KEY_ALG_ES384, cfg.client_key_alg, "  client_key_alg");
    is_int(FA_KEY_AUD_ENDPOINT, cfg.client_key_aud, "  client_key_aud");
    is_string("k-1", cfg.client_key_id, "  client_key_id");
    is_string("openid fhirUser", cfg.scope, "  scope");
    is_string("https://fhir.example/r4", cfg.aud, "  aud");
    is_string("https://fhir.example/r4", cfg.resource, "  resource");
    is_string("/etc/ssl/ca.pem", cfg.ca_file, "  ca_file");
    is_string("/etc/ssl/certs", cfg.ca_path, "  ca_path");
    is_string("none", cfg.proxy, "  proxy");
    is_int(12, cfg.timeout, "  timeout");
    is_int(13, cfg.min_valid, "  min_valid");
    is_int(14, cfg.assumed_lifetime, "  assumed_lifetime");
    is_int(FA_ANCHOR_SESSION, cfg.keyring, "  keyring");
    is_int(FA_GRANT_PASSWORD, cfg.grant, "  grant");
    is_string("sub", cfg.username_claim, "  username_claim");
    is_string("/etc/pam_fhir/usermap", cfg.usermap, "  usermap");
    is_string("https://git.example/", cfg.match, "  match");
    is_string("x-token", cfg.git_username, "  git_username");
    is_int(8400, cfg.redirect_port, "  redirect_port");
    ok(cfg.revoke_on_close, "  revoke_on_close");
    ok(cfg.dpop, "  dpop");
    is_int(1000, cfg.minimum_uid, "  minimum_uid");
    is_string("root admin", cfg.ignore_users, "  ignore_users");
    is_int(FA_QR_OFF, cfg.qr, "  qr");
    ok(cfg.debug, "  debug");
    is_string("https://as.example/auth", cfg.authorization_endpoint,
              "  authorization_endpoint");
    is_string("https://as.example/token", cfg.token_endpoint,
              "  token_endpoint");
    is_string("https://as.example/revoke", cfg.revocation_endpoint,
              "  revocation_endpoint");
    is_string("https://as.example/device", cfg.device_authorization_endpoint,
              "  device_authorization_endpoint");
    is_string("https://as.example/introspect", cfg.introspection_endpoint,
              "  introspection_endpoint");
    is_string("https://as.example/jwks", cfg.jwks_uri, "  jwks_uri");
    is_string("https://as.example/me", cfg.userinfo_endpoint,
              "  userinfo_endpoint");
    ok(cfg.require_id_token, "  require_id_token");

    /* The table is looked up with bsearch: a key out of order would be
     * unknown to fa_config_set. */
    fa_config_free(&cfg);
    fa_config_init(&cfg);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (fa_config_set(&cfg, keys[i].key, keys[i].value, &ectx) != 0)
            break;
    is_int(sizeof(keys) / sizeof(keys[0]), i,
           "fa_config_set knows every file key");
}

static void
test_profiles(void)
{
    static const char text[] = "# defaults for every profile\n"
                               "issuer = https://as.example\n"
                               "timeout = 10\n"
                               "scope = openid\n"
                               "\n"
                               "[profile work]\n"
                               "client_id = work-client\n"
                               "timeout = 20\n"
                               "\n"
                               "[ profile   home ]\n"
                               "issuer = https://home.example\n"
                               "client_id = home-client\n"
                               "\n"
                               "[profile my-ci_2.x]\n"
                               "fhir_base = https://fhir.example/r4\n";

    is_int(0, parse(text, "work"), "profile work");
    is_string("work", cfg.profile, "  profile name recorded");
    is_string("https://as.example", cfg.issuer, "  inherits issuer");
    is_string("openid", cfg.scope, "  inherits scope");
    is_string("work-client", cfg.client_id, "  own client_id");
    is_int(20, cfg.timeout, "  own timeout overrides the default");

    is_int(0, parse(text, "home"), "profile home (spaces in header)");
    is_string("https://home.example", cfg.issuer, "  own issuer");
    is_string("home-client", cfg.client_id, "  own client_id");
    is_int(10, cfg.timeout, "  inherits timeout, not work's");

    is_int(0, parse(text, "my-ci_2.x"), "profile name with . _ -");
    ok(cfg.client_id == NULL, "  no client_id from other profiles");
    is_string("https://fhir.example/r4", cfg.fhir_base, "  own fhir_base");

    is_int(FHIRAUTH_ERR_CONFIG, parse(text, NULL),
           "sections but no default_profile");
    is_string("no profile 'default' in t.conf", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse(text, "play"), "unknown profile");
    is_string("no profile 'play' in t.conf", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse(text, "Work"),
           "profile names are case-sensitive");

    is_int(0,
           parse("default_profile = home\n"
                 "issuer = https://as.example\n"
                 "[profile work]\nclient_id = w\n"
                 "[profile home]\nclient_id = h\n",
                 NULL),
           "default_profile");
    is_string("home", cfg.profile, "  picks its profile");
    is_string("h", cfg.client_id, "  with its keys");
    is_int(0,
           parse("default_profile = home\n"
                 "issuer = https://as.example\n"
                 "[profile work]\nclient_id = w\n"
                 "[profile home]\nclient_id = h\n",
                 "work"),
           "an explicit profile beats default_profile");
    is_string("w", cfg.client_id, "  with its keys");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("default_profile = gone\n"
                 "issuer = https://as.example\n"
                 "[profile work]\n",
                 NULL),
           "default_profile naming no profile");
    is_string("no profile 'gone' in t.conf", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\n"
                 "[profile work]\ndefault_profile = work\n",
                 NULL),
           "default_profile inside a section");
    is_string("t.conf:3: default_profile is only valid before the first"
              " section",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           parse("default_profile = a/b\n"
                 "issuer = https://as.example\n",
                 NULL),
           "default_profile with a bad name");

    is_int(0,
           parse("issuer = https://as.example\n"
                 "[profile default]\nclient_id = d\n"
                 "[profile other]\nclient_id = o\n",
                 NULL),
           "an explicit [profile default]");
    is_string("d", cfg.client_id, "  is the default");
    is_int(0, parse("issuer = https://as.example\n", "default"),
           "no sections: profile default");
    is_string("default", cfg.profile, "  named default");
    is_int(FHIRAUTH_ERR_CONFIG, parse("issuer = https://as.example\n", "work"),
           "no sections: other profiles unknown");
    is_string("no profile 'work' in t.conf", ectx.msg, "  message");

    is_int(0,
           parse("[profile a]\nissuer = https://a.example\n"
                 "[profile b]\nissuer = https://b.example\n"
                 "[profile a]\nclient_id = again\n",
                 "a"),
           "a profile may appear twice");
    is_string("https://a.example", cfg.issuer, "  first part kept");
    is_string("again", cfg.client_id, "  second part added");

    is_int(FHIRAUTH_ERR_CONFIG,
           parse("[profile a]\nissuer = https://a.example\n"
                 "[profile b]\n",
                 "b"),
           "a profile without issuer or fhir_base");
    is_string(
        "no issuer, fhir_base or token_endpoint configured for profile 'b'",
        ectx.msg, "  message");

    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile a b]\n", NULL),
           "profile name with a space");
    ok(contains(ectx.msg, "t.conf:1: bad profile name 'a b'"), "  message: %s",
       ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile a/b]\n", NULL),
           "profile name with /");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile ..]\n", NULL),
           "profile name ..");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile -x]\n", NULL),
           "profile name -x");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile]\n", NULL),
           "profile without a name");
    is_string("t.conf:1: bad section header (expected '[profile NAME]')",
              ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[work]\n", NULL),
           "section without 'profile'");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profilework]\n", NULL),
           "no space after profile");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile work\n", NULL),
           "unclosed section");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile work] # x\n", NULL),
           "no comment after a section header");
    is_int(FHIRAUTH_ERR_CONFIG, parse("[profile " A32 A32 "a]\n", NULL),
           "65-character profile name refused");
    is_int(0,
           parse("[profile " A32 A32 "]\nissuer = https://a.example\n",
                 A32 A32),
           "64-character profile name accepted");
    is_int(FHIRAUTH_ERR_CONFIG, parse("issuer = https://as.example\n", "../x"),
           "requested profile with a bad name");
    is_string("bad profile name '../x'", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, parse("issuer = https://as.example\n", ""),
           "empty requested profile");

    is_int(FHIRAUTH_ERR_CONFIG,
           parse("issuer = https://as.example\n"
                 "[profile a]\ntimeout = 0\n"
                 "[profile b]\n",
                 "b"),
           "a bad value in another profile is still an error");
    is_string("t.conf:3: bad value for 'timeout': '0' (expected a whole"
              " number from 1 to 600)",
              ectx.msg, "  message");
}

static void
test_set(void)
{
    char big[FA_DETAIL_MAX + 64];

    fa_config_free(&cfg);
    fa_config_init(&cfg);
    is_int(0, fa_config_set(&cfg, "timeout", "45", &ectx), "set timeout");
    is_int(45, cfg.timeout, "  applied");
    is_int(0, fa_config_set(&cfg, "debug", NULL, &ectx), "bare debug");
    ok(cfg.debug, "  is true");
    is_int(0, fa_config_set(&cfg, "debug", "no", &ectx), "debug=no");
    ok(!cfg.debug, "  is false");
    is_int(0, fa_config_set(&cfg, "use_first_pass", NULL, &ectx),
           "bare use_first_pass");
    ok(cfg.use_first_pass, "  is true");
    is_int(0, fa_config_set(&cfg, "try_first_pass", "yes", &ectx),
           "try_first_pass=yes");
    ok(cfg.try_first_pass, "  is true");
    is_int(0, fa_config_set(&cfg, "config", "/etc/pam_fhir/ssh.conf", &ectx),
           "config=FILE");
    is_string("/etc/pam_fhir/ssh.conf", cfg.config, "  stored");
    is_int(0, fa_config_set(&cfg, "profile", "work", &ectx), "profile=work");
    is_string("work", cfg.profile, "  stored");
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_set(&cfg, "profile", "../etc", &ectx),
           "profile with a bad name");
    is_string("work", cfg.profile, "  old value kept");
    is_int(FHIRAUTH_ERR_CONFIG, fa_config_set(&cfg, "timeout", NULL, &ectx),
           "bare timeout");
    is_string("'timeout' needs a value", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG, fa_config_set(&cfg, "timeout", "1000", &ectx),
           "timeout out of range");
    is_string("bad value for 'timeout': '1000' (expected a whole number"
              " from 1 to 600)",
              ectx.msg, "  message");
    is_int(45, cfg.timeout, "  old value kept");
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_set(&cfg, "issuer", "http://x.example", &ectx),
           "http issuer");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_config_set(&cfg, "colour", "blue", &ectx), "unknown key is -2");
    is_string("unknown key 'colour'", ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_config_set(&cfg, "default_profile", "x", &ectx),
           "default_profile is a file key only");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_config_set(&cfg, NULL, "x", &ectx), "NULL key");
    is_int(0, fa_config_set(&cfg, "issuer", "https://a.example", &ectx),
           "set issuer");
    is_int(0, fa_config_set(&cfg, "issuer", "https://b.example", &ectx),
           "set issuer again");
    is_string("https://b.example", cfg.issuer, "  replaced (no leak)");
    is_int(0, fa_config_set(&cfg, "issuer", "", &ectx), "empty issuer");
    ok(cfg.issuer == NULL, "  unset");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    is_int(FHIRAUTH_ERR_CONFIG, fa_config_set(&cfg, "timeout", big, &ectx),
           "a message longer than the context");
    is_int(FA_DETAIL_MAX - 1, (long long) strlen(ectx.msg),
           "  truncated and terminated");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fa_config_set(&cfg, "colour", "x", NULL), "no error context");

    /* A failed parse leaves the caller's configuration alone. */
    fa_config_free(&cfg);
    fa_config_init(&cfg);
    fa_config_set(&cfg, "issuer", "https://kept.example", &ectx);
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_parse_text(&cfg, "t.conf", "timeout = 0\n", 12, NULL,
                                &ectx),
           "failed parse");
    is_string("https://kept.example", cfg.issuer, "  cfg untouched");
    is_int(0,
           fa_config_parse_text(&cfg, "t.conf", "fhir_base = https://f.x\n",
                                24, NULL, &ectx),
           "successful parse");
    ok(cfg.issuer == NULL, "  replaces cfg (no leak)");
    is_string("", ectx.msg, "  ectx.msg emptied on success");

    /* Module arguments applied after load override the file. */
    is_int(0, parse("issuer = https://as.example\ntimeout = 10\n", NULL),
           "file timeout 10");
    fa_config_set(&cfg, "timeout", "20", &ectx);
    is_int(20, cfg.timeout, "  argument overrides");
}

static void
test_files(void)
{
    char *good, *sys, *user, *p, *big, *dir;
    bool root = geteuid() == 0;
    size_t n;

    good =
        write_file("issuer = https://explicit.example\nclient_id = e\n", 0644);
    is_int(0, load(NULL, NULL, good, false, NULL), "explicit file");
    is_string("https://explicit.example", cfg.issuer, "  read");
    is_string("default", cfg.profile, "  profile default");

    is_int(FHIRAUTH_ERR_CONFIG,
           load(NULL, NULL, tmp_path("missing.conf"), false, NULL),
           "missing explicit file");
    ok(contains(ectx.msg, "missing.conf: cannot open: No such file"),
       "  message: %s", ectx.msg);

    p = write_file("issuer = https://as.example\ncolour = red\n", 0644);
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "error in a file");
    ok(contains(ectx.msg, p) && contains(ectx.msg, ":2: unknown key 'colour'"),
       "  message names file and line: %s", ectx.msg);

    p = write_file("issuer = https://as.example\n", 0666);
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "world-writable refused");
    ok(contains(ectx.msg, "writable by group or others"), "  message: %s",
       ectx.msg);
    p = write_file("issuer = https://as.example\n", 0620);
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "group-writable refused");
    p = write_file("issuer = https://as.example\n", 0600);
    is_int(0, load(NULL, NULL, p, false, NULL), "mode 0600 accepted");

    p = tmp_path("link.conf");
    if (symlink(good, p) != 0)
        bail("symlink: %s", strerror(errno));
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "symbolic link refused");
    ok(contains(ectx.msg, "is a symbolic link"), "  message: %s", ectx.msg);

    dir = tmp_path("dir.conf");
    if (mkdir(dir, 0755) != 0)
        bail("mkdir: %s", strerror(errno));
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, dir, false, NULL),
           "directory refused");
    ok(contains(ectx.msg, "not a regular file"), "  message: %s", ectx.msg);
    p = tmp_path("fifo.conf");
    if (mkfifo(p, 0644) != 0)
        bail("mkfifo: %s", strerror(errno));
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "FIFO refused (without blocking)");
    ok(contains(ectx.msg, "not a regular file"), "  message: %s", ectx.msg);

    /* Exactly the cap: the issuer, then blank lines. */
    big = malloc(FA_CONFIG_MAX_BYTES + 1);
    if (big == NULL)
        bail("out of memory");
    memset(big, '\n', FA_CONFIG_MAX_BYTES + 1);
    n = strlen(issuer);
    memcpy(big, issuer, n);
    p = write_file_len(big, FA_CONFIG_MAX_BYTES, 0644);
    is_int(0, load(NULL, NULL, p, false, NULL), "file of exactly the cap");
    p = write_file_len(big, FA_CONFIG_MAX_BYTES + 1, 0644);
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, false, NULL),
           "file over the cap");
    ok(contains(ectx.msg, "larger than 65536 bytes"), "  message: %s",
       ectx.msg);
    free(big);

    /* The system file (and a flagged explicit file) must be root's. */
    if (!root) {
        is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, good, true, NULL),
               "explicit file not owned by root refused");
        ok(contains(ectx.msg, "must be owned by root"), "  message: %s",
           ectx.msg);
        is_int(FHIRAUTH_ERR_CONFIG, load(good, NULL, NULL, false, NULL),
               "system file not owned by root refused");
        ok(contains(ectx.msg, "must be owned by root"), "  message: %s",
           ectx.msg);
        skip("not root: cannot make root-owned system files");
        return;
    }
    is_int(0, load(NULL, NULL, good, true, NULL),
           "root-owned explicit file with require_root_owned");
    p = write_file("issuer = https://as.example\n", 0644);
    if (chown(p, 1, 1) != 0)
        bail("chown: %s", strerror(errno));
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, NULL, p, true, NULL),
           "explicit file owned by uid 1 refused when root is required");
    ok(contains(ectx.msg, "must be owned by root (owner is uid 1)"),
       "  message: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG, load(p, NULL, NULL, false, NULL),
           "system file owned by uid 1 refused");
    ok(contains(ectx.msg, "must be owned by root"), "  message: %s", ectx.msg);
    is_int(FHIRAUTH_ERR_CONFIG, load(NULL, p, NULL, false, NULL),
           "user file owned by another user refused");
    ok(contains(ectx.msg, "must be owned by root or uid 0"), "  message: %s",
       ectx.msg);

    sys = write_file("default_profile = a\n"
                     "issuer = https://sys.example\n"
                     "timeout = 10\n"
                     "min_valid = 20\n"
                     "scope = sys-scope\n"
                     "[profile a]\n"
                     "client_id = sys-a\n"
                     "timeout = 11\n"
                     "qr = on\n"
                     "[profile s]\n"
                     "client_id = sys-s\n",
                     0644);
    user = write_file("timeout = 12\n"
                      "[profile a]\n"
                      "min_valid = 5\n"
                      "[profile b]\n"
                      "issuer = https://user-b.example\n",
                      0600);
    is_int(0, load(sys, user, NULL, false, "a"), "system + user, profile a");
    is_string("https://sys.example", cfg.issuer, "  system top-level");
    is_string("sys-a", cfg.client_id, "  system profile");
    is_int(12, cfg.timeout, "  user top-level beats system profile");
    is_int(5, cfg.min_valid, "  user profile beats system top-level");
    is_int(FA_QR_ON, cfg.qr, "  system profile kept");
    is_string("sys-scope", cfg.scope, "  system top-level kept");
    is_int(0, load(sys, user, NULL, false, "b"),
           "profile only in the user file");
    is_string("https://user-b.example", cfg.issuer, "  user profile");
    is_int(12, cfg.timeout, "  user top-level");
    is_int(20, cfg.min_valid, "  system top-level");
    ok(cfg.client_id == NULL, "  nothing from system profile a");
    is_int(0, load(sys, user, NULL, false, "s"),
           "profile only in the system file");
    is_string("sys-s", cfg.client_id, "  system profile");
    is_int(12, cfg.timeout, "  user top-level still applies");
    is_int(0, load(sys, user, NULL, false, NULL), "system default_profile");
    is_string("a", cfg.profile, "  picks a");
    is_int(FHIRAUTH_ERR_CONFIG, load(sys, user, NULL, false, "zz"),
           "profile in neither");
    ok(contains(ectx.msg, "no profile 'zz' in ") && contains(ectx.msg, sys)
           && contains(ectx.msg, user),
       "  message names both files: %s", ectx.msg);

    p = write_file("default_profile = s\n", 0644);
    is_int(0, load(sys, p, NULL, false, NULL),
           "user default_profile overrides the system's");
    is_string("s", cfg.profile, "  picks s");
    is_string("sys-s", cfg.client_id, "  with the system's profile s");

    /* The grant of the file of highest precedence is the one named. */
    p = write_file("[profile s]\ngrant = client_credentials\n", 0600);
    is_int(FHIRAUTH_ERR_CONFIG, load(sys, p, NULL, false, "s"),
           "client_credentials from the user file, no credential");
    ok(contains(ectx.msg, p) && contains(ectx.msg, ":2: grant = "),
       "  message names the user file's line: %s", ectx.msg);

    is_int(0, load(sys, tmp_path("no-user.conf"), NULL, false, "a"),
           "missing user file is fine");
    is_int(10 + 1, cfg.timeout, "  system values only");
    is_int(0, load(tmp_path("no-sys.conf"), user, NULL, false, "b"),
           "missing system file, user file has the profile");
    is_string("https://user-b.example", cfg.issuer, "  from the user file");
    is_int(FHIRAUTH_ERR_CONFIG,
           load(tmp_path("no-sys.conf"), user, NULL, false, "a"),
           "missing system file, user profile without issuer");
    is_string(
        "no issuer, fhir_base or token_endpoint configured for profile 'a'",
        ectx.msg, "  message");
    is_int(FHIRAUTH_ERR_CONFIG,
           load(tmp_path("no-sys.conf"), tmp_path("no-user.conf"), NULL, false,
                NULL),
           "both files missing");
    ok(contains(ectx.msg, "no-sys.conf: cannot open"),
       "  names the system file");
    p = write_file("issuer = https://u.example\n", 0644);
    is_int(0, load(tmp_path("no-sys.conf"), p, NULL, false, NULL),
           "missing system file, sectionless user file supplies issuer");

    is_int(0, load(sys, user, good, false, NULL),
           "explicit file replaces both");
    is_string("https://explicit.example", cfg.issuer, "  explicit issuer");
    is_int(30, cfg.timeout, "  nothing from the system or user file");

    p = write_file("issuer = https://as.example\nuse_first_pass = yes\n",
                   0644);
    is_int(FHIRAUTH_ERR_CONFIG, load(sys, p, NULL, false, "a"),
           "PAM-only key in the user file");
    ok(contains(ectx.msg, p) && contains(ectx.msg, ":2: 'use_first_pass'"),
       "  message: %s", ectx.msg);
    p = write_file("timeout = 0\n", 0644);
    is_int(FHIRAUTH_ERR_CONFIG, load(sys, p, NULL, false, "a"),
           "bad value in the user file");
    ok(contains(ectx.msg, p)
           && contains(ectx.msg, ":1: bad value for 'timeout'"),
       "  message: %s", ectx.msg);
    p = write_file("issuer = https://as.example\n", 0666);
    is_int(FHIRAUTH_ERR_CONFIG, load(sys, p, NULL, false, "a"),
           "world-writable user file refused");
    p = tmp_path("sys-link.conf");
    if (symlink(sys, p) != 0)
        bail("symlink: %s", strerror(errno));
    is_int(FHIRAUTH_ERR_CONFIG, load(p, NULL, NULL, false, "a"),
           "symbolic link as system file refused");
}

int
main(void)
{
    const char *base = getenv("TMPDIR");
    size_t i;

    plan_lazy();
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (snprintf(tmpdir, sizeof(tmpdir), "%s/config-t.XXXXXX", base)
            >= (int) sizeof(tmpdir)
        || mkdtemp(tmpdir) == NULL)
        bail("cannot make a temporary directory under %s", base);
    /* The tests choose every mode themselves. */
    umask(022);

    test_defaults();
    test_grammar();
    test_lines();
    test_values();
    test_url_keys();
    test_all_keys();
    test_client_auth();
    test_client_credentials();
    test_profiles();
    test_set();
    test_files();

    fa_config_free(&cfg);
    for (i = npaths; i > 0; i--) {
        if (unlink(paths[i - 1]) != 0)
            rmdir(paths[i - 1]);
        free(paths[i - 1]);
    }
    rmdir(tmpdir);
    return test_status();
}
