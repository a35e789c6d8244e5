#!/bin/bash
# pam-cache.t - the PAM path's root-side cache of the discovery document
# and the JWKS (lib/net/rootcache.c), through pamtester as root: a cold login
# asks the AS for discovery, JWKS, a token and UserInfo (the standard AS
# puts preferred_username there, not in the id_token), a warm one for the
# token and UserInfo only, and for the token alone when the id_token
# carries the claim (the tuned AS); the server's max-age is honoured; entries that are symlinks, not
# root's, group-writable, corrupt or for another issuer are ignored and
# rewritten; a JWKS without the token's key is fetched once more; an
# unusable cache directory never fails a login.  Requests are counted by
# event (request path) in the AS's log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
# The test points the cache at a directory of its own, which only a test
# build reads from the environment.
grep -q '^#define FHIRAUTH_TEST_HOOKS 1' "$top_builddir/autoconf.h" 2>/dev/null ||
    skip_all_na "built without --enable-test-hooks (FHIRAUTH_TEST_CACHE_DIR)"
pam_setup

plan 51

# The AS marks discovery and the JWKS fresh for this many seconds.
MAX_AGE=15
export FA_AS_CACHE_MAX_AGE=$MAX_AGE
fa_start_servers --no-fhir --ttl 60 --keyring user
pam_users
service
cache=$FHIRAUTH_TEST_CACHE_DIR

# mark / reqs: the AS's events since the last mark, as
# "discovery:N jwks:N token:N userinfo:N other:N".
mark() { mark_at=$(wc -l <"$FA_AS_LOG"); }
reqs() {
    tail -n +$((mark_at + 1)) "$FA_AS_LOG" | awk '
        { e = "other" }
        /"event":"discovery"/ { e = "discovery" }
        /"event":"jwks"/ { e = "jwks" }
        /"event":"token"/ { e = "token" }
        /"event":"userinfo"/ { e = "userinfo" }
        { n[e]++ }
        END { printf "discovery:%d jwks:%d token:%d userinfo:%d other:%d\n",
              n["discovery"], n["jwks"], n["token"], n["userinfo"], n["other"] }'
}
# forget: drop alice's session keys (without revoking: a login replacing
# a session revokes the old refresh token, a request of its own).
forget() {
    setpriv --reuid=alice --regid=alice --init-groups keyctl session - \
        sh -c 'keyctl clear @u; p=$(keyctl get_persistent @s) && keyctl clear "$p"' \
        >/dev/null 2>&1
}
# login: one full PAM login of alice as if for the first time, counted
# from a fresh mark.
login() {
    clear_stashes
    forget
    mark
    pt alice alice-secret authenticate open_session close_session
}
entry() { find "$cache" -maxdepth 1 -name "$1-*" 2>/dev/null | head -1; }
owner_mode() { stat -c '%u %a %F' "$1" 2>/dev/null; }
COLD="discovery:1 jwks:1 token:1 userinfo:1 other:0"
WARM="discovery:0 jwks:0 token:1 userinfo:1 other:0"

# 1-6: cold, then warm
rm -rf "$cache"
login
is "$FA_RC" 0 "cold login succeeds" || fa_show
is "$(reqs)" "$COLD" "cold: discovery, JWKS, one token and one userinfo request"
t_stored=$(fa_now)
is "$(owner_mode "$cache")" "0 700 directory" "the cache directory is root's, 0700"
disc=$(entry discovery)
jwks=$(entry jwks)
is "$(owner_mode "$disc") $(owner_mode "$jwks")" \
    "0 600 regular file 0 600 regular file" "one discovery and one JWKS entry, root's, 0600"
login
is "$FA_RC" 0 "warm login succeeds" || fa_show
is "$(reqs)" "$WARM" "warm: one token and one userinfo request, nothing else"

# 7-8: the entries last as long as the server's max-age says
exp=$(sed -n 's/^expires //p' "$jwks")
now=$(date +%s)
ok "the JWKS entry expires after max-age ($exp - $now)" \
    test "$exp" -gt "$now" -a "$exp" -le $((now + MAX_AGE + 1))
is "$(sed -n 's/^key //p' "$disc")" "$FA_ISSUER" "the discovery entry is keyed by the issuer"

# 9-10: the user's own refresh costs one request (the endpoints come from
# the session metadata, not from discovery)
mark
# (the access token lives 60 s: asking for 120 s more forces a refresh)
as alice token --min-valid 120 >/dev/null 2>&1
is "$(tail -n +$((mark_at + 1)) "$FA_AS_LOG" | grep -c '"event"')" 1 \
    "the user's refresh is the only request"
is "$(fa_as_count refresh_token all)" 1 "and it is a refresh_token grant"

# 11-13: after max-age, both are fetched again
fa_sleep_past "$t_stored" $((MAX_AGE + 1))
login
is "$FA_RC" 0 "login after max-age succeeds" || fa_show
is "$(reqs)" "$COLD" "after max-age: discovery and JWKS fetched again"
login
is "$(reqs)" "$WARM" "and cached again"

# 14-17: a JWKS entry replaced by a symlink to a root-owned file (an
# intact copy, so that reading it would show as no JWKS request): not
# followed
cp -p "$jwks" "$FA_TMP/planted"
rm -f "$jwks"
ln -s "$FA_TMP/planted" "$jwks"
login
is "$FA_RC" 0 "a symlinked JWKS entry: login succeeds" || fa_show
is "$(reqs)" "discovery:0 jwks:1 token:1 userinfo:1 other:0" "the JWKS is fetched afresh"
ok "the symlink is replaced by a regular file" test ! -L "$jwks" -a -f "$jwks"
is "$(owner_mode "$jwks")" "0 600 regular file" "root's, 0600"

# 18-20: a discovery entry owned by another user
chown nobody "$disc"
login
is "$FA_RC" 0 "a discovery entry owned by nobody: login succeeds" || fa_show
is "$(reqs)" "discovery:1 jwks:0 token:1 userinfo:1 other:0" "discovery is fetched afresh"
is "$(owner_mode "$disc")" "0 600 regular file" "and the entry rewritten as root's"

# 21-23: a group-writable JWKS entry whose RSA key is someone else's under
# the AS's kid (a poisoned cache: were it used, the id_token's signature
# would fail): ignored, the login verified with fresh keys
openssl genrsa -out "$FA_TMP/poison.pem" 2048 2>/dev/null
poison_n=$(openssl rsa -in "$FA_TMP/poison.pem" -noout -modulus 2>/dev/null |
    sed 's/^Modulus=//' | perl -ne 'chomp; print pack("H*", $_)' | base64 -w0 | tr '+/' '-_' | tr -d '=')
[ -n "$poison_n" ] || diag "cannot make the poisoned key"
sed -i "s/\"n\":\"[^\"]*\"/\"n\":\"$poison_n\"/g" "$jwks"
chmod 620 "$jwks"
login
is "$FA_RC" 0 "a group-writable JWKS entry: login succeeds" || fa_show
is "$(reqs)" "discovery:0 jwks:1 token:1 userinfo:1 other:0" "the JWKS is fetched afresh"
is "$(owner_mode "$jwks")" "0 600 regular file" "and the entry rewritten 0600"

# 24-26: a corrupt discovery entry
head -c 60 "$disc" >"$disc.new" && mv "$disc.new" "$disc" && chmod 600 "$disc"
login
is "$FA_RC" 0 "a truncated discovery entry: login succeeds" || fa_show
is "$(reqs)" "discovery:1 jwks:0 token:1 userinfo:1 other:0" "discovery is fetched afresh"
login
is "$(reqs)" "$WARM" "and the rewritten entry is used"

# 27-28: a discovery entry naming another issuer (an intact file)
sed -i 's|"issuer":"[^"]*"|"issuer":"https://elsewhere.example"|' "$disc"
login
is "$FA_RC" 0 "a discovery entry for another issuer: login succeeds" || fa_show
is "$(reqs)" "discovery:1 jwks:0 token:1 userinfo:1 other:0" "it is ignored and fetched afresh"

# 29-31: key rotation: a cached JWKS (root's, intact) without the id_token's
# key is fetched once more
sed -i 's/"kid":"\([^"]*\)"/"kid":"old-\1"/g' "$jwks"
login
is "$FA_RC" 0 "a cached JWKS without the token's kid: login succeeds" || fa_show
is "$(reqs)" "discovery:0 jwks:1 token:1 userinfo:1 other:0" "exactly one JWKS refetch"
login
is "$(reqs)" "$WARM" "the refetched JWKS is cached"

# 32-34: an entry from the future beyond any server's lifetime (a clock
# set back) is not trusted
sed -i "s/^expires .*/expires $(($(date +%s) + 200000))/" "$disc"
login
is "$FA_RC" 0 "an entry expiring too far ahead: login succeeds" || fa_show
is "$(reqs)" "discovery:1 jwks:0 token:1 userinfo:1 other:0" "it is ignored"
ok "and rewritten with a sane expiry" \
    test "$(sed -n 's/^expires //p' "$disc")" -le $(($(date +%s) + MAX_AGE + 1))

# 35-38: four cold logins at once: every one succeeds, the entries they
# race to write are whole, and no temporary file is left behind
rm -rf "$cache"
clear_stashes
pids=()
for i in 1 2 3 4; do
    "${FA_SAN_HOST[@]}" pamtester "$svc" alice authenticate <<<alice-secret >"$FA_TMP/par$i.out" 2>&1 &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do
    wait "$p" || failed=$((failed + 1))
done
clear_stashes
is "$failed" 0 "four concurrent cold logins succeed" || cat "$FA_TMP"/par*.out >&2
login
is "$(reqs)" "$WARM" "the entries they wrote serve the next login"
is "$(find "$cache" -mindepth 1 -name '*.tmp' | wc -l)" 0 "no temporary files are left behind"
is "$(find "$cache" -mindepth 1 | wc -l)" 2 "two entries, one each"

# 39-41: a cache directory owned by another user: not used at all
chown nobody "$cache"
login
is "$FA_RC" 0 "a cache directory owned by nobody: login succeeds" || fa_show
is "$(reqs)" "$COLD" "nothing is read from it"
login
is "$(reqs)" "$COLD" "nor written to it"
chown root "$cache"

# 42-43: a group-writable cache directory: not used
chmod 770 "$cache"
login
is "$FA_RC" 0 "a group-writable cache directory: login succeeds" || fa_show
is "$(reqs)" "$COLD" "it is not used"
chmod 700 "$cache"

# 44-45: the cache directory cannot be made (its parent is missing)
saved=$FHIRAUTH_TEST_CACHE_DIR
export FHIRAUTH_TEST_CACHE_DIR=$FA_TMP/missing/cache
login
is "$FA_RC" 0 "an unwritable cache directory: login succeeds" || fa_show
ok "nothing was made" test ! -e "$FA_TMP/missing"

# 46-47: the cache directory path is a file
export FHIRAUTH_TEST_CACHE_DIR=$FA_TMP/notadir
: >"$FHIRAUTH_TEST_CACHE_DIR"
login
is "$FA_RC" 0 "a file where the directory should be: login succeeds" || fa_show
is "$(reqs)" "$COLD" "and costs only the cold requests"
export FHIRAUTH_TEST_CACHE_DIR=$saved

# 48-51: an AS that puts preferred_username into the id_token (tuned): a
# warm login is the token request alone, no userinfo
fa_start_servers --no-fhir --ttl 60 --keyring user --claims tuned
service
login
is "$FA_RC" 0 "tuned AS: cold login succeeds" || fa_show
is "$(reqs)" "discovery:1 jwks:1 token:1 userinfo:0 other:0" \
    "cold: no userinfo request when the id_token has the claim"
login
is "$FA_RC" 0 "tuned AS: warm login succeeds" || fa_show
is "$(reqs)" "discovery:0 jwks:0 token:1 userinfo:0 other:0" \
    "warm: the token request alone"
