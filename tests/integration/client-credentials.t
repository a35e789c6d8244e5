#!/bin/bash
# client-credentials.t - service profiles (grant = client_credentials,
# SMART Backend Services) against the test AS with its client_credentials
# grant (as.js --client-credentials on) for the private_key_jwt client
# fhir-jwt and the secret client fhir-conf.
#
# First with 60 s tokens, as root: a profile without a client credential
# is a configuration error naming its line; login and the PAM module
# refuse a service profile; the secret client obtains a token that the
# FHIR server takes, and a 401 from it (the token revoked at the AS behind
# the program's back) makes examples/fhir-get obtain a new one and retry
# once; refused credentials exit 2 without a login hint and remove
# nothing; with fhir_base alone, another fhir_base makes no request to the
# AS found before, and a session without discovered_from (an older
# version's) is discovered anew; a token endpoint planted in the metadata
# is not used by a set-group-id caller or a FHIRAUTH_OPEN_SYSTEM_ONLY
# handle (tests/pamlib-driver); a service token replaces a user's
# DPoP-bound session, its keys and its scheme.  Then with 3 s tokens, as a local
# service account made for the test: the first token (the AS's request
# log counts one client_credentials request with an assertion), the
# cached one (none), one after expiry, status, exec, logout (the access
# token revoked) and eight processes on an empty keyring (exactly one
# request).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates a service account)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
GET_BIN=$top_builddir/examples/fhir-get
[ -x "$GET_BIN" ] || bail "$GET_BIN is missing: make check builds it"

fa_test_dir
SVC=fa-cc-svc-$$
fa_add_user "$SVC" || bail "cannot create the service account"
K=$FA_TMP/keys
mkdir -m 711 "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/svc.pem" 2>/dev/null &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/other.pem" 2>/dev/null ||
    bail "openssl cannot make the test keys"
chmod 600 "$K"/*.pem

# The client's public key, as `fhir-token client-jwks` prints it, registers
# fhir-jwt at the AS.
printf '[profile p]\nclient_id = fhir-jwt\ntoken_endpoint = https://127.0.0.1:9/token\nclient_key_file = %s\n' \
    "$K/svc.pem" >"$FA_TMP/jwks.conf"
"$FA_TOKEN_BIN" --config "$FA_TMP/jwks.conf" --profile p client-jwks >"$FA_TMP/client.jwks" ||
    bail "client-jwks failed"

# cc [ok|fail]: client_credentials requests in the AS's log.
cc() {
    fa_as_count client_credentials "${1:-all}"
}

# revoke_as_conf TOKEN: revoke an access token at the AS as fhir-conf (a
# token is revoked only by the client it was issued to); prints the status.
revoke_as_conf() {
    printf 'token=%s&token_type_hint=access_token' "$1" |
        fa_curl -u fhir-conf:conf-secret --data-binary @- -o /dev/null -w '%{http_code}' \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            "$FA_AS_URL/token/revocation"
}

# line_of KEY: the line of $FA_CONF that sets KEY.
line_of() {
    grep -n "^$1 = " "$FA_CONF" | cut -d: -f1
}

# ---------------------------------------------------------------- 60 s tokens, root
fa_start_servers --client fhir-conf --jwt-client-jwks "$FA_TMP/client.jwks" \
    --client-credentials --ttl 60 --scope 'system/*.rs'
fa_config grant client_credentials

# A public client has no credential to ask with.
fa_config client_id fhir-cli
fa_config client_secret_file
fa_run fa_token
is "$FA_RC" 1 "no client credential: exit 1 (configuration error)" || fa_show
like "$FA_ERR" "$FA_CONF:$(line_of grant): grant = client_credentials needs a client credential" \
    "... naming the file and the line of the grant"
is "$(cc)" 0 "... and no request made"

# The secret client.
printf 'conf-secret\n' >"$FA_TMP/conf.secret"
chmod 600 "$FA_TMP/conf.secret"
fa_config client_id fhir-conf
fa_config client_secret_file "$FA_TMP/conf.secret"
fa_run fa_token login --password --username alice --password-stdin </dev/null
is "$FA_RC" 1 "login with a service profile: exit 1" || fa_show
like "$FA_ERR" 'service profile.*has no login' "... saying it has none"

fa_run fa_token
is "$FA_RC" 0 "the secret client (client_secret_basic) obtains a token: exit 0" || fa_show
t1=$FA_OUT
is "$(cc ok)" 1 "one client_credentials request"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t1")" 200 "the FHIR server takes the token"
nok "no refresh token is stored" fa_key_exists refresh
ok "the access token is cached" fa_key_exists access

# A 401 (the cached token revoked at the AS) heals with one new token.
fhir_get() {
    "$GET_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --cacert "$FA_CA" "$@"
}
is "$(revoke_as_conf "$t1")" 200 "the cached token is revoked at the AS"
fa_run fhir_get "$FA_FHIR/Patient/example"
is "$FA_RC" 0 "fhir-get after the revocation: exit 0" || fa_show
is "$FA_ERR" "fhir-get: HTTP 200, retries 1" "one 401, one retry that succeeds"
is "$(cc ok)" 2 "... with one new client_credentials token"
fa_run fa_token
isnt "$FA_OUT" "$t1" "the new token is cached"

# Refused credentials: exit 2 like every refusal, no login hint, nothing
# removed (the cached token is still served by a call that needs none).
t2=$FA_OUT
printf 'wrong-secret\n' >"$FA_TMP/conf.secret"
fa_run fa_token --min-valid 3600
is "$FA_RC" 2 "a wrong secret: exit 2" || fa_show
like "$FA_ERR" 'invalid_client' "... the AS's invalid_client is named"
unlike "$FA_ERR" 'log in' "... with no hint to log in"
is "$(cc fail)" 1 "... one refused request"
fa_run fa_token
is "$FA_OUT" "$t2" "the cached token is kept"

# The stored endpoints serve only the server the configuration names:
# with fhir_base alone (no issuer to compare), another fhir_base sends
# the secret nowhere near the old AS; the same one uses them again.
printf 'conf-secret\n' >"$FA_TMP/conf.secret"
fa_config issuer
fa_clear_keys
fa_run fa_token
is "$FA_RC" 0 "fhir_base only: a token (SMART discovery)" || fa_show
like "$(fa_key_read meta)" "\"discovered_from\":\"[^\"]*:$FA_FHIR_PORT[^\"]*fhir\"" \
    "... the session records where discovery started"
before=$(cc)
fa_config fhir_base "https://127.0.0.1:$(fa_dead_port)/fhir"
fa_run fa_token --min-valid 3600
like "$FA_ERR" 'could not refresh' "another fhir_base: discovery there fails" || fa_show
is "$(cc)" "$before" "... and the old AS gets no request"
fa_config fhir_base "$FA_FHIR"
fa_run fa_token --min-valid 3600
is "$FA_RC" 0 "the first fhir_base again: a new token" || fa_show
is "$(cc)" $((before + 1)) "... from the stored session's AS"
fa_config issuer "$FA_ISSUER"

# A service session an older version stored (no discovered_from) of the
# issuer the configuration names is used: discovery checked that issuer.
# (Without an issuer configured it is discovered anew: session-t.)
fa_clear_keys
fa_run fa_token
disc=$(fa_as_events discovery)
fa_key_read meta | sed 's/,"discovered_from":"[^"]*"//' | keyctl pupdate "$(fa_key_id meta)"
before=$(cc)
fa_run fa_token --min-valid 3600
is "$FA_RC" 0 "an older version's service session: a new token" || fa_show
is "$(fa_as_events discovery)/$(cc)" "$disc/$((before + 1))" \
    "... from the stored session, no discovery"

# The user can write the metadata: a token endpoint planted there is used
# by the user's own calls, but never by a caller with more privilege than
# its user (a set-group-id one, egid ≠ gid; a handle opened
# FHIRAUTH_OPEN_SYSTEM_ONLY): those discover anew.
plant() {
    fa_key_read meta |
        sed "s|\"token_endpoint\":\"[^\"]*\"|\"token_endpoint\":\"https://127.0.0.1:$1/token\"|" |
        keyctl pupdate "$(fa_key_id meta)"
}
dead=$(fa_dead_port)
plant "$dead"
like "$(fa_key_read meta)" "127\.0\.0\.1:$dead/token" "a token endpoint planted in the metadata"
before=$(cc ok)
fa_run fa_token --min-valid 3600
like "$FA_ERR" 'could not refresh' "... is where the user's own call asks" || fa_show
fa_run setpriv --egid="$(id -g "$SVC")" --keep-groups "$FA_TOKEN_BIN" \
    --config "$FA_CONF" --profile "$FA_PROFILE" --min-valid 3600
is "$FA_RC/$FA_ERR" 0/ "set-group-id: a new token, no warning" || fa_show
is "$(cc ok)" $((before + 1)) "... from the configured AS"
is "$(fa_as_events discovery)" $((disc + 1)) "... after a discovery"
plant "$dead"
fa_run "$top_builddir/tests/pamlib-driver" token "$FA_CONF" 3600
is "$FA_OUT" "token=0
token_got=1
token_scheme=Bearer" "FHIRAUTH_OPEN_SYSTEM_ONLY: a new token, no warning" || fa_show
is "$(cc ok)" $((before + 2)) "... from the configured AS"

# A service token replaces what a user's DPoP-bound session left (the
# profile's grant changed): its refresh token and DPoP key go, and a
# handle that returned that session's cached token says Bearer for the
# service token after it.
#
# plant_key NAME PAYLOAD: a key in the user keyring with the permissions
# the library gives (made in the session keyring, which we possess).
plant_key() {
    local id
    id=$(printf '%s' "$2" | keyctl padd user "pam_fhir:$FA_PROFILE:$1" @s) &&
        keyctl setperm "$id" 0x3f1f0000 && keyctl link "$id" @u &&
        keyctl unlink "$id" @s >/dev/null
}
fa_clear_keys
plant_key refresh planted-refresh
plant_key dpop planted-key
plant_key access "$(($(date +%s) + 120)) DPoP planted-access"
fa_run "$top_builddir/tests/pamlib-driver" token "$FA_CONF" 1 3600
is "$FA_OUT" "token=0
token_got=1
token_scheme=DPoP
token=0
token_got=1
token_scheme=Bearer" "the user's cached DPoP token, then a service token: Bearer" || fa_show
is "$(cc ok)" $((before + 3)) "... from one request"
nok "the user's refresh token is gone" fa_key_exists refresh
nok "... and its DPoP key" fa_key_exists dpop

# The key client: an assertion; a key the AS does not know is refused.
fa_config client_id fhir-jwt
fa_config client_secret_file
fa_config client_key_file "$K/other.pem"
fa_clear_keys
fa_run fa_token
is "$FA_RC" 2 "a key the AS does not know: exit 2" || fa_show
like "$FA_ERR" 'invalid_client' "... invalid_client"
nok "nothing stored" fa_key_exists access

# The PAM module refuses a service profile before any request.
if command -v pamtester >/dev/null 2>&1; then
    svcfile=/etc/pam.d/fa-cc-$$
    printf 'auth required %s config=%s profile=%s\naccount required pam_permit.so\n' \
        "$top_builddir/pam_fhir/.libs/pam_fhir.so" "$FA_CONF" "$FA_PROFILE" >"$svcfile"
    before=$(grep -c . "$FA_AS_LOG")
    # (FA_SAN_HOST: pamtester needs the sanitizer runtimes preloaded to
    # load a sanitized pam_fhir.so.)
    fa_run_stdin '' env LD_LIBRARY_PATH="$top_builddir/lib/.libs" \
        "${FA_SAN_HOST[@]}" pamtester -v "fa-cc-$$" "$SVC" authenticate
    rm -f "$svcfile"
    isnt "$FA_RC" 0 "PAM auth with a service profile fails" || fa_show
    like "$FA_ERR" 'Error in service module' "... PAM_SERVICE_ERR" || fa_show
    is "$(grep -c . "$FA_AS_LOG")" "$before" "... without a request to the AS"
else
    skip "PAM refuses a service profile" "no pamtester"
    skip "... PAM_SERVICE_ERR" "no pamtester"
    skip "... without a request" "no pamtester"
fi

# ---------------------------------------------------------------- 3 s tokens, a service account
fa_start_servers --client fhir-conf --jwt-client-jwks "$FA_TMP/client.jwks" \
    --client-credentials --ttl 3 --scope 'system/*.rs'
fa_config grant client_credentials
fa_config client_id fhir-jwt
fa_config client_secret_file
fa_config client_key_file "$K/svc.pem"
chown "$SVC" "$K/svc.pem"
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the service account"

# svc ARGS...: fhir-token as the service account, in a fresh session
# keyring (as a systemd unit or a cron job has one of its own).
svc() {
    fa_as_user "$SVC" "$bin" --config "$FA_CONF" --profile "$FA_PROFILE" "$@"
}

# svc_key NAME: the service account's key pam_fhir:PROFILE:NAME exists.
svc_key() {
    fa_as_user "$SVC" keyctl search @u user "pam_fhir:$FA_PROFILE:$1" >/dev/null 2>&1
}

# assertions: client_credentials requests the AS took with an assertion.
assertions() {
    grep -F '"event":"token"' "$FA_AS_LOG" | grep -F '"grant_type":"client_credentials"' |
        grep -F '"client_assertion":true' | grep -cF '"ok":true'
}

fa_run svc
is "$FA_RC" 0 "the service account's first token: exit 0" || fa_show
a1=$FA_OUT
is "$(assertions)" 1 "one client_credentials request, with an assertion the AS took"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$a1")" 200 "the FHIR server takes it"
ok "cached in the account's keyring" svc_key access
nok "no refresh token there" svc_key refresh
ok "the session's metadata is there" svc_key meta
nok "nothing in root's keyring" fa_key_exists access

fa_run svc
is "$FA_OUT" "$a1" "the second call prints the cached token"
is "$(cc)" 1 "... without a request"

fa_run svc status
is "$FA_RC" 0 "status: exit 0" || fa_show
like "$FA_OUT" 'Session: +service \(client_credentials\)' "status: a service session"
unlike "$FA_OUT" 'Refresh token|User:|Subject:' "status: no refresh token, user or subject"
like "$FA_OUT" 'Scope: +system/\*\.rs' "status: the granted system scope"
fa_run svc status --json
is "$(fa_json session <<<"$FA_OUT")/$(fa_json grant <<<"$FA_OUT")/$(fa_json has_refresh_token <<<"$FA_OUT")" \
    service/client_credentials/false "status --json: session, grant, no refresh token"

fa_run svc exec --min-valid 2 -- sh -c 'printf %s "$FHIR_ACCESS_TOKEN"'
is "$FA_RC" 0 "exec: exit 0" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 \
    "exec: a token the FHIR server takes in the command's environment"
fa_run svc --format json
is "$(fa_json scope <<<"$FA_OUT")/$(fa_json token_type <<<"$FA_OUT")" "system/*.rs/Bearer" \
    "--format json: the granted scope and the token type"

# Expiry: the next call after it asks again, at the stored token endpoint.
before=$(assertions)
disc1=$(fa_as_events discovery)
a2=$(fa_json access_token <<<"$FA_OUT")
fa_sleep_past "$(fa_json expires_at <<<"$FA_OUT")"
fa_run svc
is "$FA_RC" 0 "after expiry: exit 0" || fa_show
isnt "$FA_OUT" "$a2" "a new token"
is "$(assertions)" $((before + 1)) "... from one more request"
is "$(fa_as_events discovery)" "$disc1" "... to the stored token endpoint (no discovery)"
a2=$FA_OUT

fa_run svc logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
is "$(fa_as_events revocation '"token_type_hint":"access_token","ok":true')" 1 \
    "logout revoked the access token at the AS"
is "$(fa_as_events revocation '"client_assertion":true')" 1 "... with an assertion"
nok "no key is left" svc_key access
nok "... nor metadata" svc_key meta

# Eight processes on an empty keyring: one request between them.
before=$(cc)
pids=()
for i in 1 2 3 4 5 6 7 8; do
    svc >"$FA_TMP/par.$i.out" 2>"$FA_TMP/par.$i.err" &
    pids+=("$!")
done
fails=0
for p in "${pids[@]}"; do
    wait "$p" || fails=$((fails + 1))
done
is "$fails" 0 "eight processes at once: all exit 0" || diag "$(cat "$FA_TMP"/par.*.err)"
is "$(cc)" $((before + 1)) "... exactly one client_credentials request"
is "$(sort -u "$FA_TMP"/par.*.out | wc -l)" 1 "... all print the same token"
is "$(fa_as_events token '"ok":false')" 0 "... and no request failed"

# A key the account cannot read: a configuration error, before any request.
chown root "$K/svc.pem"
before=$(cc)
fa_run svc --min-valid 3600
is "$FA_RC" 1 "a key the account cannot read: exit 1" || fa_show
like "$FA_ERR" 'svc\.pem' "... naming the key file"
is "$(cc)" "$before" "... and no request made"

done_testing
