#!/bin/bash
# pam-lib.t - the library calls the PAM module makes, against the real AS
# and FHIR server (tests/pamlib-driver.c plays the module): a deferred
# password login as root stores nothing, the identity is checked (from
# UserInfo: the standard AS keeps preferred_username out of the id_token)
# and mapped by a usermap, the session is stashed in root's user
# keyring and taken back by another process only for the right user, then
# stored for a test user, whose fhir-token gets a token the FHIR server
# accepts; the stash is gone.  Logout on a FHIRAUTH_OPEN_SYSTEM_ONLY handle
# revokes at the endpoint from discovery, not from the user's metadata.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (the stash lives in root's keyring, test users)"
command -v setpriv >/dev/null 2>&1 || skip_all "needs setpriv (util-linux)"
# Its stash goes into root's user keyring, where the PAM tests count them:
# their lock (pam-lib.sh).
fa_pam_lock

plan 28

fa_start_servers --ttl 60 --keyring user
u=fapl$$
fa_add_user "$u" || bail "cannot create user $u"
bin=$(fa_user_bin) || bail "cannot copy fhir-token for the test user"
driver=$top_builddir/tests/pamlib-driver
# A copy of the driver the test user can run (beside fa_user_bin's libs).
cp "$top_builddir/tests/.libs/pamlib-driver" "$FA_TMP/bin/.libs/" 2>/dev/null ||
    cp "$top_builddir/tests/pamlib-driver" "$FA_TMP/bin/.libs/" || bail "cannot copy the driver"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/.libs\nexport LD_LIBRARY_PATH\nexec %s/.libs/pamlib-driver "$@"\n' \
    "$FA_TMP/bin" "$FA_TMP/bin" >"$FA_TMP/bin/pamlib-driver"
chmod 755 "$FA_TMP/bin/pamlib-driver" "$FA_TMP/bin/.libs/pamlib-driver"

# A usermap mapping the AS's alice to the local test user.
map=$FA_TMP/usermap
printf '# preferred_username -> local user\nalice %s\nbob nobody\n' "$u" >"$map"
chmod 644 "$map"

# field NAME: a line NAME=VALUE of the last driver output.
field() { printf '%s\n' "$FA_OUT" | sed -n "s/^$1=//p" | head -1; }

fa_run "$driver" login "$FA_CONF" alice alice-secret "$u" "$map"
diag "$FA_ERR"
is "$(field login)" 0 "deferred password login" || diag "$FA_OUT"
is "$(field pending_after_login)" 1 "the session is pending in the handle"
nok "nothing was stored in root's keyrings" fa_key_exists refresh
nok "no access key either" fa_key_exists access
is "$(field identity_account)" 0 "identity_check(alice): OK"
is "$(field identity_bob)" 4 "identity_check(bob): DENIED"
like "$(field identity_bob_detail)" "vouched for 'alice' \(preferred_username from userinfo\), not for 'bob'" \
    "the detail says whose token came back"
is "$(field identity_user)" 4 "the local user without a usermap: DENIED"
is "$(field identity_user_mapped)" 0 "the usermap maps alice to the local user"
is "$(field stash_put)" 0 "stash put"
like "$(field serial)" '^[1-9][0-9]*$' "the serial is decimal"
like "$(field stash_desc)" "^user;0;0;003b0000;pam_fhir:stash:$u:[0-9a-f]{32}\$" \
    "a user key of root's, owner (root) only, no possessor bits, described pam_fhir:stash:USER:NONCE"
is "$(field take_bob)" 4 "another user cannot take the stash (DENIED)"
is "$(field pending_after_bob)" 0 "and got nothing"
is "$(field take_user)" 0 "the right user takes it in another process"
is "$(field pending_after_take)" 1 "pending again"
is "$(field take_again)" 3 "a stash is taken only once (LOGIN_NEEDED)"
is "$(field switch)" ok "the child switched to the user"
is "$(field store)" 0 "store_pending as the user" || diag "$FA_OUT"
is "$(field pending_after_store)" 0 "nothing pending after the store"
is "$(field child)" 0 "the child exited 0"
is "$(field stash_gone)" 1 "the stash key is gone"

fa_run fa_as_user "$u" "$bin" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 0 "fhir-token as the user prints a token" || fa_show
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$FA_OUT")" 200 \
    "the FHIR server accepts it"

# The user rewrites the revocation endpoint in the metadata; a
# FHIRAUTH_OPEN_SYSTEM_ONLY logout ignores it.
fa_run fa_as_user "$u" sh -c '
    id=$(keyctl search @u user "pam_fhir:$1:meta") || exit 1
    keyctl pipe "$id" | sed "s|\"revocation_endpoint\":\"[^\"]*\"|\"revocation_endpoint\":\"https://127.0.0.1:1/evil\"|" |
        keyctl pupdate "$id" && keyctl pipe "$id"' sh "$FA_PROFILE"
like "$FA_OUT" '127\.0\.0\.1:1/evil' "the user rewrote the metadata's revocation endpoint" || fa_show
rt=$(fa_as_user "$u" sh -c 'keyctl pipe "$(keyctl search @u user "pam_fhir:$1:refresh")"' sh "$FA_PROFILE")
fa_run fa_as_user "$u" "$FA_TMP/bin/pamlib-driver" logout "$FA_CONF"
is "$(field logout)" 0 "SYSTEM_ONLY logout" || fa_show
is "$(field revoked)" 1 "revoked at the endpoint from discovery" || diag "$FA_OUT"
is "$(fa_introspect "$rt")" false "the AS introspects the refresh token as inactive"

done_testing
