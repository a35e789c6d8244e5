#!/bin/bash
# idtoken.t - a login verifies the id_token against the AS's JWKS (lib/net/jwt.c):
# the password login works with the AS signing in RS256, ES256 and PS256,
# and the session records the id_token's subject; a JWKS without the
# signing key (a second AS's, named by jwks_uri) makes the login fail and
# stores nothing.  Claims that a signed id_token carries with control
# characters (fhirUser, preferred_username) are dropped, so that status,
# the env and json formats and exec show no control character and no
# forged line; a sub with one makes the login fail.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 43

# The alg of the id_token the AS hands out (a password grant with curl).
as_id_token_alg() {
    printf 'grant_type=password&username=alice&password=alice-secret&client_id=fhir-cli&scope=openid' |
        fa_curl --data-binary @- -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token" | fa_json id_token |
        node -e 'let s = ""; process.stdin.on("data", (c) => { s += c; });
            process.stdin.on("end", () => {
                const h = JSON.parse(Buffer.from(s.split(".")[0], "base64url"));
                process.stdout.write(String(h.alg));
            });'
}

for alg in RS256 ES256 PS256; do
    # as.js reads FA_AS_ID_TOKEN_ALG (its --id-token-alg).
    FA_AS_ID_TOKEN_ALG=$alg fa_start_servers --no-fhir
    is "$(as_id_token_alg)" "$alg" "$alg: the AS signs id_tokens with $alg"
    fa_login alice
    is "$FA_RC" 0 "$alg: password login succeeds" || fa_show
    fa_run fa_token status --json
    is "$FA_RC" 0 "$alg: status --json" || fa_show
    is "$(printf '%s' "$FA_OUT" | fa_json subject)" alice-0001 \
        "$alg: the session's subject is the id_token's sub"
    is "$(printf '%s' "$FA_OUT" | fa_json username)" alice "$alg: and its username alice"
done

# A JWKS that does not hold the AS's key: a second AS's.
fa_start_servers --no-fhir
# --port 0: as.js would take FA_AS_PORT (the first AS's) from the environment.
_fa_start as2 as.js --port 0 --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" \
    --log "$FA_TMP/as2.log"
jwks2=$(fa_curl "https://127.0.0.1:$FA_AS2_PORT/.well-known/openid-configuration" | fa_json jwks_uri)
like "$jwks2" "^https://127\\.0\\.0\\.1:$FA_AS2_PORT/" "the second AS names its JWKS"
fa_config jwks_uri "$jwks2"
fa_login alice
isnt "$FA_RC" 0 "a login whose id_token the JWKS cannot verify fails" || fa_show
like "$FA_ERR" 'id_token rejected: no key ' "and says the JWKS has no such key" || fa_show
nok "no session was stored" fa_key_exists meta
is "$(fa_as_count password ok)" 1 "(the AS did issue the tokens)"

# Back to the AS's own JWKS: the same login works.
fa_config jwks_uri
fa_login alice
is "$FA_RC" 0 "with the AS's own JWKS the login succeeds" || fa_show

# ---------------------------------------------------------------- hostile claims
# A signed id_token whose fhirUser sets the terminal's title and forges a
# line, and whose preferred_username colours the terminal.
esc=$'\e' bel=$'\a'
hostile='{"fhirUser":"Practitioner/x\u001b]2;TITLE\u0007\nFAKE: line","preferred_username":"alice\u001b[31m"}'
# (--claims tuned: the test AS puts these claims into the id_token, as
# many servers do; in its standard mode they come from UserInfo.)
fa_start_servers --no-fhir --ttl 60 --scope "openid offline_access fhirUser patient/*.read" \
    --claims tuned --id-token-claims "$hostile"
# What the AS signs: the claims of a password grant's id_token.
as_claims() {
    printf 'grant_type=password&username=alice&password=alice-secret&client_id=fhir-cli&scope=openid%%20fhirUser' |
        fa_curl --data-binary @- -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token" | fa_json id_token |
        node -e 'let s = ""; process.stdin.on("data", (c) => { s += c; });
            process.stdin.on("end", () => {
                process.stdout.write(Buffer.from(s.split(".")[1], "base64url").toString());
            });'
}
claims=$(as_claims)
like "$(printf '%s' "$claims" | fa_json fhirUser)" "$esc\\]2;TITLE$bel" \
    "(the AS signs a fhirUser with ESC, BEL and a newline)"
like "$(printf '%s' "$claims" | fa_json preferred_username)" "alice$esc" \
    "(and a preferred_username with ESC)"

fa_login alice
is "$FA_RC" 0 "a login with hostile claims in the id_token succeeds" || fa_show
# ctl FILE...: the control characters (other than newline) in the files.
ctl() { cat "$@" | tr -d '\n' | tr -dc '\000-\037\177' | od -An -c | tr -s ' '; }
fa_run fa_token status
is "$FA_RC" 0 "status: exit 0" || fa_show
is "$(ctl "$FA_TMP/last.out" "$FA_TMP/last.err")" "" "status: no control characters"
unlike "$FA_OUT" '^FAKE' "status: no forged line"
unlike "$FA_OUT" 'TITLE' "status: nothing of the hostile fhirUser"
like "$FA_OUT" 'alice-0001' "status: the subject is there"
fa_run fa_token status --json
is "$FA_RC" 0 "status --json: exit 0" || fa_show
is "$(ctl "$FA_TMP/last.out")" "" "status --json: no control characters"
unlike "$FA_OUT" '\\u00|TITLE' "status --json: no escaped control characters, no hostile fhirUser"
is "$(printf '%s' "$FA_OUT" | fa_json fhirUser)" "" "status --json: the hostile fhirUser was dropped"
fa_run fa_token --format=env
is "$FA_RC" 0 "--format=env: exit 0" || fa_show
is "$(ctl "$FA_TMP/last.out")" "" "--format=env: no control characters"
unlike "$FA_OUT" '^FAKE|TITLE' "--format=env: no forged line"
like "$FA_OUT" 'unset .*FHIR_USER' "--format=env: FHIR_USER unset"
fa_run fa_token --format=json
is "$(ctl "$FA_TMP/last.out")" "" "--format=json: no control characters"
unlike "$FA_OUT" '\\u00|TITLE' "--format=json: no hostile fhirUser"
fa_run fa_token exec sh -c 'printf "%s" "${FHIR_USER-unset}"'
is "$FA_OUT" unset "exec: FHIR_USER is not set"

# A sub with a control character: who logged in cannot be shown as it
# is, so the login is refused.
fa_start_servers --no-fhir --ttl 60 --id-token-claims '{"sub":"alice-0001\u001b[2J"}'
fa_login alice
isnt "$FA_RC" 0 "a login whose id_token's sub has a control character fails" || fa_show
like "$FA_ERR" 'sub .*printable' "... saying so"
nok "... and stores nothing" fa_key_exists meta

done_testing
