#!/bin/bash
# pam-dpop.t - PAM logins of a DPoP-bound profile (dpop = yes) through
# pamtester as root, against the test AS and FHIR server with DPoP nonces
# (--dpop nonce): the auth phase makes the key and asks for the tokens
# with proofs (the UserInfo request of the identity check too), the stash
# carries the key beside the tokens, and open_session stores it as
# pam_fhir:PROFILE:dpop in the user's keyring with the refresh token's
# owner and permissions; the user's fhir-token then reads from the FHIR
# server with proofs, refreshes after expiry, and close_session with
# revoke_on_close removes the key.  Failed logins leave no stash.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
pam_setup

plan 25

fa_start_servers --dpop nonce --ttl 4 --keyring user
fa_config dpop yes
pam_users
URL=$FA_FHIR/Patient/example

# alice_key NAME: rdescribe of alice's pam_fhir:P:NAME in her user keyring
# ("type;uid;gid;perm;description"), or nothing.
alice_key() {
    # shellcheck disable=SC2016
    fa_as_user alice sh -c 'id=$(keyctl search @u user "$1" 2>/dev/null) &&
        keyctl rdescribe "$id"' sh "pam_fhir:$P:$1"
}
# fhir-get (examples/, the libcurl pair) for alice beside her fhir-token:
# it keeps the FHIR server's nonce in the session, which fhir-token's
# proofs then carry (fhir-token cannot see the server's answer).
get=$(dirname "$bin")/fhir-get
cp "$top_builddir/examples/.libs/fhir-get" "$get" && chmod 755 "$get" ||
    bail "cannot copy examples/fhir-get for alice"
alice_fhir_get() {
    fa_as_user alice env LD_LIBRARY_PATH="$(dirname "$bin")/.libs" "$get" \
        --config "$FA_CONF" --profile "$P" --cacert "$FA_CA" "$URL" >/dev/null
}
# alice_get: alice's fhir-token --format curl --url for the FHIR URL, then
# curl with it; prints the HTTP status.
alice_get() {
    as alice --format curl --url "$URL" >"$FA_TMP/k" 2>"$FA_TMP/k.err" || return 1
    fa_curl -K "$FA_TMP/k" -o /dev/null -w '%{http_code}' "$URL"
}

# 1-4: the auth phase: a DPoP token (after the AS's use_dpop_nonce), the
# key in the stash, which keeps its owner-only permissions
service
pt alice alice-secret authenticate
is "$FA_RC" 0 "password grant with dpop = yes: alice authenticates" || fa_show
is "$(fa_as_count password ok)" 1 "one token answer" || fa_show
is "$(grep -F '"grant_type":"password"' "$FA_AS_LOG" |
    grep -cF '"dpop":true,"token_type":"DPoP"')" 1 \
    "the AS issued a DPoP token for a request with a proof"
serial=$(stash_serial alice)
like "$(keyctl pipe "$serial" 2>/dev/null | fa_json dpop_key | head -1)" \
    '^-----BEGIN PRIVATE KEY-----$' "the stash carries the key (PKCS#8 PEM)"
like "$(keyctl rdescribe "$serial" 2>/dev/null)" "^user;0;0;003b0000;" \
    "the stash keeps owner (root) permissions only"
clear_stashes

# 6-9: failed logins (the key was made, the stash never) leave no stash
pt alice wrong-password authenticate
isnt "$FA_RC" 0 "a wrong password fails" || fa_show
is "$(stashes)" 0 "... and leaves no stash"
service username_claim=sub
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" \
    "an identity mismatch after the token answer fails" || fa_show
is "$(stashes)" 0 "... and leaves no stash"

# 10-18: authenticate and open_session: the session in alice's keyring
service revoke_on_close
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "authenticate open_session succeeds" || fa_show
is "$(stashes)" 0 "the stash key is gone after open_session"
is "$(grep -F '"event":"userinfo"' "$FA_AS_LOG" | grep -cF '"ok":true')" 2 \
    "the identity check's UserInfo requests with the DPoP token went through"
d=$(alice_key dpop)
r=$(alice_key refresh)
like "$(alice_key access)" "^user;$(id -u alice);" "the access key is alice's"
like "$r" "^user;$(id -u alice);" "the refresh key is alice's"
like "$d" "^user;$(id -u alice);" "the DPoP key is alice's"
is "$(cut -d';' -f4 <<<"$d")" "$(cut -d';' -f4 <<<"$r")" \
    "... with the refresh token's permissions"
like "$(user_key alice dpop | head -1)" '^-----BEGIN PRIVATE KEY-----$' \
    "... and the key stashed at auth, as PKCS#8 PEM"
is "$(user_key alice meta | fa_json token_type)" DPoP "the session's token_type is DPoP"

# 19-21: alice's fhir-token reads from the FHIR server with proofs, once
# fhir-get has the server's nonce in the session
ok "alice's fhir-get reads from the FHIR server (one nonce retry)" alice_fhir_get
is "$(alice_get)" 200 "fhir-token --format curl --url: the FHIR server answers 200" ||
    { cat "$FA_TMP/k.err" >&2; fa_show; }
like "$(grep -i '^header' "$FA_TMP/k" | head -1)" 'Authorization: DPoP' "... with the DPoP scheme"

# 22-23: after the access token's expiry a refresh with a proof
sleep 5
is "$(alice_get)" 200 "after expiry: the FHIR server answers 200" ||
    { cat "$FA_TMP/k.err" >&2; fa_show; }
is "$(grep -F '"grant_type":"refresh_token"' "$FA_AS_LOG" | grep -F '"ok":true' |
    grep -cF '"dpop":true')" 1 "... after one refresh with a proof"

# 24-25: close_session (revoke_on_close) ends the session, key included
pt alice x close_session
is "$FA_RC" 0 "close_session" || fa_show
is "$(alice_key dpop)" "" "the DPoP key is gone"
