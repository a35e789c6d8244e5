#!/bin/bash
# glewlwyd-dpop.t - DPoP-bound sessions (RFC 9449, dpop = yes) against
# Glewlwyd (Debian's package, its OpenID Connect plugin), set up as a site
# admin would through its admin API (glewlwyd-lib.sh: gw_start --dpop
# turns on the plugin's DPoP; gw_plugin_set later makes nonces
# mandatory).  The confidential client with its secret logs in with the
# password grant: the session's type is DPoP, glewlwyd's JWT access token
# and its refresh token are bound to the key in the keyring (cnf.jkt);
# UserInfo takes the token with fhir-token's proof (curl format) and not
# as a bearer token; a refresh after expiry carries a proof; a refresh
# with another key in the keyring is refused with invalid_dpop_proof
# (HTTP 403), which keeps the session (fhirauth(3): only invalid_grant
# ends it), and the right key back refreshes it; logout revokes and
# removes the key.  Then with nonces mandatory: the login answers
# use_dpop_nonce, the refresh carries the nonce kept in the session and
# keeps the one glewlwyd sends next, and examples/fhir-get gets UserInfo
# after answering its use_dpop_nonce.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/glewlwyd-lib.sh"
gw_prereqs
# glewlwyd's log as diagnostics when a test failed, then lib.sh's cleanup.
trap 'rc=$?; gw_show_log; (exit $rc); _fa_cleanup' EXIT

plan 37

GET_BIN=$top_builddir/examples/fhir-get
[ -x "$GET_BIN" ] || bail "$GET_BIN is missing: make check builds it"

GW_TTL=6
gw_start --dpop
USERINFO=$GW_ISSUER/userinfo

FA_CONF=$FA_TMP/pam_fhir.conf
export FA_CONF
fa_config issuer "$GW_ISSUER"
fa_config ca_file "$FA_CA"
fa_config client_id "$GW_CLIENT"
fa_config client_secret_file "$GW_SECRET_FILE"
fa_config scope "openid profile offline_access"
fa_config min_valid 1
fa_config timeout 5
fa_config keyring user
fa_config dpop yes

# jkt: the RFC 7638 thumbprint of the public half of the P-256 key on
# standard input (PEM).
jkt() {
    node -e '
        const c = require("node:crypto");
        const j = c.createPublicKey(require("node:fs").readFileSync(0)).export({ format: "jwk" });
        process.stdout.write(c.createHash("sha256")
            .update(JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x, y: j.y })).digest("base64url"));'
}
# cnf_jkt JWT: cnf.jkt in the payload of glewlwyd's access token.
cnf_jkt() {
    node -e '
        const p = JSON.parse(Buffer.from(process.argv[1].split(".")[1], "base64url"));
        process.stdout.write((p.cnf && p.cnf.jkt) || "");' "$1"
}
# cached: the access token in the keyring (no fhir-token call, no refresh).
cached() {
    fa_key_read access | cut -d' ' -f3
}
# sql QUERY: glewlwyd's own database.
sql() {
    sqlite3 -cmd '.timeout 3000' "$FA_TMP/glewlwyd.db" "$1"
}
# bound: the key thumbprints of the client's valid refresh tokens.
bound() {
    sql "SELECT gpor_dpop_jkt FROM gpo_refresh_token WHERE gpor_client_id = '$GW_CLIENT' AND gpor_enabled = 1"
}
# dpop_curl URL: fhir-token's curl format for a GET of URL, given to curl;
# prints the HTTP status, the body in $FA_TMP/body.  The token handed out
# has at least 4 of its 6 seconds left, so that it is still good when
# curl's request arrives on a loaded machine.
dpop_curl() {
    fa_token --format curl --url "$1" --min-valid 4 >"$FA_TMP/k" 2>"$FA_TMP/k.err" || return 1
    fa_curl -K "$FA_TMP/k" -o "$FA_TMP/body" -w '%{http_code}' "$1"
}

# ---------------------------------------------------------------- discovery
algs=$(curl -sS --max-time 10 --cacert "$FA_CA" "$GW_ISSUER/.well-known/openid-configuration" |
    fa_json dpop_signing_alg_values_supported)
like "$algs" '"ES256"' "discovery offers DPoP with ES256 (oauth-dpop-allowed)"

# ---------------------------------------------------------------- login
fa_login alice
is "$FA_RC" 0 "password login with dpop = yes: exit 0" || fa_show
ok "the DPoP key is in the keyring" fa_key_exists dpop
is "$(fa_json token_type <<<"$(fa_key_read meta)")" DPoP "metadata: token_type DPoP (glewlwyd's)"
key_jkt=$(fa_key_read dpop | jkt)
at1=$(cached)
is "$(cnf_jkt "$at1")" "$key_jkt" "glewlwyd's access token is bound to the stored key (cnf.jkt)"
is "$(bound)" "$key_jkt" "and so is its refresh token (its database)"

# ---------------------------------------------------------------- UserInfo
is "$(dpop_curl "$USERINFO")" 200 "UserInfo takes the token with fhir-token's proof" ||
    diag "$(cat "$FA_TMP/k.err" "$FA_TMP/body")"
is "$(fa_json preferred_username <"$FA_TMP/body")" alice "... and answers alice's claims"
is "$(fa_curl -H "Authorization: Bearer $(cached)" -o /dev/null -w '%{http_code}' "$USERINFO")" 401 \
    "the token as a bearer token is refused"

# ---------------------------------------------------------------- refresh
r1=$(fa_key_read refresh)
fa_sleep_past "$(fa_key_read access | cut -d' ' -f1)"
fa_run fa_token --format header --url "$USERINFO"
is "$FA_RC" 0 "after expiry: a refresh with a proof, exit 0" || fa_show
at2=$(cached)
isnt "$at2" "$at1" "a new access token"
like "$FA_OUT" "Authorization: DPoP $at2" "handed out as a DPoP token"
is "$(cnf_jkt "$at2")" "$key_jkt" "bound to the same key"
r2=$(fa_key_read refresh)
isnt "$r2" "$r1" "glewlwyd rotated the refresh token, and the new one is stored"
is "$(bound)" "$key_jkt" "the new refresh token is bound to the key too"

# ---------------------------------------------------------------- another key
key1=$(fa_key_read dpop)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey 2>/dev/null | keyctl pupdate "$(fa_key_id dpop)" ||
    bail "cannot replace the DPoP key"
fa_run fa_token --format header --url "$USERINFO" --min-valid 3600
is "$FA_RC" 2 "a refresh with another key: exit 2 (refused)" || fa_show
like "$FA_ERR" 'invalid_dpop_proof' "glewlwyd's invalid_dpop_proof (HTTP 403), named"
is "$(grep -c 'Security - DPoP invalid' "$GW_LOG")" 1 "glewlwyd logged the proof as invalid"
is "$(fa_key_read refresh)" "$r2" "the session is kept (not invalid_grant)"
is "$(bound)" "$key_jkt" "glewlwyd did not use up the refresh token"
printf '%s\n' "$key1" | keyctl pupdate "$(fa_key_id dpop)" || bail "cannot restore the DPoP key"
fa_run fa_token --format header --url "$USERINFO" --min-valid 3600
is "$FA_RC" 0 "with the session's key back, the refresh goes through" || fa_show

# ---------------------------------------------------------------- logout
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
like "$FA_ERR" 'revoked at the server' "glewlwyd took the revocation"
unlike "$FA_ERR" 'not revoked' "no warning"
nok "logout removes the DPoP key" fa_key_exists dpop
is "$(bound)" "" "glewlwyd holds no valid refresh token of the client"

# ---------------------------------------------------------------- nonces mandatory
# oauth-dpop-nonce-counter: glewlwyd keeps one nonce per client and makes
# a new one after that many more token requests (sent in DPoP-Nonce).
ok "glewlwyd's plugin now wants nonces" \
    gw_plugin_set '{"oauth-dpop-nonce-mandatory":true,"oauth-dpop-nonce-counter":1}'
# nonce: the client's current nonce at glewlwyd.
nonce() {
    sql "SELECT gpodcn_nonce FROM gpo_dpop_client_nonce WHERE gpodcn_client_id = '$GW_CLIENT'"
}
fa_login alice
is "$FA_RC" 0 "password login, answering use_dpop_nonce: exit 0" || fa_show
n1=$(fa_json dpop_nonce <<<"$(fa_key_read meta)")
like "$n1" '^[^ "\\]+$' "the session keeps a nonce"
is "$n1" "$(nonce)" "... glewlwyd's"
key_jkt=$(fa_key_read dpop | jkt)
is "$(cnf_jkt "$(cached)")" "$key_jkt" "the token is bound to the new session's key"
fa_sleep_past "$(fa_key_read access | cut -d' ' -f1)"
fa_run fa_token --format header --url "$USERINFO"
is "$FA_RC" 0 "a refresh with the kept nonce: exit 0" || fa_show
n2=$(fa_json dpop_nonce <<<"$(fa_key_read meta)")
isnt "$n2" "$n1" "glewlwyd sent a new nonce with the token"
is "$n2" "$(nonce)" "... and the session keeps it"
fa_run "$GET_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --cacert "$FA_CA" "$USERINFO"
is "$FA_RC" 0 "fhir-get: UserInfo with a nonce: exit 0" || fa_show
like "$FA_ERR" 'HTTP 200, retries 1' "... after answering its use_dpop_nonce once"
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show

done_testing
