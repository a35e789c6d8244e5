#!/bin/bash
# redirects.t - metadata behind a redirect: the GETs of the discovery
# document and of the JWKS follow up to three redirects that stay on the
# same https origin (a relative Location such as the trailing-slash URL,
# or an absolute one), and refuse, with a message that names the redirect
# and says why, one to http://, to another host, to another port, a loop,
# a fourth redirect, and a same-origin document for another issuer; the
# body cap and the timeout hold for the redirected request.  The
# token endpoint never follows a redirect, not even a same-origin one.  On
# the PAM path (as root) the root-side cache keys the entries by the
# issuer and the jwks_uri, never by where a redirect led.
#
# The fault server (tests/servers/src/fault.js) is the issuer the client
# knows, a proxy in front of the AS; its redirect-* modes redirect one kind
# of request and forward everything else, so a client that followed a
# redirect it must refuse would succeed.  Requests are counted in its log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 66

# Discovery and the JWKS may be cached (the root-side cache, below).
export FA_AS_CACHE_MAX_AGE=60
TIMEOUT=3
fa_start_servers --ttl 60 --fault --keyring user --timeout "$TIMEOUT"

# mark / seen STATUS PATH: how many requests since the mark the fault
# server answered with STATUS on exactly PATH.
mark() { mark_at=$(wc -l <"$FA_FAULT_LOG"); }
seen() {
    tail -n +$((mark_at + 1)) "$FA_FAULT_LOG" |
        grep -cF "\"path\":\"$2\",\"mode\":\"$3\",\"status\":$1"
}
# any PATH_PREFIX: requests since the mark on paths starting with it.
any() {
    tail -n +$((mark_at + 1)) "$FA_FAULT_LOG" | grep -cF "\"path\":\"$1"
}
DISC=/.well-known/openid-configuration

# login MODE [ARG]: a password login of alice with the fault server in
# MODE, from a fresh mark.
login() {
    fa_fault_mode "$@"
    mark
    fa_login alice
}

fa_fault_mode pass
fa_login alice
is "$FA_RC" 0 "login straight through the proxy" || fa_show
r0=$(fa_key_read refresh)

# ---------------------------------------------------------------- followed
# The case seen in the wild: 301 to the same URL with a trailing slash, as
# a relative Location.
login redirect-slash
is "$FA_RC" 0 "discovery 301 to 'openid-configuration/' (relative): login succeeds" || fa_show
is "$(seen 301 "$DISC" redirect-slash)" 1 "the discovery URL answered 301"
is "$(seen 200 "$DISC/" redirect-slash)" 1 "the trailing-slash URL was fetched"
isnt "$(fa_key_read refresh)" "$r0" "a new session is stored"
r0=$(fa_key_read refresh)
fa_run fa_token
is "$FA_RC" 0 "the new session hands out a token" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "which the FHIR server accepts"

login redirect-slash 308
is "$FA_RC" 0 "discovery 308 to the trailing-slash URL: login succeeds" || fa_show
is "$(seen 200 "$DISC/" redirect-slash)" 1 "the trailing-slash URL was fetched"

login redirect-absolute
is "$FA_RC" 0 "discovery 302 to an absolute same-origin URL: login succeeds" || fa_show
is "$(seen 200 "/moved$DISC" redirect-absolute)" 1 "the target was fetched"

n_jwks=$(fa_as_events jwks)
login redirect-jwks
is "$FA_RC" 0 "JWKS 301 to '/moved/jwks' (relative): login succeeds" || fa_show
is "$(seen 301 /jwks redirect-jwks)" 1 "the jwks_uri answered 301"
is "$(seen 200 /moved/jwks redirect-jwks)" 1 "the target was fetched"
is "$(fa_as_events jwks)" $((n_jwks + 1)) "the AS served the JWKS once (the id_token was verified with it)"

login redirect-chain 3
is "$FA_RC" 0 "three redirects in a row: login succeeds" || fa_show
is "$(seen 200 "/chain/0$DISC" redirect-chain)" 1 "the third target was fetched"
r0=$(fa_key_read refresh)

# ---------------------------------------------------------------- refused
# refused MODE [ARG] -- DESCRIPTION REASON-REGEX: the login fails with exit
# 3 and a message naming the redirect and the reason; the stored session
# stays.
refused() {
    local args=()
    while [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    login "${args[@]}"
    is "$FA_RC" 3 "$2: exit 3" || fa_show
    like "$FA_ERR" "$3" "$2: the message says why"
    is "$(fa_key_read refresh)" "$r0" "$2: the stored session is kept"
    diag "$2: ${FA_ERR%%$'\n'*}"
}

refused redirect-chain 4 -- "four redirects in a row" "redirect .* more than 3 redirects"
is "$(any /chain/0/)" 0 "the fourth target was never asked for"

refused redirect-http -- "discovery redirected to http://" \
    "refusing the redirect .* to http://127\\.0\\.0\\.1:$FA_FAULT_PORT/moved/.*leaves https"
is "$(any /moved/)" 0 "nothing was fetched from the target"

refused redirect-host -- "discovery redirected to localhost (another host)" \
    "refusing the redirect .* to https://localhost:$FA_FAULT_PORT/moved/.*another host"
is "$(any /moved/)" 0 "nothing was fetched from the target (which would have served it)"

n_disc=$(fa_as_events discovery)
refused redirect-port -- "discovery redirected to another port (the AS itself)" \
    "refusing the redirect .* to https://127\\.0\\.0\\.1:$FA_AS_PORT/.*another port"
is "$(fa_as_events discovery)" "$n_disc" "the AS was never asked for the document"

refused redirect-loop -- "a redirect loop" "refusing the redirect .*: a redirect loop"
is "$(seen 301 "$DISC" redirect-loop)" 1 "the discovery URL was asked for once"

refused redirect-issuer -- "same-origin redirect to another issuer's document" \
    "issuer mismatch: expected $FA_FAULT, got $FA_FAULT/m/ok"

# The rules of the first request hold after a redirect: the body cap and
# the timeout (the configured $TIMEOUT s, for all hops together).
refused redirect-big -- "same-origin redirect to a document over 256 KiB" \
    "larger than 262144 bytes"
start=$(date +%s)
refused redirect-stall 20 -- "same-origin redirect to a document slower than the timeout" \
    "cannot reach .*(timed out|Timeout)"
elapsed=$(($(date +%s) - start))
ok "gave up after ${elapsed}s (timeout ${TIMEOUT}s)" test "$elapsed" -le $((TIMEOUT + 4))

# ---------------------------------------------------------------- token endpoint
# A same-origin redirect of the token endpoint, 307 (the POST kept) or
# 302: a client that followed would get tokens from the AS.
n_pw=$(fa_as_count password)
for code in 307 302; do
    refused redirect-token "$code" -- "token endpoint redirects to the same origin ($code)" \
        "unexpected redirect .*/moved/token.*HTTP $code"
done
is "$(any /moved/)" 0 "no request reached a redirect target"
is "$(fa_as_count password)" "$n_pw" "no password grant reached the AS"

# A refresh too (the session's endpoints come from its metadata).
fa_fault_mode pass
fa_run fa_token
id=$(fa_key_id access) && keyctl invalidate "$id"
n_rt=$(fa_as_count refresh_token)
fa_fault_mode redirect-token
mark
fa_run fa_token
is "$FA_RC" 3 "a refresh redirected on the same origin: exit 3" || fa_show
is "$(fa_key_read refresh)" "$r0" "the refresh token is kept"
is "$(fa_as_count refresh_token)" "$n_rt" "no refresh reached the AS"

# ---------------------------------------------------------------- root-side cache
# The PAM path (tests/pamlib-driver plays the module's library calls as
# root) caches discovery and the JWKS under the issuer and the jwks_uri,
# not under the redirect targets; a warm login asks for neither.
driver=$top_builddir/tests/pamlib-driver
cache=$FHIRAUTH_TEST_CACHE_DIR
entry_key() { sed -n 's/^key //p' "$(find "$cache" -maxdepth 1 -name "$1-*" | head -1)" 2>/dev/null; }
# pam_login: the driver's deferred login as root; its stash goes to a
# name no local user has, so nothing is stored for anyone, and is removed
# at once: the PAM tests count the stash keys in root's user keyring.
pam_login() {
    local id
    mark
    fa_run "$driver" login "$FA_CONF" alice alice-secret "fa-noone-$$"
    for id in $(keyctl rlist @u 2>/dev/null); do
        case $(keyctl rdescribe "$id" 2>/dev/null) in
            *";pam_fhir:stash:fa-noone-$$:"*) keyctl unlink "$id" @u >/dev/null 2>&1 ;;
        esac
    done
    printf '%s\n' "$FA_OUT" | grep -qx 'login=0'
}
if [ "$(id -u)" -ne 0 ]; then
    for i in 1 2 3 4 5 6 7 8; do
        skip "root-side cache with redirects ($i)" "needs root"
    done
else
    # The PAM tests' lock (pam-lib.sh): they count root's stash keys.
    fa_pam_lock
    fa_fault_mode redirect-slash
    rm -rf "$cache"
    ok "PAM path, discovery behind a redirect: login succeeds" pam_login || diag "$FA_OUT" "$FA_ERR"
    is "$(entry_key discovery)" "$FA_ISSUER" "the discovery entry is keyed by the issuer"
    pam_login
    is "$(any /.well-known/)" 0 "a warm login asks for no discovery document"

    fa_fault_mode redirect-jwks
    rm -rf "$cache"
    ok "PAM path, JWKS behind a redirect: login succeeds" pam_login || diag "$FA_OUT" "$FA_ERR"
    is "$(entry_key jwks)" "$FA_ISSUER/jwks" "the JWKS entry is keyed by the jwks_uri, not the target"
    is "$(find "$cache" -maxdepth 1 -name 'jwks-*' | wc -l)" 1 "one JWKS entry"
    pam_login
    is "$(any /jwks) $(any /moved/)" "0 0" "a warm login asks for no JWKS"
    rm -rf "$cache"
    fa_fault_mode redirect-http
    pam_login
    like "$FA_OUT" "login_detail=.*leaves https" "PAM path: a redirect to http:// is refused too"
fi

done_testing
