#!/bin/bash
# glewlwyd-jwt.t - private_key_jwt client authentication (RFC 7523 §2.2)
# against Glewlwyd (Debian's package, its OpenID Connect plugin), set up
# as a site admin would through its admin API (glewlwyd-lib.sh: gw_start
# --client-jwt lets the plugin take client assertions checked against a
# client's "jwks" property; gw_jwt_client registers a client that may
# authenticate no other way, with the JWK Set `fhir-token client-jwks`
# prints).  Glewlwyd takes an assertion only when its aud is the URL of
# the endpoint it is posted to (…/token, …/revoke,
# …/device_authorization): with the default aud, the token endpoint,
# logins and refreshes work and revocation and device authorization are
# refused; client_key_aud = endpoint makes them work.  Password login,
# refresh on expiry and logout with revocation with an RSA key (RS384,
# RS256) and EC keys (ES256, ES384), a device login, and keys glewlwyd
# does not know refused (exit 2) without losing the stored session.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/glewlwyd-lib.sh"
gw_prereqs
# glewlwyd's log as diagnostics when a test failed, then lib.sh's cleanup.
trap 'rc=$?; gw_show_log; (exit $rc); _fa_cleanup' EXIT

plan 42

GW_TTL=3
gw_start --client-jwt
JWT_CLIENT=pam-fhir-jwt
K=$FA_TMP/keys
mkdir -m 700 "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec256.pem" 2>/dev/null &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/ec384.pem" 2>/dev/null &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/other.pem" 2>/dev/null ||
    bail "openssl cannot make the test keys"
chmod 600 "$K"/*.pem

FA_CONF=$FA_TMP/pam_fhir.conf
export FA_CONF
fa_config issuer "$GW_ISSUER"
fa_config ca_file "$FA_CA"
fa_config client_id "$JWT_CLIENT"
fa_config scope "openid profile offline_access"
fa_config min_valid 1
fa_config timeout 5
fa_config keyring user

# use KEYFILE [ALG]: sign the assertions with that key (and alg).
use() {
    fa_config client_key_file "$1"
    if [ -n "${2:-}" ]; then fa_config client_key_alg "$2"; else fa_config client_key_alg; fi
}

# live: how many of the client's refresh tokens glewlwyd holds as valid
# (its own database: introspection answers only the client asking).
live() {
    sqlite3 -cmd '.timeout 3000' "$FA_TMP/glewlwyd.db" \
        "SELECT COUNT(*) FROM gpo_refresh_token WHERE gpor_client_id = '$JWT_CLIENT' AND gpor_enabled = 1"
}

# expiry: the cached access token's expires_at (epoch).
expiry() {
    fa_token token --format json 2>/dev/null | fa_json expires_at
}

# ---------------------------------------------------------------- registration
use "$K/rsa.pem"
rsa_jwks=$(fa_token client-jwks)
use "$K/ec256.pem" ES256
ec256_jwks=$(fa_token client-jwks)
use "$K/ec384.pem" ES384
ec384_jwks=$(fa_token client-jwks)
jwks=$(node -e 'process.stdout.write(JSON.stringify({ keys: process.argv.slice(1)
    .flatMap((s) => JSON.parse(s).keys) }));' "$rsa_jwks" "$ec256_jwks" "$ec384_jwks")
ok "glewlwyd registers the client with the three public keys" gw_jwt_client "$JWT_CLIENT" "$jwks"
methods=$(curl -sS --max-time 10 --cacert "$FA_CA" "$GW_ISSUER/.well-known/openid-configuration" |
    fa_json token_endpoint_auth_methods_supported)
like "$methods" '"private_key_jwt"' "its discovery document now offers private_key_jwt"

# ---------------------------------------------------------------- RS384, aud the token endpoint
use "$K/rsa.pem"
fa_login alice
is "$FA_RC" 0 "password login with an RS384 assertion: exit 0" || fa_show
fa_run fa_token status
like "$FA_OUT" "Client: +$JWT_CLIENT" "the session is the key client's"
like "$FA_OUT" "User: +alice" "and alice's (the id_token's preferred_username)"
is "$(live)" 1 "glewlwyd holds one refresh token of the client"
at0=$(fa_token token)
r0=$(fa_key_read refresh)

fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 0 "an expired access token is refreshed with a fresh assertion" || fa_show
isnt "$FA_OUT" "$at0" "a new access token"
r1=$(fa_key_read refresh)
isnt "$r1" "$r0" "glewlwyd rotated the refresh token, and the new one is stored"
is "$(live)" 1 "the old one is used up, the new one valid"

# Glewlwyd wants …/revoke as the aud of an assertion posted there.
fa_run fa_token logout
is "$FA_RC" 0 "logout with aud the token endpoint: exit 0" || fa_show
like "$FA_ERR" "not revoked at the server.*HTTP 401" "glewlwyd refused the revocation, and fhir-token says so"
nok "the keys are gone" fa_key_exists refresh
is "$(live)" 1 "the refresh token is still valid at glewlwyd"

# ---------------------------------------------------------------- client_key_aud = endpoint
fa_config client_key_aud endpoint
fa_login alice
is "$FA_RC" 0 "login with aud the URL posted to: exit 0" || fa_show
is "$(live)" 2 "a second valid refresh token"
fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 0 "the refresh too" || fa_show
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
like "$FA_ERR" "revoked at the server" "glewlwyd took the revocation's assertion"
unlike "$FA_ERR" "not revoked" "no warning"
is "$(live)" 1 "and revoked the refresh token"

# ---------------------------------------------------------------- RS256, ES256, ES384
use "$K/rsa.pem" RS256
fa_login alice
is "$FA_RC" 0 "login with an RS256 assertion: exit 0" || fa_show
fa_run fa_token logout
like "$FA_ERR" "logged out.*revoked at the server" "logout revokes with RS256"

use "$K/ec256.pem" ES256
fa_login bob
is "$FA_RC" 0 "login with an ES256 assertion (P-256): exit 0" || fa_show
fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 0 "refresh with ES256" || fa_show
fa_run fa_token logout
like "$FA_ERR" "logged out.*revoked at the server" "logout revokes with ES256"

use "$K/ec384.pem" ES384
fa_login alice
is "$FA_RC" 0 "login with an ES384 assertion (P-384): exit 0" || fa_show
fa_run fa_token logout
like "$FA_ERR" "logged out.*revoked at the server" "logout revokes with ES384"
is "$(live)" 1 "glewlwyd holds no refresh token but the one left at the start"

# ---------------------------------------------------------------- device
use "$K/rsa.pem"
gw_dev_start
ok "login --device: glewlwyd took the device authorization's assertion" gw_dev_code
ok "bob approves it at glewlwyd's verification page" gw_device_approve "$GW_DEV_CODE" bob "" "$JWT_CLIENT"
gw_dev_wait
is "$GW_DEV_RC" 0 "login --device: exit 0 (the polls carried assertions too)" || diag "$GW_DEV_ERR"
fa_run fa_token status
like "$FA_OUT" "User: +bob" "the device login is bob's"
fa_config client_key_aud
# (Bounded: were the request taken, the login would wait for an approval.)
fa_run timeout 20 env -u DISPLAY -u WAYLAND_DISPLAY "$FA_TOKEN_BIN" --config "$FA_CONF" \
    --profile "$FA_PROFILE" login --device </dev/null
is "$FA_RC" 2 "with aud the token endpoint, glewlwyd refuses the device authorization: exit 2" || fa_show
like "$FA_ERR" "unauthorized_client" "... naming its unauthorized_client"

# ---------------------------------------------------------------- keys glewlwyd does not know
fa_config client_key_aud endpoint
r2=$(fa_key_read refresh)
use "$K/other.pem"
fa_login alice
is "$FA_RC" 2 "a key glewlwyd does not know: exit 2 (refused)" || fa_show
like "$FA_ERR" "HTTP 403 with an empty body" "the message names glewlwyd's bare refusal"
rsa_kid=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).keys[0].kid)' "$rsa_jwks")
fa_config client_key_id "$rsa_kid"
fa_login alice
is "$FA_RC" 2 "another key under the registered kid: exit 2" || fa_show
fa_config client_key_id
fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 2 "a refresh signed with the unknown key: exit 2" || fa_show
is "$(fa_key_read refresh)" "$r2" "bob's stored session is kept"
use "$K/rsa.pem"
fa_run fa_token token
is "$FA_RC" 0 "with the registered key again, the kept session refreshes" || fa_show
fa_run fa_token logout
like "$FA_ERR" "revoked at the server" "and logs out with revocation"

done_testing
