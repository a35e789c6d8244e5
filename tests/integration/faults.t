#!/bin/bash
# faults.t - hostile and broken answers: each gives a clear error and the
# right exit status (3: AS unreachable, TLS or server error; 1: config),
# and nothing is lost: the stored refresh token stays, and works once the
# AS answers properly again.
#
# The fault server (tests/servers/src/fault.js) is the issuer the client
# knows: a reverse proxy in front of the real AS whose mode file switches
# it from forwarding ("pass") to one fault or another, so the client's
# configuration and stored session stay the same throughout.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 70

TIMEOUT=2
fa_start_servers --ttl 4 --fault --timeout "$TIMEOUT" --keyring user
dead=$(fa_dead_port)

fa_login alice
is "$FA_RC" 0 "login through the proxy" || fa_show
t0=$(fa_now)
fa_run fa_token
cached=$FA_OUT
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$cached")" 200 "the token works"
r0=$(fa_key_read refresh)
isnt "$r0" "" "a refresh token is stored"

# ---------------------------------------------------------------- cached token, AS failing
# The access token is still valid, though not for --min-valid: the refresh
# fails, and the cached token comes back with a warning.
fa_fault_mode http503
fa_run fa_token --min-valid 3600
is "$FA_RC" 0 "AS failing, cached token still valid: exit 0" || fa_show
is "$FA_OUT" "$cached" "the cached token is returned"
isnt "$FA_ERR" "" "with a warning on stderr"

# From here on the access token has expired.
fa_sleep_past "$t0" "$FA_TTL"

# _case DESCRIPTION EXPECTED_EXIT: run fhir-token, check the exit status
# and that the refresh token is unchanged.  Should a case lose or replace
# the session, a new login (through "pass") keeps the later cases
# meaningful.
_case() {
    local now id
    fa_run fa_token
    is "$FA_RC" "$2" "$1: exit $2" || fa_show
    now=$(fa_key_read refresh)
    if ! is "$now" "$r0" "$1: the refresh token is kept"; then
        local mode
        mode=$(cat "$FA_FAULT_MODE_FILE" 2>/dev/null)
        fa_fault_mode pass
        fa_login alice
        r0=$(fa_key_read refresh)
        id=$(fa_key_id access) && keyctl invalidate "$id"
        fa_fault_mode "$mode"
    fi
    if [ -n "$FA_ERR" ]; then
        diag "$1: ${FA_ERR%%$'\n'*}"
    else
        diag "$1: nothing on stderr"
    fi
}

# ---------------------------------------------------------------- AS down
fa_stop_fault
_case "AS down (connection refused)" 3
like "$FA_ERR" '.+' "AS down: an error message on stderr"
fa_start_fault

# ---------------------------------------------------------------- hostile token endpoint answers
for mode in nonjson truncated array empty no-access-token access-token-number \
    expires-in-string token-type-mac http500 http503 big-cl big-chunked reset close; do
    fa_fault_mode "$mode"
    _case "token endpoint answers '$mode'" 3
done

# Slower than the configured timeout: gives up in time.
fa_fault_mode stall 20
start=$(date +%s)
_case "token endpoint slower than the timeout" 3
elapsed=$(($(date +%s) - start))
ok "gave up after ${elapsed}s (timeout ${TIMEOUT}s)" test "$elapsed" -le $((TIMEOUT + 4))

# Redirects are not followed on token calls (a 307 to the real AS would
# have worked).
for code in 302 307; do
    fa_fault_mode redirect "$code"
    _case "token endpoint redirects ($code)" 3
done
is "$(fa_as_count refresh_token)" 0 "the redirect targets were never reached"

# ---------------------------------------------------------------- TLS
# The proxy forwards as in "pass" but shows a bad certificate: a client
# that accepted it would succeed.
fa_fault_mode tls-wrongname
_case "certificate for another host name" 3
fa_fault_mode tls-otherca
_case "certificate from another CA" 3
is "$(fa_as_count refresh_token)" 0 "no refresh went through a bad certificate"

# ---------------------------------------------------------------- discovery
# A login against an issuer whose discovery document is broken fails, and
# leaves the existing session alone.  (The token endpoints behind these
# documents forward to the real AS: ignoring the fault would succeed.)
fa_fault_mode pass
for mode in issuer-mismatch discovery-nonjson discovery-500 discovery-redirect discovery-big; do
    fa_config issuer "$FA_FAULT/m/$mode"
    fa_login alice
    is "$FA_RC" 3 "login, discovery '$mode': exit 3" || fa_show
    is "$(fa_key_read refresh)" "$r0" "login, discovery '$mode': the stored session is kept"
done
fa_config issuer "$FA_ISSUER"
is "$(fa_as_count password)" 1 "no password grant reached the AS through a broken discovery"

# ---------------------------------------------------------------- configuration error
fa_config no_such_key yes
fa_run fa_token
is "$FA_RC" 1 "unknown configuration key: exit 1" || fa_show
like "$FA_ERR" "pam_fhir\\.conf.*[0-9]" "the message names the file and line"
fa_config no_such_key

# ---------------------------------------------------------------- proxies from the environment
# The CLI honours https_proxy / ALL_PROXY as curl does, unless proxy = none.
noproxy_env=(env -u no_proxy -u NO_PROXY -u http_proxy -u HTTP_PROXY -u https_proxy
    -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)
fa_run "${noproxy_env[@]}" https_proxy="http://127.0.0.1:$dead" \
    "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 3 "https_proxy pointing at a dead port is honoured: exit 3" || fa_show
fa_run "${noproxy_env[@]}" ALL_PROXY="http://127.0.0.1:$dead" \
    "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 3 "ALL_PROXY pointing at a dead port is honoured: exit 3" || fa_show
is "$(fa_key_read refresh)" "$r0" "the refresh token is still kept"
is "$(fa_as_count refresh_token)" 0 "no refresh has reached the AS yet"

# proxy = none: the environment is ignored, and the AS answers again: the
# stored refresh token works.
fa_config proxy none
fa_run "${noproxy_env[@]}" https_proxy="http://127.0.0.1:$dead" ALL_PROXY="http://127.0.0.1:$dead" \
    "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 0 "proxy = none ignores the proxy variables; the AS is back: exit 0" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "the refreshed token works at the FHIR server"
is "$(fa_as_count refresh_token ok)" 1 "exactly one refresh reached the AS"

done_testing
