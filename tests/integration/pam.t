#!/bin/bash
# pam.t - pam_fhir.so in the real PAM stack, driven by pamtester as root
# with a service file of its own in /etc/pam.d and local users named like
# the AS's accounts (the identity check compares preferred_username with
# the PAM user): the password grant, the stash across auth and session,
# tokens in the user's keyring that the FHIR server accepts, refusals,
# the fallback to pam_unix when the AS is down, and revoke_on_close.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
pam_setup

plan 58

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 60 --keyring user
pam_users

# 1-7: password grant; the stash key is root's alone
service
pt alice alice-secret authenticate
is "$FA_RC" 0 "password grant: alice authenticates" || fa_show
is "$(stashes)" 1 "auth as root leaves one stash key in root's user keyring"
# A process of another uid whose session keyring links root's user keyring
# (this test's session keyring, as a root console's pam_keyinit session
# followed by su without pam_keyinit) possesses the stash: possession must
# not read it; only root, its owner, may.
serial=$(stash_serial alice)
desc=$(keyctl rdescribe "$serial" 2>/dev/null | cut -d';' -f5)
as_bob_here() {
    setpriv --reuid=bob --regid=bob --init-groups "$@"
}
ok "bob's process possesses root's user keyring here" \
    as_bob_here keyctl rlist "$(keyctl id @u)"
nok "bob cannot read alice's stash by its serial" \
    as_bob_here sh -c 'keyctl pipe "$1" >/dev/null' sh "$serial"
nok "nor find it by its description ($desc)" \
    as_bob_here keyctl search @s user "$desc"
like "$(keyctl rdescribe "$serial" 2>/dev/null)" "^user;0;0;003b0000;" \
    "the stash has owner (root) permissions only, no possessor bits"
ok "root, its owner, still reads it" sh -c 'keyctl pipe "$1" >/dev/null' sh "$serial"
clear_stashes

# 8: wrong password
pt alice wrong-password authenticate
isnt "$FA_RC" 0 "a wrong password fails" || fa_show

# 9-12: authenticate + open_session: tokens in alice's keyring
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "authenticate open_session succeeds" || fa_show
is "$(stashes)" 0 "the stash key is gone after open_session"
tok=$(as alice token 2>/dev/null)
isnt "$tok" "" "alice's fhir-token prints a token after the PAM login"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 "the FHIR server accepts it"

# 13: bob cannot read alice's keys
fa_run as bob token
ok "bob gets no token from alice's login" test "$FA_RC" != 0 -a -z "$FA_OUT"

# 14-15: a PAM_FHIR_STASH pointing at another user's stash is refused
clear_stashes
pt alice alice-secret authenticate
serial=$(stash_serial alice)
[ -n "$serial" ] || diag "no stash of alice found"
fa_run "${FA_SAN_HOST[@]}" pamtester -v -E "PAM_FHIR_STASH=$serial" "$svc" bob open_session
isnt "$FA_RC" 0 "bob's open_session refuses alice's stash" || fa_show
is "$(stashes)" 1 "alice's stash stays in place"
clear_stashes

# 16: identity mismatch (sub is alice-0001, not alice)
service username_claim=sub
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" "identity mismatch -> PAM_AUTH_ERR" || fa_show
clear_stashes

# 17: bob cannot log in as alice with bob's AS password
service
pt alice bob-secret authenticate
isnt "$FA_RC" 0 "another account's password fails" || fa_show
clear_stashes

# 18-19: PAM_FHIR_CONFIG and https_proxy from the caller change nothing
printf 'issuer = https://127.0.0.1:1\nclient_id = nope\n' >"$FA_TMP/evil.conf"
PAM_FHIR_CONFIG=$FA_TMP/evil.conf https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 \
    ALL_PROXY=http://127.0.0.1:1 pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "PAM_FHIR_CONFIG and proxy variables are ignored" || fa_show
is "$(stashes)" 0 "no stash left behind"

# 20-22: revoke_on_close
service revoke_on_close
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "login with revoke_on_close" || fa_show
rt=$(user_key alice refresh)
is "$(fa_introspect "$rt")" true "the refresh token is active in the session"
pt alice x close_session
is "$(fa_introspect "$rt")" false "close_session revoked the refresh token" || fa_show

# 23-24: the same with the module and the library in a directory the user
# cannot enter (a build tree below a 0700 /root): close_session loads the
# network half as root, before it switches to the user.
closed=$FA_TMP/closed
mkdir -m 700 "$closed" && mkdir -p "$closed/lib/.libs" &&
    cp -P "$top_builddir"/lib/.libs/libfhirauth.so* "$top_builddir/lib/.libs/fhirauth-net.so" \
        "$closed/lib/.libs/" && cp "$module" "$closed/pam_fhir.so" || diag "cannot copy the build"
saved_module=$module
module=$closed/pam_fhir.so
service revoke_on_close
LD_LIBRARY_PATH=$closed/lib/.libs pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "login with the module in a directory closed to the user" || fa_show
rt=$(user_key alice refresh)
[ -n "$rt" ] || diag "no refresh token in alice's keyring"
LD_LIBRARY_PATH=$closed/lib/.libs pt alice x close_session
is "$(fa_introspect "$rt")" false "close_session revoked the refresh token from there" || fa_show
module=$saved_module

# 25: open_session with nothing stashed (a public-key ssh login): ignored
service
pt alice x open_session
is "$FA_RC" 0 "open_session with nothing stashed is PAM_IGNORE (pam_permit decides)" || fa_show

# 26-27: keyring=persistent
service keyring=persistent
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "keyring=persistent: authenticate open_session" || fa_show
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "keyring=persistent: alice's fhir-token gets a token the FHIR server accepts"

# 28-29: keyring=session needs pam_keyinit before pam_fhir
service keyring=session
pt alice alice-secret authenticate open_session
isnt "$FA_RC" 0 "keyring=session without pam_keyinit is refused" || fa_show
clear_stashes
{
    echo "auth required $module config=$FA_CONF grant=password keyring=session"
    echo "session required pam_keyinit.so force revoke"
    echo "session required $module config=$FA_CONF grant=password keyring=session"
} >"$svcfile"
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "keyring=session after pam_keyinit succeeds" || fa_show
clear_stashes

# 30: an unknown argument is logged and ignored
service no_such_argument=1
pt alice alice-secret authenticate
is "$FA_RC" 0 "an unknown argument is not fatal" || fa_show
clear_stashes

# 31: a bad value of a known key fails closed (PAM_SERVICE_ERR)
service grant=carrier-pigeon
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Ee]rror in service module" "a bad argument value -> PAM_SERVICE_ERR" || fa_show

# 32: ignore_users -> PAM_IGNORE (no login attempted: the password is wrong)
{
    echo "auth [ignore=ignore default=die] $module config=$FA_CONF grant=password ignore_users=root,alice"
    echo "auth required pam_permit.so"
} >"$svcfile"
pt alice wrong authenticate
is "$FA_RC" 0 "ignore_users: PAM_IGNORE" || fa_show

# 33: minimum_uid -> PAM_IGNORE
{
    echo "auth [ignore=ignore default=die] $module config=$FA_CONF grant=password minimum_uid=60000"
    echo "auth required pam_permit.so"
} >"$svcfile"
pt alice wrong authenticate
is "$FA_RC" 0 "minimum_uid: PAM_IGNORE" || fa_show

# 34-38: device grant through the PAM conversation
service grant=device
device alice authenticate open_session
like "$DEV_CODE" '^[A-Z]{4}-[A-Z]{4}$' "the device prompt shows the user code" ||
    diag "$(cat "$FA_TMP/dev.out")"
dev_out=$(cat "$FA_TMP/dev.out")
like "$dev_out" "Sign-in request from \"fhir-cli\" on $(hostname)\." \
    "the prompt names the client and this host"
like "$dev_out" "approve, then press Enter: \$" "and asks to approve, then press Enter"
fa_device_approve "$DEV_CODE" alice || diag "approval failed"
device_finish
is "$FA_RC" 0 "device grant approved as alice: authenticate open_session" || diag "$FA_OUT"
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "after the device login, alice's token is accepted by the FHIR server"

# 39: approved as another user -> PAM_AUTH_ERR
device alice authenticate
fa_device_approve "$DEV_CODE" bob || diag "approval failed"
device_finish
like "$FA_OUT" "[Aa]uthentication failure" "device grant approved as bob for alice -> PAM_AUTH_ERR" ||
    diag "$FA_OUT"
clear_stashes

# 40-42: not root (a screen locker running as the user): the session is
# kept with pam_set_data, no stash key, and open_session stores it.
cp "$module" "$FA_TMP/bin/.libs/pam_fhir.so" && chmod 755 "$FA_TMP/bin/.libs/pam_fhir.so"
{
    echo "auth required $FA_TMP/bin/.libs/pam_fhir.so config=$FA_CONF grant=password debug"
    echo "session required $FA_TMP/bin/.libs/pam_fhir.so config=$FA_CONF grant=password"
} >"$svcfile"
fa_as_user alice keyctl clear @u >/dev/null 2>&1
fa_run_stdin alice-secret fa_as_user alice env LD_LIBRARY_PATH="$FA_TMP/bin/.libs" \
    "${FA_SAN_HOST[@]}" pamtester -v "$svc" alice authenticate open_session
is "$FA_RC" 0 "as alice herself: authenticate open_session" || fa_show
n=$(fa_as_user alice sh -c 'keyctl rlist @u' 2>/dev/null | wc -w)
is "$n" 3 "alice's user keyring holds the three session keys and no stash"
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "the non-root login's token is accepted by the FHIR server"

# 43-49: setcred, through a small libpam driver (pamtester has no setcred):
# python3 ctypes, answering every prompt with the password given.
pam_driver "$FA_TMP/pamdrv.py"
# drv PASSWORD OPS...: auth, setcred:ESTABLISH|DELETE|REINITIALIZE|REFRESH,
# open, close, getenv:NAME on one PAM handle for alice.
drv() {
    local pass=$1
    shift
    fa_run "${FA_SAN_HOST_NOLEAKS[@]}" python3 "$FA_TMP/pamdrv.py" "$svc" alice "$pass" "$@"
}
service
fa_as_user alice keyctl clear @u >/dev/null 2>&1
drv alice-secret auth setcred:REFRESH getenv:PAM_FHIR_STASH
is "$FA_RC" 0 "authenticate, then setcred(PAM_REFRESH_CRED)" || fa_show
like "$FA_OUT" "getenv:PAM_FHIR_STASH \$" "setcred removed PAM_FHIR_STASH"
is "$(stashes)" 0 "and took the stash"
rt1=$(user_key alice refresh)
isnt "$rt1" "" "setcred(PAM_REFRESH_CRED) stored the tokens in alice's keyring"
drv alice-secret auth setcred:REINITIALIZE
rt2=$(user_key alice refresh)
ok "a new authenticate + setcred(PAM_REINITIALIZE_CRED) stores new tokens" \
    test -n "$rt2" -a "$rt1" != "$rt2"
is "$(fa_introspect "$rt1")" false "and the replaced refresh token was revoked"
drv x setcred:ESTABLISH setcred:DELETE
ok "setcred ESTABLISH and DELETE succeed and leave the keys" \
    test "$FA_RC" = 0 -a "$(user_key alice refresh)" = "$rt2"

# 50-52: an ssh password login (keyboard-interactive) through a real sshd
# (pam_sshd) runs fhir-token inside the session: the stash survived sshd's
# forked auth.
if [ -x /usr/sbin/sshd ] && command -v sshpass >/dev/null 2>&1 && command -v ssh >/dev/null 2>&1; then
    pam_sshd password || diag "sshd did not start: $(tail -5 "$FA_TMP/sshd.log")"
    fa_as_user alice keyctl clear @u >/dev/null 2>&1
    ssh_alice() {
        SSHPASS=$1 sshpass -e ssh -p "$sshd_port" -o StrictHostKeyChecking=no \
            -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            -o PreferredAuthentications=keyboard-interactive \
            -o NumberOfPasswordPrompts=1 alice@127.0.0.1 \
            "$FA_TMP/bin/fhir-token --config $FA_CONF --profile $P token"
    }
    fa_run ssh_alice alice-secret
    is "$FA_RC" 0 "ssh password login through pam_fhir" ||
        diag "$FA_ERR" "$(tail -15 "$FA_TMP/sshd.log")"
    is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$(printf '%s' "$FA_OUT" | tail -1)")" 200 \
        "fhir-token inside the ssh session prints a token the FHIR server accepts"
    fa_run ssh_alice wrong-password
    isnt "$FA_RC" 0 "ssh with a wrong password fails"
    clear_stashes
else
    skip "ssh password login through pam_fhir" "needs openssh-server, ssh and sshpass"
    skip "fhir-token inside the ssh session" "needs openssh-server, ssh and sshpass"
    skip "ssh with a wrong password fails" "needs openssh-server, ssh and sshpass"
fi

# 53-55: while open_session acts as the user (storing, and revoking the
# replaced session), the process has the user's ids and the user's group
# only, not the host's supplementary groups.  pam_exec stops the AS just
# before pam_fhir's session step, so the revocation of alice's previous
# session stalls there and the test can look at the process.
service
pt alice alice-secret authenticate open_session
clear_stashes
{
    echo "auth required $module config=$FA_CONF grant=password"
    echo "session required pam_exec.so /bin/kill -STOP $FA_AS_PID"
    echo "session required $module config=$FA_CONF grant=password"
} >"$svcfile"
printf 'alice-secret\n' | setpriv --groups=0,4,27 "${FA_SAN_HOST[@]}" pamtester "$svc" alice authenticate open_session \
    >"$FA_TMP/groups.out" 2>&1 &
ptpid=$!
alice_uid=$(id -u alice) alice_gid=$(id -g alice)
seen_uid='' seen_groups=''
# (Up to 30 s: authenticate comes first, slow under the sanitizers on a
# loaded machine; the loop ends as soon as pamtester acts as alice.)
for ((i = 0; i < 600; i++)); do
    st=$(cat "/proc/$ptpid/status" 2>/dev/null) || break
    seen_uid=$(printf '%s\n' "$st" | awk '/^Uid:/ { print $2 " " $3 }')
    if [ "$seen_uid" = "$alice_uid $alice_uid" ]; then
        seen_groups=$(printf '%s\n' "$st" | awk '/^Groups:/ { $1 = ""; sub(/^ +/, ""); sub(/ +$/, ""); print }')
        break
    fi
    sleep 0.05
done
fa_resume_as
wait "$ptpid"
ptrc=$?
is "$seen_uid" "$alice_uid $alice_uid" "open_session acts with alice's real and effective uid"
is "$seen_groups" "$alice_gid" "... and alice's group only, none of the host's groups (0 4 27)"
is "$ptrc" 0 "open_session still succeeds, the host's ids restored" || diag "$(cat "$FA_TMP/groups.out")"
clear_stashes

# 56-58: AS down -> PAM_AUTHINFO_UNAVAIL; fallback to pam_unix
fa_stop_as
service
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication service cannot retrieve authentication info" \
    "AS down -> PAM_AUTHINFO_UNAVAIL" || fa_show
echo 'alice:local-Pass-42' | chpasswd
{
    echo "auth [success=done authinfo_unavail=ignore default=die] $module config=$FA_CONF grant=password"
    echo "auth required pam_unix.so try_first_pass"
} >"$svcfile"
pt alice local-Pass-42 authenticate
is "$FA_RC" 0 "with the AS down, pam_unix lets alice in with her local password" || fa_show
pt alice wrong-local authenticate
isnt "$FA_RC" 0 "... but not with a wrong one" || fa_show
clear_stashes
