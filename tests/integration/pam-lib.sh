# shellcheck shell=bash
# pam-lib.sh - what the PAM integration tests that drive pamtester as root
# share (pam.t, pam-device.t, pam-syslog.t, pam-valgrind.t): the lock that
# keeps them from running at the same time (they
# create the same local users alice and bob, named like the AS's
# accounts), the checks, a PAM service file of their own in /etc/pam.d,
# and helpers for pamtester, the stash keys and the device prompt.
# Source it after lib.sh, then call pam_setup.
# Globals set here for the tests (module, svc, svcfile, bin, P, DEV_*,
# FA_*) are used there:
# shellcheck disable=SC2034,SC2154

# pam_lock: serialize with every other PAM test that creates alice/bob or
# puts stash keys into root's user keyring (make check -j runs tests in
# parallel).  Held until this test exits.
pam_lock() {
    fa_pam_lock
}

# pam_cleanup_hook: a test's own cleanup, run on every exit before the
# service files are removed (define it to replace this no-op).
pam_cleanup_hook() { :; }

# pam_setup: checks (skip_all), the lock, svc/svcfile, the EXIT trap that
# removes the service file(s), then lib.sh's cleanup (users, keyrings,
# servers).  Sets module.
pam_setup() {
    [ "$(id -u)" -eq 0 ] || skip_all "needs root (creates test users and a PAM service)"
    command -v pamtester >/dev/null 2>&1 || skip_all "needs pamtester"
    command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
    command -v flock >/dev/null 2>&1 || skip_all "needs flock (util-linux)"
    module=$top_builddir/pam_fhir/.libs/pam_fhir.so
    [ -f "$module" ] || bail "$module is missing: build first (make)"
    pam_lock
    local u
    for u in alice bob; do
        id "$u" >/dev/null 2>&1 && skip_all "a local user $u exists already"
    done
    # Stash keys live 300 s in root's user keyring, which every PAM test
    # counts: none is left from an earlier test, and this one leaves none
    # (the tests that stash hold this lock).
    clear_stashes
    svc=pam_fhir-test-$$
    svcfile=/etc/pam.d/$svc
    trap 'rc=$?; pam_cleanup_hook; pam_sshd_stop; rm -f "$svcfile"; clear_stashes; (exit $rc); _fa_cleanup' EXIT
    export LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

# pam_sshd GRANT: a real sshd on 127.0.0.1:$sshd_port that lets alice and
# bob in by keyboard-interactive through pam_fhir (grant=GRANT) for auth
# and session; pam_sshd - takes the PAM service file's text from standard
# input instead.  Debian 12's sshd uses its program name as the PAM
# service: it runs as a copy named pam_fhir-sshd-PID, with a service file
# of that name and an sshd_config in $FA_TMP.  Sets sshd_port; pam_setup's
# trap (or the caller's, with pam_sshd_stop) stops it and removes what it
# made.  Returns 1 when it did not start.
sshd_pid=
sshd_svcfile=
made_run_sshd=
pam_sshd() {
    local name=pam_fhir-sshd-$$ i
    sshd_svcfile=/etc/pam.d/$name
    cp /usr/sbin/sshd "$FA_TMP/$name" || return 1
    ssh-keygen -q -t ed25519 -N '' -f "$FA_TMP/ssh_host_key" >/dev/null || return 1
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
LoginGraceTime 60
LogLevel VERBOSE
SSHD
    if [ "$1" = - ]; then
        cat >"$sshd_svcfile"
    else
        {
            echo "auth required $module config=$FA_CONF grant=$1"
            echo "account required pam_permit.so"
            echo "session required $module config=$FA_CONF grant=$1"
            echo "session required pam_permit.so"
        } >"$sshd_svcfile"
    fi
    # 9>&-: sshd and its sessions must not hold the PAM tests' lock.
    "${FA_SAN_HOST_NOLEAKS[@]}" "$FA_TMP/$name" -D -f "$FA_TMP/sshd_config" \
        -E "$FA_TMP/sshd.log" 9>&- &
    sshd_pid=$!
    for ((i = 0; i < 50; i++)); do
        [ -s "$FA_TMP/sshd.pid" ] && return 0
        sleep 0.1
    done
    return 1
}

# pam_sshd_stop: undo pam_sshd (idempotent).
pam_sshd_stop() {
    [ -n "$sshd_pid" ] && _fa_stop "$sshd_pid"
    [ -n "$sshd_svcfile" ] && rm -f "$sshd_svcfile"
    [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
    sshd_pid= sshd_svcfile= made_run_sshd=
    return 0
}

# ssh_device USER COMMAND: ssh -tt USER@127.0.0.1 COMMAND to pam_sshd's
# sshd, under a pty (python3), in the background; sets SSH_PID and
# SSH_CODE, the user code of the device prompt ssh shows (empty when none
# came within 15 s).  The terminal writes the code to ssh.code, presses
# Enter once ssh.go exists (ssh_device_finish), copies everything ssh
# prints to ssh.out, and exits with ssh's status (bounded: 40 s).
ssh_device() {
    local user=$1 i
    shift
    cat >"$FA_TMP/sshpty.py" <<'PY'
import os, pty, re, sys, time, select
d = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b""
pressed = False
deadline = time.time() + 40
while time.time() < deadline:
    if not pressed and os.path.exists(d + "/ssh.go"):
        os.write(fd, b"\r")
        pressed = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if fd in r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
        with open(d + "/ssh.out", "wb") as f:
            f.write(out)
        m = re.search(rb"enter the code ([A-Z0-9-]+)", out)
        if m and not os.path.exists(d + "/ssh.code") and b"press Enter" in out:
            with open(d + "/ssh.code.tmp", "wb") as f:
                f.write(m.group(1) + b"\n")
            os.rename(d + "/ssh.code.tmp", d + "/ssh.code")
else:
    os.kill(pid, 9)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 124)
PY
    rm -f "$FA_TMP"/ssh.*
    # 9>&-: ssh must not hold the PAM tests' lock.
    python3 "$FA_TMP/sshpty.py" "$FA_TMP" ssh -tt -p "$sshd_port" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
        "$user@127.0.0.1" "$*" 9>&- &
    SSH_PID=$!
    for ((i = 0; i < 150; i++)); do
        [ -s "$FA_TMP/ssh.code" ] && break
        sleep 0.1
    done
    SSH_CODE=$(cat "$FA_TMP/ssh.code" 2>/dev/null)
}

# ssh_device_finish: press Enter, wait for ssh; sets SSH_RC, SSH_OUT (what
# ssh printed, without carriage returns) and SSH_LAST (its last non-empty
# line: the command's output in these tests).
ssh_device_finish() {
    touch "$FA_TMP/ssh.go"
    wait "$SSH_PID"
    SSH_RC=$?
    SSH_OUT=$(tr -d '\r' <"$FA_TMP/ssh.out" 2>/dev/null)
    SSH_LAST=$(printf '%s\n' "$SSH_OUT" | sed '/^$/d' | tail -1)
}

# ssh_diag: what ssh printed and the end of sshd's log.
ssh_diag() {
    diag "$(cat "$FA_TMP/ssh.out" 2>/dev/null)" "$(tail -15 "$FA_TMP/sshd.log")"
}

# pam_users: start nothing, add alice and bob, copy fhir-token for them
# (sets bin), link root's user keyring into this test's session keyring,
# as a root console's session keyring does (pam.t shows that a process of
# another uid in it still cannot read a stash).  After fa_start_servers.
pam_users() {
    fa_add_user alice || bail "cannot create user alice"
    fa_add_user bob || bail "cannot create user bob"
    bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test users"
    keyctl link @u @s >/dev/null || bail "cannot link root's user keyring"
    P=$FA_PROFILE
}

# service AUTH_LINE_ARGS...: write the service file: pam_fhir for auth and
# session with this test's configuration plus the given arguments.
service() {
    {
        echo "auth required $module config=$FA_CONF grant=password $*"
        echo "account required pam_permit.so"
        echo "session required $module config=$FA_CONF grant=password $*"
        echo "session required pam_permit.so"
    } >"$svcfile"
}

# PAM_WRAP: a command prefix (an array) for every pamtester run, e.g. a
# mount namespace or valgrind.  (lib.sh's FA_SAN_HOST follows it.)
PAM_WRAP=()

# pt USER PASSWORD OPS...: pamtester with the password on stdin (fa_run).
pt() {
    local user=$1 pass=$2
    shift 2
    fa_run_stdin "$pass" "${PAM_WRAP[@]}" "${FA_SAN_HOST[@]}" pamtester -v "$svc" "$user" "$@"
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

# stash_serial USER: the key serial of a stash of USER in root's user
# keyring (the last one listed), or nothing.
stash_serial() {
    local id serial=
    for id in $(keyctl rlist @u 2>/dev/null); do
        case $(keyctl rdescribe "$id" 2>/dev/null) in
            *";pam_fhir:stash:$1:"*) serial=$id ;;
        esac
    done
    echo "$serial"
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

# user_key USER NAME: the payload of pam_fhir:P:NAME in USER's keyrings
# (the user keyring, else the persistent one).
user_key() {
    # shellcheck disable=SC2016
    fa_as_user "$1" sh -c 'id=$(keyctl search @u user "$1" 2>/dev/null) ||
        id=$(keyctl search "$(keyctl get_persistent @s)" user "$1" 2>/dev/null) ||
        exit 1; exec keyctl pipe "$id"' sh "pam_fhir:$P:$2"
}

# device USER OPS...: pamtester (with PAM_WRAP) in the background, its
# standard input a FIFO the test writes to; sets DEV_PID, DEV_CODE (the
# user code read from the prompt), DEV_T0, and keeps fd 7 as the writer.
device() {
    local user=$1 i
    shift
    rm -f "$FA_TMP/dev.in" "$FA_TMP/dev.out"
    mkfifo "$FA_TMP/dev.in"
    DEV_T0=$(fa_now)
    "${PAM_WRAP[@]}" "${FA_SAN_HOST[@]}" pamtester -v "$svc" "$user" "$@" <"$FA_TMP/dev.in" >"$FA_TMP/dev.out" 2>&1 9>&- &
    DEV_PID=$!
    exec 7>"$FA_TMP/dev.in"
    DEV_CODE=
    for ((i = 0; i < 150; i++)); do
        grep -q "press Enter" "$FA_TMP/dev.out" 2>/dev/null && break
        sleep 0.1
    done
    DEV_CODE=$(sed -n 's/.*enter the code \([A-Z0-9-]*\).*/\1/p' "$FA_TMP/dev.out" | head -1)
}

# device_enter: press Enter (once approved, or not).
device_enter() {
    (echo >&7) 2>/dev/null # a subshell: SIGPIPE when pamtester is gone
    exec 7>&-
}

# device_finish: press Enter unless done, wait for pamtester; FA_RC,
# FA_OUT, DEV_SECS (from the start of pamtester).
device_finish() {
    { true >&7; } 2>/dev/null && device_enter
    wait "$DEV_PID"
    FA_RC=$?
    FA_OUT=$(cat "$FA_TMP/dev.out")
    FA_ERR=
    DEV_SECS=$(awk -v a="$DEV_T0" -v b="$(fa_now)" 'BEGIN { printf "%d", b - a + 0.5 }')
}

# pam_driver FILE: write a small libpam driver (python3 ctypes; pamtester
# has no setcred).  Usage:
#   python3 FILE SERVICE USER PASSWORD OPS...
# OPS: auth, setcred:ESTABLISH|DELETE|REINITIALIZE|REFRESH, open, close,
# getenv:NAME; every prompt is answered with PASSWORD.  Exit 0 when every
# operation returned PAM_SUCCESS.
pam_driver() {
    cat >"$1" <<'PY'
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
}
