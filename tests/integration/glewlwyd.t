#!/bin/bash
# glewlwyd.t - pam_fhir against Glewlwyd, an authorization server nobody
# here wrote (Debian's package, C, its OpenID Connect plugin and a sqlite
# database), run as it comes and configured only as any site must
# (glewlwyd-lib.sh), with examples/pam_fhir.conf.glewlwyd as the
# configuration.  What it does differently from the project's own test AS:
# its issuer has a path, its access tokens are JWTs, token_type is
# "bearer" in lower case, refresh tokens are one-use (reusing one ends the
# chain), and some refusals have an empty body (a wrong password is a bare
# 403, a dead refresh token a bare 400).  Flows: fhir-token's password
# login, refresh on expiry, logout with revocation, the device grant
# approved as a browser would, the PAM module's password login with the
# id_token identity check (pamtester), and a service profile (grant =
# client_credentials) with a client secret.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/glewlwyd-lib.sh"
gw_prereqs
pam_setup
pam_cleanup_hook() { gw_show_log; }

plan 54

GW_TTL=3
gw_start
gw_conf
pam_users
# alice's own fhir-token (PAM, below) refreshes after her login (it asks
# for more than the token's life): the client secret is her group's to read, as a site
# gives it to the group of the users who log in (pam_fhir.conf(5),
# client_secret_file).
chgrp alice "$GW_SECRET_FILE" && chmod 640 "$GW_SECRET_FILE" ||
    bail "cannot give the client secret to alice's group"
service

# expiry: the cached access token's expires_at (epoch).
expiry() {
    fa_token token --format json 2>/dev/null | fa_json expires_at
}

# ---------------------------------------------------------------- the server as it comes
like "$GW_ISSUER" '^https://127\.0\.0\.1:[0-9]+/api/oidc$' "the issuer has a path"
is "$(gw_token_curl grant_type=password username=alice password=alice-secret \
    'scope=openid profile offline_access')" 200 "glewlwyd's own password grant answers"
is "$(fa_json token_type <"$FA_TMP/gw-token.json")" bearer "its token_type is lowercase"
like "$(fa_json access_token <"$FA_TMP/gw-token.json")" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' \
    "its access token is a JWT"
is "$(gw_token_curl grant_type=password username=alice password=wrong scope=openid)" 403 \
    "a wrong password: HTTP 403"
is "$(wc -c <"$FA_TMP/gw-token.json")" 0 "with an empty body"

# ---------------------------------------------------------------- fhir-token: password login
fa_login alice
is "$FA_RC" 0 "fhir-token login --password: exit 0" || fa_show
fa_run fa_token token --format json
is "$(printf '%s' "$FA_OUT" | fa_json token_type)" Bearer "the lowercase token_type is taken (and shown as Bearer)"
at=$(printf '%s' "$FA_OUT" | fa_json access_token)
like "$at" '^[^.]+\.[^.]+\.[^.]+$' "the access token handed out is glewlwyd's JWT"
fa_run fa_token status
like "$FA_OUT" "Issuer: +$GW_ISSUER" "status names the issuer with its path"
like "$FA_OUT" "User: +alice" "and the user from the id_token's preferred_username"

# A wrong password: glewlwyd's bare 403 is a refusal (exit 2), said
# clearly, and the session already stored is left alone.
r0=$(fa_key_read refresh)
fa_login alice wrong-password
is "$FA_RC" 2 "a wrong password: exit 2 (refused), not 3 (server trouble)" || fa_show
like "$FA_ERR" "HTTP 403 with an empty body.*refused" "the message says the server refused without a reason"
is "$(fa_key_read refresh)" "$r0" "the stored session is kept"

# ---------------------------------------------------------------- refresh on expiry, one-use refresh tokens
fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 0 "an expired access token is refreshed" || fa_show
isnt "$FA_OUT" "$at" "a new access token"
r1=$(fa_key_read refresh)
isnt "$r1" "$r0" "glewlwyd rotated the refresh token, and the new one is stored"
is "$(gw_introspect "$r1")" true "the new refresh token is active"
is "$(gw_token_curl grant_type=refresh_token "refresh_token=$r0")" 400 \
    "the old refresh token is refused (one-use)"
is "$(wc -c <"$FA_TMP/gw-token.json")" 0 "with an empty body"
# Reusing a one-use refresh token ends the chain: glewlwyd disables the
# newest one too (theft detection), and refuses it with a bare 400.
is "$(gw_introspect "$r1")" false "which ended the chain: the stored refresh token is dead too"

# ---------------------------------------------------------------- an empty error body on refresh
fa_sleep_past "$(expiry)"
fa_run fa_token token
is "$FA_RC" 2 "the refresh refused with an empty body: exit 2" || fa_show
like "$FA_ERR" "HTTP 400 with an empty body" "the message names the status and the empty answer"
like "$FA_ERR" "session is kept: log in again if this persists" "and says what to do"
is "$(fa_key_read refresh)" "$r1" "no stored token is lost"

# ---------------------------------------------------------------- logout with revocation
fa_login alice
is "$FA_RC" 0 "log in again" || fa_show
r2=$(fa_key_read refresh)
is "$(gw_introspect "$r2")" true "the new refresh token is active"
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
like "$FA_ERR" "revoked at the server" "it revoked the refresh token at glewlwyd"
nok "the keys are gone" fa_key_exists refresh
is "$(gw_introspect "$r2")" false "glewlwyd's introspection: the refresh token is inactive"
is "$(gw_token_curl grant_type=refresh_token "refresh_token=$r2")" 400 "and glewlwyd refuses it"

# ---------------------------------------------------------------- device grant
gw_dev_start
ok "login --device shows a user code" gw_dev_code
like "$(cat "$FA_TMP/dev.err")" "open $GW_ISSUER/device" "glewlwyd's verification URI"
ok "alice approves it at glewlwyd's verification page" gw_device_approve "$GW_DEV_CODE" alice
gw_dev_wait
is "$GW_DEV_RC" 0 "login --device: exit 0" || diag "$GW_DEV_ERR"
fa_run fa_token status
like "$FA_OUT" "User: +alice" "the device login is alice's"
fa_clear_keys

# ---------------------------------------------------------------- PAM
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "PAM: alice logs in with her glewlwyd password" || fa_show
# --min-valid longer than the token's life: alice's own fhir-token must
# refresh, reading the client secret through her group (mode 0640).
tok=$(as alice token --min-valid 60 2>/dev/null)
like "$tok" '^[^.]+\.[^.]+\.[^.]+$' "alice's fhir-token refreshes (the secret read through her group) and hands out her glewlwyd token"
pt alice wrong-password authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" \
    "a wrong password (glewlwyd's bare 403): PAM_AUTH_ERR, not AUTHINFO_UNAVAIL" || fa_show
# The id_token carries preferred_username "alice" and name "Alice": a
# check against name refuses the local user alice.
service username_claim=name
pt alice alice-secret authenticate
like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" "PAM: identity mismatch (name is Alice) is refused" || fa_show
clear_stashes
service
pt bob alice-secret authenticate
isnt "$FA_RC" 0 "PAM: bob cannot log in with alice's password" || fa_show
clear_stashes

# ---------------------------------------------------------------- client_credentials: a service profile
# What a site sets up for a backend service: the plugin's client
# credentials grant (auth-type-client-enabled; the instance is reset to
# take the change), a scope, and a confidential client of its own that may
# use that grant with that scope.
gw_curl -o "$FA_TMP/gw-plugin.json" "$GW_URL/api/mod/plugin/oidc" &&
    gw_api PUT mod/plugin/oidc "$(node -e '
        const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        p.parameters["auth-type-client-enabled"] = true;
        p.parameters["allowed-scope"].push("system/*.rs");
        process.stdout.write(JSON.stringify({ display_name: p.display_name,
            parameters: p.parameters, order_rank: p.order_rank, readonly: p.readonly }));
    ' "$FA_TMP/gw-plugin.json")" &&
    gw_api PUT mod/plugin/oidc/reset '{}' &&
    gw_api POST scope/ '{"name":"system/*.rs","display_name":"System read","description":"Backend services","password_required":false,"password_max_age":0,"scheme":{}}' &&
    gw_api POST client/ '{"client_id":"pam-fhir-svc","name":"backend","description":"a backend service","confidential":true,"client_secret":"svc-secret","token_endpoint_auth_method":["client_secret_basic"],"authorization_type":["client_credentials"],"redirect_uri":[],"scope":["system/*.rs"],"enabled":true}' ||
    bail "cannot set up glewlwyd's client_credentials grant"
printf 'svc-secret\n' >"$FA_TMP/svc.secret"
chmod 600 "$FA_TMP/svc.secret"
{
    echo "[profile $FA_PROFILE]"
    echo "issuer = $GW_ISSUER"
    echo "ca_file = $FA_CA"
    echo "client_id = pam-fhir-svc"
    echo "client_secret_file = $FA_TMP/svc.secret"
    echo "grant = client_credentials"
    echo "scope = system/*.rs"
    echo "keyring = user"
    echo "min_valid = 1"
    echo "timeout = 5"
} >"$FA_TMP/svc.conf"
svc() {
    "$FA_TOKEN_BIN" --config "$FA_TMP/svc.conf" --profile "$FA_PROFILE" "$@"
}
# issued: access tokens glewlwyd's log says it made for the client.
issued() {
    grep -c "Access token generated for client 'pam-fhir-svc'" "$GW_LOG"
}

fa_run svc
is "$FA_RC" 0 "client_credentials with the client secret: exit 0" || fa_show
st=$FA_OUT
like "$st" '^[^.]+\.[^.]+\.[^.]+$' "glewlwyd's JWT"
is "$(issued)" 1 "one token issued"
fa_run svc status
like "$FA_OUT" 'Session: +service \(client_credentials\)' "status: a service session"
like "$FA_OUT" 'Scope: +system/\*\.rs' "status: the system scope glewlwyd granted"
fa_run svc
is "$FA_OUT" "$st" "the second call: the cached token"
is "$(issued)" 1 "... none issued"
fa_sleep_past "$(svc --format json | fa_json expires_at)"
fa_run svc
isnt "$FA_OUT" "$st" "after expiry: a new token"
is "$(issued)" 2 "... one more issued"
fa_run svc logout
like "$FA_ERR" "revoked at the server" "logout revokes the access token at glewlwyd" || fa_show
printf 'wrong\n' >"$FA_TMP/svc.secret"
fa_run svc
is "$FA_RC" 2 "a wrong secret (glewlwyd's bare 403): exit 2" || fa_show
like "$FA_ERR" "HTTP 403 with an empty body" "... said so"

done_testing
