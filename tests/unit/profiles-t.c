/* profiles-t.c - which profile answers for a URL (match prefixes: scheme,
 * host, port, path boundaries, longest match, garbage), the profile list
 * of the configuration, and configuration values as text. */
#include "autoconf.h"
#include "config.h"
#include "handle.h"
#include "tests/tap/basic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char *paths[32];
static size_t npaths;

static char *
write_conf(const char *name, const char *text)
{
    char *path = malloc(512);
    FILE *f;

    if (path == NULL || snprintf(path, 512, "%s/%s", tmpdir, name) >= 512)
        bail("path too long");
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        bail("cannot write %s: %s", path, strerror(errno));
    if (chmod(path, 0600) != 0)
        bail("chmod %s: %s", path, strerror(errno));
    if (npaths >= sizeof(paths) / sizeof(paths[0]))
        bail("too many files");
    paths[npaths++] = path;
    return path;
}

static bool
contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static const char *conf; /* the configuration in use */

/* The profile for url ("" for no match), or "ERR:<rc>" on failure; the
 * detail of a failure lands in last_detail. */
static char result[128];
static char last_detail[512];

static const char *
lookup(const char *url)
{
    char *profile = NULL, *detail = NULL;
    fhirauth_rc rc;

    last_detail[0] = '\0';
    rc = fhirauth_profile_for_url(conf, url, &profile, &detail);
    if (rc != FHIRAUTH_OK) {
        snprintf(result, sizeof(result), "ERR:%d", (int) rc);
        snprintf(last_detail, sizeof(last_detail), "%s",
                 detail != NULL ? detail : "(no detail)");
        free(detail);
        return result;
    }
    snprintf(result, sizeof(result), "%s", profile != NULL ? profile : "");
    free(profile);
    return result;
}

static const char main_conf[] =
    "default_profile = main\n"
    "issuer = https://as.example\n"
    "client_id = c\n"
    "\n"
    "[profile main]\n"
    "match = https://git.example.org\n"
    "\n"
    "[profile org]\n"
    "match = https://git.example.org/org \t https://GIT.example.org:8443/\n"
    "\n"
    "[profile deep]\n"
    "match = https://git.example.org/org/team/\n"
    "\n"
    "[profile plain]\n"
    "match = http://plain.example\n"
    "\n"
    "[profile v6]\n"
    "match = https://[::1]:8443/x\n"
    "\n"
    "[profile esc]\n"
    "match = https://esc.example/a%2fb\n"
    "\n"
    "[profile none]\n"
    "client_id = other\n";

static void
test_matching(void)
{
    static const struct {
        const char *url, *want, *what;
    } cases[] = {
        { "https://git.example.org", "main", "host without a path" },
        { "https://git.example.org/", "main", "a lone '/' is no path" },
        { "https://git.example.org:443/other/repo.git", "main",
          "explicit default port 443 equals none" },
        { "https://git.example.org:0443/x", "main", "port 0443 is 443" },
        { "HTTPS://Git.Example.ORG/other", "main",
          "scheme and host compare without case" },
        { "https://git.example.org/org", "org", "path equal to a prefix" },
        { "https://git.example.org/org/", "org", "prefix plus '/'" },
        { "https://git.example.org/org/repo.git", "org",
          "path below a prefix" },
        { "https://git.example.org/organisation/repo.git", "main",
          "no match inside a segment (/org vs /organisation)" },
        { "https://git.example.org/org%2Fx", "main",
          "an escaped '/' is no segment boundary" },
        { "https://git.example.org/Org/repo", "main",
          "paths compare with case" },
        { "https://git.example.org/org/team/repo", "deep",
          "the longest prefix wins" },
        { "https://git.example.org/org/team", "deep",
          "a prefix's trailing '/' is dropped" },
        { "https://git.example.org/org/teamwork", "org",
          "longest match only at a boundary" },
        { "https://git.example.org/org/x?q=1#frag", "org",
          "query and fragment ignored" },
        { "https://alice@git.example.org/org/x", "org",
          "a user name in the URL is ignored" },
        { "https://git.example.org:8443/anything", "org",
          "a prefix with a port matches only that port" },
        { "https://git.example.org:8443", "org",
          "port-specific prefix, no path" },
        { "https://git.example.org:8080/", "", "another port: no match" },
        { "http://git.example.org/", "", "another scheme (http:80)" },
        { "http://git.example.org:443/", "", "http on port 443 is not https" },
        { "http://plain.example", "plain", "http default port 80" },
        { "http://plain.example:80/x", "plain", "http explicit port 80" },
        { "https://plain.example/", "", "https is not http" },
        { "https://git.example.org.evil.example/", "",
          "a longer host does not match" },
        { "https://example.org/", "", "a shorter host does not match" },
        { "https://[::1]:8443/x/y", "v6", "IPv6 literal with a path" },
        { "https://[::1]:8443", "v6",
          "no path: a path prefix matches on host and port" },
        { "https://[::1]/x", "", "IPv6 literal, another port" },
        { "https://esc.example/a%2Fb/c", "esc",
          "%XX escapes compare without case" },
        { "https://esc.example/a/b", "", "an escape is not its character" },
        { "ssh://git.example.org/org", "", "another scheme: no match" },
        { "https://other.example/", "", "unknown host: no match" },
    };
    size_t i;

    conf = write_conf("main.conf", main_conf);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!is_string(cases[i].want, lookup(cases[i].url), "%s (%s)",
                       cases[i].what, cases[i].url))
            diag("detail: %s", last_detail);
    }
}

static void
test_garbage(void)
{
    static const char *const bad[] = {
        "",
        "git.example.org",
        "https//git.example.org",
        "https:/git.example.org",
        "://git.example.org",
        "1https://git.example.org",
        "https://",
        "https:///path",
        "https://:443/",
        "https://git.example.org:",
        "https://git.example.org:0/",
        "https://git.example.org:65536/",
        "https://git.example.org:123456/",
        "https://git.example.org:12a/",
        "https://git.example.org:-1/",
        "https://git example.org/",
        "https://git.example.org/a b",
        "https://git.example.org/a\tb",
        "https://git.example.org/a\nb",
        "https://g\xc3\xa9t.example.org/",
        "https://h%41st.example/",
        "https://git.example.org/%zz",
        "https://git.example.org/%4",
        "https://git.example.org/a\"b",
        "https://git.example.org/a<b>",
        "https://git.example.org/a/../b",
        "https://git.example.org/./x",
        "https://git.example.org/x/..",
        "https://git.example.org/%2e%2E/x",
        "https://git.example.org/.%2e",
        "https://[::1/x",
        "https://[zz::1]/",
        "https://[]/",
        "https://a@b@/",
        "https://us er@git.example.org/",
        "https://git.example.org\\@evil.example/",
    };
    char big[9000];
    size_t i;

    conf = write_conf("garbage.conf", main_conf);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char shown[64];
        size_t k, n = 0;

        /* Control characters shown as '?' in the test name. */
        for (k = 0; bad[i][k] != '\0' && n < sizeof(shown) - 1; k++)
            shown[n++] = (unsigned char) bad[i][k] < 0x20 ? '?' : bad[i][k];
        shown[n] = '\0';
        is_string("ERR:1", lookup(bad[i]), "garbage refused: '%s'", shown);
        ok(contains(last_detail, "bad URL: "), "  with a reason: %s",
           last_detail);
    }
    memcpy(big, "https://git.example.org/", 24);
    memset(big + 24, 'a', sizeof(big) - 25);
    big[sizeof(big) - 1] = '\0';
    is_string("ERR:1", lookup(big), "a URL over 8 KiB refused");
    ok(contains(last_detail, "longer than"), "  detail says so");

    is_string("ERR:1", lookup("https://alice:s3cret@git.example.org:x/"),
              "bad URL with a password");
    ok(!contains(last_detail, "s3cret"), "  the detail does not repeat it");

    {
        static char untouched[] = "untouched";
        char *profile = untouched;
        char *detail = NULL;

        is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
               fhirauth_profile_for_url(conf, NULL, &profile, &detail),
               "NULL URL refused");
        is_string("untouched", profile, "  output untouched on failure");
        free(detail);
        is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
               fhirauth_profile_for_url(conf, "https://x.example", NULL, NULL),
               "NULL output pointer refused (detail optional)");
    }
}

static void
test_bad_prefixes(void)
{
    static const struct {
        const char *match, *why;
    } cases[] = {
        { "ftp://git.example.org", "only http" },
        { "git.example.org", "scheme://host" },
        { "https://git.example.org/?x=1", "query" },
        { "https://git.example.org/#top", "fragment" },
        { "https://git.example.org/a/../b", "'..'" },
        { "https://git.example.org:99999", "bad port" },
        { "https://ok.example https://bad example", "bad match URL" },
    };
    char text[512], name[64];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "issuer = https://as.example\n"
                 "[profile good]\nmatch = https://good.example\n"
                 "[profile broken]\nmatch = %s\n",
                 cases[i].match);
        snprintf(name, sizeof(name), "bad-prefix-%zu.conf", i);
        conf = write_conf(name, text);
        is_string("ERR:2", lookup("https://good.example/"),
                  "bad match '%s' is a configuration error", cases[i].match);
        ok(contains(last_detail, "profile 'broken'")
               && contains(last_detail, cases[i].why),
           "  detail names profile and reason: %s", last_detail);
    }
    snprintf(text, sizeof(text),
             "issuer = https://as.example\n"
             "match = https://alice:pw1234@git.example.org\n");
    conf = write_conf("bad-user.conf", text);
    is_string("ERR:2", lookup("https://git.example.org/"),
              "a user name in a match URL is refused");
    ok(contains(last_detail, "user name") && !contains(last_detail, "pw1234"),
       "  the detail does not repeat it: %s", last_detail);
}

static void
test_ties_and_files(void)
{
    char *missing;

    conf = write_conf("tie.conf",
                      "issuer = https://as.example\n"
                      "[profile a]\nmatch = https://t.example\n"
                      "[profile b]\nmatch = https://t.example/\n"
                      "[profile c]\nmatch = https://t.example/x"
                      " https://t.example/x/\n");
    is_string("a", lookup("https://t.example/y"),
              "a tie goes to the first profile");
    is_string("c", lookup("https://t.example/x/y"),
              "a profile listing a prefix twice still matches");
    conf = write_conf("tie2.conf",
                      "default_profile = b\nissuer = https://as.example\n"
                      "[profile a]\nmatch = https://t.example\n"
                      "[profile b]\nmatch = https://t.example\n");
    is_string("b", lookup("https://t.example/y"),
              "a tie goes to the default profile");
    conf = write_conf("tie3.conf",
                      "issuer = https://as.example\n"
                      "[profile a]\nmatch = https://t.example/p\n"
                      "[profile b]\nmatch = https://t.example/q\n");
    is_string("a", lookup("https://t.example"),
              "no path, only path prefixes: the first");
    conf = write_conf("top.conf",
                      "issuer = https://as.example\n"
                      "match = https://top.example\n"
                      "[profile one]\nclient_id = x\n"
                      "[profile two]\nmatch =\n");
    is_string("one", lookup("https://top.example/r"),
              "a match before the sections is every profile's default");
    conf = write_conf("sectionless.conf",
                      "issuer = https://as.example\n"
                      "match = https://solo.example/git\n");
    is_string("default", lookup("https://solo.example/git/r.git"),
              "a file without sections: profile 'default'");
    is_string("", lookup("https://solo.example/other"),
              "  and its path prefix holds");
    conf = write_conf("nomatch.conf", "issuer = https://as.example\n");
    is_string("", lookup("https://solo.example/"),
              "no profile has a match: no match");

    missing = write_conf("gone.conf", "");
    unlink(missing);
    conf = missing;
    is_string("ERR:2", lookup("https://x.example/"),
              "a missing --config file is a configuration error");
    ok(contains(last_detail, "gone.conf"), "  naming the file: %s",
       last_detail);
    conf = write_conf("syntax.conf", "issuer = https://as.example\nbogus\n");
    is_string("ERR:2", lookup("https://x.example/"),
              "a syntax error is a configuration error");
    ok(contains(last_detail, "syntax.conf:2"), "  with file and line: %s",
       last_detail);

    /* config_file NULL: PAM_FHIR_CONFIG, else ~/.config/pam_fhir/config. */
    conf = NULL;
    setenv("PAM_FHIR_CONFIG",
           write_conf("env.conf",
                      "issuer = https://as.example\n"
                      "[profile env]\nmatch = https://env.example\n"),
           1);
    is_string("env", lookup("https://env.example/"),
              "config_file NULL reads $PAM_FHIR_CONFIG");
    unsetenv("PAM_FHIR_CONFIG");
    {
        char dir[512];

        snprintf(dir, sizeof(dir), "%s/.config", tmpdir);
        mkdir(dir, 0700);
        snprintf(dir, sizeof(dir), "%s/.config/pam_fhir", tmpdir);
        mkdir(dir, 0700);
        setenv("HOME", tmpdir, 1);
        write_conf(".config/pam_fhir/config",
                   "issuer = https://as.example\n"
                   "[profile home]\nmatch = https://home.pam-fhir-test"
                   ".example\n");
        is_string("home", lookup("https://home.pam-fhir-test.example/"),
                  "config_file NULL reads ~/.config/pam_fhir/config");
    }
}

static void
test_profile_list(void)
{
    struct fa_profile_list l;
    struct fa_err ectx;
    static const char text[] =
        "default_profile = b\n"
        "match = https://top.example\n"
        "[profile b]\nissuer = https://as.example\n"
        "[profile a]\nmatch = https://a.example/x https://a2.example\n"
        "[profile b]\nmatch = https://b.example\n"
        "[profile c]\nmatch =\n";

    memset(&l, 0, sizeof(l));
    is_int(0,
           fa_config_profiles_text("list.conf", text, strlen(text), &l, &ectx),
           "profile list from text");
    is_int(3, (long long) l.n, "  three profiles (b repeated once)");
    if (l.n == 3) {
        is_string("b", l.v[0].name, "  in order of appearance: b");
        is_string("a", l.v[1].name, "  a");
        is_string("c", l.v[2].name, "  c");
        is_string("https://b.example", l.v[0].match,
                  "  b: its later section's match");
        is_string("https://a.example/x https://a2.example", l.v[1].match,
                  "  a: its own match");
        ok(l.v[2].match == NULL, "  c: an empty value restores none");
    } else {
        skip("wrong count");
        skip("wrong count");
        skip("wrong count");
        skip("wrong count");
        skip("wrong count");
        skip("wrong count");
    }
    is_string("b", l.default_profile, "  default_profile");
    fa_profile_list_free(&l);
    ok(l.v == NULL && l.n == 0 && l.default_profile == NULL,
       "fa_profile_list_free empties the list");
    fa_profile_list_free(&l);
    fa_profile_list_free(NULL);
    ok(1, "freeing twice or NULL is harmless");

    is_int(0, fa_config_profiles_text("s.conf", "", 0, &l, &ectx),
           "an empty file");
    ok(l.n == 1 && strcmp(l.v[0].name, "default") == 0
           && strcmp(l.default_profile, "default") == 0,
       "  has the one profile 'default'");
    fa_profile_list_free(&l);

    is_int(FHIRAUTH_ERR_CONFIG,
           fa_config_profiles_text("e.conf", "x = 1\n", 6, &l, &ectx),
           "an unknown key fails the list");
    ok(contains(ectx.msg, "e.conf:1") && l.v == NULL,
       "  with file and line: %s", ectx.msg);
}

/* Two files merged: the system file must be root's, so only as root. */
static void
test_two_files(void)
{
    struct fa_config_sources src;
    struct fa_profile_list l;
    struct fa_err ectx;

    if (geteuid() != 0) {
        skip("system file must be owned by root");
        skip("system file must be owned by root");
        skip("system file must be owned by root");
        return;
    }
    memset(&src, 0, sizeof(src));
    memset(&l, 0, sizeof(l));
    src.system_file = write_conf("sys.conf",
                                 "issuer = https://as.example\n"
                                 "[profile a]\nmatch = https://sys.example\n"
                                 "[profile s]\nmatch = https://s.example\n");
    src.user_file = write_conf("user.conf",
                               "[profile u]\nmatch = https://u.example\n"
                               "[profile a]\nmatch = https://user.example\n");
    src.require_root_owned = true;
    is_int(0, fa_config_profiles(&src, &l, &ectx), "system and user file: %s",
           ectx.msg);
    ok(l.n == 3 && strcmp(l.v[0].name, "a") == 0
           && strcmp(l.v[1].name, "s") == 0 && strcmp(l.v[2].name, "u") == 0,
       "  profiles of both, system file's first");
    ok(l.n == 3 && l.v[0].match != NULL
           && strcmp(l.v[0].match, "https://user.example") == 0,
       "  the user file's match overrides");
    fa_profile_list_free(&l);
}

static void
test_option_text(void)
{
    static const char *const numbers[] = {
        "assumed_lifetime", "min_valid", "minimum_uid",
        "redirect_port",    "timeout",
    };
    struct fhirauth h;
    struct fa_err ectx;
    static const char text[] = "issuer = https://as.example\n"
                               "debug = yes\n"
                               "timeout = 7\n"
                               "keyring = session\n"
                               "qr = off\n"
                               "git_username = git-bot\n";
    size_t i;

    memset(&h, 0, sizeof(h));
    if (fa_config_init(&h.cfg) != 0)
        bail("fa_config_init");
    is_string("30", fhirauth_option(&h, "timeout"), "default number");
    is_string("oauth2", fhirauth_option(&h, "git_username"), "default string");
    is_string("no", fhirauth_option(&h, "debug"), "default boolean");
    is_string("persistent", fhirauth_option(&h, "keyring"), "default choice");
    for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        ok(fhirauth_option(&h, numbers[i]) != NULL,
           "number option %s has text", numbers[i]);

    if (fa_config_parse_text(&h.cfg, "o.conf", text, strlen(text), NULL, &ectx)
        != 0)
        bail("parse: %s", ectx.msg);
    is_string("https://as.example", fhirauth_option(&h, "issuer"),
              "string as it is");
    is_string("git-bot", fhirauth_option(&h, "git_username"), "git_username");
    is_string("yes", fhirauth_option(&h, "debug"), "boolean yes");
    is_string("no", fhirauth_option(&h, "revoke_on_close"), "boolean no");
    is_string("7", fhirauth_option(&h, "timeout"), "number in decimal");
    is_string("60", fhirauth_option(&h, "min_valid"), "default number kept");
    is_string("session", fhirauth_option(&h, "keyring"), "choice by name");
    is_string("device", fhirauth_option(&h, "grant"), "grant by name");
    is_string("off", fhirauth_option(&h, "qr"), "qr by name");
    is_string("default", fhirauth_option(&h, "profile"), "profile name");
    ok(fhirauth_option(&h, "proxy") == NULL, "unset string: NULL");
    ok(fhirauth_option(&h, "no_such_key") == NULL, "unknown key: NULL");
    ok(fhirauth_option(&h, "default_profile") == NULL,
       "default_profile is not an option: NULL");
    ok(fhirauth_option(NULL, "timeout") == NULL, "NULL handle: NULL");
    ok(fhirauth_option(&h, NULL) == NULL, "NULL key: NULL");

    if (fa_config_set(&h.cfg, "timeout", "120", &ectx) != 0
        || fa_config_set(&h.cfg, "minimum_uid", "1000", &ectx) != 0)
        bail("set: %s", ectx.msg);
    is_string("120", fhirauth_option(&h, "timeout"),
              "an override changes the text");
    is_string("1000", fhirauth_option(&h, "minimum_uid"),
              "  of each number separately");
    fa_config_free(&h.cfg);
}

int
main(void)
{
    const char *t = getenv("TMPDIR");
    size_t i;

    plan_lazy();
    unsetenv("PAM_FHIR_CONFIG");
    if (snprintf(tmpdir, sizeof(tmpdir), "%s/profiles-t.XXXXXX",
                 t != NULL && t[0] == '/' ? t : "/tmp")
            >= (int) sizeof(tmpdir)
        || mkdtemp(tmpdir) == NULL)
        bail("mkdtemp: %s", strerror(errno));

    test_matching();
    test_garbage();
    test_bad_prefixes();
    test_ties_and_files();
    test_profile_list();
    test_two_files();
    test_option_text();

    for (i = 0; i < npaths; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    {
        char dir[512];

        snprintf(dir, sizeof(dir), "%s/.config/pam_fhir", tmpdir);
        rmdir(dir);
        snprintf(dir, sizeof(dir), "%s/.config", tmpdir);
        rmdir(dir);
    }
    rmdir(tmpdir);
    return test_status();
}
