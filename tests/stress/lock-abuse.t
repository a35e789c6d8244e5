#!/bin/bash
# lock-abuse.t - the refresh lock (/run/pam_fhir/UID/PROFILE.lock, else
# /tmp/pam_fhir-UID/PROFILE.lock) left stale, replaced, squatted or held:
# a stale file never blocks the next refresh; a symlink or hard link is
# never followed (its target is neither created nor touched); a lock
# directory that is a symlink, writable by others or someone else's is
# refused; a lock held for long is waited for with a bound.  Whenever the
# lock cannot be taken the cached token is served while it is valid (with
# a warning naming the problem), otherwise the refresh fails with the
# keyring status and a message naming the problem; the refresh token in
# the keyring stays intact and live throughout.
#
# As a non-root test user, whose lock directory this test may change at
# will, and as root for its own profile's lock file (root's lock
# directory is shared with other tests and is left alone; the unit tests
# in tests/unit/lock-t.c cover root acting for other users, and an
# unusable /run/pam_fhir, in private directories).
#
# FA_STRESS_LONG=1: the race at the end (the lock file flipped between a
# symlink and a file while refreshes run) runs 200 rounds instead of 10.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates test users)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
command -v flock >/dev/null 2>&1 || skip_all "needs flock (util-linux)"

rounds=10
[ "${FA_STRESS_LONG:-}" = 1 ] && rounds=200

plan 89

# timeout 2: a refresh waits for the lock at most 2 * 2 + 5 seconds.
fa_start_servers --no-fhir --ttl 600 --timeout 2 --keyring user
u=fa5lk$$
o=fa5lk$$o
fa_add_user "$u" || bail "cannot create user $u"
fa_add_user "$o" || bail "cannot create user $o"
uid=$(id -u "$u")
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test users"
P=$FA_PROFILE
failures_before=$_fa_failed
# Background processes of this test (lock holders, the flipper): ended
# on every exit, before lib.sh deletes the users.
bg=()
trap 'rc=$?; for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null; done; (exit $rc); _fa_cleanup' EXIT
cases=0 refused=0 handled=0 followed=0

# The lock directory the library picks for a uid (lib/lock.c).
lock_dir() {
    if [ "$(stat -c '%u %a %F' /run/pam_fhir 2>/dev/null)" = "0 1777 directory" ] &&
        [ ! -L /run/pam_fhir ]; then
        echo "/run/pam_fhir/$1"
    else
        echo "/tmp/pam_fhir-$1"
    fi
}
L=$(lock_dir "$uid")
LF=$L/$P.lock

as() {
    fa_as_user "$u" "$bin" --config "$FA_CONF" --profile "$P" "$@"
}
# force: a refresh as the user (the cached token is never valid long
# enough), via fa_run.
force() {
    fa_run as token --min-valid 86400
}
# ukey NAME: the payload of pam_fhir:P:NAME in the user's keyring.
ukey() {
    fa_as_user "$u" sh -c 'id=$(keyctl search @u user "$1" 2>/dev/null) && keyctl pipe "$id"' \
        sh "pam_fhir:$P:$1" 2>/dev/null
}
drop_access() {
    fa_as_user "$u" sh -c 'keyctl unlink "$(keyctl search @u user "$1")" @u' \
        sh "pam_fhir:$P:access" >/dev/null 2>&1
}
# sig FILE: what must not change about a file (or "absent").
sig() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        stat -c '%u %g %a %s %Y %i %h' "$1"
        md5sum <"$1" 2>/dev/null
    else
        echo absent
    fi
}
# hold FILE SECONDS: in the background, a process of the user's that
# holds the lock on FILE for SECONDS; its pid in $holder (it is the holder
# itself, and in bg for the cleanup).  Returns once the lock is taken.
hold() {
    local i
    setpriv --reuid="$u" --regid="$u" --init-groups \
        sh -c 'exec 9<"$1" && flock 9 && exec sleep "$2"' sh "$1" "$2" 2>/dev/null &
    holder=$!
    bg+=("$holder")
    for ((i = 0; i < 100; i++)); do
        flock -n "$1" true 2>/dev/null || break
        sleep 0.05
    done
}
# fresh_dir: remove the lock directory; the next call makes it anew.
fresh_dir() {
    rm -rf "$L"
}
# case_begin NAME: a new case: undo what the last one left, refresh once
# (so a valid token is cached), remember the refresh token.
case_begin() {
    cases=$((cases + 1))
    diag "case $cases: $1"
    if [ -L "$L" ] || [ "$(stat -c '%u %a' "$L" 2>/dev/null)" != "$uid 700" ]; then
        fresh_dir
    fi
    if [ -L "$LF" ] || [ "$(stat -c '%h' "$LF" 2>/dev/null)" != 1 ]; then
        rm -f "$LF"
    fi
    force
    [ "$FA_RC" -eq 0 ] || diag "the refresh before the case failed: $FA_ERR"
    rt_before=$(ukey refresh)
}
# rt_intact: the refresh token is the one before the case, and live.
rt_intact() {
    local rt
    rt=$(ukey refresh)
    [ -n "$rt" ] && [ "$rt" = "$rt_before" ] && [ "$(fa_introspect "$rt")" = true ]
}
# rt_rotated: a refresh happened: a new refresh token, live.
rt_rotated() {
    local rt
    rt=$(ukey refresh)
    [ -n "$rt" ] && [ "$rt" != "$rt_before" ] && [ "$(fa_introspect "$rt")" = true ]
}
# refused_case WHAT PATTERN VICTIM...: with the lock refused, the cached
# token is served with a warning naming the problem; without a cached
# token the refresh fails naming it.  The victims are untouched and the
# refresh token intact.
refused_case() {
    local what=$1 pat=$2 v cached
    shift 2
    local before=()
    for v in "$@"; do
        before+=("$(sig "$v")")
    done
    cached=$(ukey access | cut -d' ' -f2)
    force
    is "$FA_RC" 0 "$what: the cached token is served" || fa_show
    like "$FA_ERR" "warning: could not refresh.*$pat" "$what: the warning names the problem"
    ok "$what: the token served is the cached one" [ -n "$cached" -a "$FA_OUT" = "$cached" ]
    drop_access
    force
    is "$FA_RC" 4 "$what: without a cached token the refresh fails" || fa_show
    like "$FA_ERR" "$pat" "$what: the message names the problem"
    local i=0 changed=0
    for v in "$@"; do
        [ "$(sig "$v")" = "${before[$i]}" ] || {
            changed=1
            diag "changed: $v"
        }
        i=$((i + 1))
    done
    followed=$((followed + changed))
    is "$changed" 0 "$what: nothing outside was created or changed"
    ok "$what: the refresh token is intact and live" rt_intact
    refused=$((refused + 1))
}
# handled_case WHAT: the refresh works and rotates.
handled_case() {
    force
    is "$FA_RC" 0 "$1: the refresh works" || fa_show
    ok "$1: and rotates the refresh token" rt_rotated
    handled=$((handled + 1))
}

fa_run_stdin alice-secret as login --password --username alice --password-stdin
[ "$FA_RC" -eq 0 ] || bail "login as $u failed: $FA_ERR"
force
[ "$FA_RC" -eq 0 ] || bail "first refresh as $u failed: $FA_ERR"
[ -f "$LF" ] || bail "no lock file at $LF"
diag "lock file: $LF"

# ---- where the lock lives
case_begin "the lock directory"
if [ "${L#/tmp/}" != "$L" ]; then
    ok "/run/pam_fhir is absent or unusable: the fallback $L is used" \
        [ "$(stat -c '%u %a %F' "$L")" = "$uid 700 directory" ]
else
    ok "/run/pam_fhir is usable: $L is used" \
        [ "$(stat -c '%u %a %F' "$L")" = "$uid 700 directory" ]
fi
is "$(stat -c '%u %a %h' "$LF")" "$uid 600 1" "the lock file: the user's, mode 0600, one name"
handled=$((handled + 1))

# ---- a holder that died
case_begin "a lock left by a process killed while holding it"
hold "$LF" 300
nok "another process holds the lock" flock -n "$LF" true
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
handled_case "holder killed"

# ---- stale files with odd content, mode and owner
case_begin "a stale lock file with binary content and mode 0000"
printf 'garbage\000\377\n%.0s' {1..100} >"$LF"
chown "$u:" "$LF"
chmod 000 "$LF"
s0=$(md5sum <"$LF")
handled_case "mode 0000"
is "$(stat -c '%a' "$LF")" 600 "mode 0000: the mode is repaired"
is "$(md5sum <"$LF")" "$s0" "mode 0000: the content is left alone"

case_begin "a stale root-owned lock file (root died before giving it away)"
rm -f "$LF"
: >"$LF"
chmod 600 "$LF"
handled_case "root-owned leftover"
is "$(stat -c '%u' "$LF")" "$uid" "root-owned leftover: the lock file is the user's now"

# ---- the lock file replaced by a link
victim=$FA_TMP/victim-root
printf 'root data\n' >"$victim"
chmod 644 "$victim"
ud=$FA_TMP/user-dir
mkdir -p "$ud"
printf 'user data\n' >"$ud/file"
chown -R "$u:" "$ud"
chmod 700 "$ud"

case_begin "the lock file a symlink to a root-owned file"
rm -f "$LF"
ln -s "$victim" "$LF"
refused_case "symlink to a root file" "symbolic link" "$victim" "$LF"

case_begin "the lock file a symlink to a path that does not exist"
rm -f "$LF"
ln -s "$ud/created" "$LF"
refused_case "dangling symlink" "symbolic link" "$ud/created" "$ud"

case_begin "the lock file a hard link to another file of the user's"
rm -f "$LF"
ln "$ud/file" "$LF"
refused_case "hard link" "links" "$ud/file"
rm -f "$LF"

# ---- the lock directory replaced, opened up, squatted
case_begin "the lock directory a symlink to a directory of the user's"
fresh_dir
ln -s "$ud" "$L"
refused_case "symlinked directory" "symbolic link" "$ud" "$ud/$P.lock"
rm -f "$L"

for mode in 770 777; do
    case_begin "the lock directory with mode $mode"
    fresh_dir
    mkdir -m "$mode" "$L"
    chmod "$mode" "$L"
    chown "$u:" "$L"
    refused_case "directory mode $mode" "mode 0$mode" "$L/$P.lock"
    fresh_dir
done

case_begin "the lock directory made first by another user (squatting)"
fresh_dir
fa_as_user "$o" sh -c 'mkdir -m 777 "$1" && chmod 777 "$1"' sh "$L" 2>/dev/null
ok "user $o made $L" [ "$(stat -c %U "$L")" = "$o" ]
refused_case "squatted directory" "belongs to uid $(id -u "$o")" "$L/$P.lock"
fresh_dir

case_begin "the lock directory a symlink made first by another user"
od=$FA_TMP/other-dir
mkdir -p "$od"
chown "$o:" "$od"
chmod 777 "$od"
fresh_dir
fa_as_user "$o" ln -s "$od" "$L" 2>/dev/null
ok "user $o made $L a symlink" [ -L "$L" ]
refused_case "squatted symlink" "symbolic link" "$od" "$od/$P.lock"
fresh_dir

# ---- held for long: a bounded wait
case_begin "the lock held for long by another process of the user"
hold "$LF" 600
rt_before=$(ukey refresh)
t0=$(date +%s)
refused_case "held lock" "timed out waiting for the refresh lock" "$LF"
t1=$(date +%s)
# Two bounded waits of 2 * timeout + 5 s; generous slack on a loaded machine.
ok "the waits were bounded ($((t1 - t0)) s for two)" [ $((t1 - t0)) -ge 16 -a $((t1 - t0)) -le 120 ]
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
handled_case "lock released"

# ---- root, for its own profile's lock file
case_begin "root: its lock file a symlink (to a file, to nothing)"
fa_login >/dev/null
[ "$FA_RC" -eq 0 ] || bail "root login failed: $FA_ERR"
fa_run fa_token token --min-valid 86400
rl=$(lock_dir 0)/$P.lock
if [ -f "$rl" ] && [ ! -L "$rl" ]; then
    rm -f "$rl"
    ln -s "$victim" "$rl"
    v0=$(sig "$victim")
    fa_run fa_token token --min-valid 86400
    is "$FA_RC" 0 "root: the cached token is served" || fa_show
    like "$FA_ERR" "warning: could not refresh.*symbolic link" "root: the warning names the symlink"
    is "$(sig "$victim")" "$v0" "root: the root-owned target is untouched"
    rm -f "$rl"
    ln -s "$FA_TMP/root-created" "$rl"
    fa_run fa_token token --min-valid 86400
    like "$FA_ERR" "symbolic link" "root: a dangling symlink is refused too"
    ok "root: its target was not created" [ ! -e "$FA_TMP/root-created" ]
    [ "$(sig "$victim")" = "$v0" ] && [ ! -e "$FA_TMP/root-created" ] || followed=$((followed + 1))
    rm -f "$rl"
    refused=$((refused + 1))
else
    for ((i = 0; i < 5; i++)); do
        skip "root's lock file $rl is not a plain file"
    done
fi

# ---- a race: the lock file flipped between a symlink and a file while
# refreshes run; the symlink's target (a file of the user's) must never
# be touched, and every call gets a token.
case_begin "the lock file flipped to a symlink and back while refreshing ($rounds rounds)"
uv=$ud/file
v0=$(sig "$uv")
(
    while :; do
        ln -sfn "$uv" "$LF.flip" && mv -fT "$LF.flip" "$LF"
        sleep 0.02
        rm -f "$LF"
        sleep 0.02
    done
) &
flipper=$!
bg+=("$flipper")
bad=0 saw=0
for ((r = 0; r < rounds; r++)); do
    force
    if [ "$FA_RC" -ne 0 ] || [ -z "$FA_OUT" ]; then
        bad=$((bad + 1))
        diag "round $r: status $FA_RC: $FA_ERR"
    fi
    case $FA_ERR in *"symbolic link"*) saw=$((saw + 1)) ;; esac
done
kill "$flipper" 2>/dev/null
wait "$flipper" 2>/dev/null
rm -f "$LF" "$LF.flip"
diag "$saw of $rounds calls met the symlink and served the cached token"
is "$bad" 0 "every call got a token"
is "$(sig "$uv")" "$v0" "the symlink's target was never touched"
[ "$(sig "$uv")" = "$v0" ] || followed=$((followed + 1))
force
is "$FA_RC" 0 "afterwards the refresh works" || fa_show
rt=$(ukey refresh)
is "$(fa_introspect "$rt")" true "and the refresh token in the keyring is live"
handled=$((handled + 1))

echo "# figures: lock-abuse cases=$cases refused=$refused handled=$handled followed=$followed rounds=$rounds met_symlink=$saw failures=$((_fa_failed - failures_before))"
