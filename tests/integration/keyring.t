#!/bin/bash
# keyring.t - the keys in the kernel keyring: one user's keys cannot be
# read by another, no key of ours grants anything to group or others, and
# each anchor (keyring = persistent, user, session) works and keeps its
# keys where it says; keyring = session refuses a session keyring that is
# not the user's own, and no store writes into another uid's key.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates test users)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"

plan 42

fa_start_servers --no-fhir --ttl 60 --keyring user
ua=fait$$a
ub=fait$$b
fa_add_user "$ua" || bail "cannot create user $ua"
fa_add_user "$ub" || bail "cannot create user $ub"
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test users"
P=$FA_PROFILE

# as USER ARGS...: fhir-token as that user, in a fresh session keyring.
as() {
    local u=$1
    shift
    fa_as_user "$u" "$bin" --config "$FA_CONF" --profile "$P" "$@"
}
# login_as USER ACCOUNT
login_as() {
    fa_run_stdin "$2-secret" as "$1" login --password --username "$2" --password-stdin
}
# key_as USER NAME [RING]: the serial of pam_fhir:P:NAME as seen by USER,
# searching RING (default: session, user and persistent keyrings).
key_as() {
    local rings=${3:-@s @u @p}
    fa_as_user "$1" sh -c '
        d=$1; shift
        for r in "$@"; do
            [ "$r" = @p ] && r=$(keyctl get_persistent @s) 2>/dev/null
            keyctl search "$r" user "$d" 2>/dev/null && exit 0
        done
        exit 1' sh "pam_fhir:$P:$2" $rings
}

# ---------------------------------------------------------------- isolation between users
login_as "$ua" alice
is "$FA_RC" 0 "user A logs in" || fa_show
login_as "$ub" bob
is "$FA_RC" 0 "user B logs in" || fa_show
fa_run as "$ua"
is "$FA_RC" 0 "user A gets a token" || fa_show
ta=$FA_OUT
fa_run as "$ub"
tb=$FA_OUT
isnt "$ta" "$tb" "A and B have tokens of their own"

sa=$(key_as "$ua" refresh)
ok "A's refresh key is found by A" test -n "$sa"
ok "A can read A's refresh key" fa_as_user "$ua" sh -c 'keyctl pipe "$1" >/dev/null' sh "$sa"
nok "B cannot read A's refresh key (serial $sa)" fa_as_user "$ub" keyctl pipe "$sa"
nok "B cannot describe A's refresh key" fa_as_user "$ub" keyctl rdescribe "$sa"
saa=$(key_as "$ua" access)
nok "B cannot read A's access key" fa_as_user "$ub" keyctl pipe "$saa"
sb=$(key_as "$ub" refresh)
isnt "$sb" "$sa" "B's search finds B's own key, not A's"

# ---------------------------------------------------------------- permissions
uid_a=$(id -u "$ua")
for k in refresh access meta; do
    id=$(key_as "$ua" "$k")
    desc=$(fa_as_user "$ua" keyctl rdescribe "$id")
    perm=$(printf '%s' "$desc" | cut -d';' -f4)
    owner=$(printf '%s' "$desc" | cut -d';' -f2)
    is "$((0x$perm & 0xffff))" 0 "$k key: no group or other permissions (mask $perm)"
    is "$owner" "$uid_a" "$k key: owned by the user"
done

# ---------------------------------------------------------------- anchors
as "$ua" logout >/dev/null 2>&1
as "$ub" logout >/dev/null 2>&1

# user: in the user keyring, seen from any later session.
fa_config keyring user
login_as "$ua" alice
is "$FA_RC" 0 "keyring=user: login" || fa_show
ok "keyring=user: the key is in the user keyring" key_as "$ua" refresh @u
nok "keyring=user: not in the persistent keyring" key_as "$ua" refresh @p
fa_run as "$ua"
is "$FA_RC" 0 "keyring=user: a token in a new session" || fa_show
as "$ua" logout >/dev/null 2>&1
nok "keyring=user: logout removed it" key_as "$ua" refresh

# persistent: in the persistent keyring, seen from any later session.
fa_config keyring persistent
login_as "$ua" alice
is "$FA_RC" 0 "keyring=persistent: login" || fa_show
ok "keyring=persistent: the key is in the persistent keyring" key_as "$ua" refresh @p
nok "keyring=persistent: not in the user keyring" key_as "$ua" refresh @u
fa_run as "$ua"
is "$FA_RC" 0 "keyring=persistent: a token in a new session" || fa_show
id=$(key_as "$ua" access @p)
perm=$(fa_as_user "$ua" keyctl rdescribe "$id" | cut -d';' -f4)
is "$((0x$perm & 0xffff))" 0 "keyring=persistent: access key without group/other permissions"
as "$ua" logout >/dev/null 2>&1
nok "keyring=persistent: logout removed it" key_as "$ua" refresh

# session: confined to one session keyring.
fa_config keyring session
cat >"$FA_TMP/session.sh" <<'EOF'
#!/bin/sh
# In one session: login, then token; report where the key is.
bin=$1 conf=$2 prof=$3
printf 'alice-secret\n' | "$bin" --config "$conf" --profile "$prof" login --password --username alice --password-stdin || exit 10
"$bin" --config "$conf" --profile "$prof" >/dev/null || exit 11
keyctl search @s user "pam_fhir:$prof:refresh" >/dev/null || exit 12
keyctl search @u user "pam_fhir:$prof:refresh" >/dev/null 2>&1 && exit 13
p=$(keyctl get_persistent @s) && keyctl search "$p" user "pam_fhir:$prof:refresh" >/dev/null 2>&1 && exit 14
exit 0
EOF
chmod 755 "$FA_TMP/session.sh"
fa_run fa_as_user "$ua" "$FA_TMP/session.sh" "$bin" "$FA_CONF" "$P"
is "$FA_RC" 0 "keyring=session: login and token in one session, the key only in the session keyring" || fa_show
fa_run as "$ua"
is "$FA_RC" 2 "keyring=session: another session has no session (exit 2)" || fa_show
nok "keyring=session: nothing left in the user keyring" key_as "$ua" refresh @u
nok "keyring=session: nothing left in the persistent keyring" key_as "$ua" refresh @p

# session, shared: a session keyring that root made (sshd without
# pam_keyinit, a root shell's `keyctl new_session`) and that both users
# inherit.  Every process in it possesses it, so B would read whatever A
# stored there: A's login must refuse, saying why, and write nothing.
cat >"$FA_TMP/shared.sh" <<'EOF2'
#!/bin/sh
# As root, in a new session keyring of root's (keyctl session -):
# shared.sh BIN CONF PROFILE USER_A USER_B OWNER PLANT
#   OWNER root: the keyring stays root's; OWNER a: given to user A (A's own
#   session keyring that B inherited, su without pam_keyinit).
#   PLANT yes: B first adds a key named like A's refresh key.
# Prints login=STATUS, err=MESSAGE, b_refresh=, b_access= (what B reads
# there: none, planted, or other: A's token).
bin=$1 conf=$2 prof=$3 ua=$4 ub=$5 owner=$6 plant=$7
as() {
    u=$1
    shift
    setpriv --reuid="$u" --regid="$u" --init-groups \
        env HOME=/nonexistent USER="$u" LOGNAME="$u" "$@"
}
if [ "$owner" = a ]; then
    keyctl chown @s "$(id -u "$ua")" >/dev/null || exit 20
fi
if [ "$plant" = yes ]; then
    as "$ub" keyctl add user "pam_fhir:$prof:refresh" planted @s >/dev/null || exit 21
fi
printf 'alice-secret\n' | as "$ua" "$bin" --config "$conf" --profile "$prof" \
    login --password --username alice --password-stdin >/dev/null 2>"$FA_TMP/shared.err"
echo "login=$?"
echo "err=$(tr '\n' ' ' <"$FA_TMP/shared.err")"
for k in refresh access; do
    v=none
    if id=$(as "$ub" keyctl search @s user "pam_fhir:$prof:$k" 2>/dev/null); then
        case $(as "$ub" keyctl pipe "$id" 2>/dev/null) in
            planted) v=planted ;;
            "") v=unreadable ;;
            *) v=other ;;
        esac
    fi
    echo "b_$k=$v"
done
exit 0
EOF2
chmod 755 "$FA_TMP/shared.sh"
# shared OWNER PLANT: run it; field NAME then reads its output.
shared() {
    fa_run env FA_TMP="$FA_TMP" keyctl session - "$FA_TMP/shared.sh" "$bin" "$FA_CONF" "$P" "$ua" "$ub" "$1" "$2"
}
field() { printf '%s\n' "$FA_OUT" | sed -n "s/^$1=//p" | head -1; }

shared root no
isnt "$(field login)" 0 "keyring=session in root's shared session keyring: A's login fails" || fa_show
like "$(field err)" "session keyring belongs to uid 0, not to uid $uid_a.*refusing" \
    "and says the session keyring is root's, not A's" || fa_show
is "$(field b_refresh)" none "B finds no refresh key of A's in the shared keyring" || fa_show
is "$(field b_access)" none "B finds no access key of A's in the shared keyring" || fa_show

shared root yes
isnt "$(field login)" 0 "with a key B planted there first: A's login fails" || fa_show
is "$(field b_refresh)" planted "B's planted key still holds B's payload, not A's token" || fa_show

shared a yes
isnt "$(field login)" 0 "A's own session keyring that B shares, B's key planted: A's login fails" || fa_show
like "$(field err)" "belonging to uid $(id -u "$ub").*refusing to write into it" \
    "and names B's key as the cause" || fa_show
is "$(field b_refresh)" planted "B's planted key was not written into" || fa_show
is "$(field b_access)" none "and no access key of A's is there" || fa_show

# root's own tests used the user keyring: nothing of A's is there.
nok "root's keyrings hold nothing of this profile" fa_key_exists refresh

done_testing
