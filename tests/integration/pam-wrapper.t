#!/bin/bash
# pam-wrapper.t - pam_fhir.so unprivileged, under pam_wrapper (Debian
# libpam-wrapper): pamtester runs as nobody (uid 65534, via setpriv) with
# LD_PRELOAD=libpam_wrapper.so, PAM_WRAPPER=1 and a service directory of
# its own, so neither /etc/pam.d nor root is needed by the module under
# test.  Covers argument handling (an unknown argument is logged and
# ignored, a bad value is PAM_SERVICE_ERR, minimum_uid and ignore_users
# are PAM_IGNORE) and the text of the device prompt, with and without
# its QR code (qr=on|auto|off).  The configuration is root-owned in a
# root-owned directory nobody can read (as the module demands).  No local
# users are created: the PAM users are nobody and root.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (runs pamtester as nobody)"
command -v pamtester >/dev/null 2>&1 || skip_all "needs pamtester"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
pwrap=
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
    "$(dirname "$(ldconfig -p 2>/dev/null | sed -n 's/.*libpam_wrapper\.so.* => //p' | head -1)" 2>/dev/null)"; do
    [ -f "$d/libpam_wrapper.so" ] && { pwrap=$d/libpam_wrapper.so; break; }
done
[ -n "$pwrap" ] || skip_all "needs pam_wrapper (Debian libpam-wrapper)"
built=$top_builddir/pam_fhir/.libs/pam_fhir.so
[ -f "$built" ] || bail "$built is missing: build first (make)"
id nobody >/dev/null 2>&1 || skip_all "needs the user nobody"

plan 25

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --no-fhir --ttl 60 --keyring user
bin=$(fa_user_bin) || bail "cannot copy fhir-token for other users"
# The module beside the copied libfhirauth and network module (nobody may
# not enter the build tree).
libs=$(dirname "$bin")/.libs
[ -d "$libs" ] || libs=$top_builddir/lib/.libs
cp "$built" "$libs/pam_fhir.so" || bail "cannot copy the module"
chmod 644 "$libs/pam_fhir.so"
module=$libs/pam_fhir.so
svcdir=$FA_TMP/pamwrap.d
mkdir -p "$svcdir" && chmod 755 "$svcdir"
svc=pam_fhir-wrap
host=$(hostname)

# service LINES...: the service file, one argument per line.
service() {
    printf '%s\n' "$@" >"$svcdir/$svc"
    chmod 644 "$svcdir/$svc"
}
# auth ARGS...: a service with pam_fhir as the only auth module.
auth() {
    service "auth required $module config=$FA_CONF $*" "account required pam_permit.so"
}
# pw USER STDIN-FILE PAMTESTER-ARGS...: pamtester as nobody under
# pam_wrapper (its log of pam_syslog calls on stderr); FA_RC FA_OUT FA_ERR.
pw() {
    local user=$1 input=$2
    shift 2
    fa_run setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i PATH=/usr/bin:/bin HOME=/nonexistent LD_LIBRARY_PATH="$libs" \
        LD_PRELOAD="${FA_SANITIZER_PRELOAD:+$FA_SANITIZER_PRELOAD }$pwrap" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svcdir" \
        PAM_WRAPPER_DEBUGLEVEL=3 LANG=C.UTF-8 \
        pamtester -v "$@" "$svc" "$user" authenticate <"$input"
}

# 1-2: pam_wrapper itself works with a trivial stack
service "auth required pam_permit.so"
pw nobody /dev/null
is "$FA_RC" 0 "pamtester under pam_wrapper as nobody: pam_permit" || fa_show
is "$(setpriv --reuid=65534 --regid=65534 --clear-groups id -u)" 65534 "the test runs it as uid 65534"

# 3-4: the configuration must be root-owned: it is, and nobody can read it
ok "the configuration is root-owned" test "$(stat -c %u "$FA_CONF")" = 0
ok "nobody can read it" setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$FA_CONF"

# 5-6: an unknown argument is logged at LOG_ERR and not fatal (the module
# gets as far as the device prompt)
auth grant=device no_such_argument=1
pw nobody /dev/null
like "$FA_ERR" "unknown argument 'no_such_argument' ignored" "an unknown argument is logged" ||
    diag "$FA_ERR"
like "$FA_OUT$FA_ERR" "approve, then press Enter" "and is not fatal: the device prompt is shown" ||
    fa_show

# 7-8: a bad value of a known key -> PAM_SERVICE_ERR, logged
auth grant=carrier-pigeon
pw nobody /dev/null
like "$FA_OUT$FA_ERR" "[Ee]rror in service module" "a bad argument value -> PAM_SERVICE_ERR" || fa_show
like "$FA_ERR" "configuration error in argument 'grant'" "and is logged as a configuration error" ||
    diag "$FA_ERR"

# 9: a configuration file that does not exist -> PAM_SERVICE_ERR
service "auth required $module config=$FA_TMP/missing.conf grant=device"
pw nobody /dev/null
like "$FA_OUT$FA_ERR" "[Ee]rror in service module" "a missing configuration -> PAM_SERVICE_ERR" || fa_show

# 10-11: ignore_users and minimum_uid -> PAM_IGNORE (the stack then falls
# to pam_deny unless [ignore=ignore] lets pam_permit decide)
service "auth [ignore=ignore default=die] $module config=$FA_CONF grant=device ignore_users=root,nobody" \
    "auth required pam_permit.so"
pw nobody /dev/null
is "$FA_RC" 0 "ignore_users: PAM_IGNORE, no prompt" || fa_show
service "auth [ignore=ignore default=die] $module config=$FA_CONF grant=device minimum_uid=1000" \
    "auth required pam_permit.so"
pw root /dev/null
is "$FA_RC" 0 "minimum_uid=1000: root (uid 0) is PAM_IGNORE" || fa_show

# 12: minimum_uid below the user's uid: not ignored (the device prompt)
service "auth [ignore=ignore default=die] $module config=$FA_CONF grant=device minimum_uid=1000" \
    "auth required pam_permit.so"
pw nobody /dev/null
isnt "$FA_RC" 0 "minimum_uid=1000: nobody (uid 65534) is not ignored" || fa_show

# 13-20: the text of the device prompt (qr=off).  Standard input is empty:
# the conversation fails at the prompt and the module gives up (no
# polling): a cancelled login, PAM_CONV_ERR.
auth grant=device qr=off
pw nobody /dev/null
out=$FA_OUT$FA_ERR
like "$out" "Sign-in request from \"fhir-cli\" on $host\\." "the prompt names the client and this host" ||
    diag "$out"
like "$out" "Open $FA_ISSUER/device\\?user_code=[A-Z]{4}-[A-Z]{4}" "the complete verification URI" ||
    diag "$out"
like "$out" "\\(or $FA_ISSUER/device and enter the code [A-Z]{4}-[A-Z]{4}\\)," \
    "the verification URI and the user code" || diag "$out"
like "$out" "approve, then press Enter: " "approve, then press Enter" || diag "$out"
unlike "$out" "█" "qr=off: no QR code"
like "$out" "pamtester: [Cc]onversation error" "no answer to the prompt: cancelled, PAM_CONV_ERR" || fa_show
like "$FA_ERR" "device login cancelled" "... logged as a cancelled login" || diag "$FA_ERR"
log=$(printf '%s\n' "$FA_ERR" | grep 'SYSLOG(')
unlike "$log" "user_code=|[A-Z]{4}-[A-Z]{4}" "the code never reaches the log" || diag "$log"

# 21-22: qr=on: block characters, sent as information before the prompt
auth grant=device qr=on
pw nobody /dev/null
out=$FA_OUT$FA_ERR
like "$out" "█" "qr=on: the QR code is drawn" || diag "$out"
qr_line=$(printf '%s\n' "$out" | grep -n '█' | head -1 | cut -d: -f1)
text_line=$(printf '%s\n' "$out" | grep -n 'Sign-in request' | head -1 | cut -d: -f1)
ok "the QR code comes before the prompt text" test "${qr_line:-999999}" -lt "${text_line:-0}" ||
    diag "$out"

# 23-25: qr=auto: only on a local terminal (PAM_TTY), never with PAM_RHOST
auth grant=device qr=auto
pw nobody /dev/null -I tty=/dev/tty1
like "$FA_OUT$FA_ERR" "█" "qr=auto on PAM_TTY /dev/tty1: QR code" || diag "$FA_OUT$FA_ERR"
pw nobody /dev/null -I tty=ssh
unlike "$FA_OUT$FA_ERR" "█" "qr=auto with PAM_TTY ssh: no QR code"
pw nobody /dev/null -I tty=/dev/pts/0 -I rhost=192.0.2.7
unlike "$FA_OUT$FA_ERR" "█" "qr=auto with a PAM_RHOST: no QR code"
