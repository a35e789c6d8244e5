#!/bin/bash
# examples.t - the configurations in examples/ work as written: the one
# for the test AS (oidc-provider in its standard configuration) logs a
# user in with fhir-token and through the PAM module (its grant, the
# device grant), the tokens are good at the FHIR server, logout revokes;
# every other example parses.  Only the issuer, the FHIR base and the CA
# are replaced with the test bed's.  (The glewlwyd and SMART launcher
# examples are used by glewlwyd.t and smart-launcher.t.)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
pam_setup

# The other examples, FILE:PROFILE each ("" for a file without sections).
others=()
for f in "$top_srcdir"/examples/pam_fhir.conf.*; do
    case $f in *.oidc-provider) continue ;; esac
    profiles=$(sed -n 's/^\[profile \(.*\)\]$/\1/p' "$f")
    [ -n "$profiles" ] || profiles=-
    for p in $profiles; do
        others+=("$f:$p")
    done
done
plan $((11 + ${#others[@]}))

pam_cleanup_hook() {
    exec 7>&- 2>/dev/null
    [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null
    return 0
}

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 60 --keyring persistent
pam_users

# example SOURCE DEST: the example with the test bed's issuer, FHIR base
# and CA; fails when a line to replace is missing.
example() {
    grep -q '^issuer = ' "$1" && grep -q '^fhir_base = ' "$1" || return 1
    sed -e "s|^issuer = .*|issuer = $FA_ISSUER|" \
        -e "s|^fhir_base = .*|fhir_base = $FA_FHIR|" "$1" >"$2" || return 1
    printf 'ca_file = %s\n' "$FA_CA" >>"$2"
    chmod 644 "$2"
}
ex=$FA_TMP/oidc-provider.conf
ok "examples/pam_fhir.conf.oidc-provider has the lines the test replaces" \
    example "$top_srcdir/examples/pam_fhir.conf.oidc-provider" "$ex"
# ex_as USER ARGS...: fhir-token as USER with the example.
ex_as() {
    local u=$1
    shift
    fa_as_user "$u" "$bin" --config "$ex" "$@"
}

# 2-6: fhir-token with the example
fa_run_stdin alice-secret ex_as alice login --password --username alice --password-stdin
is "$FA_RC" 0 "fhir-token login --password with the example" || fa_show
fa_run ex_as alice token
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 "its token is good at the FHIR server"
fa_run ex_as alice status
like "$FA_OUT" "User: *alice" "status names alice" || fa_show
revs=$(fa_as_events revocation)
fa_run ex_as alice logout
is "$FA_RC" 0 "logout with the example" || fa_show
is "$(fa_as_events revocation)" "$((revs + 1))" "and the server got the revocation"

# 7-11: the PAM module with the example and nothing else: its grant
# (device), the identity from UserInfo (profile), the session stored
{
    echo "auth required $module config=$ex"
    echo "account required pam_permit.so"
    echo "session required $module config=$ex"
    echo "session required pam_permit.so"
} >"$svcfile"
userinfo=$(fa_as_events userinfo)
device alice authenticate open_session
like "$DEV_CODE" '^[A-Z]{4}-[A-Z]{4}$' "the PAM module shows a device code (grant = device)" ||
    diag "$(cat "$FA_TMP/dev.out")"
ok "alice approves it at the AS" fa_device_approve "$DEV_CODE" alice
device_finish
is "$FA_RC" 0 "pamtester authenticate open_session succeeds" || diag "$FA_OUT"
is "$(fa_as_events userinfo)" "$((userinfo + 1))" "the user name came from UserInfo, once"
fa_run ex_as alice token
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 \
    "alice's programs get a token from the PAM login"

# 12-: the other examples parse (status exits 2, no session; 1 would be a
# configuration error)
# (A copy each: the checkout may sit where bob cannot read, below /root.)
for fp in "${others[@]}"; do
    f=${fp%:*} p=${fp##*:}
    cp "$f" "$FA_TMP/$(basename "$f")" && chmod 644 "$FA_TMP/$(basename "$f")"
    args=(--config "$FA_TMP/$(basename "$f")")
    [ "$p" = - ] || args+=(--profile "$p")
    fa_run fa_as_user bob "$bin" "${args[@]}" status
    label=$(basename "$f")
    [ "$p" = - ] || label="$label [$p]"
    is "$FA_RC" 2 "$label: parses, no session" || fa_show
done
