/* pending-t.c - the PAM module's calls without a server: the stash's key
 * description and serial checks, the usermap parser, the stash payload
 * round trip and its damage, the private keys in the user keyring, and
 * fhirauth_identity_check() / stash put and take on a handle whose
 * pending login is made up here.
 *
 * Runs as any user (its own user keyring); the usermap file checks need
 * root (a root-owned file) and skip otherwise.
 */
#include "autoconf.h"

#include <errno.h>
#include <keyutils.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpop.h"
#include "fhirauth-private.h"
#include "handle.h"
#include "identity.h"
#include "keystore.h"
#include "pending.h"
#include "tests/tap/basic.h"
#include "util.h"

static char tmpdir[64];

static int
prefix_is(const char *user, const char *want)
{
    char buf[400];
    int r = fa_stash_prefix(buf, sizeof(buf), user);

    if (want == NULL)
        return r == -1 && buf[0] == '\0';
    return r == 0 && strcmp(buf, want) == 0;
}

static void
test_prefix(void)
{
    char big[300];

    ok(prefix_is("alice", "pam_fhir:stash:alice:"), "prefix for alice");
    ok(prefix_is("", NULL), "empty user refused");
    ok(prefix_is("al:ice", NULL), "':' in a user refused");
    ok(prefix_is("al ice", NULL), "space in a user refused");
    ok(prefix_is("al\nice", NULL), "newline in a user refused");
    ok(prefix_is("al\xc3\xa9", NULL), "non-ASCII user refused");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ok(prefix_is(big, NULL), "a 299-byte user refused");
}

static void
test_serial(void)
{
    static const char *const bad[] = { "",
                                       "0",
                                       "0123",
                                       "-5",
                                       "+5",
                                       " 5",
                                       "5 ",
                                       "5x",
                                       "2147483648",
                                       "99999999999",
                                       "12345678901234567890",
                                       "0x10" };
    long v = 0;
    size_t i;

    ok(fa_stash_parse_serial("123", &v) == 0 && v == 123, "serial 123");
    ok(fa_stash_parse_serial("2147483647", &v) == 0 && v == 2147483647L,
       "serial INT32_MAX");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(fa_stash_parse_serial(bad[i], &v) == -1, "serial '%s' refused",
           bad[i]);
    ok(fa_stash_parse_serial(NULL, &v) == -1, "NULL serial refused");
}

static void
test_described(void)
{
    const char *pa = "pam_fhir:stash:alice:";

    ok(fa_ks_described_matches("user;0;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               pa)
           == 0,
       "alice's stash matches");
    ok(fa_ks_described_matches("user;0;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               "pam_fhir:stash:al:")
           == -1,
       "user al cannot take alice's stash");
    ok(fa_ks_described_matches("user;0;0;3f0b0000;pam_fhir:stash:al:0a", 0, pa)
           == -1,
       "alice cannot take al's stash");
    ok(fa_ks_described_matches("logon;0;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               pa)
           == -1,
       "another key type refused");
    ok(fa_ks_described_matches("users;0;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               pa)
           == -1,
       "type 'users' refused");
    ok(fa_ks_described_matches("user;1000;0;3f0b0000;pam_fhir:stash:alice:"
                               "0a",
                               0, pa)
           == -1,
       "another owner refused");
    ok(fa_ks_described_matches("user;1000;0;3f0b0000;pam_fhir:stash:alice:"
                               "0a",
                               1000, pa)
           == 0,
       "owner compared");
    ok(fa_ks_described_matches("user;;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               pa)
           == -1,
       "empty uid refused");
    ok(fa_ks_described_matches("user;0x;0;3f0b0000;pam_fhir:stash:alice:0a", 0,
                               pa)
           == -1,
       "malformed uid refused");
    ok(fa_ks_described_matches("user;0;0;3f0b0000", 0, pa) == -1,
       "too few fields refused");
    ok(fa_ks_described_matches("user;0;0;3f0b0000;x;pam_fhir:stash:alice:", 0,
                               pa)
           == -1,
       "prefix must start the "
       "description");
    ok(fa_ks_described_matches("user;0;0;1;pam_fhir:stash:alice:a;b", 0, pa)
           == 0,
       "a ';' in the description is fine");
    ok(fa_ks_described_matches(NULL, 0, pa) == -1, "NULL refused");
}

/* 1 mapped, 0 not, -1 refused (FHIRAUTH_ERR_CONFIG). */
static int
map(const char *text, const char *value, const char *user)
{
    struct fa_err e;
    int found = -1;

    if (fa_usermap_match("map", text, strlen(text), value, user, &found, &e)
        != FHIRAUTH_OK)
        return e.rc == FHIRAUTH_ERR_CONFIG ? -1 : -2;
    return found;
}

static void
test_usermap(void)
{
    const char *m = "# site map\n"
                    "\n"
                    "  sub-1   alice  \n"
                    "sub-2\tbob # comment\r\n"
                    "sub-3 carol\n"
                    "sub-1 alice2";
    struct fa_err e;
    int found;

    is_int(1, map(m, "sub-1", "alice"), "mapped");
    is_int(1, map(m, "sub-2", "bob"), "tab, trailing comment and CRLF");
    is_int(1, map(m, "sub-1", "alice2"), "a value may map to two users");
    is_int(1, map(m, "sub-1", "alice2"), "last line without newline");
    is_int(0, map(m, "sub-1", "bob"), "not mapped to another user");
    is_int(0, map(m, "sub", "alice"), "values compared whole, not prefix");
    is_int(0, map(m, "sub-10", "alice"), "nor as a longer value");
    is_int(0, map(m, "sub-1", "alic"), "users compared whole");
    is_int(0, map(m, "#", "site"), "a comment is no mapping");
    is_int(0, map("", "a", "b"), "an empty map maps nothing");
    is_int(-1, map("sub-1 alice\nlonely\n", "sub-1", "alice"),
           "a one-field line fails the whole map");
    is_int(-1, map("sub-1 alice extra\n", "sub-1", "alice"),
           "a three-field line fails");
    fa_err_clear(&e);
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_usermap_match("/etc/m", "a b\nc\n", 6, "a", "b", &found, &e),
           "malformed line 2");
    ok(strstr(e.msg, "/etc/m line 2") != NULL,
       "message names file and line "
       "(%s)",
       e.msg);
    is_int(FHIRAUTH_ERR_CONFIG,
           fa_usermap_match("m", "a b\0c d\n", 8, "c", "d", &found, &e),
           "NUL byte refused");
}

/* A pending session as a login would leave it. */
static void
fill(struct fa_pending *p, const char *claims)
{
    memset(p, 0, sizeof(*p));
    p->resp.access_token = strdup("at-\"quoted\"\\x");
    p->resp.token_type = strdup("Bearer");
    p->resp.refresh_token = strdup("rt-123");
    p->resp.scope = strdup("openid patient/*.read");
    p->resp.patient = strdup("pat\n\x01-1");
    p->resp.expires_in = 300;
    p->resp.refresh_expires_in = -1;
    p->meta.ep.issuer = strdup("https://as.example");
    p->meta.ep.token_endpoint = strdup("https://as.example/token");
    p->meta.client_id = strdup("cli");
    p->meta.username = strdup("alice");
    p->meta.subject = strdup("sub-1");
    p->meta.login_at = 1700000000;
    p->claims = claims != NULL ? strdup(claims) : NULL;
    p->obtained_at = 1700000001;
}

static void
test_codec(void)
{
    struct fa_pending p, q;
    char *json = NULL;
    size_t len = 0;
    static const char *const damaged[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"v\":1}",
        "{\"v\":2,\"obtained_at\":1,\"expires_in\":1,"
        "\"refresh_expires_in\":-1,\"access_token\":\"a\","
        "\"token_type\":\"Bearer\",\"meta\":\"{}\"}",
        "{\"v\":1,\"obtained_at\":1,\"expires_in\":1,"
        "\"refresh_expires_in\":-1,\"access_token\":\"a\","
        "\"token_type\":\"Bearer\",\"meta\":\"{}\"}",
        "{\"v\":1,\"obtained_at\":1,\"expires_in\":1,"
        "\"refresh_expires_in\":-1,\"token_type\":\"Bearer\","
        "\"meta\":\"{\\\"token_endpoint\\\":\\\"x\\\"}\"}",
        "{\"v\":1,\"obtained_at\":1,\"expires_in\":-7,"
        "\"refresh_expires_in\":-1,\"access_token\":\"a\","
        "\"token_type\":\"Bearer\","
        "\"meta\":\"{\\\"token_endpoint\\\":\\\"x\\\"}\"}",
        "{\"v\":1,\"obtained_at\":1,\"expires_in\":1,"
        "\"refresh_expires_in\":-1,\"access_token\":7,"
        "\"token_type\":\"Bearer\","
        "\"meta\":\"{\\\"token_endpoint\\\":\\\"x\\\"}\"}",
    };
    const char *good = "{\"v\":1,\"obtained_at\":1,\"expires_in\":1,"
                       "\"refresh_expires_in\":-1,\"access_token\":\"a\","
                       "\"token_type\":\"Bearer\","
                       "\"meta\":\"{\\\"token_endpoint\\\":\\\"x\\\"}\"}";
    size_t i;

    fill(&p, "{\"sub\":\"sub-1\",\"preferred_username\":\"alice\"}");
    is_int(FHIRAUTH_OK, fa_pending_encode(&p, &json, &len), "encode");
    ok(json != NULL && strlen(json) == len, "length");
    is_int(FHIRAUTH_OK, fa_pending_decode(json, len, &q), "decode");
    is_string(p.resp.access_token, q.resp.access_token, "access token");
    is_string("rt-123", q.resp.refresh_token, "refresh token");
    is_string("Bearer", q.resp.token_type, "token type");
    is_string(p.resp.patient, q.resp.patient, "escaped control bytes");
    is_string(p.resp.scope, q.resp.scope, "scope");
    is_int(300, q.resp.expires_in, "expires_in");
    is_int(-1, q.resp.refresh_expires_in, "refresh_expires_in absent");
    is_int(1700000001, q.obtained_at, "obtained_at");
    is_string("https://as.example/token", q.meta.ep.token_endpoint,
              "meta: token endpoint");
    is_string("sub-1", q.meta.subject, "meta: subject");
    is_string("alice", q.meta.username, "meta: username");
    is_int(1700000000, q.meta.login_at, "meta: login_at");
    is_string(p.claims, q.claims, "claims");
    ok(q.resp.id_token == NULL, "no id_token kept");
    fa_pending_free(&q);
    /* Every truncation is refused, never a crash. */
    for (i = 0; i + 1 < len; i += 7) {
        if (fa_pending_decode(json, i, &q) == FHIRAUTH_OK) {
            fa_pending_free(&q);
            break;
        }
    }
    ok(i + 1 >= len, "truncated payloads refused");
    fa_secret_free_len(json, len);
    fa_pending_free(&p);

    for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++)
        is_int(FHIRAUTH_ERR_KEYRING,
               fa_pending_decode(damaged[i], strlen(damaged[i]), &q),
               "damaged stash %zu refused", i);
    is_int(FHIRAUTH_OK, fa_pending_decode(good, strlen(good), &q),
           "minimal stash accepted");
    ok(q.resp.refresh_token == NULL && q.claims == NULL,
       "absent members stay NULL");
    fa_pending_free(&q);
}

/* A DPoP-bound login's stash carries its key (the stash's copy of the
 * session's private key, a made-up PEM here: the codec never parses it);
 * a stash without one has none, an empty key is damage. */
static void
test_codec_dpop(void)
{
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49\"/+=\n"
                              "-----END PRIVATE KEY-----\n";
    const char *empty = "{\"v\":1,\"obtained_at\":1,\"expires_in\":1,"
                        "\"refresh_expires_in\":-1,\"access_token\":\"a\","
                        "\"token_type\":\"DPoP\",\"dpop_key\":\"\","
                        "\"meta\":\"{\\\"token_endpoint\\\":\\\"x\\\"}\"}";
    struct fa_pending p, q;
    char *json = NULL;
    size_t len = 0;

    fill(&p, NULL);
    free(p.resp.token_type);
    p.resp.token_type = strdup("DPoP");
    p.dpop_key = strdup(pem);
    p.dpop_keylen = strlen(pem);
    is_int(FHIRAUTH_OK, fa_pending_encode(&p, &json, &len),
           "dpop: encode with a key");
    is_int(FHIRAUTH_OK, fa_pending_decode(json, len, &q), "dpop: decode");
    is_string(pem, q.dpop_key, "dpop: the key came along, byte for byte");
    is_int((long) strlen(pem), (long) q.dpop_keylen, "dpop: its length");
    is_string("DPoP", q.resp.token_type, "dpop: token type");
    fa_pending_free(&q);
    ok(q.dpop_key == NULL && q.dpop_keylen == 0, "dpop: freed and wiped");
    fa_secret_free_len(json, len);
    fa_pending_free(&p);

    fill(&p, NULL);
    is_int(FHIRAUTH_OK, fa_pending_encode(&p, &json, &len),
           "dpop: encode without a key");
    ok(strstr(json, "dpop_key") == NULL, "dpop: no member without a key");
    is_int(FHIRAUTH_OK, fa_pending_decode(json, len, &q),
           "dpop: decode without a key");
    ok(q.dpop_key == NULL, "dpop: no key");
    fa_pending_free(&q);
    fa_secret_free_len(json, len);
    fa_pending_free(&p);

    is_int(FHIRAUTH_ERR_KEYRING, fa_pending_decode(empty, strlen(empty), &q),
           "dpop: an empty key is damage");
}

static fhirauth *
open_handle(void)
{
    char conf[128], *detail = NULL;
    FILE *f;
    fhirauth *h = NULL;

    snprintf(conf, sizeof(conf), "%s/conf", tmpdir);
    f = fopen(conf, "w");
    if (f == NULL)
        bail("cannot write %s", conf);
    fprintf(f,
            "[profile t]\nissuer = https://127.0.0.1:9/\n"
            "client_id = cli\n");
    fclose(f);
    if (fhirauth_open_file(&h, conf, "t", FHIRAUTH_OPEN_DEFER_STORE, &detail)
        != FHIRAUTH_OK)
        bail("cannot open a handle: %s", detail ? detail : "?");
    return h;
}

static void
make_pending(fhirauth *h, const char *claims)
{
    struct fa_pending p;
    struct fa_token_response r;

    fill(&p, claims);
    r = p.resp;
    is_int(FHIRAUTH_OK, fa_pending_keep(h, &r, &p.meta, p.claims),
           "keep a pending login");
    fa_token_response_free(&p.resp);
}

static void
test_identity(void)
{
    fhirauth *h = open_handle();
    char path[128];
    FILE *f;

    is_int(0, fhirauth_has_pending(h), "nothing pending at first");
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, fhirauth_identity_check(h, "alice"),
           "identity without a login");
    make_pending(h, NULL);
    is_int(1, fhirauth_has_pending(h), "pending");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alice"),
           "no id_token and no userinfo_endpoint: DENIED");
    ok(strstr(fhirauth_detail(h),
              "no id_token and has no "
              "userinfo_endpoint")
               != NULL
           && strstr(fhirauth_detail(h), "add 'profile' to scope") != NULL,
       "and says why, with the scope to add: %s", fhirauth_detail(h));
    is_int(FHIRAUTH_OK, fhirauth_set_option(h, "require_id_token", "yes"),
           "require_id_token = yes");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alice"),
           "no id_token with require_id_token: DENIED");
    is_string("no verified id_token, and require_id_token = yes",
              fhirauth_detail(h), "and says so");
    fhirauth_set_option(h, "require_id_token", "no");

    make_pending(h, "{\"sub\":\"sub-1\"}");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alice"),
           "an id_token without the claim, no userinfo_endpoint: DENIED");
    ok(strstr(fhirauth_detail(h),
              "the id_token has no string claim "
              "'preferred_username'")
           != NULL,
       "detail: %s", fhirauth_detail(h));
    fhirauth_set_option(h, "scope", "openid profile");
    fhirauth_identity_check(h, "alice");
    ok(strstr(fhirauth_detail(h),
              "did not send it for the scope "
              "'profile'")
           != NULL,
       "with profile asked for: %s", fhirauth_detail(h));
    fhirauth_set_option(h, "scope", "openid");

    make_pending(h,
                 "{\"sub\":\"sub-1\",\"preferred_username\":\"alice\","
                 "\"email\":\"a@x\"}");
    is_int(FHIRAUTH_OK, fhirauth_identity_check(h, "alice"), "alice OK");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "bob"),
           "bob DENIED");
    is_string("the authorization server vouched for 'alice' "
              "(preferred_username), not for 'bob'",
              fhirauth_detail(h), "the detail names both");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alic"),
           "a prefix is not the user");
    is_int(FHIRAUTH_OK, fhirauth_set_option(h, "username_claim", "sub"),
           "username_claim = sub");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alice"),
           "sub-1 is not alice");
    is_int(FHIRAUTH_OK, fhirauth_identity_check(h, "sub-1"), "sub-1 is");
    is_int(FHIRAUTH_OK, fhirauth_set_option(h, "username_claim", "nope"),
           "username_claim = nope");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "alice"),
           "a missing claim denies");
    ok(strstr(fhirauth_detail(h), "does the scope ask for it?") != NULL,
       "an unknown claim: no scope named: %s", fhirauth_detail(h));
    fhirauth_set_option(h, "username_claim", "sub");

    if (geteuid() != 0) {
        skip("usermap file checks need root (a root-owned file)");
    } else {
        snprintf(path, sizeof(path), "%s/usermap", tmpdir);
        f = fopen(path, "w");
        if (f == NULL)
            bail("cannot write %s", path);
        fprintf(f, "# sub -> local user\nsub-1 alice\nsub-2 bob\n");
        fclose(f);
        chmod(path, 0644);
        fhirauth_set_option(h, "usermap", path);
        is_int(FHIRAUTH_OK, fhirauth_identity_check(h, "alice"),
               "usermap maps sub-1 to alice");
        is_int(FHIRAUTH_ERR_DENIED, fhirauth_identity_check(h, "bob"),
               "but not to bob");
        ok(strstr(fhirauth_detail(h), "'sub-1' (sub)") != NULL, "detail: %s",
           fhirauth_detail(h));
        chmod(path, 0664);
        is_int(FHIRAUTH_ERR_CONFIG, fhirauth_identity_check(h, "alice"),
               "a group-writable usermap is refused");
        chmod(path, 0644);
        if (chown(path, 65534, 65534) == 0)
            is_int(FHIRAUTH_ERR_CONFIG, fhirauth_identity_check(h, "alice"),
                   "a usermap not owned by root is refused");
        else
            skip("chown failed");
        unlink(path);
        if (symlink("/etc/passwd", path) == 0)
            is_int(FHIRAUTH_ERR_CONFIG, fhirauth_identity_check(h, "alice"),
                   "a symlinked usermap is refused");
        else
            skip("symlink failed");
        unlink(path);
        is_int(FHIRAUTH_ERR_CONFIG, fhirauth_identity_check(h, "alice"),
               "a missing usermap is refused");
        is_int(FHIRAUTH_OK, fhirauth_identity_check(h, "sub-1"),
               "the claim itself still matches without the map");
    }
    fhirauth_close(h);
}

static void
test_stash(void)
{
    fhirauth *h = open_handle(), *h2 = open_handle();
    char *serial = NULL, *dserial = NULL, desc[128];
    char user[32], other[40], num[24];
    key_serial_t k;
    long s;

    snprintf(user, sizeof(user), "t%ld", (long) getpid());
    snprintf(other, sizeof(other), "%sx", user);
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, fhirauth_stash_put(h, user, &serial),
           "nothing to stash");
    make_pending(h, "{\"sub\":\"sub-1\",\"preferred_username\":\"alice\"}");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT,
           fhirauth_stash_put(h, "a:b", &serial), "unfit user refused");
    if (!is_int(FHIRAUTH_OK, fhirauth_stash_put(h, user, &serial),
                "stash put: %s", fhirauth_detail(h)))
        bail("no stash");
    ok(fa_stash_parse_serial(serial, &s) == 0, "serial is decimal (%s)",
       serial);
    is_int(1, fhirauth_has_pending(h), "the pending login stays");

    is_int(FHIRAUTH_ERR_DENIED, fhirauth_stash_take(h2, other, serial),
           "a longer user name cannot take it");
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_stash_take(h2, "t", serial),
           "a prefix of the user name cannot take it");
    is_int(0, fhirauth_has_pending(h2), "nothing taken");
    is_int(FHIRAUTH_ERR_INVALID_ARGUMENT, fhirauth_stash_take(h2, user, "12a"),
           "a bad serial");
    is_int(FHIRAUTH_OK, fhirauth_stash_take(h2, user, serial),
           "the right user takes it: %s", fhirauth_detail(h2));
    is_int(1, fhirauth_has_pending(h2), "now pending");
    ok(h2->pending->dpop_key == NULL, "a bearer login's stash has no key");
    is_int(FHIRAUTH_OK, fhirauth_identity_check(h2, "alice"),
           "the claims came along");
    is_int(FHIRAUTH_ERR_LOGIN_NEEDED, fhirauth_stash_take(h2, user, serial),
           "taken only once");

    /* A key that is no stash, and a damaged stash. */
    snprintf(desc, sizeof(desc), "pam_fhir:stash:%s:00", user);
    k = add_key("user", desc, "{garbage", 8, KEY_SPEC_PROCESS_KEYRING);
    ok(k != -1, "a damaged stash key");
    snprintf(num, sizeof(num), "%ld", (long) k);
    dserial = num;
    is_int(FHIRAUTH_ERR_KEYRING, fhirauth_stash_take(h2, user, dserial),
           "a damaged stash: KEYRING");
    is_int(1, fhirauth_has_pending(h2), "the earlier pending stays");
    k = add_key("user", "pam_fhir:stashy", "x", 1, KEY_SPEC_PROCESS_KEYRING);
    snprintf(num, sizeof(num), "%ld", (long) k);
    is_int(FHIRAUTH_ERR_DENIED, fhirauth_stash_take(h2, user, num),
           "another key is refused");
    (void) keyctl_invalidate(k);
    fhirauth_free_string(serial);
    serial = NULL;

    /* A DPoP-bound login: fa_pending_keep copies the handle's key into
     * the pending login, the stash carries it to the other handle. */
    is_int(FHIRAUTH_OK, fa_dpop_adopt(h, "KEY-PEM\n", 8, "n-1"),
           "a login's DPoP key in the handle");
    make_pending(h, "{\"sub\":\"sub-1\",\"preferred_username\":\"alice\"}");
    ok(h->pending->dpop_key != NULL && h->pending->dpop_keylen == 8
           && memcmp(h->pending->dpop_key, "KEY-PEM\n", 8) == 0,
       "the pending login has a copy of the key");
    ok(h->dpop != NULL, "the handle keeps its own (the UserInfo request)");
    is_int(FHIRAUTH_OK, fhirauth_stash_put(h, user, &serial),
           "dpop: stash put: %s", fhirauth_detail(h));
    is_int(FHIRAUTH_OK, fhirauth_stash_take(h2, user, serial),
           "dpop: stash take: %s", fhirauth_detail(h2));
    ok(h2->pending->dpop_key != NULL
           && strcmp(h2->pending->dpop_key, "KEY-PEM\n") == 0
           && h2->pending->dpop_keylen == 8,
       "dpop: the stash carried the key");
    fhirauth_free_string(serial);
    fhirauth_close(h);
    fhirauth_close(h2);
}

static void
cleanup(void)
{
    char p[128];

    snprintf(p, sizeof(p), "%s/conf", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/usermap", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

int
main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pending-t.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        bail("mkdtemp: %s", strerror(errno));
    atexit(cleanup);
    plan_lazy();
    test_prefix();
    test_serial();
    test_described();
    test_usermap();
    test_codec();
    test_codec_dpop();
    test_identity();
    if (keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1)
        skip("no kernel keyring: %s", strerror(errno));
    else
        test_stash();
    return test_status();
}
