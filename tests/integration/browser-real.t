#!/bin/bash
# browser-real.t - fhir-token login --browser with a real browser: Debian's
# Chromium, headless, driven by tests/servers/src/browser.js
# (puppeteer-core), is $BROWSER.  It opens the file:// page fhir-token
# gives it, follows its meta refresh to the AS, signs in as alice on the
# AS's form, clicks Allow (or Deny) on its consent page, is redirected to
# fhir-token's loopback listener and shows its final page.  Chromium
# verifies the servers' certificates against the test CA, put into an NSS
# database of its own profile.  The screenshots of the final pages are
# kept next to this test's log: browser-real.png (logged in) and
# browser-real-denied.png.  browser.t covers the flow's details with curl
# as the browser; this test is that a browser gets through it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

command -v chromium >/dev/null 2>&1 || skip_all "chromium is not installed (scripts/install-deps)"
command -v certutil >/dev/null 2>&1 || skip_all "certutil is not installed (libnss3-tools, scripts/install-deps)"

fa_start_servers --ttl 60 --consent-page --scope "openid offline_access profile patient/*.read"
[ -d "$FA_SERVERS/node_modules/puppeteer-core" ] ||
    skip_all "tests/servers has no puppeteer-core: npm ci --ignore-scripts there (scripts/install-deps)"

plan 28

# The screenshots stay where the test's log is.
shots=$top_builddir/tests/integration
mkdir -p "$shots"

# $BROWSER: fhir-token starts it with the page's file:// address (its
# standard output and error on /dev/null) and does not wait for it.
# Chromium and node are not ours: they get none of the sanitizers' or the
# build tree's settings.  $FA_TMP/browser.consent says allow or deny,
# $FA_TMP/browser.shot where the screenshot goes; browser.js writes
# $FA_TMP/browser.{steps,txt,result} (see its header) and its own log to
# $FA_TMP/browser.log.
cat >"$FA_TMP/browser" <<EOF
#!/bin/bash
printf '%s\\n' "\${1#file://}" >"$FA_TMP/browser.page"
echo "\$\$" >"$FA_TMP/browser.pid"
rm -rf "$FA_TMP/chromium-profile"
mkdir -m 700 "$FA_TMP/chromium-profile" || exit 1
exec env -u LD_PRELOAD -u LD_LIBRARY_PATH -u ASAN_OPTIONS -u UBSAN_OPTIONS \\
    -u LSAN_OPTIONS -u FHIRAUTH_TEST_CACHE_DIR \\
    node "$FA_SERVERS/src/browser.js" --out "$FA_TMP/browser" --ca "$FA_CA" \\
    --profile "$FA_TMP/chromium-profile" --timeout 45 \\
    --consent "\$(cat "$FA_TMP/browser.consent")" --screenshot "\$(cat "$FA_TMP/browser.shot")" \\
    "\$1" >"$FA_TMP/browser.log" 2>&1
EOF
chmod 755 "$FA_TMP/browser"

# real_login allow|deny SCREENSHOT: fhir-token login --browser with the
# browser above, via fa_run; then wait for browser.js to be done.
real_login() {
    rm -f "$FA_TMP"/browser.{steps,txt,result,log,pid,page} "$2"
    printf '%s\n' "$1" >"$FA_TMP/browser.consent"
    printf '%s\n' "$2" >"$FA_TMP/browser.shot"
    fa_run env -u XDG_RUNTIME_DIR BROWSER="$FA_TMP/browser" timeout 60 \
        "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" login --browser
    local i
    for ((i = 0; i < 200; i++)); do
        [ -s "$FA_TMP/browser.result" ] && break
        sleep 0.1
    done
    if ! grep -q '^ok ' "$FA_TMP/browser.result" 2>/dev/null; then
        # Still running: stopped (it closes its Chromium).
        [ -s "$FA_TMP/browser.result" ] || kill "$(cat "$FA_TMP/browser.pid" 2>/dev/null)" 2>/dev/null
        diag "browser.js: $(cat "$FA_TMP/browser.result" 2>/dev/null)" \
            "$(tail -20 "$FA_TMP/browser.log" 2>/dev/null)"
    fi
}

# is_png FILE: a PNG of 800x600 (the window) of more than a few bytes.
is_png() {
    [ "$(od -An -tx1 -N8 "$1" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ] &&
        [ "$(od -An -tx1 -j16 -N8 "$1" | tr -d ' \n')" = 0000032000000258 ] &&
        [ "$(stat -c %s "$1")" -gt 2000 ]
}

# step NAME: the "STATUS ORIGIN PATH" browser.js noted for a step.
step() {
    sed -n "s/^$1 //p" "$FA_TMP/browser.steps" 2>/dev/null
}

listener='http://127\.0\.0\.1:[0-9]+ /callback'

# ---------------------------------------------------------------- denied
real_login deny "$shots/browser-real-denied.png"
is "$FA_RC" 2 "Deny on the consent page: exit 2" || fa_show
like "$FA_ERR" 'access_denied' "stderr names the AS's error"
like "$(step sign-in)" "^200 $FA_ISSUER /interaction/" "the browser got to the AS's sign-in form"
like "$(step consent)" "^200 $FA_ISSUER /interaction/" "... and, signed in, to its consent page"
is "$(fa_as_events interaction_abort '"prompt":"consent"')" 1 "the AS saw the user deny consent"
like "$(cat "$FA_TMP/browser.result" 2>/dev/null)" "^ok 400 $listener\$" \
    "the browser was sent to the listener, which answered 400"
is "$(cat "$FA_TMP/browser.txt" 2>/dev/null)" "Login failed

The login did not complete. The terminal says why. You can close this window." \
    "the browser shows the project's failure page"
ok "a screenshot of it: a PNG of 800x600" is_png "$shots/browser-real-denied.png"
nok "nothing is stored" fa_key_exists refresh
is "$(fa_as_count authorization_code)" 0 "and no code was exchanged"

# ---------------------------------------------------------------- logged in
real_login allow "$shots/browser-real.png"
is "$FA_RC" 0 "Allow on the consent page: login --browser exits 0" || fa_show
like "$FA_ERR" 'logged in' "stderr says logged in"
like "$(step sign-in)" "^200 $FA_ISSUER /interaction/" "the browser got to the sign-in form"
is "$(fa_as_events interaction_login '"ok":true,"username":"alice"')" 2 "alice signed in there (the second time)"
like "$(step consent)" "^200 $FA_ISSUER /interaction/" "then to the consent page"
is "$(fa_as_events interaction_consent '"ok":true')" 1 "where she allowed it"
like "$(cat "$FA_TMP/browser.result" 2>/dev/null)" "^ok 200 $listener\$" \
    "the browser was sent to the listener, which answered 200"
is "$(cat "$FA_TMP/browser.txt" 2>/dev/null)" "Logged in

You are logged in. You can close this window and go back to the terminal." \
    "the browser shows the project's final page"
ok "a screenshot of it: a PNG of 800x600" is_png "$shots/browser-real.png"
diag "screenshot: $shots/browser-real.png"
is "$(fa_as_count authorization_code ok)" 1 "the AS saw one code exchange"
ok "the session is in the keyring" fa_key_exists refresh
fa_run fa_token
is "$FA_RC" 0 "token: exit 0" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "the token works at the FHIR server"
is "$(fa_as_count refresh_token)" 0 "without a refresh"
fa_run fa_token status
like "$FA_OUT" 'alice-0001' "status shows alice's subject"
page=$(cat "$FA_TMP/browser.page" 2>/dev/null)
like "$page" '/fhir-token-login-[0-9a-f]{16}\.html$' "the browser was given fhir-token's page"
nok "... which is gone now" test -e "${page:-/nonexistent}"
nok "Chromium is gone too" pgrep -f -- "--user-data-dir=$FA_TMP/chromium-profile"

done_testing
