#!/bin/bash
# as-faults.t - the authorization server fails while a refresh is due:
# HTTP 500, connection reset, connection closed, a stall past the
# configured timeout (the fault server holding the request, the headers
# without a body, the AS frozen with SIGSTOP), and the AS stopped and
# started again (with its grants kept in files: --as-state).
#
# For each fault, twice:
#   cached token still valid (--min-valid larger than its remaining life,
#     so fhir-token tries to refresh): exit 0, the cached token is served
#     with a warning on stderr, no key is deleted or replaced (serials and
#     contents unchanged), and once the fault is gone the next call
#     refreshes (a new token, FHIR 200);
#   cached token gone (expired: the kernel drops the key, as here): exit 3
#     (fhir-token(1), EXIT STATUS: AS unreachable, TLS or server error,
#     nothing lost) with
#     a message saying so, the refresh token and metadata untouched, and
#     the next call after the fault refreshes.
# Every call ends within the timeout plus generous slack (no hang).
#
# The frozen AS is the one fault no client can always ride out with
# rotation on: the refresh request sits in the AS's socket while the
# client gives up after its timeout (and serves the cached token, or exits
# 3), and when the AS thaws it carries the request out, rotating the
# refresh token into an answer nobody reads.  The stored token is then a
# consumed one, and oidc-provider answers its reuse by revoking the grant.
# So after a thaw the test waits for the AS to settle and reads its log:
# if it completed a refresh the client never saw, the next call must end
# the session cleanly (exit 2, "log in again", no refresh or access token
# left behind) and a new login is counted; otherwise it must refresh.
#
# tests/integration/faults.t covers hostile answers to a login and an
# expired token under each fault once; this test is about refresh under
# fault, repeated (FA_STRESS_LONG=1: 20 rounds instead of 1).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

if [ "${FA_STRESS_LONG:-0}" = 1 ]; then
    ROUNDS=20
else
    ROUNDS=1
fi
TIMEOUT=3
# The longest any call may take: the request timeout, the lock wait it
# never needs here, and slack for a loaded machine.  Not a speed target.
BOUND=$((TIMEOUT + 10))

cases=0 served_cached=0 recovered=0 relogin=0 keys_kept=0 failures=0 max_elapsed=0

fa_start_servers --ttl 60 --fault --as-state --timeout "$TIMEOUT" --keyring user
fa_login alice
[ "$FA_RC" -eq 0 ] || { fa_show; bail "login failed"; }

# snapshot KEYS...: serial and content digest of each key ("-" if absent).
snapshot() {
    local k id
    for k in "$@"; do
        if id=$(fa_key_id "$k"); then
            printf '%s:%s:%s\n' "$k" "$id" "$(keyctl pipe "$id" | sha256sum | cut -c1-16)"
        else
            printf '%s:-\n' "$k"
        fi
    done
}

# timed_token ARGS...: fa_run fa_token; ELAPSED in seconds; checks BOUND.
timed_token() {
    local s
    s=$(fa_now)
    fa_run fa_token "$@"
    ELAPSED=$(awk -v a="$s" -v b="$(fa_now)" 'BEGIN { printf "%.1f", b - a }')
    max_elapsed=$(awk -v a="$ELAPSED" -v b="$max_elapsed" 'BEGIN { print (a > b) ? a : b }')
}

within_bound() {
    awk -v e="$ELAPSED" -v b="$BOUND" 'BEGIN { exit !(e <= b) }'
}

# fault_on NAME / fault_off NAME
fault_on() {
    case $1 in
        http500|reset|close) fa_fault_mode "$1" ;;
        stall) fa_fault_mode stall 60 ;;
        stall-body) fa_fault_mode stall-body 60 ;;
        as-frozen) fa_pause_as ;;
        as-restart) fa_stop_fault; fa_stop_as ;;
    esac
}
fault_off() {
    case $1 in
        as-frozen) fa_resume_as ;;
        as-restart) fa_restart_as; fa_start_fault ;;
    esac
    fa_fault_mode pass
}

# refresh_ok WHAT OLD: the last fa_run refreshed: exit 0, a token other
# than OLD, no warning, FHIR 200.
refresh_ok() {
    [ "$FA_RC" -eq 0 ] || { diag "$1: exit $FA_RC: $FA_ERR"; return 1; }
    [ "$FA_OUT" != "$2" ] || { diag "$1: the old token came back"; return 1; }
    [ -z "$FA_ERR" ] || { diag "$1: stderr: $FA_ERR"; return 1; }
    local code
    code=$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")
    [ "$code" = 200 ] || { diag "$1: FHIR answered $code"; return 1; }
}

# ended_ok WHAT: the last fa_run is the clean end of a session the AS
# revoked: exit 2, "log in again", no refresh or access token left.
ended_ok() {
    [ "$FA_RC" -eq 2 ] || { diag "$1: exit $FA_RC (expected 2): $FA_ERR"; return 1; }
    printf '%s' "$FA_ERR" | grep -qi 'log in again' || { diag "$1: stderr: $FA_ERR"; return 1; }
    ! fa_key_exists refresh || { diag "$1: a refresh token was left in the keyring"; return 1; }
    ! fa_key_exists access || { diag "$1: an access token was left in the keyring"; return 1; }
}

# settle: wait until the AS and the fault server are done with whatever
# was left in flight (their logs stop growing).
settle() {
    fa_wait_quiet 0.5
}

# after_fault WHAT OLD N0: the next call once the fault is gone.  It must
# refresh, unless the AS completed a refresh the client never saw (see
# the top of this file), after which the session must end cleanly.
after_fault() {
    local what=$1 old=$2 n0=$3
    settle
    if [ "$(fa_as_count refresh_token ok)" -gt "$n0" ]; then
        fa_run fa_token --min-valid 3600
        ok "$what, fault gone: the AS had rotated the token behind the client's back, the session ends cleanly" \
            ended_ok "$what" || failed
        relogin=$((relogin + 1))
        fa_login alice
        [ "$FA_RC" -eq 0 ] || { fa_show; bail "login failed"; }
        return
    fi
    fa_run fa_token --min-valid 3600
    if ok "$what, fault gone: the next call refreshes (new token, FHIR 200)" refresh_ok "$what" "$old"; then
        recovered=$((recovered + 1))
    else
        failed
    fi
    is "$(fa_as_count refresh_token ok)" "$((n0 + 1))" "$what, fault gone: one refresh at the AS" || failed
}

failed() {
    failures=$((failures + 1))
}

one_fault() { # FAULT ROUND
    local f=$1 what="$1 (round $2)" cached snap n0 id
    cases=$((cases + 1))

    # ---- the cached token is still valid
    fa_fault_mode pass
    fa_run fa_token
    [ "$FA_RC" -eq 0 ] || { fa_show; bail "$what: no token to start from"; }
    cached=$FA_OUT
    snap=$(snapshot refresh access meta)
    n0=$(fa_as_count refresh_token ok)
    fault_on "$f"
    timed_token --min-valid 3600
    is "$FA_RC" 0 "$what, token valid: exit 0" || { fa_show; failed; }
    if is "$FA_OUT" "$cached" "$what, token valid: the cached token is served"; then
        served_cached=$((served_cached + 1))
    else
        failed
    fi
    like "$FA_ERR" '[Ww]arning.*(could not refresh|cached)' "$what, token valid: with a warning on stderr" || failed
    ok "$what, token valid: done within ${BOUND}s (${ELAPSED}s)" within_bound || failed
    if is "$(snapshot refresh access meta)" "$snap" "$what, token valid: no key deleted or replaced"; then
        keys_kept=$((keys_kept + 1))
    else
        failed
    fi
    is "$(fa_as_count refresh_token ok)" "$n0" "$what, token valid: no refresh got through" || failed
    fault_off "$f"
    after_fault "$what" "$cached" "$n0"

    # ---- the cached token has expired (the kernel dropped the key)
    fa_run fa_token
    [ "$FA_RC" -eq 0 ] || { fa_show; bail "$what: no token to start from"; }
    cached=$FA_OUT
    id=$(fa_key_id access) && keyctl invalidate "$id"
    snap=$(snapshot refresh meta)
    n0=$(fa_as_count refresh_token ok)
    fault_on "$f"
    timed_token
    is "$FA_RC" 3 "$what, token expired: exit 3" || { fa_show; failed; }
    like "$FA_ERR" 'could not be reached|cannot reach|unreachable|server error|timed out|unexpected answer|[Tt]imeout' \
        "$what, token expired: the error says the AS is unreachable or failing" || failed
    is "$FA_OUT" "" "$what, token expired: no token printed" || failed
    ok "$what, token expired: done within ${BOUND}s (${ELAPSED}s)" within_bound || failed
    if is "$(snapshot refresh meta)" "$snap" "$what, token expired: the refresh token and metadata are untouched"; then
        keys_kept=$((keys_kept + 1))
    else
        failed
    fi
    fault_off "$f"
    after_fault "$what" "$cached" "$n0"
}

for ((round = 1; round <= ROUNDS; round++)); do
    for f in http500 reset close stall stall-body as-frozen as-restart; do
        one_fault "$f" "$round"
    done
done

# The restarted AS honoured the grant issued before it stopped: no login
# but the first and those after a frozen AS rotated behind the client's
# back, and the current refresh token is active.
is "$(fa_as_count password ok)" "$((1 + relogin))" "no other login was needed"
is "$(fa_introspect "$(fa_key_read refresh)")" true "the stored refresh token is active at the AS"

echo "# figures: as-faults cases=$cases served_cached=$served_cached recovered=$recovered relogin=$relogin keys_kept=$keys_kept failures=$failures max_call=${max_elapsed}s timeout=${TIMEOUT}s"
done_testing
