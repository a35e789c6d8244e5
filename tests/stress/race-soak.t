#!/bin/bash
# race-soak.t - the refresh race, again and again.  One password login with
# refresh token rotation on and a short access token lifetime; then, each
# round, once the cached access token has expired, 64 token requests at the
# same instant: fhir-token processes and library threads (race-driver, one
# handle per thread), all held at one FIFO and released together.  After
# every round:
#   - every request got a token, and every distinct token returned is
#     accepted by the FHIR server (and it is the one cached in the keyring);
#   - the AS saw exactly one refresh grant for this expiry, and it succeeded;
#   - the refresh token in the keyring is a new one, active at the AS, and
#     the previous round's is no longer active (rotation, nothing lost).
# Then several sessions (profiles) expire together and one process's
# threads, shared out among them, refresh them all at once: each session
# refreshed exactly once, its threads given its one new token, and every
# session's refresh token rotated.
#
# Rounds: 3 (make check), 50 with FA_STRESS_LONG=1, FA_STRESS_ROUNDS=N
# overrides both; the sessions part runs one round per five (at least
# one).  FA_RACE_PROCESSES and FA_RACE_THREADS (default 48 and 16) split
# the requests, FA_RACE_SESSIONS (default 4) sets the sessions, 8 threads
# each.  Ends with a "# figures: race-soak ..." line
# (tests/stress/README.md).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

if [ -n "${FA_STRESS_ROUNDS:-}" ]; then
    ROUNDS=$FA_STRESS_ROUNDS
elif [ "${FA_STRESS_LONG:-}" = 1 ]; then
    ROUNDS=50
else
    ROUNDS=3
fi
PROCS=${FA_RACE_PROCESSES:-48}
THREADS=${FA_RACE_THREADS:-16}
case "$ROUNDS$PROCS$THREADS" in
    *[!0-9]*) bail "FA_STRESS_ROUNDS, FA_RACE_PROCESSES, FA_RACE_THREADS must be numbers" ;;
esac
N=$((PROCS + THREADS))
# The access token lives TTL seconds and is refreshed when less than
# MIN_VALID are left: a round's requests have TTL - MIN_VALID seconds to
# finish before a second refresh would be right, ample on a loaded machine.
TTL=6
MIN_VALID=1
# Bounds, generous: a hung request must fail the round, not the suite.
GATE_WAIT=60    # seconds for all requesters to reach the gate
RUN_WAIT=120    # seconds for all of them to finish once released

DRIVER=$top_builddir/tests/stress/race-driver
[ -x "$DRIVER" ] || bail "$DRIVER is missing: build it first (make check builds it)"

fa_start_servers --ttl "$TTL" --min-valid "$MIN_VALID" --rotate on --keyring persistent

TOKEN_BIN=$FA_TOKEN_BIN

fa_login alice
is "$FA_RC" 0 "password login" || { fa_show; bail "no session to race on"; }
fa_run fa_token
is "$FA_RC" 0 "a first token from the login" || fa_show
prev_refresh=$(fa_key_read refresh)
isnt "$prev_refresh" "" "the keyring holds the login's refresh token"

# The expiry (epoch seconds) of the access token cached in the keyring, or
# nothing when none is.
access_expiry() {
    fa_key_read access 2>/dev/null | cut -d' ' -f1
}

# is_gated PID: the process sits in open() of the FIFO, waiting for a
# writer (the kernel's wait channel for that is wait_for_partner).
is_gated() {
    [ "$(cat "/proc/$1/wchan" 2>/dev/null)" = wait_for_partner ]
}

# Can this kernel show that? (/proc/PID/wchan may read "0" where kernel
# symbols are hidden.)  If not, the requesters get a fixed time to reach
# the gate instead.
mkfifo "$FA_TMP/probe" || bail "mkfifo failed"
{ : <"$FA_TMP/probe"; } &
probe=$!
wchan=0
for ((i = 0; i < 100; i++)); do
    is_gated "$probe" && { wchan=1; break; }
    sleep 0.05
done
exec 9<>"$FA_TMP/probe"
wait "$probe"
exec 9>&-
[ "$wchan" -eq 1 ] || diag "no wait channel in /proc: giving the requesters 3s to reach the gate"

total_requests=0
total_refreshes=0
failed_requests=0
failed_rounds=0
max_burst=0

for ((round = 1; round <= ROUNDS; round++)); do
    R="round $round"
    round_ok=1

    # Wait until the cached access token has expired for the client.
    exp=$(access_expiry)
    [ -n "$exp" ] && fa_sleep_past "$exp"
    refresh_before=$(fa_as_count refresh_token)
    refresh_ok_before=$(fa_as_count refresh_token ok)

    dir=$FA_TMP/round
    rm -rf "$dir"
    mkdir "$dir"
    gate=$dir/gate
    mkfifo "$gate" || bail "mkfifo failed"

    # Everybody blocks in open() of the FIFO until it has a writer.
    pids=()
    for ((i = 0; i < PROCS; i++)); do
        {
            : <"$gate"
            exec "$TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
        } >"$dir/p$i.out" 2>"$dir/p$i.err" &
        pids+=($!)
    done
    "$DRIVER" --config "$FA_CONF" --profile "$FA_PROFILE" --threads "$THREADS" \
        --gate "$gate" >"$dir/driver.out" 2>"$dir/driver.err" &
    driver_pid=$!
    pids+=("$driver_pid")

    gated=0
    deadline=$((SECONDS + GATE_WAIT))
    [ "$wchan" -eq 1 ] || { sleep 3; deadline=0; }
    while [ "$SECONDS" -lt "$deadline" ]; do
        gated=0
        gone=0
        for p in "${pids[@]}"; do
            if is_gated "$p"; then
                gated=$((gated + 1))
            elif ! kill -0 "$p" 2>/dev/null; then
                gone=$((gone + 1))   # failed before the gate: it never comes
            fi
        done
        [ $((gated + gone)) -eq "${#pids[@]}" ] && break
        sleep 0.05
    done
    [ "$gated" -eq "${#pids[@]}" ] || [ "$wchan" -eq 0 ] ||
        diag "$R: only $gated of ${#pids[@]} requesters were at the gate after ${GATE_WAIT}s"

    # Release: opening the FIFO for writing (O_RDWR does not block) wakes
    # every reader at once.  It stays open so that none can block again.
    t_go=$(fa_now)
    exec 9<>"$gate"
    deadline=$((SECONDS + RUN_WAIT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        alive=0
        for p in "${pids[@]}"; do
            kill -0 "$p" 2>/dev/null && { alive=1; break; }
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.05
    done
    t_done=$(fa_now)
    for p in "${pids[@]}"; do
        kill -0 "$p" 2>/dev/null && { diag "$R: pid $p still running after ${RUN_WAIT}s: killed"; kill -KILL "$p"; }
    done
    statuses=()
    for p in "${pids[@]}"; do
        wait "$p"
        statuses+=($?)
    done
    exec 9>&-
    burst=$(awk -v a="$t_go" -v b="$t_done" 'BEGIN { printf "%.2f", b - a }')
    max_burst=$(awk -v a="$max_burst" -v b="$burst" 'BEGIN { print (b > a) ? b : a }')

    # First, while the new token is young (it lives TTL seconds, and on a
    # loaded machine the bookkeeping below takes seconds): every distinct
    # token handed out goes to the FHIR server, and the keyring's cached
    # one is read.  The counts are checked below, in their place.
    { cat "$dir"/p*.out; sed -n 's/^thread [0-9][0-9]* OK \(..*\)$/\1/p' "$dir/driver.out"; } |
        sed '/^$/d' | sort -u >"$dir/distinct"
    cached=$(fa_key_read access 2>/dev/null | cut -d' ' -f2-)
    : >"$dir/rejected"
    while IFS= read -r tok; do
        code=$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")
        if [ "$code" != 200 ]; then
            printf '%s\n' "$tok" >>"$dir/rejected"
            diag "$R: the FHIR server answered $code to a token"
        fi
    done <"$dir/distinct"

    # Every request's answer: one token per line in tokens, failures counted.
    : >"$dir/tokens"
    got=0
    bad=0
    for ((i = 0; i < PROCS; i++)); do
        tok=$(cat "$dir/p$i.out")
        if [ "${statuses[$i]}" -eq 0 ] && [ -n "$tok" ] && [ "$(printf '%s\n' "$tok" | wc -l)" -eq 1 ]; then
            printf '%s\n' "$tok" >>"$dir/tokens"
            got=$((got + 1))
        else
            bad=$((bad + 1))
            [ "$bad" -le 5 ] && diag "$R: process $i: exit ${statuses[$i]}: $(head -c 300 "$dir/p$i.err")"
        fi
    done
    driver_rc=${statuses[$PROCS]}
    sed -n 's/^thread [0-9][0-9]* OK \(..*\)$/\1/p' "$dir/driver.out" >>"$dir/tokens"
    t_ok=$(grep -c '^thread [0-9][0-9]* OK ..*$' "$dir/driver.out")
    got=$((got + t_ok))
    bad=$((bad + THREADS - t_ok))
    if [ "$t_ok" -ne "$THREADS" ] || [ "$driver_rc" -ne 0 ]; then
        diag "$R: race-driver exit $driver_rc, $t_ok of $THREADS threads got a token" \
            "$(grep '^thread [0-9]* ERR' "$dir/driver.out" | head -5)" "$(head -c 300 "$dir/driver.err")"
    fi
    total_requests=$((total_requests + N))
    is "$got/$driver_rc" "$N/0" \
        "$R: all $N requests ($PROCS processes, $THREADS threads) got a token (tokens/driver exit)" ||
        round_ok=0

    # Every distinct token is accepted by the FHIR server, and the keyring
    # caches the one they were given (both asked above).
    distinct=$(wc -l <"$dir/distinct")
    rejected=$(wc -l <"$dir/rejected")
    while IFS= read -r tok; do
        failed_requests=$((failed_requests + $(grep -cxF -- "$tok" "$dir/tokens")))
    done <"$dir/rejected"
    in_cache=0
    [ -n "$cached" ] && grep -qxF -- "$cached" "$dir/distinct" && in_cache=1
    is "$rejected/$distinct/$in_cache" "0/1/1" \
        "$R: one token for all, accepted by the FHIR server, the one in the keyring (rejected/distinct/cached)" ||
        round_ok=0
    failed_requests=$((failed_requests + bad))

    # Exactly one refresh for this expiry.
    refreshes=$(($(fa_as_count refresh_token) - refresh_before))
    refreshes_ok=$(($(fa_as_count refresh_token ok) - refresh_ok_before))
    total_refreshes=$((total_refreshes + refreshes))
    is "$refreshes/$refreshes_ok" "1/1" "$R: the AS saw exactly one refresh grant, a successful one (all/ok)" ||
        round_ok=0

    # Rotation: a new refresh token, live at the AS; the old one is spent.
    cur_refresh=$(fa_key_read refresh)
    live=$(fa_introspect "$cur_refresh")
    spent=$(fa_introspect "$prev_refresh")
    new=0
    [ -n "$cur_refresh" ] && [ "$cur_refresh" != "$prev_refresh" ] && new=1
    is "$new/$live/$spent" "1/true/false" \
        "$R: the keyring's refresh token is new and active, the previous one inactive (new/active/previous)" ||
        round_ok=0
    prev_refresh=$cur_refresh

    at_gate="$gated of ${#pids[@]}"
    [ "$wchan" -eq 1 ] || at_gate="(not observable)"
    diag "$R: $at_gate requesters at the gate ($PROCS processes, a driver of $THREADS threads)," \
        "  all answered ${burst}s after the release, $distinct distinct token(s), $refreshes refresh(es)"
    [ "$round_ok" -eq 1 ] || failed_rounds=$((failed_rounds + 1))
    if [ -z "$cur_refresh" ] || [ "$live" != true ]; then
        diag "the session is lost: no point in further rounds"
        break
    fi
done

main_rounds=$((round > ROUNDS ? ROUNDS : round))

# ---------------------------------------------------------------- several sessions, one process
# Above, one thread refreshes and the others find its token.  Here
# SESSIONS sessions (profiles of one user) expire together and one
# process's threads, shared out among them, refresh them all at once: the
# network half is loaded and used by several threads together.
SESSIONS=${FA_RACE_SESSIONS:-4}
PAR_THREADS=$((SESSIONS * 8))
PAR_ROUNDS=$((ROUNDS <= 3 ? 1 : ROUNDS / 5))
par_conf=$FA_TMP/sessions.conf
par_profiles=()
for ((k = 0; k < SESSIONS; k++)); do
    par_profiles+=("$FA_PROFILE-s$k")
done
plist=$(IFS=,; printf '%s' "${par_profiles[*]}")
# shellcheck disable=SC2317  # run by the EXIT trap
_race_cleanup() {
    local rc=$? p
    for p in "${par_profiles[@]}"; do
        fa_clear_keys "$p"
    done
    (exit "$rc")
    _fa_cleanup
}
trap _race_cleanup EXIT

# The test profile's settings under each name.
body=$(sed -n '/^\[profile /,$p' "$FA_CONF" | tail -n +2)
for p in "${par_profiles[@]}"; do
    printf '[profile %s]\n%s\n\n' "$p" "$body"
done >"$par_conf"
logins=0
par_prev=()
for p in "${par_profiles[@]}"; do
    printf 'alice-secret\n' | "$FA_TOKEN_BIN" --config "$par_conf" --profile "$p" \
        login --password --username alice --password-stdin >/dev/null 2>"$FA_TMP/login.err" &&
        logins=$((logins + 1))
    par_prev+=("$(fa_key_read refresh "$p")")
done
is "$logins" "$SESSIONS" "$SESSIONS more sessions (profiles), one login each" ||
    diag "$(cat "$FA_TMP/login.err")"

par_failed_rounds=0
for ((round = 1; round <= PAR_ROUNDS; round++)); do
    R="sessions round $round"
    round_ok=1
    latest=0
    for p in "${par_profiles[@]}"; do
        exp=$(fa_key_read access "$p" 2>/dev/null | cut -d' ' -f1)
        [ -n "$exp" ] && [ "$exp" -gt "$latest" ] && latest=$exp
    done
    fa_sleep_past "$latest"
    refresh_before=$(fa_as_count refresh_token)
    refresh_ok_before=$(fa_as_count refresh_token ok)

    timeout -k 5 "$RUN_WAIT" "$DRIVER" --config "$par_conf" --profile "$plist" \
        --threads "$PAR_THREADS" >"$FA_TMP/par.out" 2>"$FA_TMP/par.err"
    driver_rc=$?
    got=$(grep -c '^thread [0-9][0-9]* OK ..*$' "$FA_TMP/par.out")
    total_requests=$((total_requests + PAR_THREADS))
    failed_requests=$((failed_requests + PAR_THREADS - got))
    is "$got/$driver_rc" "$PAR_THREADS/0" \
        "$R: all $PAR_THREADS threads ($SESSIONS sessions) got a token (tokens/driver exit)" || {
        round_ok=0
        diag "race-driver exit $driver_rc" "$(grep '^thread [0-9]* ERR' "$FA_TMP/par.out" | head -5)" \
            "$(head -c 300 "$FA_TMP/par.err")"
    }

    # Per session: its threads got one token, the one its keyring entry
    # caches, and the FHIR server accepts it.
    good=0
    for k in "${!par_profiles[@]}"; do
        awk -v k="$k" -v n="$SESSIONS" '$1 == "thread" && $3 == "OK" && $2 % n == k { print $4 }' \
            "$FA_TMP/par.out" | sort -u >"$FA_TMP/par.distinct"
        tok=$(head -n 1 "$FA_TMP/par.distinct")
        cached=$(fa_key_read access "${par_profiles[$k]}" 2>/dev/null | cut -d' ' -f2-)
        if [ "$(wc -l <"$FA_TMP/par.distinct")" -eq 1 ] && [ "$tok" = "$cached" ] &&
            [ "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" = 200 ]; then
            good=$((good + 1))
        else
            failed_requests=$((failed_requests + PAR_THREADS / SESSIONS))
            diag "$R: session $k: $(wc -l <"$FA_TMP/par.distinct") distinct token(s), cached one among them: $([ "$tok" = "$cached" ] && echo yes || echo no)"
        fi
    done
    is "$good" "$SESSIONS" "$R: each session's threads got one token, the cached one, accepted by the FHIR server" ||
        round_ok=0

    refreshes=$(($(fa_as_count refresh_token) - refresh_before))
    refreshes_ok=$(($(fa_as_count refresh_token ok) - refresh_ok_before))
    total_refreshes=$((total_refreshes + refreshes))
    is "$refreshes/$refreshes_ok" "$SESSIONS/$SESSIONS" "$R: the AS saw one refresh per session, all successful (all/ok)" ||
        round_ok=0

    rotated=0
    for k in "${!par_profiles[@]}"; do
        cur=$(fa_key_read refresh "${par_profiles[$k]}")
        if [ -n "$cur" ] && [ "$cur" != "${par_prev[$k]}" ] && [ "$(fa_introspect "$cur")" = true ] &&
            [ "$(fa_introspect "${par_prev[$k]}")" = false ]; then
            rotated=$((rotated + 1))
        fi
        par_prev[k]=$cur
    done
    is "$rotated" "$SESSIONS" "$R: every session's refresh token is new and active, its previous one inactive" ||
        round_ok=0
    [ "$round_ok" -eq 1 ] || par_failed_rounds=$((par_failed_rounds + 1))
done
failed_rounds=$((failed_rounds + par_failed_rounds))

is "$failed_rounds" 0 "every round kept the invariants"
printf '# figures: race-soak rounds=%d requests=%d refreshes=%d failures=%d processes=%d threads=%d max_burst_s=%s session_rounds=%d sessions=%d\n' \
    "$main_rounds" "$total_requests" "$total_refreshes" \
    "$((failed_requests + failed_rounds))" "$PROCS" "$THREADS" "$max_burst" "$PAR_ROUNDS" "$SESSIONS"

done_testing
