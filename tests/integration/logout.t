#!/bin/bash
# logout.t - logout revokes the refresh token at the AS (RFC 7009) and
# unlinks the keys; with the AS down it still unlinks them, and says that
# revocation failed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 20

fa_start_servers --ttl 30 --keyring user

# ---------------------------------------------------------------- AS up
fa_login alice
is "$FA_RC" 0 "login" || fa_show
fa_run fa_token
at=$FA_OUT
rt=$(fa_key_read refresh)
is "$(fa_introspect "$rt")" true "the refresh token is active before logout"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at")" 200 "the access token works before logout"

fa_run fa_token logout
is "$FA_RC" 0 "logout: exit 0" || fa_show
is "$(fa_as_events revocation '"ok":true')" 1 "the AS saw one successful revocation"
is "$(fa_introspect "$rt")" false "the AS introspects the refresh token as inactive"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$at")" 401 \
    "the access token of the revoked grant is refused too"
nok "the refresh key is gone" fa_key_exists refresh
nok "the access key is gone" fa_key_exists access
nok "the meta key is gone" fa_key_exists meta
fa_run fa_token status
is "$FA_RC" 2 "status after logout: exit 2 (no session)" || fa_show
fa_run fa_token
is "$FA_RC" 2 "token after logout: exit 2" || fa_show
is "$(fa_as_count refresh_token)" 0 "and no refresh was tried"

# ---------------------------------------------------------------- AS down
fa_login bob
is "$FA_RC" 0 "login again" || fa_show
ok "the keys are back" fa_key_exists refresh
fa_stop_as
fa_run fa_token logout
diag "logout with the AS down: exit $FA_RC, stderr: $FA_ERR"
nok "AS down: the refresh key is unlinked anyway" fa_key_exists refresh
nok "AS down: the access key is unlinked anyway" fa_key_exists access
nok "AS down: the meta key is unlinked anyway" fa_key_exists meta
like "$FA_ERR" '[Rr]evo' "stderr says revocation failed"
like "$FA_ERR" '(not revoked|fail|cannot|unable)' "and says that it was not revoked"

done_testing
