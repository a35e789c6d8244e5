#!/bin/bash
# crash.t - kill -9 in the middle of a refresh: nothing is lost, no lock
# is left behind.
#
# Part 1, named crash points (test builds: configure --enable-test-hooks;
# FHIRAUTH_CRASH_AT makes lib/token.c raise SIGKILL there), with refresh
# token rotation on and off:
#   before-request   the lock is held, nothing has been sent to the AS
#   after-answer     the AS has answered (and, with rotation on, already
#                    replaced the refresh token), nothing stored yet
#   between-writes   the new refresh token is stored, the access token not
# After each kill the next plain fhir-token must refresh without a new
# login, hand out a token the FHIR server accepts, and leave a refresh
# token in the keyring that the AS says is active; the lock file must be
# free at once.
#
# The one case no client can save: after-answer with rotation on.  The AS
# has consumed the stored refresh token and the one that replaced it died
# with the process.  oidc-provider (as the OAuth 2.0 Security BCP asks)
# treats the reuse of a consumed refresh token as theft and revokes the
# whole grant, so the next fhir-token gets invalid_grant: it must exit 2
# (login needed, fhir-token(1) EXIT STATUS) with "log in again" on stderr,
# leave neither a
# refresh nor an access token behind, and a new login must work.
#
# Part 2, kills at random times: the fault server in front of the AS holds
# each refresh request and each answer for a while (slow-pass), and the
# refreshing fhir-token is killed after a random delay.  A new login is
# accepted only when rotation is on, the AS completed a refresh grant for
# the killed process (its log says so) and the keyring still holds the
# refresh token from before the kill: the answer carrying its successor
# never got stored.  Every other kill must be followed by a refresh
# without a login.
#
# FA_STRESS_LONG=1: 200 random kills instead of 10.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

if [ "${FA_STRESS_LONG:-0}" = 1 ]; then
    KILLS_ON=150 KILLS_OFF=50
else
    KILLS_ON=6 KILLS_OFF=4
fi
TIMEOUT=5
# The longest a call may wait for the refresh lock (lib/token.h:
# FA_LOCK_HOLD_REQUESTS times timeout plus FA_LOCK_SLACK_MS): a call that
# ends sooner did not wait for a lock left behind.
LOCK_WAIT=$((2 * TIMEOUT + 5))
HOLD_MS=300   # slow-pass: pause before forwarding and before answering

kills=0 recovered=0 relogin=0 stuck=0 failures=0

# The refresh lock of this profile (lib/lock.c: RUN_DIR/UID/PROFILE.lock,
# else /tmp/pam_fhir-UID/PROFILE.lock).
lock_file() {
    local f
    for f in "/run/pam_fhir/$(id -u)/$FA_PROFILE.lock" "/tmp/pam_fhir-$(id -u)/$FA_PROFILE.lock"; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

# check_lock WHAT: the lock file exists and nobody holds it.
check_lock() {
    local f
    if f=$(lock_file) && flock -n "$f" true; then
        _fa_result 0 "$1: the lock is free"
    else
        stuck=$((stuck + 1))
        _fa_result 1 "$1: the lock is free"
        diag "lock file: ${f:-none}"
    fi
}

# timed_token: fa_run fa_token; ELAPSED gets the seconds it took.
timed_token() {
    local s
    s=$(fa_now)
    fa_run fa_token
    ELAPSED=$(awk -v a="$s" -v b="$(fa_now)" 'BEGIN { printf "%.1f", b - a }')
}

# no_wait WHAT: the last timed_token did not sit out a lock wait.
no_wait() {
    if awk -v e="$ELAPSED" -v w="$LOCK_WAIT" 'BEGIN { exit !(e < w) }'; then
        _fa_result 0 "$1: no wait for a lock (${ELAPSED}s)"
    else
        stuck=$((stuck + 1))
        _fa_result 1 "$1: no wait for a lock (${ELAPSED}s, lock wait ${LOCK_WAIT}s)"
    fi
}

# recovered_ok WHAT: the last fa_run refreshed, the token works at the FHIR
# server and the stored refresh token is active at the AS.  Quiet; 0 when
# all holds.
recovered_ok() {
    [ "$FA_RC" -eq 0 ] || { diag "$1: exit $FA_RC: $FA_ERR"; return 1; }
    local code rt
    code=$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")
    [ "$code" = 200 ] || { diag "$1: FHIR answered $code"; return 1; }
    rt=$(fa_key_read refresh) || { diag "$1: no refresh token in the keyring"; return 1; }
    [ "$(fa_introspect "$rt")" = true ] || { diag "$1: the stored refresh token is not active"; return 1; }
    return 0
}

# ended_ok WHAT: the last fa_run is the clean end of a session the AS
# revoked: exit 2, "log in again", no refresh or access token left.
ended_ok() {
    [ "$FA_RC" -eq 2 ] || { diag "$1: exit $FA_RC (expected 2): $FA_ERR"; return 1; }
    printf '%s' "$FA_ERR" | grep -qi 'log in again' || { diag "$1: stderr: $FA_ERR"; return 1; }
    ! fa_key_exists refresh || { diag "$1: a refresh token was left in the keyring"; return 1; }
    ! fa_key_exists access || { diag "$1: an access token was left in the keyring"; return 1; }
    return 0
}

# ---------------------------------------------------------------- part 1: crash points
hooks=
grep -q '^#define FHIRAUTH_TEST_HOOKS 1' "$top_builddir/autoconf.h" 2>/dev/null && hooks="on off"
[ -n "$hooks" ] || skip_na "named crash points" "built without --enable-test-hooks"
for rot in $hooks; do
    fa_start_servers --ttl 2 --rotate "$rot" --timeout "$TIMEOUT" --keyring user
    for point in before-request after-answer between-writes; do
        what="$point, rotation $rot"
        fa_login alice
        [ "$FA_RC" -eq 0 ] || { fa_show; bail "login failed"; }
        t0=$(fa_now)
        r0=$(fa_key_read refresh)
        n0=$(fa_as_count refresh_token ok)
        p0=$(fa_as_count password ok)
        fa_sleep_past "$t0" "$FA_TTL"

        FHIRAUTH_CRASH_AT=$point fa_run fa_token
        kills=$((kills + 1))
        is "$FA_RC" 137 "$what: fhir-token died of SIGKILL" || fa_show
        check_lock "$what"
        r1=$(fa_key_read refresh)
        n1=$(fa_as_count refresh_token ok)
        case $point in
            before-request)
                is "$n1" "$n0" "$what: the AS saw no refresh"
                is "$r1" "$r0" "$what: the stored refresh token is unchanged" ;;
            after-answer)
                is "$n1" "$((n0 + 1))" "$what: the AS answered one refresh"
                is "$r1" "$r0" "$what: nothing was stored" ;;
            between-writes)
                is "$n1" "$((n0 + 1))" "$what: the AS answered one refresh"
                if [ "$rot" = on ]; then
                    isnt "$r1" "$r0" "$what: the new refresh token was stored"
                else
                    is "$r1" "$r0" "$what: the (unrotated) refresh token is stored"
                fi
                nok "$what: the access token was not" fa_key_exists access ;;
        esac

        timed_token
        no_wait "$what"
        if [ "$point" = after-answer ] && [ "$rot" = on ]; then
            # The AS rotated and the successor died with the process (see
            # the top of this file): the clean end of the session.
            ok "$what: exit 2, 'log in again', nothing left in the keyring" ended_ok "$what"
            is "$(fa_introspect "$r0")" false "$what: the AS revoked the grant"
            unlike "$FA_ERR" 'Segmentation|Aborted|core dumped' "$what: no crash"
            # A second call finds the session metadata without a refresh
            # token: the same clean answer, not advice about scopes.
            fa_run fa_token
            ok "$what: a second call: exit 2, 'log in again', nothing left" ended_ok "$what"
            fa_run fa_token status
            ok "$what: status still answers (exit $FA_RC)" test "$FA_RC" -lt 128
            fa_login alice
            is "$FA_RC" 0 "$what: a new login works" || fa_show
            relogin=$((relogin + 1))
        else
            if ok "$what: the next fhir-token refreshes without a login, FHIR 200, refresh token active" \
                recovered_ok "$what"; then
                recovered=$((recovered + 1))
            else
                failures=$((failures + 1))
            fi
            is "$(fa_as_count password ok)" "$p0" "$what: no login happened meanwhile"
        fi
        check_lock "$what, after the next call"
    done
done

# ---------------------------------------------------------------- part 2: random kills

# quiesce: wait until the fault server and the AS are done with whatever
# the killed process left in flight (their logs stop growing).
quiesce() {
    sleep "$(awk -v m="$HOLD_MS" 'BEGIN { printf "%.2f", 2 * m / 1000 + 0.2 }')"
    fa_wait_quiet 0.3
}

random_kills() { # ROTATION COUNT
    local rot=$1 count=$2 i pid rc delay r0 r1 n0 n1 what id
    fa_start_servers --ttl 30 --rotate "$rot" --fault --timeout "$TIMEOUT" --keyring user
    fa_login alice
    [ "$FA_RC" -eq 0 ] || { fa_show; bail "login failed"; }
    for ((i = 1; i <= count; i++)); do
        what="random kill $i, rotation $rot"
        fa_fault_mode pass
        if ! fa_key_exists refresh; then
            fa_login alice
            [ "$FA_RC" -eq 0 ] || { fa_show; bail "login failed"; }
        fi
        # Drop the cached access token: the next call must refresh.
        id=$(fa_key_id access) && keyctl invalidate "$id"
        r0=$(fa_key_read refresh)
        n0=$(fa_as_count refresh_token ok)
        fa_fault_mode slow-pass "$HOLD_MS"
        # Anywhere from before the request to after the answer.
        delay=$(awk -v m="$HOLD_MS" -v r="$RANDOM" 'BEGIN { printf "%.3f", (r / 32767) * (2 * m + 400) / 1000 }')
        "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" >/dev/null 2>"$FA_TMP/killed.err" &
        pid=$!
        sleep "$delay"
        kill -KILL "$pid" 2>/dev/null
        # (braces: the shell's "Killed" notice goes to /dev/null)
        { wait "$pid"; } 2>/dev/null
        rc=$?
        [ "$rc" -eq 137 ] && kills=$((kills + 1))
        quiesce
        fa_fault_mode pass
        check_lock "$what (after ${delay}s, exit $rc)"
        r1=$(fa_key_read refresh)
        n1=$(fa_as_count refresh_token ok)
        timed_token
        no_wait "$what"
        if [ "$rot" = on ] && [ "$rc" -eq 137 ] && [ "$n1" -gt "$n0" ] && [ "$r1" = "$r0" ]; then
            # Killed after the AS rotated, before the successor was stored.
            if ok "$what: the AS rotated before the kill, the session ends cleanly" ended_ok "$what"; then
                relogin=$((relogin + 1))
            else
                failures=$((failures + 1))
            fi
        else
            if ok "$what: the next call refreshes without a login (exit $rc, AS refreshes $((n1 - n0)))" \
                recovered_ok "$what"; then
                recovered=$((recovered + 1))
            else
                failures=$((failures + 1))
            fi
        fi
    done
}

random_kills on "$KILLS_ON"
random_kills off "$KILLS_OFF"

diag "kills landing before the process ended by itself: $kills"
echo "# figures: crash kills=$kills recovered=$recovered relogin=$relogin stuck_locks=$stuck failures=$failures"
done_testing
