#!/bin/bash
# pam-syslog.t - what pam_fhir.so logs, captured: pamtester runs in a
# private mount namespace where /dev/log is a unix datagram socket this
# test listens on.  With debug on, the log has the module's debug lines
# with the "(user NAME)" prefix, and never the password, the access or
# refresh token (read from alice's keyring afterwards), nor the device
# flow's user code; without debug, no LOG_DEBUG lines.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

pam_setup
command -v unshare >/dev/null 2>&1 || skip_all "needs unshare (util-linux)"
command -v python3 >/dev/null 2>&1 || skip_all "needs python3"
plan 30

made_devlog=
log_pid=
pam_cleanup_hook() {
    exec 7>&- 2>/dev/null
    [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null
    [ -n "$log_pid" ] && kill "$log_pid" 2>/dev/null
    # Only an empty regular file this test made, never a real /dev/log.
    [ -n "$made_devlog" ] && [ -f /dev/log ] && [ ! -s /dev/log ] && rm -f /dev/log
    return 0
}

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 60 --keyring user
pam_users

# The syslog socket: every datagram a line of $log.
sock=$FA_TMP/log.sock
log=$FA_TMP/syslog.txt
cat >"$FA_TMP/logsrv.py" <<'PY'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    os.rename(out + ".tmp", out + ".ready")
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PY
: >"$log.tmp"
python3 "$FA_TMP/logsrv.py" "$sock" "$log" 9>&- &
log_pid=$!
for ((i = 0; i < 50; i++)); do
    [ -e "$log.ready" ] && break
    sleep 0.1
done
[ -e "$log.ready" ] || bail "the syslog listener did not start"
# A mount point for the socket when the host has no /dev/log.
if [ ! -e /dev/log ] && [ ! -L /dev/log ]; then
    : >/dev/log || bail "cannot create /dev/log to mount over"
    made_devlog=1
fi
# In a private mount namespace, /dev/log is our socket.
# shellcheck disable=SC2016
PAM_WRAP=(unshare -m --propagation private sh -c 'mount --bind "$0" /dev/log && exec "$@"' "$sock")

# logmark / logsince: the captured log from a mark on (once the listener
# has written the last datagrams: the line count stays put for 0.3 s).
logmark() { LOGMARK=$(wc -l <"$log"); }
logsince() {
    local i n m=-1 same=0
    for ((i = 0; i < 40 && same < 3; i++)); do
        sleep 0.1
        n=$(wc -l <"$log")
        if [ "$n" = "$m" ]; then same=$((same + 1)); else same=0; m=$n; fi
    done
    tail -n +$((LOGMARK + 1)) "$log"
}
# absent SECRET NAME TEXT: a test that TEXT has no SECRET (and that the
# secret is known: an empty one would prove nothing).
absent() {
    if [ -z "$1" ]; then
        _fa_result 1 "the log has no $2 (the $2 is unknown!)"
        return 1
    fi
    if printf '%s' "$3" | grep -qF -- "$1"; then
        _fa_result 1 "the log has no $2"
        diag "  the $2 appears in: $(printf '%s' "$3" | grep -F -- "$1" | head -3)"
        return 1
    fi
    _fa_result 0 "the log has no $2"
}

# 1-11: password grant with debug: authenticate open_session
service debug
logmark
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "debug: authenticate open_session in the namespace" || fa_show
out=$(logsince)
isnt "$out" "" "the module's syslog lines were captured"
like "$out" 'pam_fhir\([^)]*:auth\): \(user alice\) ' "auth lines carry the (user alice) prefix"
like "$out" 'pam_fhir\([^)]*:session\): \(user alice\) ' "session lines carry the prefix too"
like "$out" '^<87>.*\(user alice\) password grant' "a LOG_DEBUG line (authpriv.debug) for the grant"
like "$out" 'authenticated at the authorization server' "the info line for the login"
# Every line, the entry lines too (pamtester gave PAM the user up front).
stray=$(printf '%s\n' "$out" | grep -F 'pam_fhir(' | grep -vF '(user alice) ')
is "$stray" "" "every module line has the (user alice) prefix"
# The access key's payload is "EXPIRY TOKEN".
at=$(user_key alice access)
at=${at#* }
rt=$(user_key alice refresh)
absent "alice-secret" "password" "$out"
absent "$at" "access token" "$out"
absent "$rt" "refresh token" "$out"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at")" 200 "and that access token is the real one"

# 12-14: a wrong password: logged as a failure, without the password
logmark
wrong=Wr0ng-pass-$$-x
pt alice "$wrong" authenticate
isnt "$FA_RC" 0 "a wrong password fails" || fa_show
out=$(logsince)
like "$out" '\(user alice\) .*failed' "the failure is logged"
absent "$wrong" "wrong password" "$out"
clear_stashes

# 15-17: close_session with revoke_on_close and debug
service debug revoke_on_close
logmark
pt alice x close_session
out=$(logsince)
like "$out" '\(user alice\) refresh token revoked' "close_session logs the revocation"
absent "$rt" "refresh token (close_session)" "$out"
absent "$at" "access token (close_session)" "$out"

# 18-23: device grant with debug: the user code is not logged
service debug grant=device
fa_as_user alice keyctl clear @u >/dev/null 2>&1
logmark
device alice authenticate open_session
like "$DEV_CODE" '^[A-Z]{4}-[A-Z]{4}$' "device grant: the prompt shows a user code" ||
    diag "$(cat "$FA_TMP/dev.out")"
fa_device_approve "$DEV_CODE" alice || diag "approval failed"
device_finish
is "$FA_RC" 0 "device grant with debug: authenticate open_session" || diag "$FA_OUT"
out=$(logsince)
like "$out" '\(user alice\) device code shown, polling' "the device flow's debug lines are there"
absent "$DEV_CODE" "user code" "$out"
at=$(user_key alice access)
absent "${at#* }" "access token (device grant)" "$out"
absent "$(user_key alice refresh)" "refresh token (device grant)" "$out"
clear_stashes

# 24-26: without debug: no LOG_DEBUG lines, the info lines still there
service
logmark
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "without debug: authenticate open_session" || fa_show
out=$(logsince)
like "$out" 'tokens stored in the' "the info lines are logged"
unlike "$out" '^<87>' "no LOG_DEBUG lines without debug"
clear_stashes

# 27-30: a standard AS sends preferred_username only for the profile
# scope: without it the login fails, and the log says which scope to add
fa_config scope "openid offline_access patient/*.read"
logmark
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "Authentication failure" "no profile scope: PAM_AUTH_ERR" || fa_show
out=$(logsince)
like "$out" "<85>.*\\(user alice\\) identity check failed: .*string claim 'preferred_username'" \
    "a LOG_NOTICE line (authpriv.notice) says the claim is missing"
like "$out" "add 'profile' to scope" "and names the scope to add"
fa_config scope "openid offline_access profile patient/*.read"
pt alice alice-secret authenticate
is "$FA_RC" 0 "with profile in the scope: a login" || fa_show
clear_stashes
