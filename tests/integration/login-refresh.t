#!/bin/bash
# login-refresh.t - password login, automatic refresh after the access token
# expires, refresh token rotation, confidential clients (client_secret_basic
# and client_secret_post; a secret file every user can read refused), and
# the end of a session (invalid_grant).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 49

# ---------------------------------------------------------------- public client, rotation on
fa_start_servers --ttl 3 --rotate on --keyring user

fa_login alice
is "$FA_RC" 0 "password login succeeds" || fa_show
is "$(fa_as_count password ok)" 1 "the AS saw one password grant"
ok "the refresh token is in the keyring" fa_key_exists refresh
r1=$(fa_key_read refresh)
isnt "$r1" "" "the refresh key has a payload"

t0=$(fa_now)
fa_run fa_token
is "$FA_RC" 0 "token: exit 0" || fa_show
t1=$FA_OUT
like "$t1" '^[A-Za-z0-9._~+/=-]{16,}$' "token: prints one token"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t1")" 200 "the FHIR server accepts it"
like "$(cat "$FA_TMP/fhir.body")" '"resourceType":"Patient"' "and answers with the Patient"
is "$(fa_as_count refresh_token)" 0 "no refresh while the token is valid"

fa_run fa_token status
is "$FA_RC" 0 "status: exit 0" || fa_show
like "$FA_OUT" "127\\.0\\.0\\.1:$FA_AS_PORT" "status names the issuer"
unlike "$FA_OUT$FA_ERR" "$t1|$r1" "status never shows a token"

# The access token expires (TTL 3 s; min_valid 1).
fa_sleep_past "$t0" "$FA_TTL"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t1")" 401 "after its lifetime the old token is refused"
like "$(cat "$FA_TMP/fhir.headers")" 'error="invalid_token"' "with WWW-Authenticate error=invalid_token"

fa_run fa_token
is "$FA_RC" 0 "token after expiry: exit 0" || fa_show
t2=$FA_OUT
isnt "$t2" "$t1" "a new access token"
# At once: the new token lives 3 s, and what follows may take longer on a
# loaded machine.
fa_run fa_token
is "$FA_OUT" "$t2" "the cached token is returned while valid (no refresh)"
is "$(fa_as_count refresh_token)" 1 "still one refresh in the AS log"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t2")" 200 "the FHIR server accepts the new token"
is "$(fa_as_count refresh_token ok)" 1 "the AS log shows exactly one refresh"

# Rotation: a new refresh token replaced the old one in the keyring.
r2=$(fa_key_read refresh)
isnt "$r2" "$r1" "rotation: the keyring holds a new refresh token"
is "$(fa_introspect "$r2")" true "the new refresh token is active at the AS"
is "$(fa_introspect "$r1")" false "the old refresh token is not"

# Reusing the rotated refresh token is refused, and (oidc-provider, as the
# OAuth 2.0 Security BCP recommends) revokes the whole grant.
is "$(fa_refresh_grant "$r1")" 400 "the AS refuses the old refresh token"
like "$(fa_json error <"$FA_TMP/refresh.json")" '^invalid_grant$' "with invalid_grant"
is "$(fa_introspect "$r2")" false "reuse detection revoked the whole grant"

# ---------------------------------------------------------------- invalid_grant: revoked behind our back
fa_login bob
is "$FA_RC" 0 "a new login" || fa_show
t0=$(fa_now)
r3=$(fa_key_read refresh)
is "$(fa_revoke "$r3")" 200 "the refresh token is revoked at the AS behind the client's back"
fa_sleep_past "$t0" "$FA_TTL"
fa_run fa_token
is "$FA_RC" 2 "token with a revoked refresh token: exit 2 (login needed)" || fa_show
like "$FA_ERR" '[Ll]og ?in' "stderr says to log in"

# ---------------------------------------------------------------- rotation off
fa_start_servers --ttl 3 --rotate off --keyring user
fa_login alice
t0=$(fa_now)
r1=$(fa_key_read refresh)
fa_sleep_past "$t0" "$FA_TTL"
fa_run fa_token
is "$FA_RC" 0 "rotation off: refresh succeeds" || fa_show
is "$(fa_key_read refresh)" "$r1" "rotation off: the refresh token is unchanged"
is "$(fa_as_events token '"rotated":false')" 1 "the AS did not rotate"

# ---------------------------------------------------------------- confidential, client_secret_basic
fa_start_servers --ttl 3 --client fhir-conf
fa_login alice
is "$FA_RC" 0 "fhir-conf (client_secret_basic): login" || fa_show
t0=$(fa_now)
fa_sleep_past "$t0" "$FA_TTL"
fa_run fa_token
is "$FA_RC" 0 "fhir-conf: refresh" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "fhir-conf: the refreshed token works"
is "$(grep -F '"client_id":"fhir-conf"' "$FA_AS_LOG" | grep -F '"event":"token"' | grep -cF '"ok":true')" 2 \
    "fhir-conf: the AS saw a password and a refresh grant, both authenticated"

# A secret every user can read is refused before anything is sent, as a
# key file is (client-jwt.t): the refresh is a configuration error naming
# the file, and the stored session waits for the file to be fixed.
secret=$FA_TMP/fhir-conf.secret
exp=$(fa_token --format json | fa_json expires_at)
r0=$(fa_key_read refresh)
n0=$(fa_as_count refresh_token)
chmod 644 "$secret"
fa_sleep_past "$exp"
fa_run fa_token
is "$FA_RC" 1 "fhir-conf: a client_secret_file every user can read: exit 1" || fa_show
like "$FA_ERR" "client_secret_file $secret is readable by every user" "... naming the file and why"
ok "... the stored refresh token stays" test -n "$r0" -a "$(fa_key_read refresh)" = "$r0"
is "$(fa_as_count refresh_token)" "$n0" "... and no refresh reached the AS"
chmod 600 "$secret"
fa_run fa_token
is "$FA_RC" 0 "fhir-conf: mode 0600 again, and the same session refreshes" || fa_show

# ---------------------------------------------------------------- confidential, client_secret_post only
# The AS refuses client_secret_basic for this client; the discovery document
# lists only client_secret_post, so the client must choose it.
fa_start_servers --ttl 3 --client fhir-post --auth-methods client_secret_post
fa_login alice
is "$FA_RC" 0 "fhir-post (metadata lists only client_secret_post): login" || fa_show
t0=$(fa_now)
fa_sleep_past "$t0" "$FA_TTL"
fa_run fa_token
is "$FA_RC" 0 "fhir-post: refresh" || fa_show
is "$(fa_as_count refresh_token ok)" 1 "fhir-post: one successful refresh in the AS log"

# ---------------------------------------------------------------- config endpoint overrides win
# The session saved its endpoints at login; a token_endpoint set in the
# configuration afterwards still takes their place on refresh.
fa_start_servers --ttl 3
fa_login alice
t0=$(fa_now)
fa_config token_endpoint "https://127.0.0.1:$(fa_dead_port)/token"
fa_sleep_past "$t0" "$FA_TTL"
fa_run fa_token
is "$FA_RC" 3 "a configured dead token_endpoint is used on refresh: exit 3" || fa_show
is "$(fa_as_count refresh_token)" 0 "the AS saw no refresh"
fa_config token_endpoint
fa_run fa_token
is "$FA_RC" 0 "without the override the saved endpoint works again" || fa_show
is "$(fa_as_count refresh_token ok)" 1 "one refresh at the AS"

done_testing
