#!/bin/bash
# curl-api.t - the libcurl prepare / should-retry pair (fhirauth-curl.h)
# through examples/fhir-get against the real FHIR server: an access token
# revoked at the AS behind the program's back gets one 401, one refresh and
# one retry that succeeds; 16 threads (each with its own handles) and 16
# processes hitting the 401 together cause exactly one refresh; a 401
# without any challenge is retried as well, one with only a Basic
# challenge is not; a 403 insufficient_scope and an ended session are not
# retried.
#
# The access tokens live 60 s, so only a revocation makes one bad.
# Revoking an access token at oidc-provider destroys that token alone (its
# revocation action revokes the whole grant only for a refresh token), so
# the refresh token stays good; the test checks that too.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

N=16
plan 53

GET_BIN=$top_builddir/examples/fhir-get
[ -x "$GET_BIN" ] || bail "$GET_BIN is missing: make check builds it"

# fhir_get ARGS...: the example with this test's configuration and CA.
fhir_get() {
    "$GET_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --cacert "$FA_CA" "$@"
}

# fhir_count STATUS: requests the FHIR server answered with STATUS.
fhir_count() {
    local n
    n=$(grep -cF "\"status\":$1," "$FA_FHIR_LOG")
    echo $((n + 0))
}

# cached_token: the access token in the keyring (fhir-token, no refresh).
cached_token() {
    fa_token --min-valid 1
}

# ---------------------------------------------------------------- the header and the library
lib=$top_builddir/lib/.libs/libfhirauth.so
unlike "$(readelf -d "$lib" | grep NEEDED)" 'libcurl' "libfhirauth still does not link libcurl"
like "$(nm -D --defined-only "$lib")" ' T fhirauth_bearer_challenge_retry(@@FHIRAUTH_[0-9.]+)?$' \
    "libfhirauth exports fhirauth_bearer_challenge_retry"
unlike "$(nm -D --defined-only "$lib")" 'fhirauth_curl_' \
    "the fhirauth-curl.h helpers are not in the library (compiled into callers)"

# The installed header on its own, as a program would include it.
printf '#include <fhirauth-curl.h>\nint main(void) { fhirauth_curl_state st = FHIRAUTH_CURL_STATE_INIT; fhirauth_curl_state_free(&st); return 0; }\n' \
    >"${TMPDIR:-/tmp}/fa-curl-api-$$.c"
ok "fhirauth-curl.h compiles alone as strict C11, warning-free" \
    "${CC:-cc}" -std=c11 -pedantic -Wall -Wextra -Wshadow -Wcast-qual -Wundef \
    -Wmissing-prototypes -Wstrict-prototypes -Werror -fsyntax-only \
    -I"$top_srcdir/include" "${TMPDIR:-/tmp}/fa-curl-api-$$.c"
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    cp "${TMPDIR:-/tmp}/fa-curl-api-$$.c" "${TMPDIR:-/tmp}/fa-curl-api-$$.cc"
    ok "fhirauth-curl.h compiles as C++, warning-free" \
        "${CXX:-c++}" -Wall -Wextra -Werror -fsyntax-only -I"$top_srcdir/include" \
        "${TMPDIR:-/tmp}/fa-curl-api-$$.cc"
    rm -f "${TMPDIR:-/tmp}/fa-curl-api-$$.cc"
else
    skip "fhirauth-curl.h compiles as C++" "no C++ compiler"
fi
rm -f "${TMPDIR:-/tmp}/fa-curl-api-$$.c"

# ---------------------------------------------------------------- one program
fa_start_servers --ttl 60 --keyring user
fa_login alice
is "$FA_RC" 0 "password login" || fa_show
URL=$FA_FHIR/Patient/example

fa_run fhir_get "$URL"
is "$FA_RC" 0 "fhir-get with the cached token: exit 0" || fa_show
is "$FA_ERR" "fhir-get: HTTP 200, retries 0" "HTTP 200 without a retry"
like "$FA_OUT" '"resourceType":"Patient"' "the body is the Patient"
is "$(fa_as_count refresh_token)" 0 "no refresh"

fa_run cached_token
t1=$FA_OUT
is "$(fa_revoke "$t1")" 200 "the cached access token is revoked at the AS"
is "$(fa_introspect "$t1")" false "it is inactive now"
is "$(fa_introspect "$(fa_key_read refresh)")" true \
    "the refresh token is still active (revoking an access token ends only that token)"

n401=$(fhir_count 401)
fa_run fhir_get "$URL"
is "$FA_RC" 0 "fhir-get with the revoked token: exit 0" || fa_show
is "$FA_ERR" "fhir-get: HTTP 200, retries 1" "HTTP 200 after one retry"
like "$FA_OUT" '"resourceType":"Patient"' "the body is the Patient"
unlike "$FA_OUT" 'OperationOutcome' "nothing of the rejected answer is in the body"
is "$(($(fhir_count 401) - n401))" 1 "the FHIR server answered 401 once"
like "$(grep -F '"status":401,' "$FA_FHIR_LOG" | tail -1)" '"auth":"inactive"' "because the token was inactive"
is "$(fa_as_count refresh_token)" 1 "the AS saw exactly one refresh"
is "$(fa_as_count refresh_token ok)" 1 "and it succeeded"
fa_run cached_token
t2=$FA_OUT
isnt "$t2" "$t1" "the keyring holds a new access token"

fa_run fhir_get "$URL"
is "$FA_ERR" "fhir-get: HTTP 200, retries 0" "the next run uses the new token without a retry"
is "$(fa_as_count refresh_token)" 1 "still one refresh"

# ---------------------------------------------------------------- 16 threads
# Each thread opens its own libfhirauth and libcurl handles and prepares
# (reads the cached, revoked token); a barrier then lets all 16 requests
# go at once, so every one of them gets the 401.
is "$(fa_revoke "$t2")" 200 "the access token is revoked again"
n401=$(fhir_count 401)
fa_run fhir_get --threads "$N" "$URL"
is "$FA_RC" 0 "$N threads: exit 0" || fa_show
is "$(printf '%s\n' "$FA_ERR" | grep -cE '^fhir-get: thread [0-9]+: HTTP 200, retries 1$')" "$N" \
    "all $N threads: HTTP 200 after one retry"
is "$(printf '%s\n' "$FA_ERR" | grep -cv 'HTTP 200, retries 1$')" 0 "and nothing else on stderr"
is "$(($(fhir_count 401) - n401))" "$N" "the FHIR server answered 401 to all $N"
is "$(fa_as_count refresh_token)" 2 "exactly one more refresh at the AS"
fa_run cached_token
t3=$FA_OUT
isnt "$t3" "$t2" "a new access token again"

# ---------------------------------------------------------------- 16 processes
is "$(fa_revoke "$t3")" 200 "the access token is revoked a third time"
n401=$(fhir_count 401)
rm -rf "$FA_TMP/procs"
mkdir "$FA_TMP/procs"
pids=()
for ((i = 0; i < N; i++)); do
    fhir_get "$URL" >"$FA_TMP/procs/$i.out" 2>"$FA_TMP/procs/$i.err" &
    pids+=($!)
done
fails=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        fails=$((fails + 1))
        diag "process $i: $(cat "$FA_TMP/procs/$i.err")"
    fi
done
is "$fails" 0 "$N processes: all exit 0"
is "$(cat "$FA_TMP"/procs/*.err | grep -cE '^fhir-get: HTTP 200, retries [01]$')" "$N" \
    "all $N: HTTP 200, each after at most one retry"
retried=$(cat "$FA_TMP"/procs/*.err | grep -c 'retries 1$')
got401=$(($(fhir_count 401) - n401))
diag "$got401 of $N processes met the 401 ($retried retried)"
is "$retried" "$got401" "every process that got a 401 retried once"
isnt "$retried" 0 "at least one process met the revoked token"
is "$(fa_as_count refresh_token)" 3 "exactly one more refresh at the AS"
is "$(grep -c '"resourceType":"Patient"' "$FA_TMP"/procs/*.out | grep -c ':1$')" "$N" \
    "every process printed the Patient"

# ---------------------------------------------------------------- 401s without a Bearer challenge
# Two more FHIR servers on the same AS: one whose 401 has no
# WWW-Authenticate at all (as the SMART launcher's proxy answers), one
# whose 401 has only a Basic challenge (--port 0: fhir.js would read the
# first one's FA_FHIR_PORT).
other_fhir() { # NAME CHALLENGE
    _fa_start "$1" fhir.js --port 0 --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" \
        --ca "$FA_CA" --issuer "$FA_ISSUER" --log "$FA_TMP/$1.log" \
        --introspection-endpoint "$FA_AS_URL/token/introspection" --challenge "$2"
}
other_fhir fhirbare none
other_fhir fhirbasic basic
fa_run cached_token
is "$(fa_revoke "$FA_OUT")" 200 "the cached access token is revoked again"
refreshes=$(fa_as_count refresh_token)
fa_run fhir_get "https://127.0.0.1:$FA_FHIRBARE_PORT/fhir/Patient/example"
is "$FA_ERR" "fhir-get: HTTP 200, retries 1" \
    "a 401 without WWW-Authenticate: one refresh, one retry, 200" || fa_show
is "$(fa_as_count refresh_token)" "$((refreshes + 1))" "one refresh for it"
fa_run cached_token
is "$(fa_revoke "$FA_OUT")" 200 "and the new one is revoked"
fa_run fhir_get "https://127.0.0.1:$FA_FHIRBASIC_PORT/fhir/Patient/example"
is "$FA_ERR" "fhir-get: HTTP 401, retries 0" "a 401 with only a Basic challenge stands" || fa_show
is "$(fa_as_count refresh_token)" "$((refreshes + 1))" "no refresh for it"

# ---------------------------------------------------------------- the session has ended
r=$(fa_key_read refresh)
is "$(fa_revoke "$r")" 200 "the refresh token is revoked (oidc-provider ends the whole grant)"
fa_run fhir_get "$URL"
is "$FA_RC" 1 "fhir-get: exit 1" || fa_show
like "$FA_ERR" '^fhir-get: HTTP 401, retries 0' "the 401 stands, no retry"
like "$FA_ERR" 'cannot retry: .*log in again' "with the library's reason"
is "$(fa_as_count refresh_token fail)" 1 "one refused refresh at the AS"

# ---------------------------------------------------------------- 403 insufficient_scope
fa_start_servers --ttl 60 --keyring user --scope "openid offline_access"
fa_login alice
is "$FA_RC" 0 "login without a read scope" || fa_show
fa_run fhir_get "$URL"
is "$FA_RC" 1 "fhir-get: exit 1" || fa_show
is "$FA_ERR" "fhir-get: HTTP 403, retries 0" "HTTP 403 insufficient_scope is not retried"
is "$(fa_as_count refresh_token)" 0 "no refresh"

done_testing
