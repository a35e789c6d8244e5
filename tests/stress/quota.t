#!/bin/bash
# quota.t - a test user whose kernel key quota is nearly full: a login
# fails with an error naming the sysctl and leaves no half session; a
# refresh with rotation whose new refresh token needs more room than the
# old one loses nothing (the cached access key makes room); a refresh
# token that cannot fit at all is removed, not kept dead; an access token
# that does not fit is served uncached.  Then the quota is freed and the
# next call recovers.  The global sysctls are never changed: the quota is
# filled with the user's own dummy keys.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates a test user)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
command -v keyctl >/dev/null 2>&1 || skip_all "needs keyctl (keyutils)"

plan 46

# (The test bed pinned to claims in the id_token and the scope without
# profile: the cases below count the room left to the byte, around the
# sizes of the session keys this session has.)
fa_start_servers --no-fhir --ttl 60 --fault --keyring user --claims tuned --scope "openid offline_access patient/*.read"
u=fa5qt$$
# A uid the kernel has no key accounting for yet: an earlier user of a
# reused uid leaves its user keyrings (and their quota use) behind, and
# the cases below count the room left to the byte.
for ((fresh = 42000; fresh < 43000; fresh++)); do
    getent passwd "$fresh" >/dev/null || getent group "$fresh" >/dev/null ||
        grep -q "^ *$fresh:" /proc/key-users || break
done
fa_add_user "$u" "$fresh" || bail "cannot create user $u"
uid=$(id -u "$u")
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test user"
P=$FA_PROFILE
failures_before=$_fa_failed

# asu COMMAND...: run as the test user in its own named session keyring,
# joined, not made anew: with the quota full the kernel cannot make a
# keyring, so fa_as_user's fresh one per call would fail.  The keyring is
# linked into the user keyring so it outlives each call, and the user may
# search it without possessing it, so the next call finds it by name.
usess=fa5qt$$-session
asu() {
    setpriv --reuid="$u" --regid="$u" --init-groups \
        env HOME=/nonexistent USER="$u" LOGNAME="$u" \
        keyctl session "$usess" "$@" 2> >(grep -v '^Joined session keyring' >&2)
}
asu sh -c 'keyctl setperm @s 0x3f1b0000 && keyctl link @s @u' || bail "cannot give $u a session keyring"
# Whatever happens, free the quota before lib.sh deletes the user.
trap 'rc=$?; asu keyctl clear @u >/dev/null 2>&1; (exit $rc); _fa_cleanup' EXIT

# as ARGS...: fhir-token as the test user.
as() {
    asu "$bin" --config "$FA_CONF" --profile "$P" "$@"
}
login() {
    fa_run_stdin alice-secret as login --password --username alice --password-stdin
}
# token [MIN_VALID]: fa_run of "token" as the user.
token() {
    if [ -n "${1:-}" ]; then
        fa_run as token --min-valid "$1"
    else
        fa_run as token
    fi
}
# ukey NAME: the payload of pam_fhir:P:NAME in the user's keyring.
ukey() {
    asu sh -c 'id=$(keyctl search @u user "$1" 2>/dev/null) && keyctl pipe "$id"' \
        sh "pam_fhir:$P:$1" 2>/dev/null
}
has_key() {
    asu keyctl search @u user "pam_fhir:$P:$1" >/dev/null 2>&1
}
no_session_keys() {
    ! has_key refresh && ! has_key access && ! has_key meta
}
# usage: "KEYS MAXKEYS BYTES MAXBYTES" charged to the user now.
usage() {
    awk -v u="$uid:" '$1 == u { split($4, k, "/"); split($5, b, "/"); print k[1], k[2], b[1], b[2] }' /proc/key-users
}
bytes_left() {
    set -- $(usage)
    echo $(($4 - $3))
}
# fill BYTES | fill -k KEYS: as the user, add dummy keys (fa5fill:N, in
# its user keyring) until fewer than BYTES of kernel.keys.maxbytes are
# left, or only KEYS of kernel.keys.maxkeys (one-byte keys).  A key costs
# its description, one byte, and its payload.
fill_n=0
fill() {
    local kwant=- want=$1
    if [ "$1" = -k ]; then
        kwant=$2
        want=0
    fi
    fill_n=$(asu sh -c '
        uid=$(id -u) want=$1 kwant=$2 i=$3 sizes="8000 4000 2000 1000 500 250 120 60 30 15 8 4 2 1"
        [ "$kwant" = - ] || sizes=1
        usage() { awk -v u="$uid:" "\$1 == u { split(\$4, k, \"/\"); split(\$5, b, \"/\"); print b[2] - b[1], k[2] - k[1] }" /proc/key-users; }
        for size in $sizes; do
            while :; do
                set -- $(usage)
                d=fa5fill:$i
                [ "$kwant" = - ] || [ "$2" -gt "$kwant" ] || break 2
                [ $(($1 - ${#d} - 1 - size)) -ge "$want" ] || break
                head -c "$size" /dev/zero | tr "\0" f | keyctl padd user "$d" @u >/dev/null 2>&1 || break
                i=$((i + 1))
            done
        done
        echo "$i"' sh "$want" "$kwant" "$fill_n")
}
# unfill: remove the dummy keys, and wait for the kernel to credit them
# (its collector runs shortly after).
unfill() {
    local i
    asu sh -c '
        for id in $(keyctl rlist @u); do
            case $(keyctl rdescribe "$id" 2>/dev/null) in
                *";fa5fill:"*) keyctl unlink "$id" @u >/dev/null ;;
            esac
        done'
    fill_n=0
    for ((i = 0; i < 50; i++)); do
        [ "$(bytes_left)" -gt 15000 ] && break
        sleep 0.1
    done
}

as status >/dev/null 2>&1   # the user's keyrings exist from here on
diag "quota at start: $(usage)"
# ---- 1. A login with a few hundred bytes left: the refresh token fits,
# the metadata does not.  Never half a session.
fill 200
left=$(bytes_left)
diag "filled ($fill_n keys): $(usage)"
ok "the user's quota is nearly full ($left bytes left)" [ "$left" -lt 300 ]
rev0=$(fa_as_events revocation)
login
is "$FA_RC" 4 "login with a full quota fails with the keyring status" || fa_show
like "$FA_ERR" "kernel\.keys\.maxbytes" "the message names kernel.keys.maxbytes"
like "$FA_ERR" "nothing of the session was kept" "and says that nothing was kept"
ok "no refresh, access or meta key is left" no_session_keys
# (the kernel credits removed keys when its collector runs)
for ((i = 0; i < 30; i++)); do
    [ "$(bytes_left)" -ge $((left - 16)) ] && break
    sleep 0.1
done
ok "the quota is as it was ($(bytes_left) bytes left)" [ "$(bytes_left)" -ge $((left - 16)) ]
ok "the refresh token not kept was revoked at the server" [ "$(fa_as_events revocation)" -gt "$rev0" ]

# ---- 2. No key left (kernel.keys.maxkeys): the message names it too.
unfill
fill -k 0
diag "filled ($fill_n keys): $(usage)"
login
is "$FA_RC" 4 "login with no key left fails with the keyring status" || fa_show
like "$FA_ERR" "kernel\.keys\.maxkeys" "the message names kernel.keys.maxkeys"
ok "no key of the session is left" no_session_keys

# ---- 3. Room again: the next login works.
unfill
login
is "$FA_RC" 0 "with the quota freed the next login works" || fa_show
ok "a refresh key" has_key refresh
ok "a meta key" has_key meta
ok "an access key" has_key access

# ---- 4. A rotation with the quota full: the new refresh token has the
# size of the old one and replaces it in place, so it fits.
rt0=$(ukey refresh)
fill 10
diag "filled ($fill_n keys): $(usage)"
token 3600
is "$FA_RC" 0 "a forced refresh with a full quota works" || fa_show
rt1=$(ukey refresh)
ok "the rotated refresh token is stored" [ -n "$rt1" -a "$rt1" != "$rt0" ]
is "$(fa_introspect "$rt1")" true "and it is the live one at the server"
is "$(fa_introspect "$rt0")" false "the old one is dead"
unlike "$FA_ERR" "warning" "no warning"

# ---- 5. A rotation that needs more room than the old token: the cached
# access key makes room, the refresh token is kept; the new access token
# does not fit and is served uncached, with a warning.
fa_fault_mode big-refresh 80
token 3600
is "$FA_RC" 0 "a refresh whose token grows beyond the quota still works" || fa_show
ok "a token is printed" [ -n "$FA_OUT" ]
rt2=$(ukey refresh)
is "${#rt2}" 80 "the new, longer refresh token is stored"
like "$FA_ERR" "warning: .*kernel\.keys\.maxbytes" "a warning names the sysctl"
diag "$FA_ERR"

# ---- 6. A rotation whose token cannot fit at all: the dead old token is
# removed (presenting it again could make the server revoke the grant),
# the access token is served, the warning says the session ends.
fa_fault_mode big-refresh 4000
token 3600
is "$FA_RC" 0 "a refresh token that cannot fit: the access token is still served" || fa_show
ok "a token is printed" [ -n "$FA_OUT" ]
like "$FA_ERR" "refresh token does not fit.*log in again" "the warning says the session ends"
nok "the dead refresh token is not kept" has_key refresh
token 3600
is "$FA_RC" 2 "the next refresh asks for a login" || fa_show
like "$FA_ERR" "refresh token is gone.*log in again" "saying why"

# ---- 7. An access token that grows beyond the room left: served
# uncached, and the one cached before it is not served any more.
fa_fault_mode pass
unfill
login
is "$FA_RC" 0 "log in again" || fa_show
old=$(ukey access | cut -d' ' -f2)
ok "a token is cached" [ -n "$old" ]
fill 10
fa_fault_mode big-access 300
token 3600
is "$FA_RC" 0 "a refresh whose access token does not fit works" || fa_show
is "${#FA_OUT}" 300 "the new access token is printed"
like "$FA_ERR" "warning: the access token was not cached" "with the warning"
isnt "$(ukey access | cut -d' ' -f2)" "$old" "the older cached token is gone"
token
ok "the next call does not get the older token" [ -n "$FA_OUT" -a "$FA_OUT" != "$old" ]

# ---- 8. The access key is gone (collected by the kernel), the quota
# full: the refresh rotates in place, the access token is served
# uncached, the session is intact.
fa_fault_mode pass
unfill
login
is "$FA_RC" 0 "log in again" || fa_show
rt0=$(ukey refresh)
asu sh -c 'keyctl unlink "$(keyctl search @u user "$1")" @u' sh "pam_fhir:$P:access" >/dev/null 2>&1
sleep 0.3
fill 10
diag "filled ($fill_n keys): $(usage)"
token
is "$FA_RC" 0 "a refresh with no room for the access key works" || fa_show
like "$FA_ERR" "warning: the access token was not cached.*kernel\.keys\.maxbytes" \
    "a warning says the token was not cached, naming the sysctl"
rt1=$(ukey refresh)
ok "the rotated refresh token is stored and live" \
    [ -n "$rt1" -a "$rt1" != "$rt0" -a "$(fa_introspect "$rt1")" = true ]
nok "no access key" has_key access

# ---- 9. The quota freed: the next call refreshes and caches again.
unfill
n0=$(fa_as_count refresh_token ok)
token
is "$FA_RC" 0 "after freeing the quota the next call works" || fa_show
unlike "$FA_ERR" "warning" "without a warning"
ok "the access token is cached again" has_key access
is "$(fa_as_count refresh_token ok)" $((n0 + 1)) "one refresh"
token
is "$(fa_as_count refresh_token ok)" $((n0 + 1)) "the next call uses the cache"

echo "# figures: quota cases=9 failures=$((_fa_failed - failures_before))"
