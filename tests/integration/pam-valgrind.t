#!/bin/bash
# pam-valgrind.t - pamtester flows through pam_fhir.so under valgrind, as
# root (not su: setuid programs are not run under valgrind): the password
# grant's authenticate open_session close_session (revoke_on_close), a
# wrong password, the device grant, a refused stash, setcred (through a
# small libpam driver) and the AS down.  Each
# run: valgrind's own exit status is not 99 (no memory errors, no
# definitely lost block), its report says 0 errors and 0 bytes definitely
# lost, and no file descriptor opened during the run is left open at exit.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

pam_setup
command -v valgrind >/dev/null 2>&1 || skip_all "needs valgrind"
fa_sanitized && skip_all_na "valgrind cannot run the ASan build (the plain build runs this test)"
plan 31

pam_cleanup_hook() {
    exec 7>&- 2>/dev/null
    [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null
    return 0
}

export FA_AS_DEVICE_INTERVAL=1
fa_start_servers --ttl 60 --keyring user --timeout 10
pam_users

vgdir=$FA_TMP/vg
mkdir -p "$vgdir"
vg_opts=(--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --track-fds=yes --num-callers=30 --log-file="$vgdir/vg.%p")
PAM_WRAP=(valgrind "${vg_opts[@]}")

# vg_reset: forget earlier reports.
vg_reset() { rm -f "$vgdir"/vg.*; }
# vg_check WHAT: 3 tests on the report(s) of the last run(s).
vg_check() {
    local what=$1 f errs lost fds reports=()
    for f in "$vgdir"/vg.*; do
        [ -f "$f" ] && reports+=("$f")
    done
    if [ ${#reports[@]} -eq 0 ]; then
        _fa_result 1 "$what: valgrind wrote a report"
        skip_na "$what: no definitely lost bytes" "no report"
        skip_na "$what: no descriptor left open" "no report"
        return 1
    fi
    errs=$(cat "${reports[@]}" | grep -c 'ERROR SUMMARY: [1-9]')
    is "$errs" 0 "$what: valgrind reports 0 errors" ||
        diag "$(grep -h -A25 -E 'Invalid|uninitiali|definitely lost in' "${reports[@]}" | head -60)"
    lost=$(cat "${reports[@]}" | grep -E 'definitely lost: [1-9]' | head -3)
    is "$lost" "" "$what: no definitely lost bytes" ||
        diag "$(grep -h -A30 'definitely lost in' "${reports[@]}" | head -60)"
    # An "Open file descriptor" not followed by "<inherited from parent>"
    # was opened during the run and never closed.
    fds=$(awk '/Open (file descriptor|AF_)/ { d = $0; getline; if ($0 !~ /inherited from parent/) print d }' \
        "${reports[@]}")
    is "$fds" "" "$what: no descriptor opened during the run is left open" ||
        diag "$(grep -h -A12 'Open ' "${reports[@]}" | head -40)"
}

# 1-5: password grant, authenticate open_session close_session
service revoke_on_close
vg_reset
pt alice alice-secret authenticate open_session close_session
is "$FA_RC" 0 "password grant under valgrind: authenticate open_session close_session" ||
    diag "$FA_OUT" "$FA_ERR"
vg_check "password grant"
like "$(fa_as_events revocation '"ok":true')" '^[1-9]' "close_session revoked at the AS"

# 6-9: a wrong password (the failure paths)
vg_reset
pt alice wrong-password authenticate
is "$FA_RC" 1 "a wrong password fails (1, not valgrind's 99)" || diag "$FA_OUT" "$FA_ERR"
vg_check "wrong password"
clear_stashes

# 10-14: authenticate open_session again, tokens kept (no revoke_on_close)
service
fa_as_user alice keyctl clear @u >/dev/null 2>&1
vg_reset
pt alice alice-secret authenticate open_session close_session
is "$FA_RC" 0 "password grant, keys kept: authenticate open_session close_session" ||
    diag "$FA_OUT" "$FA_ERR"
vg_check "keys kept"
tok=$(as alice token 2>/dev/null)
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
    "the valgrind run's tokens are in alice's keyring and the FHIR server accepts them"

# 15-18: device grant, approved
service grant=device
vg_reset
device alice authenticate open_session
fa_device_approve "$DEV_CODE" alice || diag "approval failed: '$DEV_CODE'" "$(cat "$FA_TMP/dev.out")"
device_finish
is "$FA_RC" 0 "device grant under valgrind: authenticate open_session" || diag "$FA_OUT"
vg_check "device grant"
clear_stashes

# 19-22: open_session refusing another user's stash (bob's open_session,
# alice's stash)
service
pt alice alice-secret authenticate
serial=$(stash_serial alice)
[ -n "$serial" ] || diag "no stash of alice found"
vg_reset
fa_run valgrind "${vg_opts[@]}" pamtester -v -E "PAM_FHIR_STASH=$serial" "$svc" bob open_session 9>&-
is "$FA_RC" 1 "bob's open_session refuses alice's stash (1, not valgrind's 99)" || fa_show
vg_check "refused stash"
clear_stashes

# 23-27: setcred through a small libpam driver (pamtester has no setcred):
# authenticate + REFRESH, authenticate + REINITIALIZE (the replaced
# session revoked), ESTABLISH, DELETE.  Valgrind runs the distribution's
# interpreter binary (not a launcher script such as pyenv's shim, nor a
# locally built Python that valgrind finds errors in by itself), with
# Python's own allocator off.
py=/usr/bin/python3
if [ -x "$py" ] && head -c 4 "$py" 2>/dev/null | grep -q 'ELF'; then
    pam_driver "$FA_TMP/pamdrv.py"
    service
    fa_as_user alice keyctl clear @u >/dev/null 2>&1
    vg_reset
    PYTHONMALLOC=malloc fa_run valgrind "${vg_opts[@]}" "$py" "$FA_TMP/pamdrv.py" "$svc" alice \
        alice-secret auth setcred:REFRESH auth setcred:REINITIALIZE setcred:ESTABLISH \
        setcred:DELETE 9>&-
    is "$FA_RC" 0 "setcred REFRESH, REINITIALIZE, ESTABLISH, DELETE under valgrind" ||
        diag "$FA_OUT" "$FA_ERR"
    vg_check "setcred"
    rt=$(user_key alice refresh)
    is "$(fa_introspect "$rt")" true "setcred stored a live refresh token in alice's keyring"
else
    for t in "setcred under valgrind" "setcred: 0 errors" "setcred: no definitely lost bytes" \
        "setcred: no descriptor left open" "setcred stored a live refresh token"; do
        skip "$t" "needs the distribution's /usr/bin/python3"
    done
fi
clear_stashes

# 28-31: the AS down (PAM_AUTHINFO_UNAVAIL)
fa_stop_as
vg_reset
pt alice alice-secret authenticate
like "$FA_OUT$FA_ERR" "[Aa]uthentication service cannot retrieve authentication info" \
    "AS down under valgrind -> PAM_AUTHINFO_UNAVAIL" || diag "$FA_OUT" "$FA_ERR"
vg_check "AS down"
clear_stashes
