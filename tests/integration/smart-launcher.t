#!/bin/bash
# smart-launcher.t - fhir-token against the SMART on FHIR reference launcher
# (smart-on-fhir/smart-launcher-v2, unmodified: launcher-lib.sh), with
# examples/pam_fhir.conf.smart-launcher as its configuration: the browser
# login with the launcher's login and authorization pages skipped, the
# launch context, a read through its FHIR proxy, refresh on expiry, and a
# logout at a server without revocation.  Also what of the launcher a
# client meets: metadata only under the FHIR base, "aud" compared exactly,
# no password or device grant, id_tokens without "kid", refreshed ones
# without "aud" and "nonce".
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/launcher-lib.sh"

# Access tokens live 6 s (the launcher takes minutes; minutes * 60 must
# come out whole, or its token endpoint fails): the refresh below waits
# for one to expire.  (The plan after the start: a missing launcher is a
# skip_all.)
fa_start_launcher
plan 39
diag "the launcher took ${FA_LAUNCHER_START}s to start"
fa_launcher_conf pam_fhir.conf.smart-launcher

# ---------------------------------------------------------------- the server
fa_curl -o "$FA_TMP/smart.json" "$FA_FHIR/.well-known/smart-configuration"
smart=$(cat "$FA_TMP/smart.json")
is "$(fa_json issuer <<<"$smart")" "$FA_FHIR" "SMART metadata under the FHIR base; its issuer is the FHIR base"
is "$(fa_json grant_types_supported <<<"$smart")" '["authorization_code","client_credentials"]' \
    "grants: authorization code and client credentials only (no password, no device)"
is "$(fa_json revocation_endpoint <<<"$smart")" "" "no revocation endpoint"
isnt "$(fa_curl -o /dev/null -w '%{http_code}' "$FA_LAUNCHER_URL/.well-known/openid-configuration")" 200 \
    "no metadata at the host's root"
# The authorization endpoint compares aud with its FHIR base: a trailing
# slash is refused.
auth_ep=$(fa_json authorization_endpoint <<<"$smart")
fa_curl -o /dev/null -D "$FA_TMP/aud.head" -G "$auth_ep" --data-urlencode response_type=code \
    --data-urlencode client_id=x --data-urlencode redirect_uri=http://127.0.0.1:9/cb \
    --data-urlencode scope=openid --data-urlencode state=s --data-urlencode "aud=$FA_FHIR/"
like "$(grep -i '^location:' "$FA_TMP/aud.head")" 'error=invalid_request&error_description=Bad\+audience' \
    "the launcher refuses an aud that is not its FHIR base exactly"

# ---------------------------------------------------------------- login --browser
# $BROWSER: given the file:// page fhir-token writes, follow its meta
# refresh with curl: the launch settings skip the launcher's pages, so the
# authorization endpoint redirects straight to the loopback listener.
cat >"$FA_TMP/browser" <<'EOF'
#!/bin/bash
page=${1#file://}
url=$(sed -n 's/.*http-equiv="refresh" content="0; url=\([^"]*\)".*/\1/p' "$page" |
    sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&#39;/'/g" -e 's/&amp;/\&/g')
printf '%s\n' "$url" >"$FA_TMP/browser.url"
curl -sS --max-time 20 --cacert "$FA_CA" -L --max-redirs 3 -o "$FA_TMP/browser.page" \
    -w '%{http_code}' "$url" >"$FA_TMP/browser.status.tmp"
mv "$FA_TMP/browser.status.tmp" "$FA_TMP/browser.status"
EOF
chmod 755 "$FA_TMP/browser"

# param NAME FILE: a query parameter of the URL in FILE (still encoded).
param() {
    sed -n "s/.*[?&]$1=\\([^&]*\\).*/\\1/p" "$2" | head -1
}

fa_run env BROWSER="$FA_TMP/browser" timeout 60 \
    "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" login --browser
is "$FA_RC" 0 "login --browser: exit 0" || fa_show
like "$FA_ERR" 'logged in' "stderr says logged in"
for ((i = 0; i < 50; i++)); do
    [ -e "$FA_TMP/browser.status" ] && break
    sleep 0.1
done
is "$(cat "$FA_TMP/browser.status" 2>/dev/null)" 200 "the browser lands on the listener's page"
like "$(cat "$FA_TMP/browser.page" 2>/dev/null)" 'You are logged in' "... which says the user is logged in"
is "$(param aud "$FA_TMP/browser.url")" "$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$FA_FHIR")" \
    "the authorization request's aud is the configured FHIR base"
is "$(param code_challenge_method "$FA_TMP/browser.url")" S256 "with PKCE S256"
is "$(fa_launcher_count authorization_code)" 1 "the launcher answered one code exchange"
ok "the refresh token is in the keyring" fa_key_exists refresh

# ---------------------------------------------------------------- the session
fa_run fa_token --format env
is "$FA_RC" 0 "token --format env: exit 0" || fa_show
like "$FA_OUT" "^export FHIR_PATIENT='example'\$" "the launch's patient (from the token response)"
like "$FA_OUT" "^export FHIR_ENCOUNTER='enc-1'\$" "the launch's encounter"
like "$FA_OUT" "^export FHIR_USER='Patient/example'\$" "fhirUser, from the id_token"
like "$FA_OUT" "^export FHIR_BASE_URL='$FA_FHIR'\$" "the FHIR base"
fa_run fa_token status
sub=$(printf '%s' 'Patient/example' | sha256sum | cut -d' ' -f1)
like "$FA_OUT" "Subject: +$sub" "status shows the id_token's sub (verified although it names no kid)"

# (A token and its expiry, used at once: on a loaded machine the next
# request may already be a refresh.  At least 4 of its 6 s left, or the
# launcher may see it expired by the time the read arrives.)
fa_run fa_token token --min-valid 4 --format json
at1=$(fa_json access_token <<<"$FA_OUT")
exp1=$(fa_json expires_at <<<"$FA_OUT")
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at1")" 200 "the launcher's FHIR proxy accepts the token"
like "$(fa_json id <"$FA_TMP/fhir.body")" '^example$' "... and answers with the upstream's patient"
is "$(grep -c '"path":"/fhir/Patient/example","status":200' "$FA_FHIR_LOG")" 1 \
    "the upstream FHIR server served the read"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at1.x")" 401 "the proxy refuses a token it did not sign"
is "$(grep -c '"path":"/fhir/Patient/example"' "$FA_FHIR_LOG")" 1 "... without asking the upstream"

# ---------------------------------------------------------------- refresh
r1=$(fa_key_read refresh)
refreshes=$(fa_launcher_count refresh_token)
fa_sleep_past "$exp1"
fa_run fa_token
is "$FA_RC" 0 "token after expiry: exit 0" || fa_show
at2=$FA_OUT
isnt "$at2" "$at1" "a new access token"
is "$(fa_launcher_count refresh_token)" $((refreshes + 1)) "from one refresh"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at2")" 200 "the proxy accepts the new token"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at1")" 401 "and refuses the expired one"
r2=$(fa_key_read refresh)
isnt "$r2" "$r1" "the refresh answer's new refresh token is kept"
fa_run fa_token --format env
like "$FA_OUT" "^export FHIR_PATIENT='example'\$" "the patient is still there after the refresh"

# What the refresh answer held (the client takes nothing from a refreshed
# id_token): the old refresh token still works (the launcher keeps no
# state), and the new id_token has no aud, no nonce, and no kid.
printf 'grant_type=refresh_token&refresh_token=%s' "$r1" |
    fa_curl --data-binary @- -o "$FA_TMP/refresh.json" -w '%{http_code}' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        "$(fa_json token_endpoint <<<"$smart")" >"$FA_TMP/refresh.status"
is "$(cat "$FA_TMP/refresh.status")" 200 "the replaced refresh token is still accepted"
idt=$(fa_json id_token <"$FA_TMP/refresh.json")
jwt_part() { # N JWT: part N (1 header, 2 claims) decoded
    node -e 'process.stdout.write(Buffer.from(process.argv[2].split(".")[+process.argv[1] - 1] || "", "base64url").toString())' "$1" "$2"
}
claims=$(jwt_part 2 "$idt")
is "$(fa_json fhirUser <<<"$claims")$(fa_json aud <<<"$claims")$(fa_json nonce <<<"$claims")" \
    Patient/example "a refreshed id_token: fhirUser, but no aud and no nonce"
is "$(jwt_part 1 "$idt" | fa_json alg)/$(jwt_part 1 "$idt" | fa_json kid)" RS256/ "... signed RS256, without kid"

# ---------------------------------------------------------------- logout
fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
like "$FA_ERR" 'no revocation endpoint' "it says the server offers no revocation"
nok "the refresh key is gone" fa_key_exists refresh
nok "the access key is gone" fa_key_exists access
nok "the meta key is gone" fa_key_exists meta

[ "$_fa_failed" -gt 0 ] && diag "---- launcher.out (last 15 lines)" "$(tail -15 "$FA_TMP/launcher.out")" \
    "---- launcher.log (last 15 lines)" "$(tail -15 "$FA_LAUNCHER_LOG")"
done_testing
