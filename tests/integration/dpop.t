#!/bin/bash
# dpop.t - DPoP-bound sessions (RFC 9449) with `dpop = yes` against the
# test AS with DPoP nonces (as.js --dpop nonce): a login makes a P-256
# key kept in the keyring as pam_fhir:PROFILE:dpop with the refresh
# token's permissions; the token request carries a proof, answers the
# AS's use_dpop_nonce once with its nonce and keeps the nonce in the
# metadata; the token is bound to the key (cnf.jkt in introspection);
# a refresh carries a proof of the stored key, and one with another key
# in its place is refused by the AS (the public client's refresh token
# is bound) and ends the session, while a stored key that cannot be read
# is a keyring error that sends nothing and removes nothing; logout and a
# bearer login remove the key.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 33

fa_test_dir
fa_start_servers --dpop nonce --ttl 3
fa_config dpop yes

# The AS's token events of a grant type that went through (ok) or not.
token_events() {
    grep -F '"event":"token"' "$FA_AS_LOG" | grep -F "\"grant_type\":\"$1\"" |
        grep -cF -- "$2"
}
# jkt: the RFC 7638 thumbprint of the public half of the P-256 key on
# standard input (PEM).
jkt() {
    node -e '
        const c = require("node:crypto");
        const j = c.createPublicKey(require("node:fs").readFileSync(0)).export({ format: "jwk" });
        process.stdout.write(c.createHash("sha256")
            .update(JSON.stringify({ crv: j.crv, kty: j.kty, x: j.x, y: j.y })).digest("base64url"));'
}
# cnf_jkt TOKEN: cnf.jkt of the token, as the AS's introspection says.
cnf_jkt() {
    printf 'token=%s' "$1" |
        fa_curl -u fhir-rs:rs-secret --data-binary @- \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token/introspection" |
        node -e 'let s = ""; process.stdin.on("data", (c) => { s += c; });
            process.stdin.on("end", () => { const o = JSON.parse(s);
                process.stdout.write((o.cnf && o.cnf.jkt) || ""); });'
}

# dpop_token ARGS...: fhir-token's header format for a FHIR URL (a
# DPoP-bound token goes out only with a proof), via fa_run; FA_OUT is then
# the bare token.
dpop_token() {
    fa_run fa_token --format header --url "$FA_FHIR/Patient/example" "$@"
    FA_OUT=$(sed -n 's/^Authorization: DPoP //p' <<<"$FA_OUT")
}

# ---------------------------------------------------------------- login
fa_login alice
is "$FA_RC" 0 "password login with dpop = yes: exit 0" || fa_show
ok "the DPoP key is in the keyring" fa_key_exists dpop
like "$(fa_key_read dpop | head -1)" '^-----BEGIN PRIVATE KEY-----$' "... as PKCS#8 PEM"
is "$(fa_key_perm "$(fa_key_id dpop)")" "$(fa_key_perm "$(fa_key_id refresh)")" \
    "... with the refresh token's permissions"
is "$(keyctl rdescribe "$(fa_key_id dpop)" | cut -d';' -f2)" "$(id -u)" "... owned by the user"
is "$(token_events password '"dpop":true,"token_type":"DPoP"')" 1 \
    "the AS issued a DPoP token for a request with a proof"
is "$(grep -F '"grant_type":"password"' "$FA_AS_LOG" | grep -cF '"error":"use_dpop_nonce"')" 1 \
    "the first try was answered with use_dpop_nonce, once"
meta=$(fa_key_read meta)
is "$(fa_json token_type <<<"$meta")" DPoP "metadata: token_type DPoP"
like "$(fa_json dpop_nonce <<<"$meta")" '^[^ "\\]+$' "metadata: the AS's nonce"
key_jkt=$(fa_key_read dpop | jkt)
# At least 2 of its 3 s left (a refresh when the login was a while ago),
# so that it is still active when introspected.
dpop_token --min-valid 2
is "$FA_RC" 0 "the token: exit 0" || fa_show
at1=$FA_OUT
is "$(cnf_jkt "$at1")" "$key_jkt" "the token is bound to the stored key (cnf.jkt)"

# ---------------------------------------------------------------- refresh
nonce1=$(fa_json dpop_nonce <<<"$meta")
# The cached token's expiry from the keyring: no fhir-token call, which
# may refresh a token of 3 s that min_valid = 1 no longer takes, and the
# refreshes so far (none, or one when the calls above were slow).
exp1=$(fa_key_read access | cut -d' ' -f1)
refreshes=$(token_events refresh_token '"ok":true,')
fa_sleep_past "$exp1"
dpop_token
is "$FA_RC" 0 "token after expiry (a refresh with a proof): exit 0" || fa_show
isnt "$FA_OUT" "$at1" "a new access token"
is "$(token_events refresh_token '"ok":true,')" $((refreshes + 1)) "the AS took one refresh"
is "$(token_events refresh_token '"dpop":true')" "$(grep -F '"grant_type":"refresh_token"' "$FA_AS_LOG" | grep -cF '"event":"token"')" \
    "every refresh request carried a proof"
is "$(cnf_jkt "$FA_OUT")" "$key_jkt" "the new token is bound to the same key"
isnt "$(fa_json dpop_nonce <<<"$(fa_key_read meta)")" "" "the metadata keeps a nonce (was $nonce1)"

# A stored key that cannot be read: a local failure, not the end of the
# session. Nothing is sent and nothing is removed.
good_key=$(fa_key_read dpop)
asked=$(grep -F '"grant_type":"refresh_token"' "$FA_AS_LOG" | grep -cF '"event":"token"')
printf 'not a key' | keyctl pupdate "$(fa_key_id dpop)" || bail "cannot damage the DPoP key"
dpop_token --min-valid 3600
is "$FA_RC" 4 "a refresh with an unreadable key: exit 4 (keyring)" || fa_show
like "$FA_ERR" 'DPoP key.*kept.*log in again' "... the key is kept, log in again if it persists"
is "$(grep -F '"grant_type":"refresh_token"' "$FA_AS_LOG" | grep -cF '"event":"token"')" "$asked" \
    "... no refresh request was sent"
ok "... the refresh token stays" fa_key_exists refresh
is "$(fa_key_read dpop)" "not a key" "... and so does the key"
printf '%s\n' "$good_key" | keyctl pupdate "$(fa_key_id dpop)" || bail "cannot restore the DPoP key"

# A key other than the one the refresh token is bound to.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey 2>/dev/null | keyctl pupdate "$(fa_key_id dpop)" ||
    bail "cannot replace the DPoP key"
dpop_token --min-valid 3600
is "$FA_RC" 2 "a refresh with another key: exit 2 (log in again)" || fa_show
like "$FA_ERR" 'session has ended' "... the session has ended"
is "$(grep -F '"grant_type":"refresh_token"' "$FA_AS_LOG" | grep -cF '"error":"invalid_grant"')" 1 \
    "the AS refused the refresh token without its key"
nok "the DPoP key is gone" fa_key_exists dpop
nok "... with the refresh token" fa_key_exists refresh

# ---------------------------------------------------------------- logout
fa_login alice
is "$FA_RC" 0 "a new login: exit 0" || fa_show
isnt "$(fa_key_read dpop | jkt)" "$key_jkt" "a new key for the new session"
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
nok "logout removes the DPoP key" fa_key_exists dpop

# A bearer login over a DPoP session removes its key.
fa_login alice
fa_config dpop no
fa_login alice
is "$FA_RC" 0 "a login with dpop = no: exit 0" || fa_show
nok "no DPoP key stays from the session it replaced" fa_key_exists dpop
