#!/bin/bash
# idtoken.t - a login verifies the id_token against the AS's JWKS (lib/jwt.c):
# the password login works with the AS signing in RS256, ES256 and PS256,
# and the session records the id_token's subject; a JWKS without the
# signing key (a second AS's, named by jwks_uri) makes the login fail and
# stores nothing.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 21

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
    FA_AS_ID_TOKEN_ALG=$alg fa_start_servers
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
fa_start_servers
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

done_testing
