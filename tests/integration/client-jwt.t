#!/bin/bash
# client-jwt.t - private_key_jwt client authentication (RFC 7523 §2.2,
# SMART's asymmetric clients) against the test AS with a client that may
# authenticate no other way (as.js --jwt-client-jwks): the JWK Set that
# `fhir-token client-jwks` prints registers the client; then the password
# login, the refresh, the device authorization and its polls, and the
# revocation at logout each carry an assertion, with an RS384 (the
# default) and an ES384 key, and with client_key_aud = endpoint.
# Refused: a key the AS does not know, a kid it does not know, and key
# files or settings that do not fit, before any request is made.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 48

fa_test_dir
K=$FA_TMP/keys
mkdir -m 700 "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/ec384.pem" 2>/dev/null &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/other.pem" 2>/dev/null ||
    bail "openssl cannot make the test keys"
chmod 600 "$K"/*.pem

# jpath PATH: the member at a dotted PATH (keys.0.kty) of the JSON on
# standard input, empty when there is none.
jpath() {
    node -e '
        let s = ""; process.stdin.on("data", (c) => { s += c; });
        process.stdin.on("end", () => {
            let v = JSON.parse(s);
            for (const k of process.argv[1].split(".")) v = v == null ? undefined : v[k];
            process.stdout.write(v == null ? "" : typeof v === "string" ? v : JSON.stringify(v));
        });' "$1"
}

# jwks KEYFILE [ALG]: what `fhir-token client-jwks` prints for that key
# (a configuration of its own: no server is needed).
jwks() {
    {
        echo "[profile p]"
        echo "client_id = fhir-jwt"
        echo "token_endpoint = https://127.0.0.1:9/token"
        echo "client_key_file = $1"
        [ -n "${2:-}" ] && echo "client_key_alg = $2"
    } >"$FA_TMP/jwks.conf"
    "$FA_TOKEN_BIN" --config "$FA_TMP/jwks.conf" --profile p client-jwks
}

# ---------------------------------------------------------------- client-jwks
fa_run jwks "$K/rsa.pem"
is "$FA_RC" 0 "client-jwks: exit 0" || fa_show
rsa_jwks=$FA_OUT
is "$(jpath 'keys.length' <<<"$rsa_jwks")" 1 "one key"
is "$(jpath 'keys.0.kty' <<<"$rsa_jwks")/$(jpath 'keys.0.alg' <<<"$rsa_jwks")/$(jpath 'keys.0.use' <<<"$rsa_jwks")" \
    RSA/RS384/sig "an RSA key for RS384 signatures, SMART's default"
is "$(jpath 'keys.0.e' <<<"$rsa_jwks")" AQAB "its public exponent"
want_n=$(node -e 'process.stdout.write(require("node:crypto").createPublicKey(require("node:fs").readFileSync(process.argv[1])).export({ format: "jwk" }).n)' "$K/rsa.pem")
is "$(jpath 'keys.0.n' <<<"$rsa_jwks")" "$want_n" "its modulus, as node reads the key file"
kid=$(jpath 'keys.0.kid' <<<"$rsa_jwks")
want_kid=$(node -e '
    const c = require("node:crypto");
    const j = c.createPublicKey(require("node:fs").readFileSync(process.argv[1])).export({ format: "jwk" });
    process.stdout.write(c.createHash("sha256").update(JSON.stringify({ e: j.e, kty: j.kty, n: j.n })).digest("base64url"));
' "$K/rsa.pem")
is "$kid" "$want_kid" "kid: the key's RFC 7638 thumbprint"
private=$(node -e '
    const s = JSON.parse(process.argv[1]);
    const bad = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    process.stdout.write(String(s.keys.filter((k) => bad.some((m) => m in k)).length));
' "$rsa_jwks")
is "$private" 0 "no private member in the JWK Set"
fa_run jwks "$K/ec384.pem" ES384
is "$FA_RC" 0 "client-jwks of a P-384 key with client_key_alg ES384: exit 0" || fa_show
ec_jwks=$FA_OUT
is "$(jpath 'keys.0.kty' <<<"$ec_jwks")/$(jpath 'keys.0.crv' <<<"$ec_jwks")/$(jpath 'keys.0.alg' <<<"$ec_jwks")" \
    EC/P-384/ES384 "an EC P-384 key for ES384"
is "$(jpath 'keys.0.d' <<<"$ec_jwks")" "" "... without d"
fa_run jwks "$K/ec384.pem"
is "$FA_RC" 1 "a P-384 key with the default RS384: exit 1" || fa_show
like "$FA_ERR" 'not an RSA key' "... the message says why"

# ---------------------------------------------------------------- the AS
# Both public keys registered for the client fhir-jwt.
node -e 'const a = JSON.parse(process.argv[1]), b = JSON.parse(process.argv[2]);
    process.stdout.write(JSON.stringify({ keys: a.keys.concat(b.keys) }));' \
    "$rsa_jwks" "$ec_jwks" >"$FA_TMP/client.jwks"
fa_start_servers --client fhir-jwt --jwt-client-jwks "$FA_TMP/client.jwks" --ttl 3
fa_config client_key_file "$K/rsa.pem"

# assertions GRANT: token requests of that grant_type made with a client
# assertion that the AS accepted.
assertions() {
    grep -F '"event":"token"' "$FA_AS_LOG" | grep -F "\"grant_type\":\"$1\"" |
        grep -F '"client_assertion":true' | grep -cF '"ok":true'
}

fa_login alice
is "$FA_RC" 0 "password login with an RS384 assertion: exit 0" || fa_show
is "$(assertions password)" 1 "the AS took the password grant's assertion"
ok "the refresh token is in the keyring" fa_key_exists refresh
fa_run fa_token
at1=$FA_OUT
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at1")" 200 "the FHIR server takes the token"

exp1=$(fa_token --format json | fa_json expires_at)
fa_sleep_past "$exp1"
fa_run fa_token
is "$FA_RC" 0 "token after expiry: exit 0" || fa_show
isnt "$FA_OUT" "$at1" "a new access token"
is "$(assertions refresh_token)" 1 "the refresh carried an assertion the AS took"
fa_run fa_token --min-valid 3600
is "$FA_RC" 0 "a second refresh (a fresh assertion: the AS refuses a jti twice)" || fa_show
is "$(assertions refresh_token)" 2 "... taken"

# The device grant: its authorization request and its polls.
dev_log=$FA_TMP/dev.err
env -u DISPLAY -u WAYLAND_DISPLAY LC_ALL=C "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" \
    login --device >"$FA_TMP/dev.out" 2>"$dev_log" </dev/null &
dev_pid=$!
code=
for ((i = 0; i < 150; i++)); do
    code=$(sed -n 's/^and enter the code \(.*\)$/\1/p' "$dev_log")
    [ -n "$code" ] && break
    sleep 0.1
done
like "$code" '^[A-Z]{4}-[A-Z]{4}$' "the device authorization (with an assertion) gave a user code" ||
    diag "$(cat "$dev_log")"
ok "the test approves it as bob" fa_device_approve "$code" bob
wait "$dev_pid"
is "$?" 0 "login --device: exit 0" || diag "$(cat "$dev_log")"
is "$(assertions 'urn:ietf:params:oauth:grant-type:device_code')" 1 "the poll that won carried an assertion"
is "$(grep -F '"event":"device_authorization"' "$FA_AS_LOG" | grep -cF '"client_assertion":true')" 1 \
    "so did the device authorization request"

# (The device login replaced alice's session: its refresh token was
# revoked then, with an assertion too.)
is "$(fa_as_events revocation '"client_assertion":true')" 1 \
    "the session the device login replaced was revoked with an assertion"
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
is "$(fa_as_events revocation '"client_assertion":true')" 2 "logout's revocation carried an assertion"
is "$(fa_as_events revocation '"ok":true')" 2 "... and the AS revoked"
unlike "$FA_ERR" 'not revoked' "no warning"

# ---------------------------------------------------------------- ES384
fa_config client_key_file "$K/ec384.pem"
fa_config client_key_alg ES384
fa_login alice
is "$FA_RC" 0 "password login with an ES384 assertion: exit 0" || fa_show
is "$(assertions password)" 2 "the AS took it"
fa_run fa_token logout

# ---------------------------------------------------------------- client_key_aud = endpoint
# Each assertion names the URL it is posted to (what Glewlwyd wants,
# glewlwyd-jwt.t): the AS takes that as well, at the token endpoint as at
# the revocation endpoint.
fa_config client_key_file "$K/rsa.pem"
fa_config client_key_alg
fa_config client_key_aud endpoint
fa_login alice
is "$FA_RC" 0 "client_key_aud = endpoint: password login: exit 0" || fa_show
is "$(assertions password)" 3 "the AS took the assertion"
revoked=$(fa_as_events revocation '"ok":true')
fa_run fa_token logout
is "$(fa_as_events revocation '"ok":true')" $((revoked + 1)) "and the revocation's"
unlike "$FA_ERR" 'not revoked' "no warning"
fa_config client_key_aud

# ---------------------------------------------------------------- refused
before=$(fa_as_count password)
fa_config client_key_file "$K/other.pem"
fa_config client_key_alg
fa_login alice
is "$FA_RC" 2 "a key the AS does not know: exit 2" || fa_show
like "$FA_ERR" 'invalid_client' "... the AS's invalid_client is named"
nok "nothing stored" fa_key_exists refresh
fa_config client_key_file "$K/rsa.pem"
fa_config client_key_id not-registered
fa_login alice
is "$FA_RC" 2 "a kid the AS does not know: exit 2" || fa_show
fa_config client_key_id

chmod 620 "$K/rsa.pem"
fa_login alice
is "$FA_RC" 1 "a group-writable key file: exit 1" || fa_show
like "$FA_ERR" 'writable' "... saying so"
chmod 600 "$K/rsa.pem"
fa_config client_key_alg ES256
fa_login alice
is "$FA_RC" 1 "an RSA key with client_key_alg ES256: exit 1" || fa_show
fa_config client_key_alg HS256
fa_login alice
is "$FA_RC" 1 "client_key_alg HS256: exit 1 (no shared-key algs)" || fa_show
fa_config client_key_alg
fa_config client_key_file
fa_config client_auth private_key_jwt
fa_login alice
is "$FA_RC" 1 "client_auth = private_key_jwt without client_key_file: exit 1" || fa_show
fa_config client_auth
is "$(fa_as_count password)" $((before + 2)) "only the two logins with a usable key reached the AS"

# The one registered way: without an assertion the client is refused.
fa_login alice
is "$FA_RC" 2 "the same client without a key: exit 2 (the AS wants an assertion)" || fa_show

done_testing
