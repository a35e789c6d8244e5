#!/bin/bash
# pam-stacks.t - every PAM stack the documentation prints, run as printed.
# The stacks are read from the files themselves (examples/pam.d/* and the
# EXAMPLES of docs/pam_fhir.8), so the docs cannot drift from what is
# tested; the only change made to them is the module: "pam_fhir.so"
# becomes this build's module with config= this test bed's configuration
# (which sets no grant, so a stack without grant= gets the default, the
# device grant, as it would on a real system).  Each stack is written as a
# service file and driven by pamtester as root:
#   - alice, a pam_fhir user: logs in at the AS (password or device
#     grant), the session stores tokens the FHIR server accepts;
#   - alice refused by the AS (a password the AS refuses, which is her
#     local password; or a device code denied at the AS): fails, without
#     falling back to pam_unix;
#   - bob, in ignore_users, and root, below minimum_uid: pam_fhir returns
#     PAM_IGNORE, and pam_unix decides (their local password lets them in,
#     another does not);
#   - the AS down (PAM_AUTHINFO_UNAVAIL): pam_unix decides for alice.
# A last check: every auth line naming pam_fhir.so that any document of
# the tree prints is one of the lines run here.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

pam_setup
command -v unshare >/dev/null 2>&1 || skip_all "needs unshare (util-linux)"
command -v openssl >/dev/null 2>&1 || skip_all "needs openssl"

# ------------------------------------------------------------------ the stacks
# stack_src[i]: where stack i is printed; stack_text[i]: the stack as
# printed; stack_grant[i]: password or device (what its auth line asks of
# pam_fhir).
stack_src=()
stack_text=()
stack_grant=()

# add_stack SOURCE TEXT
add_stack() {
    local grant=device
    case $2 in
        *"pam_fhir.so"*"grant=password"*) grant=password ;;
    esac
    stack_src+=("$1")
    stack_text+=("$2")
    stack_grant+=("$grant")
}

# The snippets in examples/pam.d: each file is a stack (its comment lines
# are comments to PAM too).
for f in "$top_srcdir"/examples/pam.d/*; do
    add_stack "examples/pam.d/${f##*/}" "$(cat "$f")"
done

# roff_text: a man page's text on standard input with the escapes this
# page uses in its examples undone; fails on any other escape (a stack
# that cannot be read as printed must not be tested as something else).
roff_text() {
    sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g'
}

# The stacks in docs/pam_fhir.8's EXAMPLES: each .nf ... .fi block that
# names pam_fhir.so, its request lines (.RS, .RE) dropped.
man=$top_srcdir/docs/pam_fhir.8
n=0
while IFS= read -r -d '' block; do
    n=$((n + 1))
    case $block in
        *\\*) bail "docs/pam_fhir.8 EXAMPLES stack $n has a roff escape this test cannot read" ;;
    esac
    add_stack "docs/pam_fhir.8 EXAMPLES stack $n" "$block"
done < <(awk '
    /^\.SH / { ex = ($0 ~ /^\.SH EXAMPLES/) }
    ex && /^\.nf/ { inb = 1; b = ""; next }
    ex && /^\.fi/ { if (inb && b ~ /pam_fhir\.so/) printf "%s%c", b, 0; inb = 0; next }
    ex && inb && !/^\./ { b = b (b == "" ? "" : "\n") $0 }
' "$man" | roff_text)

[ "${#stack_text[@]}" -ge 5 ] ||
    bail "found ${#stack_text[@]} documented stacks, expected examples/pam.d/{login,sshd} and 3 in pam_fhir(8)"

# as_run TEXT: the stack as this test runs it: the word pam_fhir.so
# replaced by the built module with this test bed's configuration.
as_run() {
    # shellcheck disable=SC2001
    printf '%s\n' "$1" | sed "s#\\(^\\|[[:space:]]\\)pam_fhir\\.so\\([[:space:]]\\|\$\\)#\\1$module config=$FA_CONF\\2#g"
}

# use_stack I: write stack I as this test's service file.
use_stack() {
    as_run "${stack_text[$1]}" >"$svcfile"
}

# ------------------------------------------------------------------ the bed
# Per stack: 9 checks with the AS up (a device stack: 11), 2 with it down;
# then the documents' auth lines and root's shadow entry.
nd=0
for g in "${stack_grant[@]}"; do
    [ "$g" = device ] && nd=$((nd + 1))
done
plan $((${#stack_text[@]} * 11 + nd * 2 + 2))

export FA_AS_DEVICE_INTERVAL=1 FA_AS_DEVICE_CONTROL=on
fa_start_servers --ttl 60 --keyring user
# Which users pam_fhir leaves alone comes from the configuration (the
# printed stacks pass no such argument): root by minimum_uid, bob by
# ignore_users.  No grant: the stack's own, or the default.
fa_config grant
fa_config minimum_uid 1000
fa_config ignore_users bob
pam_users
for u in alice bob; do
    [ "$(id -u "$u")" -ge 1000 ] || bail "$u's uid is below 1000: minimum_uid would ignore $u"
done

# Local Unix passwords for the test users (gone with the users on exit),
# none of them the user's password at the AS (alice-secret, bob-secret).
printf 'alice:alice-Local-1\nbob:bob-Local-2\n' | chpasswd || bail "cannot set the test users' local passwords"

# root: its password is never changed (its /etc/shadow entry is only
# compared, at the end, with what it was here).  pam_unix (as root) reads
# root's hash from /etc/shadow; root's runs happen in a private mount
# namespace where /etc/shadow is a file of this test holding nothing but a
# root entry with the hash of root-Test-3.  So when root's run succeeds
# with root-Test-3 and fails with another password, it was pam_unix, and
# only pam_unix, that checked the password: pam_fhir ignores root
# (minimum_uid) and never checks a password against /etc/shadow, and no
# other module of the printed stacks looks at passwords.  On a stack that
# stops at pam_fhir's PAM_IGNORE (default=die), root's run fails even with
# root-Test-3.
root_line=$(grep '^root:' /etc/shadow) || bail "no root entry in /etc/shadow"
root_hash=$(openssl passwd -6 root-Test-3) || bail "cannot hash the test password"
( umask 077 && printf 'root:%s:%d:0:99999:7:::\n' "$root_hash" $(($(date +%s) / 86400)) >"$FA_TMP/shadow" ) ||
    bail "cannot write the test shadow file"
pam_cleanup_hook() {
    exec 7>&- 2>/dev/null
    [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null
    rm -f "$FA_TMP/shadow"
    return 0
}
# shellcheck disable=SC2016 # expanded by that sh
AS_ROOT=(unshare -m --propagation private sh -c 'mount --bind "$0" /etc/shadow && exec "$@"' "$FA_TMP/shadow")

# pt_root PASSWORD: pamtester authenticate for root with the test shadow.
pt_root() {
    PAM_WRAP=("${AS_ROOT[@]}")
    pt root "$1" authenticate
    PAM_WRAP=()
}

# clear_alice: nothing of alice's earlier logins left in her keyrings.
clear_alice() {
    # shellcheck disable=SC2016
    fa_as_user alice sh -c 'keyctl clear @u; keyctl clear "$(keyctl get_persistent @s)"' >/dev/null 2>&1
    clear_stashes
}

# shown I: the stack as run, for a failure's diagnostics.
shown() {
    diag "${stack_src[$1]} as run:" "$(cat "$svcfile")"
}

# ------------------------------------------------------------------ AS up
for i in "${!stack_text[@]}"; do
    s=${stack_src[$i]}
    use_stack "$i"
    clear_alice

    # alice, a pam_fhir user: the AS logs her in and the session stores
    # her tokens.
    if [ "${stack_grant[$i]}" = password ]; then
        pt alice alice-secret authenticate open_session
    else
        device alice authenticate open_session
        ok "$s: alice approves the device code at the AS" fa_device_approve "$DEV_CODE" alice ||
            diag "$(cat "$FA_TMP/dev.out")"
        device_finish
    fi
    is "$FA_RC" 0 "$s: alice logs in through pam_fhir" || { fa_show; diag "$FA_OUT"; shown "$i"; }
    is "$(stashes)" 0 "$s: no stash left after open_session"
    tok=$(as alice token 2>/dev/null)
    is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 \
        "$s: the session's token is accepted by the FHIR server"
    clear_alice

    # alice refused by the AS: no fall-back to pam_unix (default=die).
    if [ "${stack_grant[$i]}" = password ]; then
        # Her local password, which pam_unix would accept.
        pt alice alice-Local-1 authenticate
        isnt "$FA_RC" 0 "$s: a password the AS refuses fails, though it is alice's local one" ||
            shown "$i"
        like "$FA_ERR$FA_OUT" "[Aa]uthentication failure" "$s: ... with PAM_AUTH_ERR" || fa_show
    else
        device alice authenticate
        ok "$s: alice aborts the device code at the AS" fa_device_deny_confirm "$DEV_CODE"
        device_finish
        isnt "$FA_RC" 0 "$s: a denied device code fails" || shown "$i"
        unlike "$FA_OUT" "Password:" "$s: ... and pam_unix is not asked for a password" ||
            diag "$FA_OUT"
    fi
    clear_alice

    # bob, in ignore_users: pam_unix decides.
    pt bob bob-Local-2 authenticate
    is "$FA_RC" 0 "$s: bob (ignore_users) logs in with his local password" ||
        { fa_show; shown "$i"; }
    pt bob bob-secret authenticate
    isnt "$FA_RC" 0 "$s: ... but not with his password at the AS" || fa_show

    # root, below minimum_uid: pam_unix decides (see the shadow file above).
    pt_root root-Test-3
    is "$FA_RC" 0 "$s: root (minimum_uid) falls through to pam_unix, which lets it in" ||
        { fa_show; shown "$i"; }
    pt_root not-root-Test-3
    isnt "$FA_RC" 0 "$s: ... and refuses a wrong password" || fa_show
    clear_stashes
done

# ------------------------------------------------------------------ AS down
# PAM_AUTHINFO_UNAVAIL: pam_unix decides for alice.
fa_stop_as
for i in "${!stack_text[@]}"; do
    s=${stack_src[$i]}
    use_stack "$i"
    pt alice alice-Local-1 authenticate
    is "$FA_RC" 0 "$s: the AS down, alice logs in with her local password" ||
        { fa_show; shown "$i"; }
    pt alice alice-secret authenticate
    isnt "$FA_RC" 0 "$s: ... but not with another (her AS password)" || fa_show
    clear_stashes
done

# ------------------------------------------------------------------ the documents
# Every auth line naming pam_fhir.so in a document of the tree is an auth
# line of a stack run above (whitespace aside), so that a stack printed
# elsewhere gets added here.  Not counted: README.md's demo service file
# (the module by its path below /tmp/pam_fhir-demo/: what scripts/demo
# writes for its demo user, with no local fallback by design; tests/demo.t
# runs it).
norm() { tr -s ' \t' '  ' | sed -e 's/^ //' -e 's/ $//'; }
tested=$(for t in "${stack_text[@]}"; do printf '%s\n' "$t"; done | grep -E '^[[:space:]]*auth[[:space:]].*pam_fhir\.so' | norm | sort -u)
untested=
for f in "$top_srcdir"/*.md "$top_srcdir"/NEWS "$top_srcdir"/docs/* \
    "$top_srcdir"/examples/pam.d/*; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
        l=$(printf '%s\n' "$line" | norm)
        case $l in */tmp/pam_fhir-demo/*) continue ;; esac
        printf '%s\n' "$tested" | grep -qxF -- "$l" || untested+="${f#"$top_srcdir"/}: $l"$'\n'
    done < <(roff_text <"$f" | grep -E '^[[:space:]]*auth[[:space:]].*pam_fhir\.so')
done
is "$untested" "" "every auth line with pam_fhir.so that the documents print was run here" ||
    diag "$untested"
is "$(grep '^root:' /etc/shadow)" "$root_line" "root's entry in /etc/shadow is unchanged"
