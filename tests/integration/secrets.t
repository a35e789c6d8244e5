#!/bin/bash
# secrets.t - no secret where another user, a log or a core file could see
# it.  Each of our processes is caught while it holds secrets: fhir-token
# during a password login, a device login waiting for approval, a browser
# login exchanging its code, a refresh; git-credential-fhir during a
# refresh; fhir-token as a confidential client; pamtester with pam_fhir.so
# during a password authentication.  The authorization server is frozen
# (SIGSTOP) so that the process waits, secrets in memory, for an answer.
# Its /proc/PID/cmdline and /proc/PID/environ are copied then, and once the
# flow is over and every secret is known (the tokens from the keyring; the
# device code, authorization code and PKCE verifier from the AS's secrets
# log; the passwords and the client secret from the test), the copies and
# the flow's stderr must hold none of them.  Core files: with core_pattern
# pointing into the test's directory, a fhir-token and a git-credential-fhir
# killed by SIGABRT/SIGSEGV during a refresh leave no core (they are
# non-dumpable), while `sleep` does; and the user who runs fhir-token cannot
# read its /proc/PID/environ.  Positive controls show every check can fail.
# fhir-token reads standard input unbuffered (libc's read-ahead buffer would
# keep an unwiped copy of the password).  The test never puts a secret into
# the argv of a process under test: passwords go in on stdin, from files.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

pam_setup
command -v ss >/dev/null 2>&1 || skip_all "needs ss (iproute2)"
command -v pgrep >/dev/null 2>&1 || skip_all "needs pgrep (procps)"
plan 53

GCF=$top_builddir/helper/git-credential-fhir
[ -x "$GCF" ] || bail "$GCF is missing: build first (make)"

# The AS writes the device codes, authorization codes and PKCE verifiers it
# sees here (as.js --secrets-log); the file is made before the servers
# start, so it has a name of its own.
FA_AS_SECRETS_LOG=$(mktemp "${TMPDIR:-/tmp}/pam_fhir-secrets.XXXXXX") || bail "mktemp failed"
export FA_AS_SECRETS_LOG
export FA_AS_DEVICE_INTERVAL=1

core_saved=
bg_pids=()
pam_cleanup_hook() {
    local p
    [ -n "${FA_AS_PID:-}" ] && kill -CONT "$FA_AS_PID" 2>/dev/null
    for p in "${bg_pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    core_restore
    rm -f "$FA_AS_SECRETS_LOG"
    exec 7>&- 2>/dev/null
    return 0
}

# core_restore: put back the core_pattern this test replaced.
core_restore() {
    if [ -n "$core_saved" ]; then
        printf '%s\n' "$core_saved" >/proc/sys/kernel/core_pattern
        core_saved=
    fi
}

# Long tokens (no expiry during the test), no rotation (a flow the test
# kills may have reached the AS), a timeout longer than any stall here.
fa_start_servers --ttl 60 --rotate off --timeout 60 --keyring user
pam_users
W=$FA_TMP/w
mkdir -p "$W" && chmod 700 "$W"
fa_config debug yes
fa_config match "https://127.0.0.1:$FA_FHIR_PORT"
printf 'alice-secret\n' >"$W/alice.pw"
chmod 600 "$W/alice.pw"

# ---------------------------------------------------------------- helpers
SECRETS=$W/secrets.tsv
: >"$SECRETS"

# learn NAME VALUE: a secret the checks look for (values shorter than 8
# bytes would match by chance and prove nothing; none of ours is).
learn() {
    [ ${#2} -ge 8 ] || return 0
    grep -qxF -- "$1	$2" "$SECRETS" || printf '%s\t%s\n' "$1" "$2" >>"$SECRETS"
}

# known NAME: the value of a learned secret ('' when none).
known() {
    awk -F '\t' -v n="$1" '$1 == n { v = $2 } END { print v }' "$SECRETS"
}

# learn_log: everything the AS's secrets log has so far.
learn_log() {
    local name val
    while read -r name val; do
        learn "$name" "$val"
    done <"$FA_AS_SECRETS_LOG"
}

# learn_keys [USER]: the access and refresh token in the keyring (root's
# for this test's profile, or USER's).
learn_keys() {
    local at rt
    if [ -n "${1:-}" ]; then
        at=$(user_key "$1" access)
        rt=$(user_key "$1" refresh)
    else
        at=$(fa_key_read access)
        rt=$(fa_key_read refresh)
    fi
    at=${at#* }
    learn access_token "$at"
    learn refresh_token "$rt"
}

# found FILE...: the names of the known secrets in those files (binary
# files too); empty when none.
found() {
    local name val hits=
    while IFS=$'\t' read -r name val; do
        grep -aqF -- "$val" "$@" 2>/dev/null && hits="$hits $name"
    done <"$SECRETS"
    printf '%s' "${hits# }"
}

# clean DESCRIPTION FILE...: a test that none of the known secrets is in
# the files.
clean() {
    local desc=$1 hits
    shift
    if [ ! -s "$SECRETS" ]; then
        _fa_result 1 "$desc (no secret is known: the check would prove nothing)"
        return 1
    fi
    hits=$(found "$@")
    if [ -n "$hits" ]; then
        _fa_result 1 "$desc"
        diag "  found: $hits"
        return 1
    fi
    _fa_result 0 "$desc"
}

# descendants PID: PID and every process below it.
descendants() {
    local c
    echo "$1"
    for c in $(pgrep -P "$1"); do
        descendants "$c"
    done
}

# real_pid PID NAME: the process running the program NAME at or below PID
# (wrapper scripts, setpriv, env and keyctl exec or fork on the way).
real_pid() {
    local i p exe
    for ((i = 0; i < 150; i++)); do
        for p in $(descendants "$1"); do
            exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
            case $exe in */"$2" | */lt-"$2") echo "$p"; return 0 ;; esac
        done
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_stalled PID: until PID has a TCP connection open to the AS (which is
# frozen, so the process waits there).
wait_stalled() {
    local i
    for ((i = 0; i < 200; i++)); do
        ss -tnpH state established "( dport = :$FA_AS_PORT )" 2>/dev/null |
            grep -q "pid=$1," && { sleep 0.3; return 0; }
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# snap NAME PID: copy the process's cmdline and environ (root can read a
# non-dumpable process's) to $W/NAME.cmdline and $W/NAME.environ.
snap() {
    tr '\0' '\n' <"/proc/$2/cmdline" >"$W/$1.cmdline" 2>/dev/null &&
        tr '\0' '\n' <"/proc/$2/environ" >"$W/$1.environ" 2>/dev/null &&
        [ -s "$W/$1.cmdline" ]
}

# start NAME STDIN COMMAND...: COMMAND in the background, stdin from the
# file STDIN, stdout and stderr in $W/NAME.out and $W/NAME.err; sets BG.
start() {
    local name=$1 in=$2
    shift 2
    : >"$W/$name.out"
    : >"$W/$name.err"
    "$@" <"$in" >>"$W/$name.out" 2>>"$W/$name.err" &
    BG=$!
    bg_pids+=("$BG")
}

# finish PID: wait for it (at most 60 s); FA_RC.
finish() {
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
    FA_RC=$?
}

# caught NAME BGPID PROGRAM: find PROGRAM below BGPID, wait until it waits
# for the frozen AS, and snap it; sets PID.
caught() {
    PID=$(real_pid "$2" "$3") && wait_stalled "$PID" && snap "$1" "$PID"
}

# read_environ USER PID: USER reads PID's environment (to /dev/null).
read_environ() {
    fa_as_user "$1" dd if="/proc/$2/environ" of=/dev/null status=none
}

# read_mem USER PID: USER reads a byte of PID's memory, at the start of its
# first mapping.
read_mem() {
    local addr
    addr=$(head -1 "/proc/$2/maps" | cut -d- -f1) && [ -n "$addr" ] || return 1
    fa_as_user "$1" dd if="/proc/$2/mem" of=/dev/null bs=1 count=1 \
        skip=$((16#$addr)) iflag=skip_bytes status=none
}

learn password alice-secret
learn password_bob bob-secret

# ---------------------------------------------------------------- password login
fa_pause_as
start login "$W/alice.pw" fa_token login --password --username alice --password-stdin
ok "password login: fhir-token caught waiting for the AS" caught login "$BG" fhir-token
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "password login: exit 0" || diag "$(cat "$W/login.err")"
learn_keys
isnt "$(known refresh_token)" "" "the session's tokens are known to the test"
clean "password login: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/login.cmdline" "$W/login.environ" "$W/login.err"

# ---------------------------------------------------------------- positive controls
rt=$(known refresh_token)
env FA_PLANTED="$rt" sleep 60 &
ctl=$!
bg_pids+=("$ctl")
sleep 0.2
snap control "$ctl"
like "$(found "$W/control.environ")" 'refresh_token' "control: a refresh token planted in a process's environ is found"
kill "$ctl" 2>/dev/null
wait "$ctl" 2>/dev/null
sh -c 'sleep 60' sh "$(known access_token)" &
ctl=$!
bg_pids+=("$ctl")
sleep 0.2
snap control2 "$ctl"
like "$(found "$W/control2.cmdline")" 'access_token' "control: an access token planted in a process's cmdline is found"
kill "$ctl" 2>/dev/null
wait "$ctl" 2>/dev/null
printf 'fhir-token: something went wrong with alice-secret\n' >"$W/control.err"
like "$(found "$W/control.err")" 'password' "control: a password in a stderr file is found"

# ---------------------------------------------------------------- stdin unbuffered
# libc's read-ahead buffer for standard input is never wiped: fhir-token
# reads it unbuffered, so the password is copied nowhere else and a line
# after it stays in the pipe for the next reader.
printf 'alice-secret\nleft for the next reader\n' >"$W/pw-and-more"
# A pipe, not the file itself: glibc would seek a file back at exit.
# shellcheck disable=SC2002
cat "$W/pw-and-more" | {
    fa_token login --password --username alice --password-stdin >/dev/null 2>"$W/pw2.err"
    cat
} >"$W/pw2.rest"
is "$(cat "$W/pw2.rest")" "left for the next reader" \
    "fhir-token reads the password unbuffered: nothing read ahead of it" ||
    diag "$(cat "$W/pw2.err")"
learn_keys

# ---------------------------------------------------------------- refresh
fa_pause_as
: >"$W/empty"
start refresh "$W/empty" fa_token token --min-valid 3600
ok "refresh: fhir-token caught waiting for the AS" caught refresh "$BG" fhir-token
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "refresh: exit 0" || diag "$(cat "$W/refresh.err")"
learn_keys
clean "refresh: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/refresh.cmdline" "$W/refresh.environ" "$W/refresh.err"
nok "refresh: standard output has the access token only, no refresh token" \
    grep -qF -- "$(known refresh_token)" "$W/refresh.out"

# ---------------------------------------------------------------- device login
start device "$W/empty" env -u DISPLAY -u WAYLAND_DISPLAY "$FA_TOKEN_BIN" \
    --config "$FA_CONF" --profile "$FA_PROFILE" login --device
code=
for ((i = 0; i < 150; i++)); do
    code=$(sed -n 's/^and enter the code \(.*\)$/\1/p' "$W/device.err")
    [ -n "$code" ] && break
    sleep 0.1
done
PID=$(real_pid "$BG" fhir-token)
like "$code" '^[A-Z]{4}-[A-Z]{4}$' "device login: the user code is shown"
sleep 1.5   # a poll or two: the device code is in use
ok "device login: fhir-token caught waiting for approval" snap device "$PID"
ok "the user approves" fa_device_approve "$code" alice
finish "$BG"
is "$FA_RC" 0 "device login: exit 0" || diag "$(cat "$W/device.err")"
learn_log
learn_keys
isnt "$(known device_code)" "" "the device code is known to the test"
clean "device login: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/device.cmdline" "$W/device.environ" "$W/device.err"

# ---------------------------------------------------------------- browser login
rm -f "$W/paste.fifo"
mkfifo "$W/paste.fifo"
start browser "$W/paste.fifo" env -u DISPLAY -u WAYLAND_DISPLAY "$FA_TOKEN_BIN" \
    --config "$FA_CONF" --profile "$FA_PROFILE" login --browser --no-browser
exec 7>"$W/paste.fifo"
url=
for ((i = 0; i < 150; i++)); do
    url=$(sed -n 's/^  *\(https:.*\)$/\1/p' "$W/browser.err")
    [ -n "$url" ] && grep -q paste "$W/browser.err" && break
    sleep 0.1
done
redirect=$(fa_browser_approve "$url" alice)
like "$redirect" '^http://127\.0\.0\.1:[0-9]+/callback\?code=' "browser login: the user gets the redirect address"
learn authorization_code "$(printf '%s' "$redirect" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')"
fa_pause_as
printf '%s\n' "$redirect" >&7
exec 7>&-
ok "browser login: fhir-token caught exchanging the code" caught browser "$BG" fhir-token
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "browser login: exit 0" || diag "$(cat "$W/browser.err")"
learn_log
learn_keys
isnt "$(known code_verifier)" "" "the PKCE verifier is known to the test"
clean "browser login: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/browser.cmdline" "$W/browser.environ" "$W/browser.err"

# ---------------------------------------------------------------- git-credential-fhir
printf 'protocol=https\nhost=127.0.0.1:%s\n\n' "$FA_FHIR_PORT" >"$W/git.req"
keyctl invalidate "$(fa_key_id access)" || diag "cannot invalidate the access key"
fa_pause_as
start git "$W/git.req" "$GCF" --config "$FA_CONF" get
ok "git-credential-fhir caught refreshing" caught git "$BG" git-credential-fhir
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "git-credential-fhir get: exit 0" || diag "$(cat "$W/git.err")"
learn_keys
is "$(sed -n 's/^password=//p' "$W/git.out")" "$(known access_token)" "it answered with the new token"
clean "git-credential-fhir: no secret in its cmdline, environ or stderr" \
    "$W/git.cmdline" "$W/git.environ" "$W/git.err"
nok "git-credential-fhir: no refresh token in its answer" \
    grep -qF -- "$(known refresh_token)" "$W/git.out"

# ---------------------------------------------------------------- the same user
as alice login --password --username alice --password-stdin <"$W/alice.pw" >/dev/null 2>"$W/alogin.err"
is "$?" 0 "alice logs in" || diag "$(cat "$W/alogin.err")"
learn_keys alice
fa_pause_as
start arefresh "$W/empty" as alice token --min-valid 3600
ok "alice's fhir-token caught refreshing" caught arefresh "$BG" fhir-token
fa_as_user alice sleep 60 &
asleep=$!
bg_pids+=("$asleep")
spid=$(real_pid "$asleep" sleep)
ok "control: alice reads her sleep's environ" read_environ alice "$spid"
ok "control: and its memory" read_mem alice "$spid"
nok "alice cannot read her fhir-token's environ (non-dumpable)" read_environ alice "$PID"
nok "... nor its memory" read_mem alice "$PID"
kill "$spid" 2>/dev/null
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "alice's refresh: exit 0" || diag "$(cat "$W/arefresh.err")"
learn_keys alice
clean "alice's refresh: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/arefresh.cmdline" "$W/arefresh.environ" "$W/arefresh.err"

# ---------------------------------------------------------------- core files
# core_pattern is the machine's: saved here, restored right after and by
# the EXIT trap (a systemd-coredump pipe pattern as much as a file name).
CORES=$FA_TMP/cores
mkdir -p "$CORES" && chmod 1777 "$CORES"
core_saved=$(cat /proc/sys/kernel/core_pattern)
if fa_sanitized; then
    # ASan catches the fatal signals itself (a report, not a core) and
    # turns core dumps off; the plain build's run of this test covers them.
    core_saved=
    for ((i = 0; i < 10; i++)); do
        skip_na "core files" "the sanitized build handles fatal signals and makes no cores"
    done
elif ! printf '%s/core.%%p\n' "$CORES" >/proc/sys/kernel/core_pattern 2>/dev/null; then
    core_saved=
    for ((i = 0; i < 10; i++)); do
        skip "core files" "cannot set kernel.core_pattern"
    done
else
    ulimit -c unlimited

    # dumped PID: a core file of PID appears (within 5 s).
    dumped() {
        local i
        for ((i = 0; i < 50; i++)); do
            [ -s "$CORES/core.$1" ] && { sleep 0.3; return 0; }
            sleep 0.1
        done
        return 1
    }

    env FA_PLANTED="$(known refresh_token)" sleep 60 &
    ctl=$!
    bg_pids+=("$ctl")
    sleep 0.2
    kill -SEGV "$ctl"
    wait "$ctl" 2>/dev/null
    ok "control: a dumpable process killed by SIGSEGV leaves a core here" dumped "$ctl"
    like "$(found "$CORES/core.$ctl")" 'refresh_token' "control: the secret in its environment is found in that core"
    rm -f "$CORES/core.$ctl"

    fa_pause_as
    start core1 "$W/empty" fa_token token --min-valid 3600
    ok "fhir-token caught refreshing" caught core1 "$BG" fhir-token
    kill -ABRT "$PID"
    finish "$BG"
    nok "fhir-token killed by SIGABRT leaves no core" dumped "$PID"

    keyctl invalidate "$(fa_key_id access)" >/dev/null 2>&1
    start core2 "$W/git.req" "$GCF" --config "$FA_CONF" get
    ok "git-credential-fhir caught refreshing" caught core2 "$BG" git-credential-fhir
    kill -SEGV "$PID"
    finish "$BG"
    nok "git-credential-fhir killed by SIGSEGV leaves no core" dumped "$PID"

    start core3 "$W/empty" as alice token --min-valid 3600
    ok "alice's fhir-token caught refreshing" caught core3 "$BG" fhir-token
    kill -SEGV "$PID"
    finish "$BG"
    nok "alice's fhir-token killed by SIGSEGV leaves no core" dumped "$PID"
    fa_as_user alice sleep 60 &
    ctl=$!
    bg_pids+=("$ctl")
    spid=$(real_pid "$ctl" sleep)
    kill -SEGV "$spid"
    wait "$ctl" 2>/dev/null
    ok "control: alice's dumpable sleep leaves a core in the same place" dumped "$spid"
    fa_resume_as
    core_restore
    cores=$(find "$CORES" -type f -name 'core.*' | sort)
    if [ -n "$cores" ]; then
        # shellcheck disable=SC2086
        clean "no secret in any core file written meanwhile" $cores
    else
        _fa_result 1 "no core file at all (the control's should be there)"
    fi
fi

# ---------------------------------------------------------------- pamtester
service debug
fa_pause_as
start pam "$W/alice.pw" "${FA_SAN_HOST[@]}" pamtester -v "$svc" alice authenticate open_session
ok "pamtester with pam_fhir.so caught authenticating" caught pam "$BG" pamtester
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "pamtester authenticate open_session: exit 0" || diag "$(cat "$W/pam.out" "$W/pam.err")"
learn_keys alice
clear_stashes
clean "pamtester: no secret in its cmdline, environ or output" \
    "$W/pam.cmdline" "$W/pam.environ" "$W/pam.out" "$W/pam.err"

# ---------------------------------------------------------------- confidential client
fa_start_servers --ttl 60 --rotate off --timeout 60 --keyring user --client fhir-conf
fa_config debug yes
learn client_secret conf-secret
learn client_basic "$(printf 'fhir-conf:conf-secret' | base64)"
fa_login alice
is "$FA_RC" 0 "confidential client: password login" || fa_show
learn_keys
fa_pause_as
start conf "$W/empty" fa_token token --min-valid 3600
ok "confidential client: fhir-token caught refreshing" caught conf "$BG" fhir-token
fa_resume_as
finish "$BG"
is "$FA_RC" 0 "confidential client refresh: exit 0" || diag "$(cat "$W/conf.err")"
learn_keys
clean "confidential client: no secret in fhir-token's cmdline, environ or stderr" \
    "$W/conf.cmdline" "$W/conf.environ" "$W/conf.err" "$FA_TMP/last.err"
