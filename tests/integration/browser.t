#!/bin/bash
# browser.t - fhir-token login --browser: authorization code + PKCE S256
# with a loopback redirect (RFC 6749 §4.1, RFC 7636, RFC 8252 §7.3) against
# the real AS.  $BROWSER is a script of this test that plays the user: it
# is given a file:// address of a page that redirects to the authorization
# URL (never the URL itself: every local user reads every process's argv),
# opens that URL with curl and a cookie jar, signs in at the AS's form,
# consents, and follows the redirect to fhir-token's listener on
# 127.0.0.1.  Then: a denial at the AS, callbacks with a wrong or no state
# sent first (refused with 400, and the login goes on), --no-browser (the
# redirect address pasted on stdin), and a replayed code.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 88

fa_start_servers --ttl 60 --scope "openid offline_access patient/*.read"

# ---------------------------------------------------------------- the browser
# $FA_TMP/browser ARGS...: the user at the browser.  FA_BROWSER_MODE:
#   follow   sign in, consent, fetch /favicon.ico and then the redirect at
#            the loopback listener (default)
#   tamper   the same, but first the redirect with another state
#   nostate  the same, but first the redirect without its state
#   deny     abort at the sign-in form (the AS redirects with access_denied)
#   print    sign in and consent, print the redirect address, fetch nothing
# It records its arguments in browser.argv (one a line), the page it was
# given (path, then "MODE UID" of the file) in browser.file, a copy of it
# in browser.html, the URL the page leads to in browser.url, the redirect
# in browser.redirect, the listener's answers in browser.favicon,
# browser.first (to tamper and nostate) and browser.status, the page in
# browser.page.  print mode takes the URL itself (for --no-browser).
cat >"$FA_TMP/browser" <<'EOF'
#!/bin/bash
mode=${FA_BROWSER_MODE:-follow} out=$FA_TMP/browser
if [ "$mode" = print ]; then
    url=$1
else
    printf '%s\n' "$@" >"$out.argv"
    page=${1#file://}
    printf '%s\n%s\n' "$page" "$(stat -c '%a %u' -- "$page")" >"$out.file"
    cp -- "$page" "$out.html" || exit 1
    # The meta refresh's address, its character references undone (&amp;
    # last).
    url=$(sed -n 's/.*http-equiv="refresh" content="0; url=\([^"]*\)".*/\1/p' "$page" |
        sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&#39;/'/g" -e 's/&amp;/\&/g')
fi
printf '%s\n' "$url" >"$out.url"
origin=$(printf '%s' "$url" | sed -E 's|^(https://[^/]+).*|\1|')
jar=$(mktemp "$FA_TMP/jar.XXXXXX")
c() { curl -sS --max-time 10 --cacert "$FA_CA" -c "$jar" -b "$jar" -D "$out.head" -o "$out.body" "$@"; }
location() { sed -n 's/^[Ll]ocation: *//p' "$out.head" | tr -d '\r'; }
next=$url loc=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    c "$next" || exit 1
    loc=$(location)
    if [ -z "$loc" ]; then
        # A page, not a redirect: the sign-in form.  Fill it in (or abort).
        action=$(sed -n 's/.*<form method="post" action="\([^"]*\)".*/\1/p' "$out.body" | head -1)
        [ -n "$action" ] || exit 1
        if [ "$mode" = deny ]; then
            c -X POST "$origin${action%/login}/abort" || exit 1
        else
            c --data-urlencode username=alice --data-urlencode password=alice-secret \
                "$origin$action" || exit 1
        fi
        loc=$(location)
    fi
    case $loc in
        http://127.0.0.1:*) break ;;
        /*) next=$origin$loc ;;
        https://*) next=$loc ;;
        *) exit 1 ;;
    esac
done
rm -f "$jar"
case $loc in http://127.0.0.1:*) ;; *) exit 1 ;; esac
printf '%s\n' "$loc" >"$out.redirect"
if [ "$mode" = print ]; then
    printf '%s\n' "$loc"
    exit 0
fi
port=$(printf '%s' "$loc" | sed -E 's|^http://127\.0\.0\.1:([0-9]+)/.*|\1|')
curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/favicon.ico" >"$out.favicon.tmp"
mv "$out.favicon.tmp" "$out.favicon"
# Another local program gets there first: with another state (its own
# login's), or with none.
first=
case $mode in
    tamper) first=$(printf '%s' "$loc" | sed -E 's/([?&]state=)[^&]*/\1tampered-by-the-test/') ;;
    nostate) first=$(printf '%s' "$loc" | sed -E 's/[?&]state=[^&]*//; s/callback&/callback?/') ;;
esac
if [ -n "$first" ]; then
    printf '%s\n' "$first" >"$out.firsturl"
    curl -sS --max-time 5 -o "$out.firstpage" -w '%{http_code}' "$first" >"$out.first"
fi
curl -sS --max-time 40 -o "$out.page" -w '%{http_code}' "$loc" >"$out.status.tmp"
mv "$out.status.tmp" "$out.status"
EOF
chmod 755 "$FA_TMP/browser"
export FA_BROWSER_MODE

# browser_login MODE [VAR=VALUE...]: fhir-token login --browser with
# $BROWSER the script above (bounded by timeout), via fa_run, in the
# environment given; then wait for the script to record the listener's
# answer.
browser_login() {
    FA_BROWSER_MODE=$1
    shift
    rm -f "$FA_TMP"/browser.*
    fa_run env -u XDG_RUNTIME_DIR "$@" BROWSER="$FA_TMP/browser" timeout 60 \
        "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" login --browser
    local i
    for ((i = 0; i < 50; i++)); do
        [ -e "$FA_TMP/browser.status" ] && break
        sleep 0.1
    done
}

# param NAME FILE: a query parameter of the URL in FILE (still encoded).
param() {
    sed -n "s/.*[?&]$1=\\([^&]*\\).*/\\1/p" "$2" | head -1
}

# urlenc STRING
urlenc() {
    node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"
}

# ---------------------------------------------------------------- denied at the AS
browser_login deny
is "$FA_RC" 2 "access denied at the AS: exit 2" || fa_show
like "$FA_ERR" 'access_denied' "stderr names the AS's error"
is "$(cat "$FA_TMP/browser.status" 2>/dev/null)" 400 "the browser is told the login failed"
nok "nothing is stored" fa_key_exists refresh

# ---------------------------------------------------------------- the whole flow
browser_login follow
is "$FA_RC" 0 "login --browser: exit 0" || fa_show
like "$FA_ERR" 'logged in' "stderr says logged in"
auth=$FA_TMP/browser.url
like "$(cat "$auth")" "^$FA_ISSUER/auth\\?" "the browser was sent to the authorization endpoint"
printed=$(printf '%s\n' "$FA_ERR" | sed -n 's/^  *\(https:.*\)$/\1/p')
is "$(cat "$auth")" "$printed" "the page leads to the URL printed for the user"
# No process's argv holds the URL or its values: every uid can read them.
argv=$(cat "$FA_TMP/browser.argv")
is "$(wc -l <"$FA_TMP/browser.argv")" 1 "the browser is given one argument"
like "$argv" '^file:///[^?#]*\.html$' "... a file:// address of a page"
for v in state code_challenge nonce redirect_uri; do
    val=$(param "$v" "$auth")
    unlike "$argv" "${val:-no-such-value}" "... without the $v"
done
unlike "$argv" "$FA_ISSUER|/auth|127\\.0\\.0\\.1" "... without the authorization URL"
page=$(sed -n 1p "$FA_TMP/browser.file")
is "$(sed -n 2p "$FA_TMP/browser.file")" "600 $(id -u)" "the page has mode 0600 and is the user's"
like "$page" "^/tmp/pam_fhir-$(id -u)/fhir-token-login-[0-9a-f]{16}\\.html\$" \
    "without XDG_RUNTIME_DIR it is in /tmp/pam_fhir-UID"
is "$(stat -c '%a %u' "/tmp/pam_fhir-$(id -u)")" "700 $(id -u)" "... a directory of mode 0700, the user's"
like "$(cat "$FA_TMP/browser.html")" 'http-equiv="refresh"' "the page redirects (a meta refresh)"
like "$(cat "$FA_TMP/browser.html")" '&amp;state=' "... to the URL, HTML-escaped"
nok "the page is removed when the login ends" test -e "$page"
is "$(param response_type "$auth")" code "response_type=code"
is "$(param client_id "$auth")" fhir-cli "client_id"
is "$(param code_challenge_method "$auth")" S256 "code_challenge_method=S256"
like "$(param code_challenge "$auth")" '^[A-Za-z0-9_-]{43}$' "a 43-character base64url code_challenge"
like "$(param state "$auth")" '^[A-Za-z0-9_-]{22,}$' "a state of at least 128 bits"
like "$(param nonce "$auth")" '^[0-9a-f]{32}$' "a nonce"
is "$(param aud "$auth")" "$(urlenc "$FA_FHIR")" "SMART: aud=<fhir_base>"
is "$(param prompt "$auth")" consent "prompt=consent (offline_access is asked for)"
like "$(param redirect_uri "$auth")" '^http%3A%2F%2F127\.0\.0\.1%3A[0-9]+%2Fcallback$' \
    "redirect_uri on 127.0.0.1 with a port"
is "$(fa_as_events authorization '"code_challenge_method":"S256"')" 2 \
    "the AS saw code_challenge_method=S256 on every request"
is "$(fa_as_events authorization '"state":true,"nonce":true')" 2 "... with a state and a nonce"
is "$(cat "$FA_TMP/browser.favicon" 2>/dev/null)" 404 "the listener answers a favicon request with 404"
is "$(cat "$FA_TMP/browser.status" 2>/dev/null)" 200 "and the redirect with 200"
like "$(cat "$FA_TMP/browser.page" 2>/dev/null)" 'You are logged in' "a page saying the user is logged in"
is "$(fa_as_count authorization_code ok)" 1 "the AS saw one code exchange"
ok "the refresh token is in the keyring" fa_key_exists refresh
r1=$(fa_key_read refresh)
code=$(param code "$FA_TMP/browser.redirect")
unlike "$(cat "$FA_TMP/browser.page")" "$r1|$code" "the page holds neither token nor code"
unlike "$FA_OUT$FA_ERR" "$code" "fhir-token prints no code"
port=$(sed -E 's|^http://127\.0\.0\.1:([0-9]+)/.*|\1|' "$FA_TMP/browser.redirect")
nok "the listener is closed afterwards" curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/"

fa_run fa_token
is "$FA_RC" 0 "token: exit 0" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "the token works at the FHIR server"
is "$(fa_as_count refresh_token)" 0 "without a refresh"
fa_run fa_token status
is "$FA_RC" 0 "status: exit 0" || fa_show
like "$FA_OUT" "127\\.0\\.0\\.1:$FA_AS_PORT" "status shows the session's issuer"
like "$FA_OUT" 'alice-0001' "and the subject of the id_token (its nonce is ours)"

# ---------------------------------------------------------------- --no-browser
# A fixed redirect_port, so a redirect address stays valid across logins.
rport=$(fa_dead_port)
fa_config redirect_port "$rport"

# paste_start: fhir-token login --no-browser in the background, its stdin a
# FIFO on fd 7; waits for the URL it prints (in $paste_url).
paste_start() {
    rm -f "$FA_TMP/paste.fifo" "$FA_TMP/paste.out" "$FA_TMP/paste.err"
    mkfifo "$FA_TMP/paste.fifo"
    timeout 60 "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" \
        login --browser --no-browser <"$FA_TMP/paste.fifo" \
        >"$FA_TMP/paste.out" 2>"$FA_TMP/paste.err" &
    paste_pid=$!
    exec 7>"$FA_TMP/paste.fifo"
    paste_url=
    local i
    for ((i = 0; i < 100; i++)); do
        paste_url=$(sed -n 's/^  *\(https:.*\)$/\1/p' "$FA_TMP/paste.err" 2>/dev/null)
        [ -n "$paste_url" ] && grep -q 'paste' "$FA_TMP/paste.err" && break
        sleep 0.1
    done
}

# paste_finish TEXT: paste TEXT, wait; FA_RC FA_ERR as fa_run.
paste_finish() {
    printf '%s\n' "$1" >&7
    exec 7>&-
    wait "$paste_pid"
    FA_RC=$?
    FA_OUT=$(cat "$FA_TMP/paste.out")
    FA_ERR=$(cat "$FA_TMP/paste.err")
}

paste_start
isnt "$paste_url" "" "--no-browser prints the authorization URL"
like "$paste_url" "redirect_uri=http%3A%2F%2F127\\.0\\.0\\.1%3A$rport%2Fcallback" \
    "with the configured redirect_port"
redirect1=$(FA_BROWSER_MODE=print "$FA_TMP/browser" "$paste_url")
like "$redirect1" "^http://127\\.0\\.0\\.1:$rport/callback\\?code=" "the user signs in and gets the redirect address"
nok "the port is reserved but not listening: the browser is refused" \
    curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$rport/callback"
paste_finish "$redirect1"
is "$FA_RC" 0 "pasting the redirect address: exit 0" || fa_show
is "$(fa_as_count authorization_code ok)" 2 "a second code exchange"
r2=$(fa_key_read refresh)
isnt "$r2" "$r1" "a new session in the keyring"
is "$(fa_introspect "$r1")" false "the session it replaced was revoked"
fa_run fa_token
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "the token works at the FHIR server"

# The same address pasted again into a new login: its state is not this
# login's.
paste_start
paste_finish "$redirect1"
is "$FA_RC" 2 "the same redirect pasted again: exit 2" || fa_show
like "$FA_ERR" 'state mismatch' "... a state mismatch"
is "$(fa_as_count authorization_code)" 2 "... and the code was not sent"

# A replayed code: the old code with this login's state, so it reaches the
# AS, which refuses it (used, and bound to another code_challenge).
paste_start
state=$(printf '%s' "$paste_url" | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p')
replay=$(printf '%s' "$redirect1" | sed -E "s/([?&]state=)[^&]*/\\1$state/")
paste_finish "$replay"
is "$FA_RC" 2 "a replayed code: exit 2" || fa_show
like "$FA_ERR" 'invalid_grant' "the AS said invalid_grant"
is "$(fa_as_count authorization_code fail)" 1 "the AS refused one code exchange"
is "$(fa_key_read refresh)" "$r2" "the first session stays in the keyring"
is "$(fa_introspect "$r2")" true "and stays valid at the AS"

# Not our redirect address at all.
paste_start
paste_finish "http://127.0.0.1:1/callback?code=x&state=y"
is "$FA_RC" 1 "a pasted address of another port: exit 1" || fa_show
like "$FA_ERR" "127\\.0\\.0\\.1:$rport/callback" "stderr names the expected address"
is "$(fa_key_read refresh)" "$r2" "the session is untouched"

# Cancelled: standard input ends (Ctrl-D) before anything is pasted.
paste_start
exec 7>&-
wait "$paste_pid"
FA_RC=$?
FA_OUT=$(cat "$FA_TMP/paste.out")
FA_ERR=$(cat "$FA_TMP/paste.err")
is "$FA_RC" 2 "standard input ends before a paste: exit 2" || fa_show
like "$FA_ERR" 'login failed: login cancelled: no redirect address given' \
    "... the login is cancelled (FHIRAUTH_ERR_CANCELLED)" || fa_show
unlike "$FA_ERR" "log in with 'fhir-token login'" \
    "... with no hint to log in, which the user just tried" || fa_show
is "$(fa_key_read refresh)" "$r2" "... and the session is untouched"

# ---------------------------------------------------------------- other states first
# Another local program sends its own callback to the listener before the
# browser does: with another state (a login of its own, or a guess) it
# gets 400, and this login goes on and completes with the right one.
rm -rf "$FA_TMP/xdg"
mkdir -m 700 "$FA_TMP/xdg"
codes_before=$(fa_as_count authorization_code)
browser_login tamper XDG_RUNTIME_DIR="$FA_TMP/xdg"
is "$(cat "$FA_TMP/browser.first" 2>/dev/null)" 400 "a callback with another state: 400"
like "$(cat "$FA_TMP/browser.firstpage" 2>/dev/null)" 'does not belong' "... saying it is not this login's"
is "$FA_RC" 0 "the login goes on and completes with the right callback" || fa_show
is "$(cat "$FA_TMP/browser.status" 2>/dev/null)" 200 "... which gets 200"
is "$(fa_as_count authorization_code)" $((codes_before + 1)) "one code exchange: the refused callback's code was not sent"
like "$(sed -n 1p "$FA_TMP/browser.file")" "^$FA_TMP/xdg/fhir-token-login-[0-9a-f]{16}\\.html\$" \
    "the page is in \$XDG_RUNTIME_DIR when it is private"
is "$(sed -n 2p "$FA_TMP/browser.file")" "600 $(id -u)" "... mode 0600, the user's"
is "$(ls -A "$FA_TMP/xdg")" "" "... and removed when the login ends"
r3=$(fa_key_read refresh)
isnt "$r3" "$r2" "a new session in the keyring"

# The same with no state at all; and an XDG_RUNTIME_DIR others can enter
# is not used.
rm -rf "$FA_TMP/xdg-open"
mkdir -m 755 "$FA_TMP/xdg-open"
codes_before=$(fa_as_count authorization_code)
browser_login nostate XDG_RUNTIME_DIR="$FA_TMP/xdg-open"
unlike "$(cat "$FA_TMP/browser.firsturl" 2>/dev/null)" 'state=' "(the first callback has no state)"
is "$(cat "$FA_TMP/browser.first" 2>/dev/null)" 400 "a callback without a state: 400"
is "$FA_RC" 0 "the login goes on and completes with the right callback" || fa_show
is "$(cat "$FA_TMP/browser.status" 2>/dev/null)" 200 "... which gets 200"
is "$(fa_as_count authorization_code)" $((codes_before + 1)) "one code exchange"
like "$(sed -n 1p "$FA_TMP/browser.file")" "^/tmp/pam_fhir-$(id -u)/" \
    "an XDG_RUNTIME_DIR of mode 0755 is passed over for /tmp/pam_fhir-UID"
isnt "$(fa_key_read refresh)" "$r3" "a new session in the keyring"

# ---------------------------------------------------------------- stopped while waiting
# A browser that only notes the page it was given; fhir-token, stopped by
# SIGTERM while it waits, removes the page.
cat >"$FA_TMP/browser-idle" <<'EOF'
#!/bin/bash
printf '%s\n' "${1#file://}" >"$FA_TMP/idle.tmp" && mv "$FA_TMP/idle.tmp" "$FA_TMP/idle.page"
EOF
chmod 755 "$FA_TMP/browser-idle"
rm -f "$FA_TMP/idle.page"
env -u XDG_RUNTIME_DIR BROWSER="$FA_TMP/browser-idle" "$FA_TOKEN_BIN" --config "$FA_CONF" \
    --profile "$FA_PROFILE" login --browser >/dev/null 2>&1 &
idle_pid=$!
for ((i = 0; i < 100; i++)); do
    [ -s "$FA_TMP/idle.page" ] && break
    sleep 0.1
done
page=$(cat "$FA_TMP/idle.page" 2>/dev/null)
ok "the page is there while the login waits" test -f "${page:-/nonexistent}"
kill -TERM "$idle_pid"
wait "$idle_pid"
nok "SIGTERM: the page is removed" test -e "${page:-/nonexistent}"

done_testing
