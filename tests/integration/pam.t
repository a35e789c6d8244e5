#!/bin/bash
# pam.t - pam_fhir.so in the real PAM stack, driven by pamtester as root
# with a service file of its own in /etc/pam.d and local users named like
# the AS's accounts (the identity check compares preferred_username with
# the PAM user): the password grant, the stash across auth and session,
# tokens in the user's keyring that the FHIR server accepts, refusals,
# the fallback to pam_unix when the AS is down, and revoke_on_close.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
exec 9>/run/lock/pam_fhir-pam-tests.lock
flock 9

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates test users and a PAM service)"
command -v pamtester >/dev/null 2>&1 || skip_all "needs pamtester"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
module=$top_builddir/pam_fhir/.libs/pam_fhir.so
[ -f "$module" ] || bail "$module is missing: build first (make)"
for u in alice bob; do
    id "$u" >/dev/null 2>&1 && skip_all "a local user $u exists already"
done

plan 48

svc=pam_fhir-test-$$
svcfile=/etc/pam.d/$svc
# Remove the service file on every exit, then lib.sh's cleanup (users,
# their keyrings, servers).
sshd_svc=pam_fhir-sshd-$$
sshd_svcfile=/etc/pam.d/$sshd_svc
sshd_pid=
made_run_sshd=
trap 'rc=$?; rm -f "$svcfile" "$sshd_svcfile"; [ -n "$sshd_pid" ] && _fa_stop "$sshd_pid";
    [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null; (exit $rc); _fa_cleanup' EXIT

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 60 --keyring user
fa_add_user alice || bail "cannot create user alice"
fa_add_user bob || bail "cannot create user bob"
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test users"
# Possess root's user keyring (where auth stashes) from this test's
# anonymous session keyring, to see the possessor-only stash keys.
keyctl link @u @s >/dev/null || bail "cannot link root's user keyring"
P=$FA_PROFILE
export LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# service AUTH_LINE_ARGS... : write the service file: pam_fhir for auth and
# session with this test's configuration plus the given arguments.
service() {
    {
        echo "auth required $module config=$FA_CONF grant=password $*"
        echo "account required pam_permit.so"
        echo "session required $module config=$FA_CONF grant=password $*"
        echo "session required pam_permit.so"
    } >"$svcfile"
}
# pt USER PASSWORD OPS...: pamtester with the password on stdin.
pt() {
    local user=$1 pass=$2
    shift 2
    fa_run_stdin "$pass" pamtester -v "$svc" "$user" "$@"
}
# as USER ARGS...: fhir-token as that user in a fresh session keyring.
as() {
    local u=$1
    shift
    fa_as_user "$u" "$bin" --config "$FA_CONF" --profile "$P" "$@"
}
# stashes: the number of pam_fhir stash keys in root's user keyring.
stashes() {
    local id n=0
    for id in $(keyctl rlist @u 2>/dev/null); do
        case $(keyctl rdescribe "$id" 2>/dev/null) in
            *";pam_fhir:stash:"*) n=$((n + 1)) ;;
        esac
    done
    echo "$n"
}
# clear_stashes: unlink every stash key from root's user keyring.
clear_stashes() {
    local id
    for id in $(keyctl rlist @u 2>/dev/null); do
        case $(keyctl rdescribe "$id" 2>/dev/null) in
            *";pam_fhir:stash:"*) keyctl unlink "$id" @u >/dev/null 2>&1 ;;
        esac
    done
}
# user_key USER NAME: the payload of pam_fhir:P:NAME in USER's keyrings.
# The user keyring first (keyring=user); the persistent keyring is looked
# up (and so linked into the session) only when that fails.
user_key() {
    # shellcheck disable=SC2016
    fa_as_user "$1" sh -c 'id=$(keyctl search @u user "$1" 2>/dev/null) ||
        id=$(keyctl search "$(keyctl get_persistent @s)" user "$1" 2>/dev/null) ||
        exit 1; exec keyctl pipe "$id"' sh "pam_fhir:$P:$2"
}

# 1-2: password grant
service
pt alice alice-secret authenticate
is "$FA_RC" 0 "password grant: alice authenticates" || fa_show
is "$(stashes)" 1 "auth as root leaves one stash key in root's user keyring"
clear_stashes

# 3: wrong password
pt alice wrong-password authenticate
isnt "$FA_RC" 0 "a wrong password fails" || fa_show

# 4-7: authenticate + open_session: tokens in alice's keyring
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "authenticate open_session succeeds" || fa_show
is "$(stashes)" 0 "the stash key is gone after open_session"
tok=$(as alice token 2>/dev/null)
isnt "$tok" "" "alice's fhir-token prints a token after the PAM login"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 "the FHIR server accepts it"

# 8: bob cannot read alice's keys
fa_run as bob token
ok "bob gets no token from alice's login" test "$FA_RC" != 0 -a -z "$FA_OUT"

# 9-10: a PAM_FHIR_STASH pointing at another user's stash is refused
clear_stashes
pt alice alice-secret authenticate
serial=
for id in $(keyctl rlist @u 2>/dev/null); do
    case $(keyctl rdescribe "$id" 2>/dev/null) in
        *";pam_fhir:stash:alice:"*) serial=$id ;;
    esac
done
[ -n "$serial" ] || diag "no stash of alice found"
fa_run pamtester -v -E "PAM_FHIR_STASH=$serial" "$svc" bob open_session
isnt "$FA_RC" 0 "bob's open_session refuses alice's stash" || fa_show
is "$(stashes)" 1 "alice's stash stays in place"
clear_stashes

# 11: identity mismatch (sub is alice-0001, not alice)
service username_claim=sub
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" "identity mismatch -> PAM_AUTH_ERR" || fa_show
clear_stashes

# 12: bob cannot log in as alice with bob's AS password
service
pt alice bob-secret authenticate
isnt "$FA_RC" 0 "another account's password fails" || fa_show
clear_stashes

# 13-14: PAM_FHIR_CONFIG and https_proxy from the caller change nothing
printf 'issuer = https://127.0.0.1:1\nclient_id = nope\n' >"$FA_TMP/evil.conf"
PAM_FHIR_CONFIG=$FA_TMP/evil.conf https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 \
    ALL_PROXY=http://127.0.0.1:1 pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "PAM_FHIR_CONFIG and proxy variables are ignored" || fa_show
is "$(stashes)" 0 "no stash left behind"

# 15-17: revoke_on_close
service revoke_on_close
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "login with revoke_on_close" || fa_show
rt=$(user_key alice refresh)
is "$(fa_introspect "$rt")" true "the refresh token is active in the session"
pt alice x close_session
is "$(fa_introspect "$rt")" false "close_session revoked the refresh token" || fa_show

# 18: open_session with nothing stashed (a public-key ssh login): ignored
service
pt alice x open_session
is "$FA_RC" 0 "open_session with nothing stashed is PAM_IGNORE (pam_permit decides)" || fa_show

# 19-20: keyring=persistent
service keyring=persistent
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "keyring=persistent: authenticate open_session" || fa_show
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "keyring=persistent: alice's fhir-token gets a token the FHIR server accepts"

# 21-22: keyring=session needs pam_keyinit before pam_fhir
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

# 23: an unknown argument is logged and ignored
service no_such_argument=1
pt alice alice-secret authenticate
is "$FA_RC" 0 "an unknown argument is not fatal" || fa_show
clear_stashes

# 24: a bad value of a known key fails closed (PAM_SERVICE_ERR)
service grant=carrier-pigeon
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Ee]rror in service module" "a bad argument value -> PAM_SERVICE_ERR" || fa_show

# 25: ignore_users -> PAM_IGNORE (no login attempted: the password is wrong)
{
    echo "auth [ignore=ignore default=die] $module config=$FA_CONF grant=password ignore_users=root,alice"
    echo "auth required pam_permit.so"
} >"$svcfile"
pt alice wrong authenticate
is "$FA_RC" 0 "ignore_users: PAM_IGNORE" || fa_show

# 26: minimum_uid -> PAM_IGNORE
{
    echo "auth [ignore=ignore default=die] $module config=$FA_CONF grant=password minimum_uid=60000"
    echo "auth required pam_permit.so"
} >"$svcfile"
pt alice wrong authenticate
is "$FA_RC" 0 "minimum_uid: PAM_IGNORE" || fa_show

# device OPS...: pamtester with grant=device in the background, its
# standard input a FIFO the test writes to; sets DEV_PID, DEV_CODE (the
# user code read from the prompt) and keeps fd 7 as the writer.
device() {
    rm -f "$FA_TMP/dev.in" "$FA_TMP/dev.out"
    mkfifo "$FA_TMP/dev.in"
    pamtester -v "$svc" alice "$@" <"$FA_TMP/dev.in" >"$FA_TMP/dev.out" 2>&1 &
    DEV_PID=$!
    exec 7>"$FA_TMP/dev.in"
    DEV_CODE=
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "press Enter" "$FA_TMP/dev.out" 2>/dev/null && break
        sleep 0.1
    done
    DEV_CODE=$(sed -n 's/.*enter the code \([A-Z0-9-]*\).*/\1/p' "$FA_TMP/dev.out" | head -1)
}
# device_finish: press Enter, wait for pamtester; FA_RC, FA_OUT.
device_finish() {
    echo >&7
    exec 7>&-
    wait "$DEV_PID"
    FA_RC=$?
    FA_OUT=$(cat "$FA_TMP/dev.out")
    FA_ERR=
}

# 27-31: device grant through the PAM conversation
service grant=device
device authenticate open_session
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

# 32: approved as another user -> PAM_AUTH_ERR
device authenticate
fa_device_approve "$DEV_CODE" bob || diag "approval failed"
device_finish
like "$FA_OUT" "[Aa]uthentication failure" "device grant approved as bob for alice -> PAM_AUTH_ERR" ||
    diag "$FA_OUT"
clear_stashes

# 33-35: not root (a screen locker running as the user): the session is
# kept with pam_set_data, no stash key, and open_session stores it.
cp "$module" "$FA_TMP/bin/.libs/pam_fhir.so" && chmod 755 "$FA_TMP/bin/.libs/pam_fhir.so"
{
    echo "auth required $FA_TMP/bin/.libs/pam_fhir.so config=$FA_CONF grant=password debug"
    echo "session required $FA_TMP/bin/.libs/pam_fhir.so config=$FA_CONF grant=password"
} >"$svcfile"
fa_as_user alice keyctl clear @u >/dev/null 2>&1
fa_run_stdin alice-secret fa_as_user alice env LD_LIBRARY_PATH="$FA_TMP/bin/.libs" \
    pamtester -v "$svc" alice authenticate open_session
is "$FA_RC" 0 "as alice herself: authenticate open_session" || fa_show
n=$(fa_as_user alice sh -c 'keyctl rlist @u' 2>/dev/null | wc -w)
is "$n" 3 "alice's user keyring holds the three session keys and no stash"
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "the non-root login's token is accepted by the FHIR server"

# 36-42: setcred, through a small libpam driver (pamtester has no setcred):
# python3 ctypes, answering every prompt with the password given.
cat >"$FA_TMP/pamdrv.py" <<'PY'
import ctypes, sys
pam = ctypes.CDLL("libpam.so.0")
libc = ctypes.CDLL(None)
libc.calloc.restype = ctypes.c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
class Msg(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]
class Resp(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]
CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Msg)),
                        ctypes.POINTER(ctypes.POINTER(Resp)), ctypes.c_void_p)
class Conv(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", ctypes.c_void_p)]
service, user, password = sys.argv[1], sys.argv[2], sys.argv[3].encode()
def conv(n, msgs, resp, _):
    arr = ctypes.cast(libc.calloc(n, ctypes.sizeof(Resp)), ctypes.POINTER(Resp))
    for i in range(n):
        if msgs[i].contents.msg_style in (1, 2):
            arr[i].resp = libc.strdup(password)
    resp[0] = arr
    return 0
cb = CONV(conv)
c = Conv(cb, None)
h = ctypes.c_void_p()
rc = pam.pam_start(service.encode(), user.encode(), ctypes.byref(c), ctypes.byref(h))
if rc != 0:
    print("pam_start", rc); sys.exit(2)
flags = {"ESTABLISH": 0x2, "DELETE": 0x4, "REINITIALIZE": 0x8, "REFRESH": 0x10}
pam.pam_getenv.restype = ctypes.c_char_p
worst = 0
for op in sys.argv[4:]:
    if op == "auth":
        rc = pam.pam_authenticate(h, 0)
    elif op.startswith("setcred:"):
        rc = pam.pam_setcred(h, flags[op[8:]])
    elif op == "open":
        rc = pam.pam_open_session(h, 0)
    elif op == "close":
        rc = pam.pam_close_session(h, 0)
    elif op.startswith("getenv:"):
        v = pam.pam_getenv(h, op[7:].encode())
        print(op, v.decode() if v else "")
        continue
    print(op, rc)
    worst = worst or rc
pam.pam_end(h, 0)
sys.exit(1 if worst else 0)
PY
# drv PASSWORD OPS...: auth, setcred:ESTABLISH|DELETE|REINITIALIZE|REFRESH,
# open, close, getenv:NAME on one PAM handle for alice.
drv() {
    local pass=$1
    shift
    fa_run python3 "$FA_TMP/pamdrv.py" "$svc" alice "$pass" "$@"
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

# 43-45: a real sshd (Debian 12's sshd uses its program name as the PAM
# service: run a copy under another name, with its own service file and
# sshd_config); an ssh password login (keyboard-interactive) runs
# fhir-token inside the session: the stash survived sshd's forked auth.
if [ -x /usr/sbin/sshd ] && command -v sshpass >/dev/null 2>&1 && command -v ssh >/dev/null 2>&1; then
    sshd_bin=$FA_TMP/$sshd_svc
    cp /usr/sbin/sshd "$sshd_bin"
    ssh-keygen -q -t ed25519 -N '' -f "$FA_TMP/ssh_host_key" >/dev/null
    sshd_port=$(fa_dead_port)
    [ -d /run/sshd ] || { mkdir -m 755 /run/sshd && made_run_sshd=1; }
    cat >"$FA_TMP/sshd_config" <<SSHD
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $FA_TMP/ssh_host_key
PidFile $FA_TMP/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin no
AllowUsers alice bob
StrictModes no
LogLevel VERBOSE
SSHD
    {
        echo "auth required $module config=$FA_CONF grant=password"
        echo "account required pam_permit.so"
        echo "session required $module config=$FA_CONF grant=password"
        echo "session required pam_permit.so"
    } >"$sshd_svcfile"
    "$sshd_bin" -D -f "$FA_TMP/sshd_config" -E "$FA_TMP/sshd.log" &
    sshd_pid=$!
    for ((i = 0; i < 50; i++)); do
        [ -s "$FA_TMP/sshd.pid" ] && break
        sleep 0.1
    done
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

# 46-48: AS down -> PAM_AUTHINFO_UNAVAIL; fallback to pam_unix
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
