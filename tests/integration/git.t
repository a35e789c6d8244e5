#!/bin/bash
# git.t - git-credential-fhir with real git (Debian 12: 2.39): the helper
# configured per URL after an empty helper= reset answers with our token,
# and only for URLs a profile matches; `git credential reject` of our token
# forces a refresh; neither a store helper configured before the reset nor
# a credential-cache daemon ever sees the refresh token, and the store
# helper writes nothing.  What git 2.39 drops from its own output
# (password_expiry_utc, capability[]/authtype/ephemeral) and the input caps
# are tested at the protocol level by feeding the helper directly.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

command -v git >/dev/null 2>&1 || skip_all "git is not installed"

plan 87

GCF=$FA_GCF_BIN
[ -x "$GCF" ] || bail "$GCF is missing: build first (make)"

# Tokens outlive the whole test (600 s): under valgrind each call takes
# seconds, and the protocol cases compare answers with one token, t2.
fa_start_servers --ttl 600 --min-valid 1 --keyring user

GIT_HOST=127.0.0.1:$FA_FHIR_PORT
GIT_URL=https://$GIT_HOST
fa_config match "$GIT_URL"

# git with a configuration of its own: nothing from the caller's ~/.gitconfig
# or /etc/gitconfig, never a prompt.
GH=$FA_TMP/home
mkdir -p "$GH" && chmod 700 "$GH"
export HOME=$GH XDG_CONFIG_HOME=$GH/.config GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=$GH/gitconfig GIT_TERMINAL_PROMPT=0
unset GIT_ASKPASS SSH_ASKPASS GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT
CACHE_SOCK=$GH/cache/socket
STORE=$GH/store.txt

# The credential-cache daemon goes with the test, whatever happens.
# shellcheck disable=SC2317  # invoked by the EXIT trap
_git_cleanup() {
    local rc=$?
    [ -S "$CACHE_SOCK" ] && git credential-cache --socket "$CACHE_SOCK" exit >/dev/null 2>&1
    (exit "$rc")
    _fa_cleanup
}
trap _git_cleanup EXIT

# A store helper configured before, holding a stale credential for our URL.
printf 'https://oauth2:stale-from-store@%s\n' "$GIT_HOST" >"$STORE"
chmod 600 "$STORE"
store_before=$(cat "$STORE")
helper_cmd="!'$GCF' --config '$FA_CONF'"
cat >"$GH/gitconfig" <<EOF
[credential]
	helper = store --file='$STORE'
[credential "$GIT_URL"]
	helper =
	helper = $helper_cmd
	helper = cache --socket '$CACHE_SOCK' --timeout 300
EOF
# The same helper for every URL (its own matching decides).
cat >"$GH/gitconfig-all" <<EOF
[credential]
	helper =
	helper = $helper_cmd
EOF

# Without the reset: what the empty helper= protects against.
cat >"$GH/gitconfig-noreset" <<EOF
[credential]
	helper = store --file='$STORE'
[credential "$GIT_URL"]
	helper = $helper_cmd
EOF

# Every output git or the helper gave us, to look for the refresh token.
ALL_OUT=
# fill PROTOCOL-LINES...: `git credential fill` with these lines; FA_RC,
# FA_OUT, FA_ERR as fa_run.
fill() {
    fa_run_stdin "$(printf '%s\n' "$@")" git credential fill
    ALL_OUT+=$FA_OUT$FA_ERR
}
# gcf OP LINES...: the helper fed directly.
gcf() {
    local op=$1
    shift
    fa_run_stdin "$(printf '%s\n' "$@")" "$GCF" --config "$FA_CONF" "$op"
    ALL_OUT+=$FA_OUT$FA_ERR
}
# value KEY: the value of KEY= in $FA_OUT.
value() {
    printf '%s\n' "$FA_OUT" | sed -n "s/^$1=//p" | head -1
}
# has_fixed HAYSTACK NEEDLE
has_fixed() {
    case $1 in *"$2"*) return 0 ;; esac
    return 1
}
no_refresh_token() { # DESCRIPTION
    local r
    r=$(fa_key_read refresh)
    [ -n "$r" ] || { is "no refresh key" "a refresh key" "$1"; return; }
    if has_fixed "$ALL_OUT" "$r" || has_fixed "$ALL_OUT" oauth_refresh_token; then
        is "refresh token seen" "never" "$1"
    else
        is never never "$1"
    fi
}

fa_login alice
is "$FA_RC" 0 "password login" || fa_show
fa_run fa_token
t1=$FA_OUT
like "$t1" '^[A-Za-z0-9._~+/=-]{16,}$' "fhir-token prints the cached token"
r1=$(fa_key_read refresh)

# ---------------------------------------------------------------- real git
fill "protocol=https" "host=$GIT_HOST"
is "$FA_RC" 0 "git credential fill for the matching URL: exit 0" || fa_show
is "$(value password)" "$t1" "git's password is our access token"
is "$(value username)" oauth2 "user name oauth2 (the default git_username)"
is "$(value host)" "$GIT_HOST" "for the host git asked about"
unlike "$FA_OUT" stale-from-store "the store helper configured before the reset is not asked"
is "$(fa_as_count refresh_token)" 0 "the cached token: no refresh"
unlike "$FA_OUT" "password_expiry_utc|authtype|ephemeral" \
    "git 2.39 drops password_expiry_utc and authtype (tested at the protocol level below)"

GIT_CONFIG_GLOBAL=$GH/gitconfig-noreset fill "protocol=https" "host=$GIT_HOST"
is "$(value password)" stale-from-store \
    "(without the empty helper= the store helper would answer first, stale)"

fill "url=$GIT_URL/clinic/records.git"
is "$(value password)" "$t1" "git credential fill with url=: our token"

# git approves the credential after a successful request: the helpers get
# `store`.  The store helper was reset away; the cache keeps the token.
fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST" "username=oauth2" "password=$t1")" \
    git credential approve
is "$FA_RC" 0 "git credential approve: exit 0" || fa_show
is "$(cat "$STORE")" "$store_before" "the store helper wrote nothing (the token is not on disk)"
nok "no ~/.git-credentials either" test -e "$GH/.git-credentials"
ok "the credential-cache daemon runs (socket in the test directory)" test -S "$CACHE_SOCK"
fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST")" \
    git credential-cache --socket "$CACHE_SOCK" get
cache_out=$FA_OUT
ALL_OUT+=$cache_out
like "$cache_out" "password=" "the cache holds what git approved"
# shellcheck disable=SC2016  # expanded by the inner shell
ok "the cache holds no refresh token" bash -c '! printf "%s" "$1" | grep -qF -e "$2" -e oauth_refresh_token' _ "$cache_out" "$r1"
no_refresh_token "no refresh token in anything git printed so far"

# Another host, another port, another scheme: the helper (now configured for
# every URL) says nothing, git has nothing, and fails instead of prompting.
GIT_CONFIG_GLOBAL=$GH/gitconfig-all fill "protocol=https" "host=other.example"
isnt "$FA_RC" 0 "another host: git credential fill fails (no prompt)"
unlike "$FA_OUT" "password=" "another host: no password from us"
is "$(printf '%s' "$FA_ERR" | grep -c git-credential-fhir)" 0 "another host: the helper is silent"
GIT_CONFIG_GLOBAL=$GH/gitconfig-all fill "protocol=https" "host=127.0.0.1:$(fa_dead_port)"
unlike "$FA_OUT" "password=" "same host, another port: no password"
GIT_CONFIG_GLOBAL=$GH/gitconfig-all fill "protocol=http" "host=$GIT_HOST"
unlike "$FA_OUT" "password=" "http instead of https: no password"
GIT_CONFIG_GLOBAL=$GH/gitconfig-all fill "protocol=https" "host=$GIT_HOST"
is "$(value password)" "$t1" "configured for every URL, the matching one still gets our token"

# ---------------------------------------------------------------- reject -> refresh
fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST" "username=oauth2" "password=not-our-token")" \
    git credential reject
is "$FA_RC" 0 "git credential reject of a foreign password: exit 0" || fa_show
fill "protocol=https" "host=$GIT_HOST"
is "$(value password)" "$t1" "a foreign password rejected: our token stays"
is "$(fa_as_count refresh_token)" 0 "  and no refresh"

fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST" "username=oauth2" "password=$t1")" \
    git credential reject
is "$FA_RC" 0 "git credential reject of our token: exit 0" || fa_show
fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST")" \
    git credential-cache --socket "$CACHE_SOCK" get
is "$FA_OUT" "" "the cache helper erased its copy too"
fill "protocol=https" "host=$GIT_HOST"
t2=$(value password)
is "$FA_RC" 0 "fill after reject: exit 0" || fa_show
isnt "$t2" "$t1" "fill after reject: a new token"
like "$t2" '^[A-Za-z0-9._~+/=-]{16,}$' "  that looks like one"
is "$(fa_as_count refresh_token ok)" 1 "the AS log shows exactly one refresh"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t2")" 200 "the FHIR server accepts the new token"
fill "protocol=https" "host=$GIT_HOST"
is "$(value password)" "$t2" "the next fill answers from the keyring"
is "$(fa_as_count refresh_token)" 1 "  without another refresh"
no_refresh_token "the rotated refresh token never appears either"
isnt "$(fa_key_read refresh)" "$r1" "(the refresh token did rotate)"

# ---------------------------------------------------------------- protocol level
now=$(date +%s)
gcf get "protocol=https" "host=$GIT_HOST" ""
is "$FA_RC" 0 "get: exit 0" || fa_show
is "$(printf '%s\n' "$FA_OUT" | sed -n 1p)" "username=oauth2" "get: line 1 username"
is "$(printf '%s\n' "$FA_OUT" | sed -n 2p)" "password=$t2" "get: line 2 password, the token"
exp=$(printf '%s\n' "$FA_OUT" | sed -n 's/^password_expiry_utc=//p')
like "$(printf '%s\n' "$FA_OUT" | sed -n 3p)" '^password_expiry_utc=[0-9]+$' "get: line 3 password_expiry_utc"
ok "  an epoch within the token's lifetime" test "${exp:-0}" -gt "$now" -a "${exp:-0}" -le $((now + FA_TTL + 2))
is "$(printf '%s\n' "$FA_OUT" | wc -l)" 3 "get: nothing else"
is "$FA_ERR" "" "get: nothing on stderr"

gcf get "capability[]=authtype" "protocol=https" "host=$GIT_HOST" "wwwauth[]=Bearer realm=\"fhir\""
is "$FA_RC" 0 "get with capability[]=authtype: exit 0" || fa_show
is "$FA_OUT" "$(printf '%s\n' "capability[]=authtype" "authtype=Bearer" "credential=$t2" "ephemeral=true")" \
    "capability[]=authtype first, then authtype=Bearer, credential, ephemeral=true"
unlike "$FA_OUT" "^(username|password)=" "  and no username or password"

gcf get "protocol=https" "capability[]=state" "host=$GIT_HOST"
is "$(value password)" "$t2" "another capability: the password form"

fa_config git_username git-bot
gcf get "protocol=https" "host=$GIT_HOST"
is "$(value username)" git-bot "git_username from the profile"
fa_config git_username

gcf get "protocol=https" "host=$GIT_HOST" "path=clinic/records.git"
is "$(value password)" "$t2" "with a path (credential.useHttpPath): matched"
gcf get "url=$GIT_URL/clinic/records.git"
is "$(value password)" "$t2" "url= instead of protocol and host"
gcf get "protocol=https" "host=other.example"
is "$FA_RC|$FA_OUT|$FA_ERR" "0||" "no match: exit 0, no output, nothing on stderr"
gcf get "protocol=cert" "path=/home/me/cert.p12"
is "$FA_RC|$FA_OUT|$FA_ERR" "0||" "not an http(s) request: exit 0, silent"
gcf get "url=https://git.example.org:99999/"
is "$FA_RC|$FA_OUT" "0|" "a garbage URL: exit 0, no output"
like "$FA_ERR" '^git-credential-fhir: .*bad URL' "  and a message"
gcf get "protocol=https" "host=$GIT_HOST" "password_expiry_utc=1" "oauth_refresh_token=x" "future_key=1"
is "$(value password)" "$t2" "unknown and irrelevant keys are ignored"

# Caps: a line of 4096 bytes is fine, 4097 is refused, and so is a request
# over 64 KiB; a refused request gets no answer at all.
pad=$(head -c 4086 /dev/zero | tr '\0' a)
gcf get "protocol=https" "host=$GIT_HOST" "wwwauth[]=$pad"
is "$(value password)" "$t2" "a line of 4096 bytes is accepted"
gcf get "protocol=https" "host=$GIT_HOST" "wwwauth[]=${pad}a"
is "$FA_RC|$FA_OUT" "1|" "a line of 4097 bytes: exit 1, no output"
like "$FA_ERR" "longer than 4096 bytes" "  and a message"
lines=("protocol=https" "host=$GIT_HOST")
for i in $(seq 1 17); do lines+=("wwwauth[]=$pad"); done
gcf get "${lines[@]}"
is "$FA_RC|$FA_OUT" "1|" "a request over 64 KiB: exit 1, no output"
like "$FA_ERR" "longer than 65536 bytes" "  and a message"
# shellcheck disable=SC2016  # expanded by the inner shell
fa_run bash -c 'printf "protocol=https\nhost=%s\0x\n\n" "$1" | "$2" --config "$3" get' _ "$GIT_HOST" "$GCF" "$FA_CONF"
is "$FA_RC|$FA_OUT" "1|" "a NUL byte: exit 1, no output"
gcf get "protocol=https" "host=$GIT_HOST" "no equals sign"
is "$FA_RC|$FA_OUT" "1|" "a line without '=': exit 1, no output"
gcf get "protocol=https" "host=$GIT_HOST" "" "host=other.example"
is "$(value password)" "$t2" "the request ends at the blank line"

gcf store "protocol=https" "host=$GIT_HOST" "username=oauth2" "password=$t2"
is "$FA_RC|$FA_OUT|$FA_ERR" "0||" "store: exit 0, silent"
gcf frobnicate "protocol=https" "host=$GIT_HOST"
is "$FA_RC|$FA_OUT" "0|" "an unknown operation is ignored"
fa_run "$GCF"
is "$FA_RC" 1 "no operation: usage error, exit 1"

# A cached token is answered without the network half (libcurl, OpenSSL).
fa_run_stdin "$(printf '%s\n' "protocol=https" "host=$GIT_HOST")" \
    env LD_DEBUG=libs "$GCF" --config "$FA_CONF" get
is "$(value password)" "$t2" "fast path (LD_DEBUG on): our token"
like "$FA_ERR" "libkeyutils" "(LD_DEBUG traced the libraries loaded)"
unlike "$FA_ERR" "fhirauth-net|libcurl|libssl|libcrypto" "the fast path loads neither fhirauth-net.so, libcurl nor OpenSSL"

# erase with the bearer credential of git >= 2.46: compare-and-invalidate.
gcf erase "capability[]=authtype" "protocol=https" "host=$GIT_HOST" "authtype=Bearer" "credential=not-ours"
gcf get "protocol=https" "host=$GIT_HOST"
is "$(value password)" "$t2" "erase of a foreign credential: our token stays"
gcf erase "capability[]=authtype" "protocol=https" "host=$GIT_HOST" "authtype=Bearer" "credential=$t2"
is "$FA_RC|$FA_OUT" "0|" "erase of our credential: exit 0, silent"
gcf get "protocol=https" "host=$GIT_HOST"
t3=$(value password)
isnt "$t3" "$t2" "after erase of our credential: a new token"
is "$(fa_as_count refresh_token ok)" 2 "  after exactly one more refresh"
gcf erase "protocol=https" "host=other.example" "password=$t3"
gcf get "protocol=https" "host=$GIT_HOST"
is "$(value password)" "$t3" "erase for a URL we do not match changes nothing"
no_refresh_token "the helper never printed a refresh token"

# ---------------------------------------------------------------- logged out
fa_run fa_token logout
is "$FA_RC" 0 "logout" || fa_show
gcf get "protocol=https" "host=$GIT_HOST"
is "$FA_RC|$FA_OUT" "0|" "logged out: exit 0, no output"
like "$FA_ERR" "^git-credential-fhir: not logged in to profile $FA_PROFILE: run 'fhir-token .*login'$" \
    "  and a one-line hint on stderr"
is "$(printf '%s\n' "$FA_ERR" | wc -l)" 1 "  exactly one line"
fill "protocol=https" "host=$GIT_HOST"
isnt "$FA_RC" 0 "logged out: git credential fill fails (no prompt)"
unlike "$FA_OUT" "password=$t3" "  with no token from us"
like "$FA_ERR" "not logged in to profile" "  and git shows our hint"
gcf erase "protocol=https" "host=$GIT_HOST" "password=$t3"
is "$FA_RC|$FA_OUT" "0|" "logged out: erase is harmless"

# ---------------------------------------------------------------- cleanup
git credential-cache --socket "$CACHE_SOCK" exit >/dev/null 2>&1
for i in $(seq 1 50); do [ -S "$CACHE_SOCK" ] || break; sleep 0.1; done
nok "the credential-cache daemon is gone" test -S "$CACHE_SOCK"
is "$(cat "$STORE")" "$store_before" "the store file still holds only its stale entry"

done_testing
