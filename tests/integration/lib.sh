# shellcheck shell=bash
# lib.sh - what every integration test (tests/integration/*.t) sources: TAP
# helpers, the test bed of real servers (an OpenID Connect AS, a FHIR
# server, a fault-injecting server, all HTTPS on 127.0.0.1 with a CA made
# here), a pam_fhir configuration for them, keyring and test-user helpers,
# and a cleanup that runs on every exit.
#
# automake runs each test with top_srcdir and top_builddir exported and the
# build directory as cwd.  Run one by hand from a build directory with
#   top_srcdir=/path/to/src top_builddir=$PWD bash /path/to/src/tests/integration/NAME.t
#
# Tests run as root in CI (useradd, other users' keyrings).  Each test runs
# in a fresh anonymous session keyring of its own (the file re-executes
# itself under `keyctl session -`), so nothing it links is left in the
# caller's session.
#
# Environment knobs:
#   FA_KEEP_TMP=1        keep the temporary directory (servers' logs) on exit
#   FA_VERBOSE=1         print server logs as TAP diagnostics on exit
#   FA_NODE_MODULES=DIR  an installed node_modules for tests/servers (when the
#                        source tree has none, e.g. under make distcheck)
#   FA_SANITIZER_LOGS=DIR  the build under test is ASan + UBSan (scripts/check):
#                        the sanitizers write their reports below DIR/NAME/
#                        (log_path; UBSan's, on standard error, are kept
#                        from what fa_run captured), and a test with any
#                        fails, whatever the process's exit status was
#   FA_SANITIZER_PRELOAD=LIBS  the sanitizer runtimes, preloaded into the
#                        programs that are not ours but load pam_fhir.so
#                        (FA_SAN_HOST below); never into the test servers
#   FA_VALGRIND_LOGS=DIR fhir-token and git-credential-fhir (FA_TOKEN_BIN,
#                        FA_GCF_BIN) run under valgrind's memcheck, its logs
#                        in DIR/NAME/; a test fails when any log shows an
#                        error or a definitely lost block

# ------------------------------------------------------------------ session
if [ -z "${FA_IN_KEY_SESSION:-}" ] && command -v keyctl >/dev/null 2>&1; then
    export FA_IN_KEY_SESSION=1
    exec keyctl session - "${BASH:-bash}" "$0" "$@"
fi

set -u

_fa_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_fa_here/../.." && pwd)}"
: "${top_builddir:=$PWD}"
export top_srcdir top_builddir
FA_TEST_NAME=$(basename "$0" .t)

# ------------------------------------------------------------------ sanitizers
# FA_SAN_HOST: a command prefix (an array) for a program that is not built
# here but loads the sanitized pam_fhir.so (pamtester): the runtimes must be
# loaded first.  FA_SAN_HOST_NOLEAKS: the same without leak checking, for
# hosts whose own leaks at exit are not ours (python3, sshd).  Both empty
# in a normal build.
FA_SAN_DIR=
FA_SAN_HOST=()
FA_SAN_HOST_NOLEAKS=()
if [ -n "${FA_SANITIZER_LOGS:-}" ]; then
    FA_SAN_DIR=$FA_SANITIZER_LOGS/$FA_TEST_NAME
    # Test users (alice, nobody) write there too.
    mkdir -p "$FA_SAN_DIR" && chmod 1777 "$FA_SANITIZER_LOGS" "$FA_SAN_DIR"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$FA_SAN_DIR/asan"
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$FA_SAN_DIR/ubsan"
    export ASAN_OPTIONS UBSAN_OPTIONS
    if [ -n "${FA_SANITIZER_PRELOAD:-}" ]; then
        FA_SAN_HOST=(env "LD_PRELOAD=$FA_SANITIZER_PRELOAD")
        FA_SAN_HOST_NOLEAKS=(env "LD_PRELOAD=$FA_SANITIZER_PRELOAD"
            "ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0")
    fi
fi

# fa_sanitized: true when the build under test is the sanitized one.
fa_sanitized() {
    [ -n "$FA_SAN_DIR" ]
}

# _fa_san_keep FILE...: gcc's UBSan (beside ASan) ignores log_path and
# writes to standard error: keep a copy of captured output that holds a
# report where the cleanup looks for reports.
_fa_san_keep() {
    local f
    [ -n "$FA_SAN_DIR" ] || return 0
    for f in "$@"; do
        if grep -q 'runtime error:' "$f" 2>/dev/null; then
            cp "$f" "$FA_SAN_DIR/ubsan-captured.$$.$RANDOM"
        fi
    done
}

# ------------------------------------------------------------------ TAP
_fa_n=0
_fa_failed=0
_fa_planned=

# plan N
plan() {
    _fa_planned=$1
    echo "1..$1"
}

# Skips.  skip_all and skip are for a prerequisite this machine lacks (a
# program, root, a kernel feature): a skip on a developer's machine, a
# failure in CI (CI=true), where scripts/install-deps has installed
# everything, so that a missing tool never passes silently.  What does not
# apply to the build under test at all (the sanitized build, a build
# without --enable-test-hooks) says so with skip_all_na and skip_na, which
# skip everywhere.

# skip_all REASON: a missing prerequisite; nothing to run here.
skip_all() {
    if [ "${CI:-}" = true ]; then
        echo "1..1"
        echo "not ok 1 - missing prerequisite (CI=true, so not a skip): $*"
        _fa_planned=1
        exit 1
    fi
    skip_all_na "$*"
}

# skip_all_na REASON: this test does not apply to the build under test.
skip_all_na() {
    echo "1..0 # SKIP $*"
    _fa_planned=0
    exit 0
}

# bail MESSAGE: the test bed itself is broken; stop the whole test.
bail() {
    echo "Bail out! $*"
    _fa_bailed=1
    exit 255
}

# diag MESSAGE...: a TAP comment line per line of the message.
diag() {
    local line
    printf '%s\n' "$@" | while IFS= read -r line; do
        printf '# %s\n' "$line"
    done
}

_fa_result() { # STATUS(0 pass) DESCRIPTION
    _fa_n=$((_fa_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $_fa_n - $2"
    else
        _fa_failed=$((_fa_failed + 1))
        echo "not ok $_fa_n - $2"
    fi
    return "$1"
}

# ok DESCRIPTION COMMAND [ARGS...]: passes when the command exits 0.  The
# command's standard output goes to standard error, out of the TAP stream.
ok() {
    local desc=$1
    shift
    "$@" >&2
    _fa_result $? "$desc"
}

# nok DESCRIPTION COMMAND [ARGS...]: passes when the command fails.
nok() {
    local desc=$1
    shift
    ! "$@" >&2
    _fa_result $? "$desc"
}

# is GOT EXPECTED DESCRIPTION
is() {
    if [ "$1" = "$2" ]; then
        _fa_result 0 "$3"
    else
        _fa_result 1 "$3"
        diag "  got:      '$1'" "  expected: '$2'"
        return 1
    fi
}

# isnt GOT UNEXPECTED DESCRIPTION
isnt() {
    if [ "$1" != "$2" ]; then
        _fa_result 0 "$3"
    else
        _fa_result 1 "$3"
        diag "  got '$1', which it should not be"
        return 1
    fi
}

# like GOT ERE DESCRIPTION
like() {
    if printf '%s' "$1" | grep -Eq -- "$2"; then
        _fa_result 0 "$3"
    else
        _fa_result 1 "$3"
        diag "  got:      '$1'" "  expected to match: /$2/"
        return 1
    fi
}

# unlike GOT ERE DESCRIPTION
unlike() {
    if ! printf '%s' "$1" | grep -Eq -- "$2"; then
        _fa_result 0 "$3"
    else
        _fa_result 1 "$3"
        diag "  got:      '$1'" "  expected not to match: /$2/"
        return 1
    fi
}

# skip DESCRIPTION REASON: one test skipped for a missing prerequisite
# (a failure in CI, see skip_all).
skip() {
    if [ "${CI:-}" = true ]; then
        _fa_result 1 "$1 (missing prerequisite, CI=true, so not a skip: $2)"
        return 1
    fi
    skip_na "$@"
}

# skip_na DESCRIPTION REASON: one test that does not apply to this build.
skip_na() {
    _fa_n=$((_fa_n + 1))
    echo "ok $_fa_n - $1 # SKIP $2"
}

# done_testing: print the plan when none was given, and exit.
done_testing() {
    if [ -z "$_fa_planned" ]; then
        echo "1..$_fa_n"
        _fa_planned=$_fa_n
    fi
    exit 0
}

# ------------------------------------------------------------------ running

# fa_run COMMAND [ARGS...]: run it, keep its exit status in FA_RC, its
# output in FA_OUT and FA_ERR (also in files $FA_TMP/last.out, last.err).
fa_run() {
    local o=${FA_TMP:-/tmp}/last.out e=${FA_TMP:-/tmp}/last.err
    "$@" >"$o" 2>"$e"
    FA_RC=$?
    _fa_san_keep "$o" "$e"
    FA_OUT=$(cat "$o")
    FA_ERR=$(cat "$e")
    return 0
}

# fa_run_stdin INPUT COMMAND [ARGS...]: fa_run with INPUT on standard input.
fa_run_stdin() {
    local input=$1 o=${FA_TMP:-/tmp}/last.out e=${FA_TMP:-/tmp}/last.err
    shift
    printf '%s\n' "$input" | "$@" >"$o" 2>"$e"
    FA_RC=${PIPESTATUS[1]}
    _fa_san_keep "$o" "$e"
    FA_OUT=$(cat "$o")
    FA_ERR=$(cat "$e")
    return 0
}

# fa_show: the last fa_run's status and stderr as diagnostics.
fa_show() {
    diag "exit status $FA_RC" "stderr: $FA_ERR"
}

# The programs under test (libtool wrapper scripts in the build tree).
FA_TOKEN_BIN=${FA_TOKEN_BIN:-$top_builddir/helper/fhir-token}
FA_GCF_BIN=${FA_GCF_BIN:-$top_builddir/helper/git-credential-fhir}

# Under FA_VALGRIND_LOGS both are scripts that run the programs under
# valgrind.
FA_VG_DIR=
if [ -n "${FA_VALGRIND_LOGS:-}" ]; then
    FA_VG_DIR=$FA_VALGRIND_LOGS/$FA_TEST_NAME
    rm -rf "$FA_VG_DIR"
    mkdir -p "$FA_VG_DIR/bin" && chmod 1777 "$FA_VALGRIND_LOGS" "$FA_VG_DIR"
    for _fa_p in fhir-token git-credential-fhir; do
        printf '#!/bin/sh\nexec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --num-callers=30 --log-file=%s/vg.%%p %s "$@"\n' \
            "$FA_VG_DIR" "$top_builddir/helper/$_fa_p" \
            >"$FA_VG_DIR/bin/$_fa_p"
        chmod 755 "$FA_VG_DIR/bin/$_fa_p"
    done
    FA_TOKEN_BIN=$FA_VG_DIR/bin/fhir-token
    FA_GCF_BIN=$FA_VG_DIR/bin/git-credential-fhir
fi

# fa_token ARGS...: fhir-token with this test's configuration and profile.
fa_token() {
    "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" "$@"
}

# fa_login [USER [PASSWORD]]: password login (default alice), via fa_run.
fa_login() {
    local user=${1:-alice} pass=${2:-}
    [ -n "$pass" ] || pass="$user-secret"
    fa_run_stdin "$pass" fa_token login --password --username "$user" --password-stdin
}

# fa_now: seconds since the epoch, with milliseconds.
fa_now() {
    date +%s.%N | cut -c1-14
}

# fa_sleep_past EPOCH [PLUS]: sleep until EPOCH + PLUS seconds has passed
# (and 0.3 s more).
fa_sleep_past() {
    local d
    d=$(awk -v t="$1" -v p="${2:-0}" -v n="$(fa_now)" 'BEGIN { d = t + p - n + 0.3; if (d < 0) d = 0; printf "%.2f", d }')
    sleep "$d"
}

# fa_json FIELD: a top-level field of the JSON on standard input ('' when
# absent); numbers and booleans printed as JSON.
fa_json() {
    # jq: the tests ask this hundreds of times, and a node process per
    # question cost ten times the CPU.  One JSON value on standard input;
    # anything else (nothing, two values, not JSON) is exit status 2.
    jq -j -s --arg k "$1" '
        if length != 1 then error("not one JSON value") else .[0] end
        | (if type == "object" then .[$k] else null end) as $v
        | if $v == null then "" elif ($v | type) == "string" then $v else ($v | tojson) end' 2>/dev/null ||
        return 2
}

# ------------------------------------------------------------------ servers

_fa_pids=()
_fa_users=()
FA_PROFILE=${FA_PROFILE:-it-$FA_TEST_NAME-$$}
FA_TMP=

_fa_need_root() {
    [ "$(id -u)" -eq 0 ]
}

# Find (or make) a tests/servers directory with its node_modules.
_fa_servers_dir() {
    local src=$top_srcdir/tests/servers run=$top_builddir/tests/servers-run
    if [ -d "$src/node_modules/oidc-provider" ]; then
        FA_SERVERS=$src
        return 0
    fi
    # A read-only or bare source tree (make distcheck): a copy in the build
    # tree, with FA_NODE_MODULES linked in or npm ci run once.
    mkdir -p "$run" || return 1
    (
        flock 9
        # Refresh the copy only when the sources changed: tests running in
        # parallel start servers from it.
        if ! diff -rq "$src/src" "$run/src" >/dev/null 2>&1; then
            rm -rf "$run/src.new"
            cp -R "$src/src" "$run/src.new" && chmod -R u+w "$run/src.new" || exit 1
            rm -rf "$run/src"
            mv "$run/src.new" "$run/src" || exit 1
        fi
        for f in package.json package-lock.json; do
            cmp -s "$src/$f" "$run/$f" || { cp "$src/$f" "$run/$f" && chmod u+w "$run/$f"; } || exit 1
        done
        if [ -n "${FA_NODE_MODULES:-}" ] && [ -d "$FA_NODE_MODULES/oidc-provider" ]; then
            [ -L "$run/node_modules" ] || rm -rf "$run/node_modules"
            ln -sfn "$FA_NODE_MODULES" "$run/node_modules"
        elif [ -L "$run/node_modules" ] || [ ! -d "$run/node_modules/oidc-provider" ] \
            || ! cmp -s "$run/package-lock.json" "$run/node_modules/.fa-lock"; then
            rm -rf "$run/node_modules"
            (cd "$run" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline >npm.log 2>&1) &&
                cp "$run/package-lock.json" "$run/node_modules/.fa-lock"
        fi
    ) 9>"$run.lock" || return 1
    [ -d "$run/node_modules/oidc-provider" ] || return 1
    FA_SERVERS=$run
}


_fa_prereqs() {
    command -v node >/dev/null 2>&1 || skip_all "node is not installed (scripts/install-deps)"
    command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
    command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
    command -v jq >/dev/null 2>&1 || skip_all "jq is not installed (scripts/install-deps)"
    command -v keyctl >/dev/null 2>&1 || skip_all "keyctl is not installed (keyutils)"
    [ -x "$FA_TOKEN_BIN" ] || bail "$FA_TOKEN_BIN is missing: build first (make)"
    _fa_servers_dir || skip_all "tests/servers has no node_modules: run 'npm ci --ignore-scripts' there (scripts/install-deps does)"
}

# fa_make_certs DIR: the test CA and certificates (tests/servers/make-certs
# says which).
fa_make_certs() {
    "$top_srcdir/tests/servers/make-certs" "$1"
}

# _fa_start NAME SCRIPT ARGS...: start a node server, wait for its port file
# and for it to answer; sets FA_<NAME>_PID and FA_<NAME>_PORT.  The two
# halves apart, for servers that start while others do: _fa_launch NAME
# SCRIPT ARGS... starts it in the background, _fa_wait_up NAME waits.
_fa_start() {
    _fa_launch "$@"
    _fa_wait_up "$1"
}

_fa_up_name() {
    printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_'
}

_fa_launch() {
    local name=$1 script=$2
    shift 2
    rm -f "$FA_TMP/$name.port"
    node "$FA_SERVERS/src/$script" --port-file "$FA_TMP/$name.port" "$@" \
        >>"$FA_TMP/$name.out" 2>&1 </dev/null &
    _fa_pids+=("$!")
    printf -v "_fa_launched_$(_fa_up_name "$name")" '%s' "$!"
}

_fa_wait_up() {
    local name=$1 pid port i up launched
    up=$(_fa_up_name "$name")
    launched=_fa_launched_$up
    pid=${!launched:-}
    for ((i = 0; i < 300; i++)); do
        [ -s "$FA_TMP/$name.port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    port=$(cat "$FA_TMP/$name.port" 2>/dev/null)
    if [ -z "$port" ]; then
        # _FA_START_QUIET: the caller has another way.
        [ -n "${_FA_START_QUIET:-}" ] && { _fa_stop "$pid"; return 1; }
        diag "$name did not start:" "$(tail -20 "$FA_TMP/$name.out")"
        bail "cannot start the $name server"
    fi
    for ((i = 0; i < 100; i++)); do
        # liveness only (some of these servers have deliberately wrong certificates)
        curl -sk -o /dev/null --max-time 2 "https://127.0.0.1:$port/" && break
        sleep 0.1
    done
    printf -v "FA_${up}_PID" '%s' "$pid"
    printf -v "FA_${up}_PORT" '%s' "$port"
    export "FA_${up}_PID" "FA_${up}_PORT"
}

# _fa_stop PID: end a server of ours (also a stopped one).
_fa_stop() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# fa_test_dir: the test's temporary directory (FA_TMP) with the test CA
# and certificates (FA_CA), made once; every server of a test uses them.
fa_test_dir() {
    [ -z "$FA_TMP" ] || return 0
    _fa_prereqs
    FA_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pam_fhir-it.XXXXXX") || bail "mktemp failed"
    # Test users must reach the CA and the configuration.
    chmod 755 "$FA_TMP"
    export FA_TMP
    fa_make_certs "$FA_TMP" || bail "cannot make certificates: $(tail -5 "$FA_TMP/openssl.log")"
    FA_CA=$FA_TMP/ca.pem
    export FA_CA FA_PROFILE
}

# fa_start_servers [OPTIONS]: the test bed.  Options:
#   --ttl S            access token lifetime (default 3)
#   --rotate on|off    refresh token rotation (default on)
#   --auth-methods L   token_endpoint_auth_methods_supported in discovery
#   --client ID        fhir-cli (public, default), fhir-conf (secret, basic)
#                      or fhir-post (secret, post)
#   --keyring A        persistent | user | session (default user)
#   --min-valid S      (default 1)     --timeout S   (default 5)
#   --scope S          (default "openid offline_access profile patient/*.read":
#                      profile asks for preferred_username, which the PAM
#                      identity check reads, from UserInfo with a standard AS)
#   --claims M         the AS's claims: standard (default; oidc-provider's
#                      own configuration: profile claims from UserInfo only)
#                      or tuned (preferred_username in the id_token)
#   --password-id-token on|off  (default on) the password grant's id_token
#   --userinfo-sub S   the AS's UserInfo answers for sub S (default: the
#                      token's own account)
#   --consent-page     the AS asks for consent on a page of its own (Allow,
#                      Deny) instead of consenting by itself
#   --fault            put the fault server in front of the AS
#   --as-state         the AS keeps its grants and keys in files (a fresh
#                      $FA_TMP/as-state), so fa_restart_as brings back an
#                      AS that still honours them (default: in memory,
#                      lost when the AS stops)
#   --id-token-claims J  a JSON object of claims the AS puts over every
#                      account's own (in the id_token when the scope asks
#                      for them): hostile claim values for a test
#   --dpop on|nonce    DPoP (RFC 9449) at the AS and the FHIR server (as.js
#                      and fhir.js --dpop): bound tokens, proofs checked;
#                      nonce: both demand nonces of their own (default off)
#   --jwt-client-jwks F  the AS registers the private_key_jwt client
#                      fhir-jwt with the public JWK Set in file F
#   --client-credentials  the AS has the client_credentials grant and the
#                      system/* scopes (for fhir-conf, fhir-post, fhir-jwt)
#   --no-fhir          no FHIR server, for a test that never asks one
#                      (starting one is most of what a start costs):
#                      fhir_base names a port nobody listens on
# Calling it again restarts the servers with the new options (the same
# temporary directory and CA; the old issuer's keys are cleared).
# With --fault the fault server is a proxy in front of the AS and is the
# issuer the client knows (see fa_start_fault, fa_fault_mode).
# Exports FA_TMP FA_CA FA_CONF FA_PROFILE FA_ISSUER (what the client is
# configured with) FA_AS_URL (the AS itself) FA_FHIR FA_AS_LOG FA_FHIR_LOG
# FA_AS_PORT FA_FHIR_PORT, and with --fault FA_FAULT FA_FAULT_PORT
# FA_FAULT_MODE_FILE FA_FAULT_LOG.
fa_start_servers() {
    local ttl=3 rotate=on methods='' client=fhir-cli keyring=user min_valid=1
    local timeout=5 scope="openid offline_access profile patient/*.read" fault='' as_state=''
    local claims=standard pw_id_token=on userinfo_sub=''
    local id_claims='' keep_fhir='' as_port='' consent_page=''
    local dpop=off jwt_jwks='' client_credentials='' fhir=on
    while [ $# -gt 0 ]; do
        case $1 in
            --ttl) ttl=$2; shift ;;
            --rotate) rotate=$2; shift ;;
            --auth-methods) methods=$2; shift ;;
            --client) client=$2; shift ;;
            --keyring) keyring=$2; shift ;;
            --min-valid) min_valid=$2; shift ;;
            --timeout) timeout=$2; shift ;;
            --scope) scope=$2; shift ;;
            --fault) fault=1 ;;
            --as-state) as_state=1 ;;
            --id-token-claims) id_claims=$2; shift ;;
            --claims) claims=$2; shift ;;
            --password-id-token) pw_id_token=$2; shift ;;
            --userinfo-sub) userinfo_sub=$2; shift ;;
            --consent-page) consent_page=1 ;;
            --dpop) dpop=$2; shift ;;
            --jwt-client-jwks) jwt_jwks=$2; shift ;;
            --client-credentials) client_credentials=1 ;;
            --no-fhir) fhir=off ;;
            *) bail "fa_start_servers: unknown option $1" ;;
        esac
        shift
    done
    FA_TTL=$ttl
    export FA_TTL
    # Under valgrind a TLS handshake alone can take seconds.
    [ -n "$FA_VG_DIR" ] && timeout=$((timeout * 4))

    if [ -z "$FA_TMP" ]; then
        fa_test_dir
    elif [ -n "${FA_AS_PID:-}" ]; then
        # A restart (FA_TMP alone: fa_test_dir came first, for files the
        # servers need, and nothing runs yet).  The FHIR server (2 s of
        # the 3 a start costs) stays when its arguments do not change: the
        # AS comes back on its old port unless a fault proxy is or was the
        # issuer.
        keep_fhir=
        if [ -z "$fault" ] && [ "$FA_ISSUER" = "$FA_AS_URL" ] && [ -n "${FA_FHIR_PID:-}" ] &&
            [ "$fhir" = on ] &&
            [ "$dpop" = "${_fa_fhir_dpop:-off}" ] && kill -0 "$FA_FHIR_PID" 2>/dev/null; then
            keep_fhir=$FA_FHIR_PID
            as_port=$FA_AS_PORT
        fi
        fa_stop_servers "$keep_fhir"
        fa_clear_keys
    fi
    # The PAM path's root-side cache of discovery and JWKS: a directory of
    # this test's own (test builds only honour the variable), emptied when
    # the servers (and with them the AS's keys) change.
    FHIRAUTH_TEST_CACHE_DIR=$FA_TMP/rootcache
    export FHIRAUTH_TEST_CACHE_DIR
    rm -rf "$FHIRAUTH_TEST_CACHE_DIR"

    FA_AS_LOG=$FA_TMP/as.log
    FA_FHIR_LOG=$FA_TMP/fhir.log
    : >"$FA_AS_LOG"
    : >"$FA_FHIR_LOG"
    export FA_AS_LOG FA_FHIR_LOG
    local as_args=(--key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem"
        --log "$FA_AS_LOG" --access-ttl "$ttl" --rotate "$rotate"
        --claims "$claims" --password-id-token "$pw_id_token")
    [ -n "$methods" ] && as_args+=(--auth-methods "$methods")
    [ -n "$id_claims" ] && as_args+=(--id-token-claims "$id_claims")
    [ -n "$userinfo_sub" ] && as_args+=(--userinfo-sub "$userinfo_sub")
    [ -n "$consent_page" ] && as_args+=(--consent-page on)
    [ "$dpop" != off ] && as_args+=(--dpop "$dpop")
    [ -n "$jwt_jwks" ] && as_args+=(--jwt-client-jwks "$jwt_jwks")
    [ -n "$client_credentials" ] && as_args+=(--client-credentials on)
    rm -rf "$FA_TMP/as-state"
    [ -n "$as_state" ] && as_args+=(--state-dir "$FA_TMP/as-state")

    if [ -n "$fault" ]; then
        # The fault server is a reverse proxy in front of the AS, and the
        # issuer: the client sees only it, and its mode file switches it
        # from forwarding ("pass") to a fault at run time.
        FA_FAULT_MODE_FILE=$FA_TMP/fault.mode
        FA_FAULT_LOG=$FA_TMP/fault.log
        rm -f "$FA_FAULT_MODE_FILE" "$FA_TMP/as.port"
        : >"$FA_FAULT_LOG"
        export FA_FAULT_MODE_FILE FA_FAULT_LOG
        fa_start_fault
        as_args+=(--issuer "$FA_FAULT")
    fi
    _fa_as_args=("${as_args[@]}")
    if [ -n "$as_port" ] && ! _FA_START_QUIET=1 _fa_start as as.js "${as_args[@]}" --port "$as_port"; then
        # The old port was taken meanwhile: a new one, a new FHIR server.
        _fa_stop "$keep_fhir"
        keep_fhir=
        _fa_start as as.js "${as_args[@]}"
    elif [ -z "$as_port" ]; then
        _fa_start as as.js "${as_args[@]}"
    fi
    FA_AS_URL=https://127.0.0.1:$FA_AS_PORT
    if [ -n "$fault" ]; then
        FA_ISSUER=$FA_FAULT
    else
        FA_ISSUER=$FA_AS_URL
    fi
    if [ -n "$keep_fhir" ]; then
        _fa_pids+=("$keep_fhir")
    elif [ "$fhir" = off ]; then
        FA_FHIR_PID= FA_FHIR_PORT=9
    else
        _fa_start fhir fhir.js --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" \
            --ca "$FA_CA" --issuer "$FA_ISSUER" --log "$FA_FHIR_LOG" \
            --introspection-endpoint "$FA_AS_URL/token/introspection" --dpop "$dpop"
        _fa_fhir_dpop=$dpop
    fi
    FA_FHIR=https://127.0.0.1:$FA_FHIR_PORT/fhir
    export FA_ISSUER FA_AS_URL FA_FHIR

    FA_CONF=$FA_TMP/pam_fhir.conf
    export FA_CONF
    _fa_cfg_keys=()
    _fa_cfg_vals=()
    fa_config issuer "$FA_ISSUER"
    fa_config client_id "$client"
    case $client in
        fhir-conf) printf 'conf-secret\n' >"$FA_TMP/fhir-conf.secret"
            chmod 600 "$FA_TMP/fhir-conf.secret"
            fa_config client_secret_file "$FA_TMP/fhir-conf.secret" ;;
        fhir-post) printf 'post-secret\n' >"$FA_TMP/fhir-post.secret"
            chmod 600 "$FA_TMP/fhir-post.secret"
            fa_config client_secret_file "$FA_TMP/fhir-post.secret" ;;
    esac
    fa_config scope "$scope"
    fa_config ca_file "$FA_CA"
    fa_config fhir_base "$FA_FHIR"
    fa_config min_valid "$min_valid"
    fa_config keyring "$keyring"
    fa_config timeout "$timeout"
    fa_config grant password
}

# fa_config KEY [VALUE]: set a key of the test profile (no VALUE: remove
# it) and rewrite $FA_CONF.
_fa_cfg_keys=()
_fa_cfg_vals=()
fa_config() {
    local key=$1 i found=
    for i in "${!_fa_cfg_keys[@]}"; do
        if [ "${_fa_cfg_keys[$i]}" = "$key" ]; then
            found=1
            if [ $# -ge 2 ]; then
                _fa_cfg_vals[i]=$2
            else
                unset '_fa_cfg_keys[i]' '_fa_cfg_vals[i]'
            fi
        fi
    done
    if [ -z "$found" ] && [ $# -ge 2 ]; then
        _fa_cfg_keys+=("$key")
        _fa_cfg_vals+=("$2")
    fi
    {
        echo "# pam_fhir configuration written by tests/integration/lib.sh ($FA_TEST_NAME)"
        echo "default_profile = $FA_PROFILE"
        echo
        echo "[profile $FA_PROFILE]"
        for i in "${!_fa_cfg_keys[@]}"; do
            echo "${_fa_cfg_keys[$i]} = ${_fa_cfg_vals[$i]}"
        done
    } >"$FA_CONF.tmp"
    chmod 644 "$FA_CONF.tmp"
    mv -f "$FA_CONF.tmp" "$FA_CONF"
}

# fa_stop_servers [KEEP]: stop every server this test started (but the
# one whose pid is KEEP).
fa_stop_servers() {
    local pid
    for pid in "${_fa_pids[@]}"; do
        [ "$pid" = "${1:-}" ] || _fa_stop "$pid"
    done
    _fa_pids=()
}

# fa_stop_as / fa_pause_as / fa_resume_as: take the AS away (connections
# refused), or freeze it (connections hang) and thaw it.  A stopped AS
# loses its grants (in-memory store): restart with fa_start_servers, or
# with fa_restart_as when the servers were started with --as-state.
fa_stop_as() { _fa_stop "$FA_AS_PID"; }
fa_pause_as() { kill -STOP "$FA_AS_PID"; }
fa_resume_as() { kill -CONT "$FA_AS_PID"; }

# fa_restart_as: stop the AS and start it again on the same port with the
# same options (with --as-state, its grants and keys survive).
_fa_as_args=()
fa_restart_as() {
    fa_stop_as
    _fa_start as as.js "${_fa_as_args[@]}" --port "$FA_AS_PORT"
}

# fa_start_fault: start the fault server (again, on its old port when it
# had one): a proxy in front of the AS whose port it reads from
# $FA_TMP/as.port; with the certificates "wrongname" and "otherca" for the
# tls-wrongname and tls-otherca modes.
fa_start_fault() {
    _fa_start fault fault.js --port "${FA_FAULT_PORT:-0}" \
        --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" \
        --alt-cert "wrongname=$FA_TMP/wrongname.key:$FA_TMP/wrongname.pem" \
        --alt-cert "otherca=$FA_TMP/otherca.key:$FA_TMP/otherca.pem" \
        --ca "$FA_CA" --upstream-port-file "$FA_TMP/as.port" \
        --mode-file "$FA_FAULT_MODE_FILE" --log "$FA_FAULT_LOG"
    FA_FAULT=https://127.0.0.1:$FA_FAULT_PORT
    export FA_FAULT
}

# fa_stop_fault: the AS is gone for the client (connections to the issuer
# refused) while it keeps its grants; fa_start_fault brings it back.
fa_stop_fault() {
    _fa_stop "$FA_FAULT_PID"
}

# fa_fault_mode MODE [ARG]: the fault server's mode for requests without a
# /m/MODE prefix ("pass" forwards to the AS).
fa_fault_mode() {
    printf '%s\n' "$*" >"$FA_FAULT_MODE_FILE.tmp" && mv -f "$FA_FAULT_MODE_FILE.tmp" "$FA_FAULT_MODE_FILE"
}

# fa_wait_quiet PAUSE: wait (at most 40 pauses of PAUSE seconds) until
# the AS's and the fault server's logs stop growing, i.e. the servers are
# done with whatever a killed or abandoned client left in flight.
fa_wait_quiet() {
    local a b i
    for ((i = 0; i < 40; i++)); do
        a=$(cat "$FA_AS_LOG" "${FA_FAULT_LOG:-/dev/null}" 2>/dev/null | wc -c)
        sleep "$1"
        b=$(cat "$FA_AS_LOG" "${FA_FAULT_LOG:-/dev/null}" 2>/dev/null | wc -c)
        [ "$a" = "$b" ] && return 0
    done
}

# fa_dead_port: a loopback port nothing listens on.
fa_dead_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# ------------------------------------------------------------------ AS and FHIR helpers

# fa_curl ARGS...: curl trusting the test CA.
fa_curl() {
    curl -sS --max-time 10 --cacert "$FA_CA" "$@"
}

# fa_fhir_get URL TOKEN: GET with the bearer token (kept out of argv);
# prints the HTTP status; the body lands in $FA_TMP/fhir.body, the headers
# in $FA_TMP/fhir.headers.
fa_fhir_get() {
    printf 'Authorization: Bearer %s\n' "$2" |
        curl -sS --max-time 10 --cacert "$FA_CA" -H @- -D "$FA_TMP/fhir.headers" \
            -o "$FA_TMP/fhir.body" -w '%{http_code}' "$1"
}

# fa_as_count GRANT [ok|fail|all]: token endpoint calls with that
# grant_type in the AS event log (default all).
fa_as_count() {
    local want=${2:-all} n
    n=$(grep -F "\"event\":\"token\"" "$FA_AS_LOG" | grep -F "\"grant_type\":\"$1\"" |
        case $want in
            ok) grep -F '"ok":true' ;;
            fail) grep -F '"ok":false' ;;
            *) cat ;;
        esac | wc -l)
    echo $((n + 0))
}

# fa_as_events EVENT [FILTER]: count AS log lines of an event (token,
# revocation, introspection, discovery) containing FILTER.
fa_as_events() {
    local n
    n=$(grep -F "\"event\":\"$1\"" "$FA_AS_LOG" | grep -F -- "${2:-}" | wc -l)
    echo $((n + 0))
}

# fa_introspect TOKEN: "true" or "false" (active), asked as the FHIR
# server's client.
fa_introspect() {
    printf 'token=%s' "$1" |
        fa_curl -u fhir-rs:rs-secret --data-binary @- \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token/introspection" | fa_json active
}

# fa_revoke TOKEN [CLIENT_ID]: revoke at the AS behind the client's back
# (as the public client fhir-cli by default); prints the HTTP status.
fa_revoke() {
    printf 'token=%s&client_id=%s' "$1" "${2:-fhir-cli}" |
        fa_curl --data-binary @- -o /dev/null -w '%{http_code}' \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token/revocation"
}

# fa_refresh_grant REFRESH_TOKEN [CLIENT_ID]: a refresh grant with curl;
# prints the HTTP status, the answer in $FA_TMP/refresh.json.  (With
# rotation on, reusing a rotated token revokes the whole grant.)
fa_refresh_grant() {
    printf 'grant_type=refresh_token&refresh_token=%s&client_id=%s' "$1" "${2:-fhir-cli}" |
        fa_curl --data-binary @- -o "$FA_TMP/refresh.json" -w '%{http_code}' \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token"
}

# fa_device_approve USER_CODE [ACCOUNT [PASSWORD]]: play the user who
# approves a device flow in a browser (RFC 8628): the verification page,
# the AS's login form (tests/servers/src/as.js: a plain form checked
# against its test accounts, consent given automatically).  Fails unless
# the AS shows its success page.
fa_device_approve() {
    local code=$1 user=${2:-alice} pass=${3:-} jar page xsrf loc
    [ -n "$pass" ] || pass="$user-secret"
    jar=$(mktemp "$FA_TMP/jar.XXXXXX")
    xsrf=$(fa_device_page "$code" "$jar")
    [ -n "$xsrf" ] || { rm -f "$jar"; return 1; }
    loc=$(fa_curl -c "$jar" -b "$jar" -D - -o /dev/null --data-urlencode "xsrf=$xsrf" \
        --data-urlencode "user_code=$code" -d confirm=yes "$FA_ISSUER/device" |
        sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
    case $loc in /interaction/*) ;; *) return 1 ;; esac
    page=$(fa_curl -c "$jar" -b "$jar" -L --max-redirs 10 --data-urlencode "username=$user" \
        --data-urlencode "password=$pass" "$FA_ISSUER$loc/login")
    rm -f "$jar"
    printf '%s' "$page" | grep -q 'Sign-in success'
}

# fa_device_page CODE JAR: open the AS's verification page for CODE with
# the cookie jar JAR; prints the form's xsrf value.
fa_device_page() {
    fa_curl -c "$2" -b "$2" "$FA_ISSUER/device?user_code=$1" |
        sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' | head -1
}

# fa_device_deny_confirm CODE: the user presses "Abort" on the AS's
# confirmation page (oidc-provider: access_denied for that code).
fa_device_deny_confirm() {
    local jar xsrf rc
    jar=$(mktemp "$FA_TMP/jar.XXXXXX")
    xsrf=$(fa_device_page "$1" "$jar")
    [ -n "$xsrf" ] || { rm -f "$jar"; return 1; }
    fa_curl -c "$jar" -b "$jar" -o /dev/null --data-urlencode "xsrf=$xsrf" \
        --data-urlencode "user_code=$1" -d abort=yes "$FA_ISSUER/device"
    rc=$?
    rm -f "$jar"
    return $rc
}

# fa_device_deny_login CODE: the user confirms the code, then gives up at
# the AS's login form (POST /interaction/UID/abort: access_denied).
fa_device_deny_login() {
    local jar xsrf loc rc
    jar=$(mktemp "$FA_TMP/jar.XXXXXX")
    xsrf=$(fa_device_page "$1" "$jar")
    [ -n "$xsrf" ] || { rm -f "$jar"; return 1; }
    loc=$(fa_curl -c "$jar" -b "$jar" -D - -o /dev/null --data-urlencode "xsrf=$xsrf" \
        --data-urlencode "user_code=$1" -d confirm=yes "$FA_ISSUER/device" |
        sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
    case $loc in /interaction/*) ;; *) rm -f "$jar"; return 1 ;; esac
    # -d, not -X POST: after the 303 curl must GET the resume URL.
    fa_curl -c "$jar" -b "$jar" -L --max-redirs 10 -o /dev/null -d '' "$FA_ISSUER$loc/abort"
    rc=$?
    rm -f "$jar"
    return $rc
}

# fa_as_device NAME=VALUE...: change the AS's device settings (ttl,
# interval, slow_down, advertise) for codes issued from now on (the AS runs
# with FA_AS_DEVICE_CONTROL=on).
fa_as_device() {
    local args=() a
    for a in "$@"; do
        args+=(--data-urlencode "$a")
    done
    fa_curl -o /dev/null "${args[@]}" "$FA_AS_URL/test/device-settings" ||
        bail "cannot change the AS's device settings"
}

# fa_browser_approve AUTHORIZATION_URL [ACCOUNT [PASSWORD]]: play the
# browser of an authorization code flow: open the URL, log in at the AS,
# and follow the redirects to the client's redirect_uri (a loopback
# listener of the client under test).  Prints the final URL.  (OIDC Core
# §11: the AS drops offline_access unless the request has prompt=consent.)
fa_browser_approve() {
    local url=$1 user=${2:-alice} pass=${3:-} jar loc
    [ -n "$pass" ] || pass="$user-secret"
    jar=$(mktemp "$FA_TMP/jar.XXXXXX")
    loc=$(fa_curl -c "$jar" -b "$jar" -D - -o /dev/null "$url" |
        sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
    case $loc in /interaction/*) ;; *) rm -f "$jar"; return 1 ;; esac
    fa_curl -c "$jar" -b "$jar" -L --max-redirs 10 -o /dev/null -w '%{url_effective}\n' \
        --data-urlencode "username=$user" --data-urlencode "password=$pass" \
        "${url%%/auth*}$loc/login"
    local rc=$?
    rm -f "$jar"
    return $rc
}

# ------------------------------------------------------------------ keyring

# fa_key_id NAME [PROFILE]: the serial of pam_fhir:PROFILE:NAME (refresh,
# access, meta) in this process's reach: the session keyring, the user
# keyring, the persistent keyring.  Fails when there is none.
fa_key_id() {
    local desc="pam_fhir:${2:-$FA_PROFILE}:$1" id ring
    for ring in @s @u "$(keyctl get_persistent @s 2>/dev/null)"; do
        [ -n "$ring" ] || continue
        id=$(keyctl search "$ring" user "$desc" 2>/dev/null) && { echo "$id"; return 0; }
    done
    return 1
}

# fa_key_read NAME [PROFILE]: the payload of that key.
fa_key_read() {
    local id
    id=$(fa_key_id "$@") || return 1
    keyctl pipe "$id"
}

# fa_key_exists NAME [PROFILE]
fa_key_exists() {
    fa_key_id "$@" >/dev/null
}

# fa_key_perm ID: the permission mask (8 hex digits) of a key.
fa_key_perm() {
    keyctl rdescribe "$1" | cut -d';' -f4
}

# fa_clear_keys [PROFILE]: invalidate this profile's keys wherever found,
# and unlink from the user and session keyrings any key so described that
# a search cannot reach (one without search permission for us).
fa_clear_keys() {
    local p=${1:-$FA_PROFILE} k id i ring
    for k in refresh access meta dpop; do
        for ((i = 0; i < 5; i++)); do
            id=$(fa_key_id "$k" "$p") || break
            keyctl invalidate "$id" 2>/dev/null || keyctl unlink "$id" 2>/dev/null || break
        done
    done
    for ring in @u @s; do
        for id in $(keyctl rlist "$ring" 2>/dev/null); do
            case $(keyctl rdescribe "$id" 2>/dev/null) in
                *";pam_fhir:$p:"*) keyctl unlink "$id" "$ring" >/dev/null 2>&1 ;;
            esac
        done
    done
    return 0
}

# ------------------------------------------------------------------ users

# fa_free_uid: a random uid (20000-39999) that no user or group has and
# the kernel keeps no keys for (/proc/key-users).  Kernel keyrings are per
# uid, whatever the user's name: tests running at the same time in another
# root filesystem on this kernel (a chroot: scripts/check on a fresh
# system beside one on the host) create users of the same names, and the
# next free uid would be the same one on both sides.
fa_free_uid() {
    local uid i
    for ((i = 0; i < 200; i++)); do
        uid=$((20000 + RANDOM % 20000))
        getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null ||
            grep -q "^ *$uid:" /proc/key-users || { echo "$uid"; return 0; }
    done
    return 1
}

# fa_add_user NAME [UID]: a test user (removed, keyrings cleared, on exit),
# by default with a uid of fa_free_uid's.
fa_add_user() {
    local uid=${2:-}
    _fa_need_root || return 1
    userdel -r "$1" >/dev/null 2>&1
    [ -n "$uid" ] || uid=$(fa_free_uid) || return 1
    useradd -M -U -d /nonexistent -s /bin/sh -u "$uid" "$1" || return 1
    _fa_users+=("$1")
}

# fa_as_user NAME COMMAND [ARGS...]: run as that user in a fresh session
# keyring of its own (so it possesses nothing of root's), HOME=/nonexistent.
fa_as_user() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups \
        env HOME=/nonexistent USER="$user" LOGNAME="$user" \
        keyctl session - "$@"
}

# fa_user_bin: a copy of fhir-token that other users can run (the build
# tree may sit below a directory they cannot enter), laid out as netload.c
# recognises a build tree: the network module in ../lib/.libs for the
# program (the engine is linked in), and libfhirauth with the module in
# .libs beside it for programs that link the library (pam-lib.t's driver).
# Prints the program's path.
fa_user_bin() {
    local d=$FA_TMP/bin b=$top_builddir
    if [ ! -x "$d/fhir-token" ]; then
        mkdir -p "$d/.libs" "$FA_TMP/lib/.libs" || return 1
        cp "$b/helper/fhir-token" "$d/fhir-token" &&
            cp -P "$b"/lib/.libs/libfhirauth.so* "$d/.libs/" &&
            cp "$b/lib/.libs/fhirauth-net.so" "$d/.libs/" &&
            cp "$b/lib/.libs/fhirauth-net.so" "$FA_TMP/lib/.libs/" || return 1
        chmod -R a+rX "$d" "$FA_TMP/lib"
        chmod 755 "$d/fhir-token"
    fi
    echo "$d/fhir-token"
}

# fa_del_user NAME: clear the user's user, session and persistent keyrings
# (a UID's user keyring outlives the account), delete it, and remove its
# pam_fhir lock directories.
fa_del_user() {
    local user=$1 uid
    uid=$(id -u "$user" 2>/dev/null) || return 0
    setpriv --reuid="$user" --regid="$user" --init-groups \
        keyctl session - sh -c 'keyctl clear @u; p=$(keyctl get_persistent @s) && keyctl clear "$p"' \
        >/dev/null 2>&1
    userdel "$user" >/dev/null 2>&1
    getent group "$user" >/dev/null 2>&1 && groupdel "$user" >/dev/null 2>&1
    rm -rf "/run/pam_fhir/$uid" "/tmp/pam_fhir-$uid"
    return 0
}

# fa_pam_lock: take the lock the tests that run pam_fhir.so as root share
# (they create the same local users and count root's stash keys; make
# check -j runs tests side by side).  Held until the test exits.  The wait
# is reported beside the test's elapsed time.
FA_LOCK_WAIT=0
fa_pam_lock() {
    local t=$SECONDS
    exec 9>/run/lock/pam_fhir-pam-tests.lock
    flock 9
    FA_LOCK_WAIT=$((SECONDS - t))
}

# ------------------------------------------------------------------ cleanup

_fa_cleanup() {
    local rc=$? u
    trap - EXIT
    for u in "${_fa_users[@]}"; do
        fa_del_user "$u"
    done
    fa_stop_servers
    [ -n "${FA_PROFILE:-}" ] && command -v keyctl >/dev/null 2>&1 && fa_clear_keys
    if [ -n "$FA_TMP" ] && [ -d "$FA_TMP" ]; then
        if [ "$_fa_failed" -gt 0 ] || [ "${FA_VERBOSE:-}" = 1 ] || [ "${_fa_bailed:-}" = 1 ]; then
            for f in as.out as.log fhir.out fhir.log fault.out fault.log; do
                [ -s "$FA_TMP/$f" ] && diag "---- $f (last 15 lines)" "$(tail -15 "$FA_TMP/$f")"
            done
        fi
        if [ "${FA_KEEP_TMP:-}" = 1 ]; then
            diag "kept $FA_TMP"
        else
            rm -rf "$FA_TMP"
        fi
    fi
    # A sanitizer report from any of this test's processes fails the test,
    # also when the test expected that process to fail anyway.
    if [ -n "$FA_SAN_DIR" ] && [ -n "$(ls -A "$FA_SAN_DIR" 2>/dev/null)" ]; then
        diag "sanitizer reports in $FA_SAN_DIR:" "$(head -n 40 "$FA_SAN_DIR"/* 2>/dev/null)"
        [ "$rc" -eq 0 ] && rc=1
    fi
    if [ -n "$FA_VG_DIR" ] && grep -lqE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$FA_VG_DIR"/vg.* 2>/dev/null; then
        diag "valgrind found errors:" \
            "$(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$FA_VG_DIR"/vg.* | head -n 3 | xargs cat | head -n 80)"
        [ "$rc" -eq 0 ] && rc=1
    fi
    if [ -n "$_fa_planned" ] && [ "$_fa_planned" != "$_fa_n" ] && [ "$rc" -eq 0 ]; then
        diag "planned $_fa_planned tests but ran $_fa_n"
        rc=1
    fi
    # scripts/check lists the slowest tests from this line.
    diag "elapsed: ${SECONDS}s, ${FA_LOCK_WAIT}s of them waiting for the PAM lock"
    exit "$rc"
}
trap _fa_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
