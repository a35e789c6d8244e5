#!/bin/bash
# servers-dpop.t - the test servers' options for DPoP, private_key_jwt and
# client_credentials (issue 16), checked before any client uses them: the
# self-checks tests/servers/src/selftest/pkjwt.js and dpop.js make client
# assertions and DPoP proofs with jose and assert what as.js and fhir.js
# take and refuse, with nonces (--dpop nonce) and without (--dpop on); and
# the standard configuration has none of it.
#
# Each self-check prints TAP; its results are this test's, prefixed with
# its name, and one more result says it ran all it planned and exited 0.
# What can start or run side by side does (a server start is mostly
# node loading its modules), to keep the test short.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

PKJWT_N=34
DPOP_NONCE_N=52
DPOP_ON_N=46
plan $((PKJWT_N + 1 + DPOP_NONCE_N + 1 + DPOP_ON_N + 1 + 4 + 4))

fa_test_dir
SELF=$FA_SERVERS/src/selftest

# check_run NAME SCRIPT [ARGS...]: start a self-check in the background
# against the servers (FA_AS_URL, FA_FHIR, FA_CA); check_results NAME
# waits for it and gives its results as this test's.
declare -A check_pid
check_run() {
    local name=$1
    shift
    node "$@" >"$FA_TMP/$name.tap" 2>"$FA_TMP/$name.err" &
    check_pid[$name]=$!
}
check_results() {
    local name=$1 rc planned=none n=0 line
    wait "${check_pid[$name]}"
    rc=$?
    while IFS= read -r line; do
        if [[ $line =~ ^1\.\.([0-9]+)$ ]]; then
            planned=${BASH_REMATCH[1]}
        elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ -\ (.*)$ ]]; then
            n=$((n + 1))
            if [ -n "${BASH_REMATCH[1]}" ]; then
                _fa_result 1 "$name: ${BASH_REMATCH[2]}"
            else
                _fa_result 0 "$name: ${BASH_REMATCH[2]}"
            fi
        elif [[ $line =~ ^# ]]; then
            printf '%s\n' "$line"
        fi
    done <"$FA_TMP/$name.tap"
    is "$rc $n" "0 $planned" "$name: ran the $planned checks it planned and exited 0" ||
        diag "$(tail -20 "$FA_TMP/$name.err")"
}

# Three authorization servers start side by side (a start is mostly node
# loading its modules): a second one with --dpop nonce and a FHIR server
# of its own, one in the standard configuration, and the test bed's with
# --dpop on and the private_key_jwt client.  Tokens live 60 s: a slow
# machine must not see them expire mid-check.
_fa_launch as-nonce as.js --port 0 --log "$FA_TMP/as-nonce.log" \
    --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" --access-ttl 60 \
    --dpop nonce --client-credentials on
_fa_launch as-std as.js --port 0 --log "$FA_TMP/as-std.log" \
    --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem"

# The private_key_jwt client's keys: the private JWK Set for the
# self-check, the public one for the AS.
node "$SELF/pkjwt.js" --make-keys "$FA_TMP/jwt" || bail "cannot make the client's keys"
FA_JWT_CLIENT_KEYS=$FA_TMP/jwt/jwt-client.jwks
export FA_JWT_CLIENT_KEYS

_fa_wait_up as-nonce
AS_NONCE=https://127.0.0.1:$FA_AS_NONCE_PORT
_fa_launch fhir-nonce fhir.js --port 0 --log "$FA_TMP/fhir-nonce.log" \
    --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" --ca "$FA_CA" \
    --issuer "$AS_NONCE" --introspection-endpoint "$AS_NONCE/token/introspection" \
    --dpop nonce
fa_start_servers --ttl 60 --dpop on --client-credentials \
    --jwt-client-jwks "$FA_TMP/jwt/jwt-client.pub.jwks"

# The self-checks run side by side too: each has servers or clients of
# its own (pkjwt.js the client fhir-jwt, dpop.js --mode on fhir-cli and
# fhir-conf with keys of its own).
check_run pkjwt "$SELF/pkjwt.js"
check_run dpop-on "$SELF/dpop.js" --mode on
_fa_wait_up fhir-nonce
FA_AS_URL=$AS_NONCE FA_FHIR=https://127.0.0.1:$FA_FHIR_NONCE_PORT/fhir \
    check_run dpop-nonce "$SELF/dpop.js" --mode nonce
check_results pkjwt
check_results dpop-on
check_results dpop-nonce

# The AS's event log tells a client's test what the request carried.
events=$(cat "$FA_TMP/as-nonce.log")
like "$events" '"grant_type":"password","client_id":"fhir-cli","ok":true,[^}]*"dpop":true,"token_type":"DPoP"' \
    "AS log: a password grant with a proof, token_type DPoP"
like "$events" '"grant_type":"client_credentials","client_id":"fhir-conf","ok":true,[^}]*"dpop":true,"token_type":"DPoP"' \
    "AS log: client_credentials with a proof, token_type DPoP"
like "$events" '"ok":false,"status":400,"error":"use_dpop_nonce"' \
    "AS log: use_dpop_nonce answers"
like "$(cat "$FA_AS_LOG")" '"grant_type":"client_credentials","client_id":"fhir-jwt","ok":true,[^}]*"client_assertion":true' \
    "AS log: client_credentials authenticated by an assertion"

# The standard configuration has none of it.
_fa_wait_up as-std
AS_STD=https://127.0.0.1:$FA_AS_STD_PORT
disc=$(curl -s --cacert "$FA_CA" "$AS_STD/.well-known/openid-configuration")
unlike "$disc" 'dpop_signing_alg_values_supported|client_credentials|system/\*\.rs' \
    "standard AS: no DPoP, no client_credentials, no system scopes in discovery"
like "$disc" '"token_endpoint_auth_signing_alg_values_supported":\["HS256","RS256","PS256","ES256","EdDSA"\]' \
    "standard AS: oidc-provider's own assertion algorithms"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$FA_CA" \
    -d 'grant_type=client_credentials' -u fhir-conf:conf-secret "$AS_STD/token")
is "$code" 400 "standard AS: no client_credentials grant"
tt=$(curl -s --cacert "$FA_CA" -H 'DPoP: not.a.proof' -d grant_type=password \
    -d client_id=fhir-cli -d username=alice -d password=alice-secret "$AS_STD/token" |
    fa_json token_type)
is "$tt" Bearer "standard AS: a DPoP header is ignored (token_type Bearer)"
