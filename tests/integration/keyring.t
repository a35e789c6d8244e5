#!/bin/bash
# keyring.t - the keys in the kernel keyring: one user's keys cannot be
# read by another, no key of ours grants anything to group or others, and
# each anchor (keyring = persistent, user, session) works and keeps its
# keys where it says.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (creates test users)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"

plan 32

fa_start_servers --ttl 60 --keyring user
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

# root's own tests used the user keyring: nothing of A's is there.
nok "root's keyrings hold nothing of this profile" fa_key_exists refresh

done_testing
