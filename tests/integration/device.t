#!/bin/bash
# device.t - `fhir-token login --device` (RFC 8628) against the real AS:
# the test plays the user, reading the code from fhir-token's stderr and
# approving (or denying) it at the AS's verification page with curl.
# Approval, denial at the confirmation page and at the login form, code
# expiry, slow_down, the default polling interval, backing off while the
# AS answers 503 (§3.5), a confidential client, and servers without a
# device authorization endpoint.  One set of servers: the fault server
# stands in front of the AS, and the AS's device settings change at run
# time (as.js --device-control) instead of restarting it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 67

DEVICE_GRANT='urn:ietf:params:oauth:grant-type:device_code'

# dev_start: `fhir-token login --device` in the background (no terminal,
# no display), stdout and stderr in files; DEV_PID.  The locale is the
# test's, not the caller's: DEV_LOCALE (default C.UTF-8, which glibc
# always has).
DEV_LOCALE=C.UTF-8
dev_start() {
    : >"$FA_TMP/dev.out"
    : >"$FA_TMP/dev.err"
    env -u DISPLAY -u WAYLAND_DISPLAY -u LANG -u LC_CTYPE LC_ALL="$DEV_LOCALE" \
        "$FA_TOKEN_BIN" --config "$FA_CONF" \
        --profile "$FA_PROFILE" login --device \
        >"$FA_TMP/dev.out" 2>"$FA_TMP/dev.err" </dev/null &
    DEV_PID=$!
}

# dev_code: wait (at most 15 s) for the user code on stderr; DEV_CODE.
dev_code() {
    local i
    DEV_CODE=
    for ((i = 0; i < 150; i++)); do
        DEV_CODE=$(sed -n 's/^and enter the code \(.*\)$/\1/p' "$FA_TMP/dev.err")
        [ -n "$DEV_CODE" ] && return 0
        kill -0 "$DEV_PID" 2>/dev/null || break
        sleep 0.1
    done
    diag "no user code; stderr: $(cat "$FA_TMP/dev.err")"
    return 1
}

# dev_wait [SECONDS]: wait for fhir-token (killed after SECONDS, default
# 20); DEV_RC, DEV_ERR, DEV_SECS (how long the wait took, rounded).
dev_wait() {
    local limit=${1:-20} t0 i
    t0=$(fa_now)
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$DEV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$DEV_PID" 2>/dev/null; then
        diag "fhir-token login --device still running after ${limit}s: killed"
        kill "$DEV_PID" 2>/dev/null
    fi
    wait "$DEV_PID"
    DEV_RC=$?
    DEV_ERR=$(cat "$FA_TMP/dev.err")
    DEV_SECS=$(awk -v a="$t0" -v b="$(fa_now)" 'BEGIN { printf "%d", b - a + 0.5 }')
}

# dev_login_device: fhir-token login --device in the foreground, via fa_run.
dev_login_device() {
    fa_run env -u DISPLAY -u WAYLAND_DISPLAY "$FA_TOKEN_BIN" --config "$FA_CONF" \
        --profile "$FA_PROFILE" login --device
}

# as_log_mark: the AS log's line count, for as_polls.
as_log_mark() {
    wc -l <"$FA_AS_LOG"
}

# as_polls [MARK]: timestamps of device code polls in the AS log after
# line MARK, one a line.
as_polls() {
    tail -n +"$((${1:-0} + 1))" "$FA_AS_LOG" | grep -F '"event":"token"' |
        grep -F "\"grant_type\":\"$DEVICE_GRANT\"" | sed -n 's/.*"ts":\([0-9.]*\).*/\1/p'
}

# min_gap: the smallest gap between consecutive numbers on stdin, one a
# line (999 for fewer than two).
min_gap() {
    awk 'NR > 1 { g = $1 - p; if (m == "" || g < m) m = g } { p = $1 }
         END { if (m == "") m = 999; printf "%.2f\n", m }'
}

# at_least A B: A >= B (decimals)
at_least() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# wait_fault_log TEXT: wait (at most 10 s) for TEXT in the fault log.
wait_fault_log() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -qF -- "$1" "$FA_FAULT_LOG" && return 0
        sleep 0.1
    done
    return 1
}

export FA_AS_DEVICE_CONTROL=on FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 30 --keyring user --fault

# ---------------------------------------------------------------- approve (public client)
dev_start
ok "fhir-token shows a user code" dev_code
like "$(cat "$FA_TMP/dev.err")" "^To log in, open https://127\\.0\\.0\\.1:$FA_FAULT_PORT/device\$" \
    "it shows the verification URI"
like "$(cat "$FA_TMP/dev.err")" "user_code=$DEV_CODE" "and the complete URI with the code"
like "$DEV_CODE" '^[A-Z]{4}-[A-Z]{4}$' "the user code has the AS's form"
is "$(fa_as_events device_authorization '"client_id":"fhir-cli","ok":true')" 1 \
    "the AS saw one device authorization"
ok "the test approves the code at the AS as alice" fa_device_approve "$DEV_CODE" alice
dev_wait
is "$DEV_RC" 0 "login --device: exit 0" || diag "$DEV_ERR"
like "$DEV_ERR" 'logged in' "it says so"
is "$(cat "$FA_TMP/dev.out")" "" "nothing on stdout"
is "$(fa_as_count "$DEVICE_GRANT" ok)" 1 "one successful device code grant"

ok "the refresh token is in the keyring" fa_key_exists refresh
rt=$(fa_key_read refresh)
fa_run fa_token status
is "$FA_RC" 0 "status: exit 0" || fa_show
like "$FA_OUT" "127\\.0\\.0\\.1:$FA_FAULT_PORT" "status names the issuer"
fa_run fa_token
is "$FA_RC" 0 "token: exit 0" || fa_show
at=$FA_OUT
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at")" 200 "the FHIR server accepts the token"
is "$(fa_as_count refresh_token)" 0 "no refresh was needed"
is "$(fa_introspect "$rt")" true "the refresh token is active at the AS"
unlike "$DEV_ERR$FA_OUT$FA_ERR" "$rt" "the refresh token is never printed"
unlike "$DEV_ERR" "$at|device_code" "stderr shows neither token nor device code"
# U+2588 FULL BLOCK in UTF-8, written as bytes: $'\u2588' is a block only
# when the shell itself runs in a UTF-8 locale.
BLOCK=$'\xe2\x96\x88'
unlike "$DEV_ERR" "$BLOCK|####" "qr = auto without a terminal: no QR code"

# wait_qr PATTERN: the QR code follows the user code on stderr (slow under
# valgrind).
wait_qr() {
    local i
    for ((i = 0; i < 150; i++)); do
        grep -qE "$1" "$FA_TMP/dev.err" && return 0
        sleep 0.1
    done
    return 1
}

# A second device login replaces the session and revokes its refresh token.
fa_config qr on
dev_start
dev_code
wait_qr "$BLOCK"
like "$(cat "$FA_TMP/dev.err")" "$BLOCK$BLOCK$BLOCK" "qr = on, UTF-8 locale: a QR code of block characters on stderr"
fa_config qr
fa_device_approve "$DEV_CODE" bob
dev_wait
is "$DEV_RC" 0 "a second device login (bob): exit 0" || diag "$DEV_ERR"
isnt "$(fa_key_read refresh)" "$rt" "a new refresh token"
is "$(fa_introspect "$rt")" false "the replaced session's refresh token was revoked"

# The AS fails while the user approves: poll less often, go on (§3.5).
dev_start
dev_code
fa_fault_mode http503
ok "the AS answers a poll with 503" wait_fault_log '"mode":"http503"'
FA_ISSUER=$FA_AS_URL fa_device_approve "$DEV_CODE" alice
fa_fault_mode pass
dev_wait
is "$DEV_RC" 0 "503 while polling, then approved: exit 0" || diag "$DEV_ERR"
gap=$(grep -F '"path":"/token"' "$FA_FAULT_LOG" | tail -2 |
    sed -n 's/.*"ts":\([0-9.]*\).*/\1/p' | min_gap)
ok "the poll after the 503 waited twice the interval (gap ${gap}s)" at_least "$gap" 1.9

# ---------------------------------------------------------------- denied at the AS
# (The first with qr = on in the C locale: a terminal without UTF-8 gets
# the code drawn in ASCII.)
fa_config qr on
DEV_LOCALE=C dev_start
dev_code
wait_qr '######'
err=$(cat "$FA_TMP/dev.err")
like "$err" '^(##){20,}$' "qr = on, C locale: a QR code drawn with '#' on stderr"
unlike "$err" "$BLOCK|"$'\xe2\x96\x80|\xe2\x96\x84' "qr = on, C locale: no block characters"
fa_config qr
ok "the user aborts at the AS's confirmation page" fa_device_deny_confirm "$DEV_CODE"
dev_wait
is "$DEV_RC" 2 "denied: exit 2" || diag "$DEV_ERR"
like "$DEV_ERR" 'denied' "stderr says the login was denied"
like "$DEV_ERR" 'access_denied' "with the AS's error code"
is "$(fa_as_events token '"error":"access_denied"')" 1 "the AS answered access_denied once"

dev_start
dev_code
ok "the user gives up at the AS's login form" fa_device_deny_login "$DEV_CODE"
dev_wait
is "$DEV_RC" 2 "aborted at the login form: exit 2" || diag "$DEV_ERR"
like "$DEV_ERR" 'denied' "stderr says the login was denied"
nok "a denied code stays denied" fa_device_approve "$DEV_CODE" alice
rt=$(fa_key_read refresh)
isnt "$rt" "" "the earlier session is still there"

# ---------------------------------------------------------------- no device endpoint
# A profile with only a token endpoint (no discovery): no device flow.
fa_config issuer
fa_config token_endpoint "$FA_AS_URL/token"
dev_login_device
is "$FA_RC" 1 "token_endpoint-only profile: login --device exits 1" || fa_show
like "$FA_ERR" 'offers no device authorization endpoint' "and says why"
# ... unless the device endpoint is configured too.  (No openid scope:
# without an issuer there is nothing to check an id_token against.)
fa_config device_authorization_endpoint "$FA_AS_URL/device/auth"
fa_config scope "offline_access patient/*.read"
dev_start
ok "configured device endpoint: a user code" dev_code
FA_ISSUER=$FA_AS_URL fa_device_approve "$DEV_CODE" alice
dev_wait
is "$DEV_RC" 0 "configured endpoints without discovery: exit 0" || diag "$DEV_ERR"
fa_config device_authorization_endpoint
fa_config token_endpoint
fa_config scope "openid offline_access patient/*.read"
fa_config issuer "$FA_ISSUER"

# An AS whose discovery document names no device endpoint.
fa_as_device advertise=off
fa_run fa_curl "$FA_ISSUER/.well-known/openid-configuration"
unlike "$FA_OUT" 'device_authorization_endpoint' "the discovery document names no device endpoint"
n=$(fa_as_events device_authorization)
dev_login_device
is "$FA_RC" 1 "login --device exits 1" || fa_show
like "$FA_ERR" 'offers no device authorization endpoint' "and says why"
is "$(fa_as_events device_authorization)" "$n" "nothing was sent to a device endpoint"
fa_as_device advertise=on

# ---------------------------------------------------------------- expiry
rt=$(fa_key_read refresh)
# 5 s: room for two polls 1 s apart even when a loaded machine is slow to
# start the flow.
fa_as_device ttl=5
mark=$(as_log_mark)
dev_start
ok "a user code valid for 5 s" dev_code
dev_wait
is "$DEV_RC" 2 "never approved: exit 2" || diag "$DEV_ERR"
like "$DEV_ERR" 'expired' "stderr says the code expired"
ok "it gave up within the code's lifetime and a poll (${DEV_SECS}s)" test "$DEV_SECS" -le 9
ok "it polled while waiting" test "$(as_polls "$mark" | wc -l)" -ge 2
is "$(fa_as_events token '"error":"slow_down"')" 0 "no poll came sooner than the interval"
gap=$(as_polls "$mark" | min_gap)
ok "polls at least the interval apart (min gap ${gap}s)" at_least "$gap" 0.9
is "$(fa_key_read refresh)" "$rt" "the session from before is untouched"
nok "an expired code cannot be approved" fa_device_approve "$DEV_CODE" alice

# The AS fails until the code expires: "unreachable" (exit 3), not "denied".
dev_start
dev_code
fa_fault_mode http503
dev_wait
fa_fault_mode pass
is "$DEV_RC" 3 "503 until the code expired: exit 3" || diag "$DEV_ERR"
like "$DEV_ERR" 'could not be reached.*503' "stderr says the server could not be reached"
fa_as_device ttl=600

# ---------------------------------------------------------------- slow_down (client_secret_basic)
printf 'conf-secret\n' >"$FA_TMP/fhir-conf.secret"
chmod 600 "$FA_TMP/fhir-conf.secret"
fa_config client_id fhir-conf
fa_config client_secret_file "$FA_TMP/fhir-conf.secret"
fa_as_device slow_down=1
mark=$(as_log_mark)
dev_start
ok "confidential client: a user code" dev_code
is "$(fa_as_events device_authorization '"client_id":"fhir-conf","ok":true')" 1 \
    "the AS authenticated the client (client_secret_basic) at the device endpoint"
fa_device_approve "$DEV_CODE" alice
dev_wait 25
is "$DEV_RC" 0 "slow_down, then approved: exit 0" || diag "$DEV_ERR"
is "$(fa_as_events token '"error":"slow_down"')" 1 "exactly one slow_down (the client slowed down)"
gap=$(as_polls "$mark" | min_gap)
ok "the poll after slow_down came 5 s later (gap ${gap}s)" at_least "$gap" 5.5
is "$(fa_as_events token "\"client_id\":\"fhir-conf\",\"ok\":true")" 1 \
    "the confidential client got its tokens"
fa_run fa_token
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "the FHIR server accepts the token"
fa_as_device slow_down=0
fa_config client_secret_file
fa_config client_id fhir-cli

# ---------------------------------------------------------------- default interval
# No "interval" in the answer: RFC 8628 §3.2's 5 seconds.
fa_as_device interval=
mark=$(as_log_mark)
dev_start
dev_code
fa_device_approve "$DEV_CODE" alice
dev_wait
is "$DEV_RC" 0 "without an interval: exit 0" || diag "$DEV_ERR"
first=$(as_polls "$mark" | head -1)
auth=$(tail -n +"$((mark + 1))" "$FA_AS_LOG" | grep -F '"event":"device_authorization"' |
    sed -n 's/.*"ts":\([0-9.]*\).*/\1/p' | head -1)
ok "the first poll came 5 s after the authorization" \
    awk -v a="$auth" -v f="$first" 'BEGIN { exit !(a != "" && f - a >= 4.8) }'

done_testing
