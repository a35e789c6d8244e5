#!/bin/bash
# demo.t - scripts/demo as a newcomer runs it, then the three commands it
# prints as next steps, the last of which (scripts/demo --stop) must leave
# nothing behind: no servers, no PAM service file, no demo user or group,
# none of its keys (user and persistent keyring, root's stash keys), no
# lock directory, no demo directory.  Also: a step that cannot go on
# fails with a message that names the step and the way out.
#
# Run by scripts/check (full tier) as root:
#   top_srcdir=SRC top_builddir=SRC/build bash SRC/tests/demo.t
# The demo runs with a directory, user and service of the test's own
# (PAM_FHIR_DEMO_*), so a demo someone is running is left alone.
. "${top_srcdir:-$(dirname "$0")/..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (the demo creates a user and a PAM service)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
# The demo's PAM login leaves a stash key in root's user keyring for a
# moment, which the PAM tests count: take their turn.
fa_pam_lock

export PAM_FHIR_DEMO_DIR=/tmp/pam_fhir-demo-test.$$
export PAM_FHIR_DEMO_USER=fhirdemot
export PAM_FHIR_DEMO_SERVICE=pam_fhir-demo-test
demo=$top_srcdir/scripts/demo
dir=$PAM_FHIR_DEMO_DIR
user=$PAM_FHIR_DEMO_USER
out=$(mktemp -d /tmp/pam_fhir-demo-t.XXXXXX)
id "$user" >/dev/null 2>&1 && skip_all "a local user $user exists already"

# On every exit, also a failed one: the demo's own --stop, then the user
# this test made for the refusal case.
trap 'rc=$?; "$demo" --stop >/dev/null 2>&1; userdel "$user" >/dev/null 2>&1;
      getent group "$user" >/dev/null 2>&1 && groupdel "$user"; rm -rf "$out"; (exit $rc); _fa_cleanup' EXIT

plan 22

# 1-3: a user of the demo's name that the demo did not make: it stops and
# says why, and touches nothing.
useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$user"
"$demo" >"$out/refused.out" 2>"$out/refused.err"
is "$?" 1 "a foreign user of the demo's name: exit 1"
like "$(cat "$out/refused.err")" "FAILED .*at: removing what an earlier demo left" \
    "the message names the step" || diag "$(cat "$out/refused.out" "$out/refused.err")"
like "$(cat "$out/refused.err")" "exists already and was not made by the demo" "and the cause"
userdel "$user"
getent group "$user" >/dev/null 2>&1 && groupdel "$user"

# 4-8: the demo itself.
"$demo" >"$out/demo.out" 2>"$out/demo.err"
is "$?" 0 "scripts/demo: exit 0" || diag "$(tail -n 40 "$out/demo.out" "$out/demo.err")"
like "$(cat "$out/demo.out")" '"resourceType": *"Patient"' \
    "it fetched the Patient with the token from the keyring"
like "$(cat "$out/demo.out")" "^Subject: +$user-0001\$" "it showed fhir-token status" ||
    diag "$(cat "$out/demo.out")"
uid=$(id -u "$user" 2>/dev/null)
isnt "$uid" "" "the demo user exists while the demo runs"
pids=$(cat "$dir"/*.pid 2>/dev/null)
isnt "$pids" "" "the servers' process ids are recorded"

# 9-14: the three next steps it printed, run as printed.
sed -n '/Next, with the same servers:$/,/^(The first/p' "$out/demo.out" | sed -n 's/^  //p' >"$out/next"
is "$(wc -l <"$out/next")" 3 "three next steps are printed" || diag "$(cat "$out/demo.out")"
like "$(sed -n 1p "$out/next")" "fhir-token" "the first is a fhir-token call"
like "$(sed -n 2p "$out/next")" "fhir-token --format curl \\| curl .*-K -" "the second pipes --format curl into curl"
fa_run bash -c "$(sed -n 1p "$out/next")"
like "$FA_OUT" "^export FHIR_ACCESS_TOKEN='" "the first prints the demo user's token as shell variables" || fa_show
fa_run bash -c "$(sed -n 2p "$out/next")"
like "$FA_OUT" '"resourceType": *"Patient"' "the second fetches the Patient" || fa_show
is "$(sed -n 3p "$out/next")" "scripts/demo --stop" "the third is scripts/demo --stop"

# 15-22: --stop (from the checkout, as printed) leaves nothing behind.
fa_run bash -c "cd '$top_srcdir' && $(sed -n 3p "$out/next")"
is "$FA_RC" 0 "scripts/demo --stop: exit 0" || fa_show
alive=
for p in $pids; do
    kill -0 "$p" 2>/dev/null && alive="$alive $p"
done
is "$alive" "" "no server left running"
ok "no PAM service file left" test ! -e "/etc/pam.d/$PAM_FHIR_DEMO_SERVICE"
nok "no demo user left" id "$user"
nok "no demo group left" getent group "$user"
ok "no demo directory left" test ! -e "$dir"
ok "no lock directory of the demo user's left" test ! -e "/run/pam_fhir/$uid" -a ! -e "/tmp/pam_fhir-$uid"
# The uid's keyrings outlive the account: as that uid, its user and
# persistent keyrings must be empty, and root's keyring must hold no
# stash of the demo user's.
# shellcheck disable=SC2016
keys=$(setpriv --reuid="$uid" --regid="$uid" --clear-groups keyctl session - \
    sh -c 'keyctl rlist @u; p=$(keyctl get_persistent @s) && keyctl rlist "$p"' 2>/dev/null)
stash=$(for id in $(keyctl rlist @u 2>/dev/null); do keyctl rdescribe "$id"; done 2>/dev/null |
    grep -c ";pam_fhir:stash:$user:")
is "$keys/$stash" "/0" "no key of the demo user's left in any anchor, no stash in root's keyring"
