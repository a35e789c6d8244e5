#!/bin/bash
# dpop-resource.t - resource requests of a DPoP-bound session (RFC 9449
# §7) against the test FHIR server that checks proofs and wants its own
# nonce (fhir.js --dpop nonce): examples/fhir-get (the libcurl pair,
# fhirauth_curl_prepare_request) answers the server's use_dpop_nonce once
# with no refresh and keeps the nonce for the next process, a token
# revoked behind its back with one refresh, and invalid_dpop_proof with
# one fresh proof and no refresh; real curl takes fhir-token's
# curl format for one URL; a replayed proof and a proof for another URL
# are refused; the formats that cannot carry a proof refuse the session.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 40

GET_BIN=$top_builddir/examples/fhir-get
[ -x "$GET_BIN" ] || bail "$GET_BIN is missing: make check builds it"

fa_test_dir
fa_start_servers --dpop nonce --ttl 60
fa_config dpop yes
URL=$FA_FHIR/Patient/example

fhir_get() {
    "$GET_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --cacert "$FA_CA" "$@"
}
# fhir_events STATUS WHY: the FHIR server's answers with that status and
# that reason (its "auth" field).
fhir_events() {
    grep -F "\"status\":$1," "$FA_FHIR_LOG" | grep -cF "\"auth\":$2"
}
# curl_k FILE: curl with the options of FILE (fhir-token's curl format);
# prints the HTTP status, the headers in $FA_TMP/h.
curl_k() {
    fa_curl -K "$1" -D "$FA_TMP/h" -o "$FA_TMP/body" -w '%{http_code}' "${2:-$URL}"
}

fa_login alice
is "$FA_RC" 0 "password login with dpop = yes: exit 0" || fa_show

# ------------------------------------------------- the libcurl pair
fa_run fhir_get "$URL"
is "$FA_RC" 0 "fhir-get: exit 0" || fa_show
like "$FA_ERR" 'HTTP 200, retries 1' "... after one retry"
is "$(fhir_events 401 '"dpop: nonce required"')" 1 "... the server's use_dpop_nonce"
is "$(fa_as_count refresh_token)" 0 "... answered without a refresh"
meta=$(fa_key_read meta)
is "$(fa_json rs_origin <<<"$meta")" "https://127.0.0.1:$FA_FHIR_PORT" \
    "the metadata keeps the resource server's origin"
like "$(fa_json rs_dpop_nonce <<<"$meta")" '^[A-Za-z0-9_-]+$' "... and its nonce"
isnt "$(fa_json rs_dpop_nonce <<<"$meta")" "$(fa_json dpop_nonce <<<"$meta")" \
    "... not the AS's"
fa_run fhir_get "$URL"
is "$FA_RC" 0 "a second fhir-get: exit 0" || fa_show
like "$FA_ERR" 'HTTP 200, retries 0' "... the kept nonce: no retry"
is "$(grep -cF '"path":"/fhir/Patient/example","status":200,' "$FA_FHIR_LOG")" 2 \
    "the FHIR server took two DPoP requests"

# A token revoked at the AS: DPoP error="invalid_token", one refresh.
is "$(fa_revoke "$(fa_key_read access | cut -d' ' -f3)")" 200 "the cached access token is revoked at the AS"
fa_run fhir_get "$URL"
is "$FA_RC" 0 "fhir-get with the revoked token: exit 0" || fa_show
like "$FA_ERR" 'HTTP 200, retries 1' "... after one retry"
is "$(fhir_events 401 '"inactive"')" 1 "... the server refused the revoked token"
is "$(fa_as_count refresh_token ok)" 1 "... one refresh"

# A proof the server refuses (invalid_dpop_proof: here signed by a key
# that is not the token's): one retry with a fresh proof, no refresh.
good_key=$(fa_key_read dpop)
refreshes=$(fa_as_count refresh_token)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey 2>/dev/null | keyctl pupdate "$(fa_key_id dpop)" ||
    bail "cannot replace the DPoP key"
fa_run fhir_get "$URL"
is "$FA_RC" 1 "fhir-get with proofs of another key: exit 1" || fa_show
like "$FA_ERR" 'HTTP 401, retries 1' "... after one retry"
is "$(fhir_events 401 '"dpop: key mismatch"')" 2 "... two proofs refused (invalid_dpop_proof)"
is "$(fa_as_count refresh_token)" "$refreshes" "... and no refresh asked for"
ok "... the session stays" fa_key_exists refresh
printf '%s\n' "$good_key" | keyctl pupdate "$(fa_key_id dpop)" || bail "cannot restore the DPoP key"

# ------------------------------------------------- fhir-token and curl
fa_run fa_token --format header --url "$URL"
is "$FA_RC" 0 "--format header --url: exit 0" || fa_show
like "$(sed -n 1p <<<"$FA_OUT")" '^Authorization: DPoP [^ ]+$' "... the DPoP scheme"
like "$(sed -n 2p <<<"$FA_OUT")" '^DPoP: [^.]+\.[^.]+\.[^.]+$' "... and a proof"
fa_token --format curl --url "$URL" >"$FA_TMP/k" 2>"$FA_TMP/k.err"
is "$?" 0 "--format curl --url: exit 0"
is "$(curl_k "$FA_TMP/k")" 200 "real curl with it: HTTP 200"
is "$(curl_k "$FA_TMP/k")" 401 "the same proof again: HTTP 401"
like "$(grep -i '^www-authenticate:' "$FA_TMP/h")" 'error="invalid_dpop_proof"' \
    "... invalid_dpop_proof"
is "$(fhir_events 401 '"dpop: jti replayed"')" 1 "... the proof's jti was seen"
fa_token --format curl --url "$URL" >"$FA_TMP/k2"
is "$(curl_k "$FA_TMP/k2" "$FA_FHIR/Patient")" 401 "a proof for another URL: HTTP 401"
is "$(fhir_events 401 '"dpop: htu mismatch"')" 1 "... its htu is not the request's"
fa_token --format curl --url "$URL" --method POST >"$FA_TMP/k3"
is "$(curl_k "$FA_TMP/k3")" 401 "a proof for another method: HTTP 401"

# ------------------------------------------------- what cannot carry a proof
for f in token env json; do
    fa_run fa_token --format "$f"
    is "$FA_RC:$FA_OUT" 1: "--format $f refuses a DPoP-bound session: exit 1, no token"
done
like "$FA_ERR" 'DPoP-bound session.*--url' "... saying what to use instead"
fa_run fa_token --format curl
is "$FA_RC:$FA_OUT" 1: "--format curl without --url: exit 1, no token"
fa_run fa_token exec -- true
is "$FA_RC" 125 "exec refuses it: exit 125"
fa_config match "$FA_FHIR"
fa_run_stdin "$(printf 'protocol=https\nhost=127.0.0.1:%s\n' "$FA_FHIR_PORT")" \
    "$FA_GCF_BIN" --config "$FA_CONF" get
is "$FA_RC:$FA_OUT" 0: "git-credential-fhir: exit 0, no credential"
like "$FA_ERR" 'DPoP-bound' "... saying why"
