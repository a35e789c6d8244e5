#!/bin/bash
# identity.t - where a PAM login's identity comes from (OIDC Core §5.4),
# through pamtester as root: the claim in the id_token (the tuned AS) costs
# no UserInfo request; the claim only in UserInfo (the standard AS) costs
# one; no id_token at all (the AS's password grant without one): UserInfo
# alone; UserInfo answering for another sub than the id_token's: refused;
# UserInfo down or answering badly (the fault server, through the
# userinfo_endpoint key): PAM_AUTHINFO_UNAVAIL or PAM_AUTH_ERR, never a
# login, and its redirects are not followed; require_id_token = yes
# without an id_token: refused, with one: a login.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
pam_setup

plan 30

# mark / userinfo_since: the AS's UserInfo requests since the mark.
mark() { mark_at=$(wc -l <"$FA_AS_LOG"); }
userinfo_since() {
    tail -n +$((mark_at + 1)) "$FA_AS_LOG" | grep -c '"event":"userinfo"'
}
# login [USER [PASSWORD]]: one PAM authentication, counted from a mark.
login() {
    clear_stashes
    mark
    pt "${1:-alice}" "${2:-alice-secret}" authenticate
}
AUTH_ERR="pamtester: Authentication failure"
UNAVAIL="[Aa]uthentication service cannot retrieve authentication info"

# 1-3: the tuned AS puts preferred_username into the id_token
fa_start_servers --no-fhir --ttl 60 --keyring user --claims tuned
pam_users
service
login
is "$FA_RC" 0 "tuned AS: the id_token's claim identifies alice" || fa_show
is "$(userinfo_since)" 0 "no UserInfo request"
login bob alice-secret
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "bob with alice's password: refused" || fa_show

# 4-8: the standard AS (oidc-provider's defaults) keeps preferred_username
# out of the id_token: UserInfo has it.  The fault server stands in front.
fa_start_servers --no-fhir --ttl 60 --keyring user --fault
service
login
is "$FA_RC" 0 "standard AS: UserInfo identifies alice" || fa_show
is "$(userinfo_since)" 1 "with one UserInfo request"
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "authenticate and open_session" || fa_show
fa_run as alice status --json
is "$(fa_json subject <<<"$FA_OUT")" alice-0001 "the session's subject" || fa_show
is "$(fa_json username <<<"$FA_OUT")" alice "and user name"

# 9-10: without profile in the scope, the standard AS sends no
# preferred_username anywhere: refused
fa_config scope "openid offline_access patient/*.read"
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "no profile scope: refused" || fa_show
is "$(userinfo_since)" 1 "after asking UserInfo"
fa_config scope "openid offline_access profile patient/*.read"

# 11-18: UserInfo down or misbehaving (userinfo_endpoint pointed at the
# fault server's modes)
fa_config userinfo_endpoint "$FA_FAULT/m/http503/me"
login
like "$FA_ERR$FA_OUT" "$UNAVAIL" "UserInfo answers 503: PAM_AUTHINFO_UNAVAIL" || fa_show
fa_config userinfo_endpoint "$FA_FAULT/m/reset/me"
login
like "$FA_ERR$FA_OUT" "$UNAVAIL" "UserInfo resets the connection: PAM_AUTHINFO_UNAVAIL" || fa_show
fa_config userinfo_endpoint "https://127.0.0.1:$(fa_dead_port)/me"
login
like "$FA_ERR$FA_OUT" "$UNAVAIL" "UserInfo refuses connections: PAM_AUTHINFO_UNAVAIL" || fa_show
fa_config userinfo_endpoint "$FA_FAULT/m/nonjson/me"
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "UserInfo answers HTML: refused" || fa_show
fa_config userinfo_endpoint "$FA_FAULT/m/array/me"
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "UserInfo answers a JSON array: refused" || fa_show
fa_config userinfo_endpoint "$FA_FAULT/m/redirect/me"
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "UserInfo redirects: refused" || fa_show
is "$(userinfo_since)" 0 "the redirect was not followed"
fa_config userinfo_endpoint "$FA_FAULT/me"
login
is "$FA_RC" 0 "userinfo_endpoint set by hand (the real one, through the proxy)" || fa_show
fa_config userinfo_endpoint

# 19-20: require_id_token = yes with an id_token (the claim from UserInfo)
fa_config require_id_token yes
login
is "$FA_RC" 0 "require_id_token = yes, an id_token: a login" || fa_show
is "$(userinfo_since)" 1 "the claim from UserInfo"
fa_config require_id_token

# 21-26: a password grant without an id_token: UserInfo alone
fa_start_servers --no-fhir --ttl 60 --keyring user --password-id-token off
service
login
is "$FA_RC" 0 "no id_token: UserInfo identifies alice" || fa_show
is "$(userinfo_since)" 1 "with one UserInfo request"
login bob alice-secret
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "no id_token, bob with alice's password: refused" || fa_show
fa_config require_id_token yes
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "require_id_token = yes without an id_token: refused" || fa_show
is "$(userinfo_since)" 0 "before asking UserInfo"
is "$(tail -n +$((mark_at + 1)) "$FA_AS_LOG" | grep -c '"event":"revocation".*"kind":"refresh_token"')" 1 \
    "the refused login's refresh token is revoked"
fa_config require_id_token

# 27-30: UserInfo answers for another sub than the id_token's: refused
fa_start_servers --no-fhir --ttl 60 --keyring user --userinfo-sub bob-0002
service
login
like "$FA_ERR$FA_OUT" "$AUTH_ERR" "UserInfo's sub differs from the id_token's: refused" || fa_show
is "$(userinfo_since)" 1 "after one UserInfo request"
# Without an id_token there is nothing to compare: UserInfo is the identity.
fa_start_servers --no-fhir --ttl 60 --keyring user --userinfo-sub bob-0002 --password-id-token off
service
login
is "$FA_RC" 0 "no id_token: UserInfo's sub is the identity" || fa_show
# ... and with the claim in the id_token, UserInfo is not asked at all.
fa_start_servers --no-fhir --ttl 60 --keyring user --userinfo-sub bob-0002 --claims tuned
service
login
is "$FA_RC" 0 "the claim in the id_token: UserInfo not consulted" || fa_show
