#!/bin/bash
# pam-device.t - grant=device (RFC 8628) through the real PAM stack,
# driven end to end by the test: pamtester as root shows the prompt, the
# test reads the user code from it and plays the user at the AS.  Denied
# at the confirmation page or at the login form -> PAM_AUTH_ERR; never
# approved -> a failure bounded by the device code's lifetime; and a
# device-flow ssh login through a real sshd (a pty plays the terminal),
# approved by the test, runs fhir-token inside the session.
# (pam.t covers approval as the right and as another user.)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

pam_setup
plan 17

pam_cleanup_hook() {
    exec 7>&- 2>/dev/null
    [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null
    return 0
}

export FA_AS_DEVICE_INTERVAL=1 FA_AS_DEVICE_CONTROL=on
fa_start_servers --ttl 60 --keyring user
pam_users
service grant=device

# 1-4: denied at the AS's confirmation page
device alice authenticate
like "$DEV_CODE" '^[A-Z]{4}-[A-Z]{4}$' "the device prompt shows a user code" ||
    diag "$(cat "$FA_TMP/dev.out")"
ok "the test aborts the code at the AS's confirmation page" fa_device_deny_confirm "$DEV_CODE"
device_finish
isnt "$FA_RC" 0 "denied: pamtester fails" || diag "$FA_OUT"
like "$FA_OUT" "pamtester: Authentication failure" "denied at the confirmation page -> PAM_AUTH_ERR" ||
    diag "$FA_OUT"

# 5-7: denied at the AS's login form
device alice authenticate open_session
ok "the test gives up at the AS's login form" fa_device_deny_login "$DEV_CODE"
device_finish
like "$FA_OUT" "pamtester: Authentication failure" "denied at the login form -> PAM_AUTH_ERR" ||
    diag "$FA_OUT"
is "$(stashes)" 0 "nothing stashed after a denial"
clear_stashes

# 8-10: never approved: the user presses Enter at once and never approves;
# the module polls until the device code expires (4 s here), then fails.
ttl=4
fa_as_device "ttl=$ttl"
device alice authenticate
isnt "$DEV_CODE" "" "a code for the never-approved login" || diag "$(cat "$FA_TMP/dev.out")"
device_enter
device_finish
like "$FA_OUT" "pamtester: Authentication failure" "never approved -> PAM_AUTH_ERR" || diag "$FA_OUT"
ok "within the code's lifetime plus 6 s (took ${DEV_SECS}s, lifetime ${ttl}s)" \
    test "$DEV_SECS" -ge $((ttl - 1)) -a "$DEV_SECS" -le $((ttl + 6))
fa_as_device ttl=600
clear_stashes

# 11-17: a device-flow ssh login through a real sshd (pam_sshd).  ssh -tt
# under a pty (ssh_device) shows the prompt; the test approves the code,
# presses Enter, and fhir-token runs inside the session.
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
    pam_sshd device || diag "sshd did not start: $(tail -5 "$FA_TMP/sshd.log")"
    fa_as_user alice keyctl clear @u >/dev/null 2>&1
    ssh_device alice "$FA_TMP/bin/fhir-token --config $FA_CONF --profile $P token"
    like "$SSH_CODE" '^[A-Z]{4}-[A-Z]{4}$' "ssh shows the device prompt with a user code" || ssh_diag
    like "$(cat "$FA_TMP/ssh.out" 2>/dev/null)" "Sign-in request from \"fhir-cli\" on $(hostname)\." \
        "the ssh prompt names the client and this host"
    ok "the test approves the code at the AS as alice" fa_device_approve "$SSH_CODE" alice
    ssh_device_finish
    is "$SSH_RC" 0 "device-flow ssh login through pam_fhir" || ssh_diag
    tok=$SSH_LAST
    like "$tok" '^[A-Za-z0-9._~+/=-]{20,}$' "fhir-token inside the ssh session prints a token"
    is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
        "the FHIR server accepts the token from the device-flow ssh session"
    is "$(stashes)" 0 "no stash left behind by sshd's forked authentication"
else
    for t in "ssh shows the device prompt" "the ssh prompt names the client" \
        "the test approves the code" "device-flow ssh login" "fhir-token inside the ssh session" \
        "the FHIR server accepts the token" "no stash left behind"; do
        skip "$t" "needs openssh-server, ssh and python3"
    done
fi
clear_stashes
