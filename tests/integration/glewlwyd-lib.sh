# shellcheck shell=bash
# glewlwyd-lib.sh - glewlwyd (Debian's package: an OAuth2 / OpenID Connect
# server written in C, nobody here wrote it) in the test bed, for
# glewlwyd.t, glewlwyd-jwt.t and glewlwyd-dpop.t.  Source it after lib.sh
# (and pam-lib.sh), then call gw_start once.
#
# gw_start runs glewlwyd as it comes: a fresh sqlite database made from
# the package's own init script (an admin account and the openid scope),
# a libconfig file with the package's module paths, TLS with the test CA's
# server certificate on 127.0.0.1, and then, through glewlwyd's admin REST
# API as a site administrator would, only what every site must configure:
#   - scopes profile and offline_access (openid comes with the database)
#   - users alice and bob (passwords alice-secret, bob-secret)
#   - a confidential client pam-fhir (client_secret_basic, secret in
#     $FA_TMP/gw-client.secret) with the password, device, refresh and
#     revocation grants
#   - an OpenID Connect plugin instance "oidc": RS256 keys made here,
#     access tokens living GW_TTL seconds, one-use refresh tokens,
#     the device grant, introspection and revocation for the client
#     itself, and preferred_username (the user's login name) as a claim
#     of the profile scope (glewlwyd's "additional claims"; it has no
#     preferred_username otherwise and its sub is a random string)
# gw_start also makes what fa_start_servers would (FA_TMP, the test CA
# FA_CA) without starting the node servers, which these tests do not use.
# Exports GW_URL (https://127.0.0.1:PORT), GW_ISSUER (GW_URL/api/oidc),
# GW_PORT, GW_LOG, GW_CLIENT, GW_SECRET_FILE.  lib.sh's cleanup
# (fa_stop_servers) stops glewlwyd on every exit, a failed test's too:
# its pid is one of lib.sh's servers.  Startup and configuration take
# about three seconds.
# Globals here are used by the tests, lib.sh's by us:
# shellcheck disable=SC2034,SC2154

GW_CLIENT=pam-fhir
GW_CLIENT_SECRET=pam-fhir-client-secret
GW_TTL=${GW_TTL:-3}

# gw_prereqs: skip_all (a failure in CI) without glewlwyd or sqlite3.
gw_prereqs() {
    command -v glewlwyd >/dev/null 2>&1 ||
        skip_all "glewlwyd is not installed (scripts/install-deps installs Debian's package)"
    command -v sqlite3 >/dev/null 2>&1 ||
        skip_all "sqlite3 is not installed (scripts/install-deps)"
    [ -f /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz ] ||
        skip_all "glewlwyd's database script is missing (/usr/share/doc/glewlwyd/database)"
    [ -f /usr/lib/glewlwyd/plugin/libprotocol_oidc.so ] ||
        skip_all "glewlwyd's oidc plugin is missing"
}

# gw_curl ARGS...: curl trusting the test CA, with the admin's cookie jar.
gw_curl() {
    curl -sS --max-time 10 --cacert "$FA_CA" -b "$FA_TMP/gw-admin.jar" \
        -c "$FA_TMP/gw-admin.jar" "$@"
}

# gw_api METHOD PATH JSON: an admin API call; fails unless HTTP 200.
gw_api() {
    local code
    code=$(gw_curl -o "$FA_TMP/gw-api.out" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' --data-binary "$3" "$GW_URL/api/$2")
    if [ "$code" != 200 ]; then
        diag "glewlwyd admin API $1 /api/$2: HTTP $code" "$(head -c 600 "$FA_TMP/gw-api.out")"
        return 1
    fi
}

# gw_json: the JSON on stdin with every "@NAME@" replaced by the value of
# the exported variable NAME: a number when it is digits only, else a JSON
# string (PEM keys hold newlines).
gw_json() {
    node -e '
        let s = ""; process.stdin.on("data", (c) => { s += c; });
        process.stdin.on("end", () => {
            process.stdout.write(s.replace(/"@([A-Z_]+)@"/g,
                (m, n) => {
                    const v = process.env[n] || "";
                    return /^[0-9]+$/.test(v) ? v : JSON.stringify(v);
                }));
        });'
}

# gw_start [--client-jwt] [--dpop]: make the test's temporary directory
# and CA (as fa_start_servers does, without starting the node servers),
# then start and configure glewlwyd (see the header).  --client-jwt (for
# glewlwyd-jwt.t only) also lets the plugin take client assertions
# (RFC 7523 §2.2: its "request-parameter-allow") checked against the JWK
# Set in a client's "jwks" property ("client-jwks-parameter"), as a site
# with private_key_jwt clients sets it; gw_jwt_client registers one.
# --dpop (for glewlwyd-dpop.t only) turns on the plugin's DPoP
# (RFC 9449) as a site offering it would: "oauth-dpop-allowed", with the
# "oauth-dpop-iat-duration" the plugin then requires (proofs issued at
# most 60 s ago) and proofs up to 5 s ahead ("oauth-dpop-iat-gap-duration").
gw_start() {
    local i conf db
    GW_CLIENT_JWT=
    GW_DPOP=
    while [ $# -gt 0 ]; do
        case $1 in
            --client-jwt) GW_CLIENT_JWT=1 ;;
            --dpop) GW_DPOP=1 ;;
            *) bail "gw_start: unknown option $1" ;;
        esac
        shift
    done
    gw_prereqs
    fa_test_dir
    FHIRAUTH_TEST_CACHE_DIR=$FA_TMP/rootcache
    export FHIRAUTH_TEST_CACHE_DIR
    conf=$FA_TMP/glewlwyd.conf
    db=$FA_TMP/glewlwyd.db
    GW_LOG=$FA_TMP/glewlwyd.log
    : >"$GW_LOG"
    rm -f "$db" "$FA_TMP/gw-admin.jar"
    zcat /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz | sqlite3 "$db" ||
        bail "cannot create glewlwyd's database"
    GW_PORT=$(fa_dead_port)
    GW_URL=https://127.0.0.1:$GW_PORT
    GW_ISSUER=$GW_URL/api/oidc
    # The package's own /etc/glewlwyd/glewlwyd.conf, reduced to what
    # differs or must be said: our port, address, URL, TLS files,
    # database and log.
    cat >"$conf" <<EOF
port=$GW_PORT
bind_address="127.0.0.1"
external_url="$GW_URL"
login_url="login.html"
api_prefix="api"
static_files_path="/usr/share/glewlwyd/webapp/"
log_mode="file"
log_level="INFO"
log_file="$GW_LOG"
cookie_domain="127.0.0.1"
cookie_secure=1
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
user_middleware_module_path="/usr/lib/glewlwyd/user_middleware"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
use_secure_connection=true
secure_connection_key_file="$FA_TMP/server.key"
secure_connection_pem_file="$FA_TMP/server.pem"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "$db" };
EOF
    glewlwyd --config-file="$conf" >>"$FA_TMP/glewlwyd.out" 2>&1 </dev/null 9>&- &
    GW_PID=$!
    _fa_pids+=("$GW_PID")
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null --max-time 2 --cacert "$FA_CA" "$GW_URL/config" && break
        kill -0 "$GW_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! curl -s -o /dev/null --max-time 2 --cacert "$FA_CA" "$GW_URL/config"; then
        diag "glewlwyd did not start:" "$(tail -20 "$FA_TMP/glewlwyd.out" "$GW_LOG")"
        bail "cannot start glewlwyd"
    fi
    gw_configure || bail "cannot configure glewlwyd through its admin API"
    GW_SECRET_FILE=$FA_TMP/gw-client.secret
    printf '%s\n' "$GW_CLIENT_SECRET" >"$GW_SECRET_FILE"
    # root's alone, as pam_fhir.conf(5) wants a client secret (never one
    # every user can read); a test whose users refresh gives it to their
    # group, mode 0640, as a site does (glewlwyd.t).
    chmod 600 "$GW_SECRET_FILE"
    export GW_URL GW_ISSUER GW_PORT GW_LOG GW_CLIENT GW_SECRET_FILE
}

# gw_configure: the site administrator's part, through the admin API.
gw_configure() {
    local GW_KEY GW_CERT plugin
    gw_curl -o /dev/null -H 'Content-Type: application/json' \
        -d '{"username":"admin","password":"password"}' "$GW_URL/api/auth/" || return 1
    gw_api POST scope/ '{"name":"profile","display_name":"Profile","description":"Your user name","password_required":true,"password_max_age":0,"scheme":{}}' || return 1
    gw_api POST scope/ '{"name":"offline_access","display_name":"Offline access","description":"Refresh tokens","password_required":true,"password_max_age":0,"scheme":{}}' || return 1
    gw_api POST user/ '{"username":"alice","name":"Alice","email":"alice@example.org","password":"alice-secret","scope":["openid","profile","offline_access"],"enabled":true}' || return 1
    gw_api POST user/ '{"username":"bob","name":"Bob","email":"bob@example.org","password":"bob-secret","scope":["openid","profile","offline_access"],"enabled":true}' || return 1
    gw_api POST client/ "{\"client_id\":\"$GW_CLIENT\",\"name\":\"pam_fhir\",\"description\":\"pam_fhir and fhir-token\",\"confidential\":true,\"client_secret\":\"$GW_CLIENT_SECRET\",\"token_endpoint_auth_method\":[\"client_secret_basic\"],\"authorization_type\":[\"password\",\"device_authorization\",\"refresh_token\"],\"redirect_uri\":[],\"scope\":[],\"enabled\":true}" || return 1
    # The signing key (RS256).
    openssl genrsa -out "$FA_TMP/gw-sign.key" 2048 2>/dev/null &&
        openssl rsa -in "$FA_TMP/gw-sign.key" -pubout -out "$FA_TMP/gw-sign.pub" 2>/dev/null ||
        return 1
    GW_KEY=$(cat "$FA_TMP/gw-sign.key")
    GW_CERT=$(cat "$FA_TMP/gw-sign.pub")
    export GW_KEY GW_CERT GW_ISSUER GW_TTL
    plugin=$(gw_json <<'JSON'

{
  "module": "oidc",
  "name": "oidc",
  "display_name": "OpenID Connect",
  "enabled": true,
  "parameters": {
    "iss": "@GW_ISSUER@",
    "jwt-type": "rsa",
    "jwt-key-size": "256",
    "key": "@GW_KEY@",
    "cert": "@GW_CERT@",
    "jwks-show": true,
    "subject-type": "public",
    "access-token-duration": "@GW_TTL@",
    "refresh-token-duration": 1209600,
    "code-duration": 600,
    "refresh-token-rolling": true,
    "refresh-token-one-use": "always",
    "allow-non-oidc": true,
    "auth-type-code-enabled": true,
    "auth-type-token-enabled": false,
    "auth-type-id-token-enabled": true,
    "auth-type-none-enabled": false,
    "auth-type-password-enabled": true,
    "auth-type-client-enabled": false,
    "auth-type-device-enabled": true,
    "auth-type-refresh-enabled": true,
    "device-authorization-expiration": 600,
    "device-authorization-interval": 1,
    "introspection-revocation-allowed": true,
    "introspection-revocation-allow-target-client": true,
    "allowed-scope": ["openid", "profile", "offline_access"],
    "name-claim": "on-demand",
    "name-claim-scope": ["profile"],
    "email-claim": "no",
    "scope-claim": "no",
    "claims": [
      { "name": "preferred_username", "user-property": "username",
        "type": "string", "mandatory": false, "on-demand": false,
        "scope": ["profile"] }
    ],
    "address-claim": { "type": "no" },
    "pkce-allowed": true,
    "pkce-method-plain-allowed": false
  }
}
JSON
) || return 1
    if [ -n "$GW_CLIENT_JWT" ]; then
        plugin=$(node -e '
            const p = JSON.parse(process.argv[1]);
            Object.assign(p.parameters, {
                "request-parameter-allow": true,
                "client-jwks-parameter": "jwks",
            });
            process.stdout.write(JSON.stringify(p));' "$plugin") || return 1
    fi
    if [ -n "$GW_DPOP" ]; then
        plugin=$(node -e '
            const p = JSON.parse(process.argv[1]);
            Object.assign(p.parameters, {
                "oauth-dpop-allowed": true,
                "oauth-dpop-iat-duration": 60,
                "oauth-dpop-iat-gap-duration": 5,
            });
            process.stdout.write(JSON.stringify(p));' "$plugin") || return 1
    fi
    gw_api POST mod/plugin/ "$plugin"
}

# gw_plugin_set JSON: merge JSON (an object) into the parameters of the
# plugin instance "oidc" and reset the instance to take them, as a site
# administrator changing a setting would (for glewlwyd-dpop.t).
gw_plugin_set() {
    gw_curl -o "$FA_TMP/gw-plugin.json" "$GW_URL/api/mod/plugin/oidc" &&
        gw_api PUT mod/plugin/oidc "$(node -e '
            const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            Object.assign(p.parameters, JSON.parse(process.argv[2]));
            process.stdout.write(JSON.stringify({ display_name: p.display_name,
                parameters: p.parameters, order_rank: p.order_rank, readonly: p.readonly }));
        ' "$FA_TMP/gw-plugin.json" "$1")" &&
        gw_api PUT mod/plugin/oidc/reset '{}'
}

# gw_jwt_client ID JWKS: register a confidential client ID that may
# authenticate only with private_key_jwt, with the JWK Set JWKS (what
# `fhir-token client-jwks` prints) in its "jwks" property, no secret, and
# the password, device and refresh grants (gw_start --client-jwt).
gw_jwt_client() {
    local body
    body=$(node -e '
        process.stdout.write(JSON.stringify({
            client_id: process.argv[1], name: process.argv[1],
            description: "pam_fhir with a client key", confidential: true,
            token_endpoint_auth_method: ["private_key_jwt"],
            jwks: JSON.parse(process.argv[2]),
            authorization_type: ["password", "device_authorization", "refresh_token"],
            redirect_uri: [], scope: [], enabled: true,
        }));' "$1" "$2") || return 1
    gw_api POST client/ "$body"
}

# gw_conf: $FA_CONF from examples/pam_fhir.conf.glewlwyd itself (so the
# example is what the tests use): its one profile becomes this test's
# profile; issuer, ca_file and client_secret_file point at this test bed;
# min_valid below the access token's life, the user keyring (as the other
# PAM tests), a short timeout.  Nothing else changes.
gw_conf() {
    FA_CONF=$FA_TMP/pam_fhir.conf
    {
        echo "default_profile = $FA_PROFILE"
        echo "[profile $FA_PROFILE]"
        sed -e "s|^issuer = .*|issuer = $GW_ISSUER|" \
            -e "s|^ca_file = .*|ca_file = $FA_CA|" \
            -e "s|^client_secret_file = .*|client_secret_file = $GW_SECRET_FILE|" \
            -e 's|^min_valid = .*|min_valid = 1|' \
            -e 's|^timeout = .*|timeout = 5|' \
            -e 's|^keyring = .*|keyring = user|' \
            "$top_srcdir/examples/pam_fhir.conf.glewlwyd"
    } >"$FA_CONF"
    chmod 644 "$FA_CONF"
    export FA_CONF
}

# gw_token_curl FORM...: a token endpoint request as the client, with curl;
# prints the HTTP status, the body in $FA_TMP/gw-token.json.
gw_token_curl() {
    local args=() a
    for a in "$@"; do
        args+=(--data-urlencode "$a")
    done
    curl -sS --max-time 10 --cacert "$FA_CA" -u "$GW_CLIENT:$GW_CLIENT_SECRET" \
        -o "$FA_TMP/gw-token.json" -w '%{http_code}' "${args[@]}" "$GW_ISSUER/token"
}

# gw_introspect TOKEN: "true" or "false" (active), asked as the client.
gw_introspect() {
    printf 'token=%s' "$1" |
        curl -sS --max-time 10 --cacert "$FA_CA" -u "$GW_CLIENT:$GW_CLIENT_SECRET" \
            --data-binary @- "$GW_ISSUER/introspect" | fa_json active
}

# gw_device_approve USER_CODE [ACCOUNT [PASSWORD [CLIENT]]]: the user
# approving a device login of CLIENT (default GW_CLIENT) in a browser,
# with curl doing what a browser does there: it opens the verification
# URI with the code, which sends it to Glewlwyd's login page; that page's
# script signs in (POST /api/auth/), gives consent for the client's scopes
# (PUT /api/auth/grant/CLIENT) and goes back to the verification URI,
# which now completes the code and sends the browser on to the page
# saying so (prompt=deviceComplete).
gw_device_approve() {
    local code=$1 user=${2:-alice} pass=${3:-} client=${4:-$GW_CLIENT} jar loc rc=1
    [ -n "$pass" ] || pass="$user-secret"
    jar=$(mktemp "$FA_TMP/jar.XXXXXX")
    loc=$(curl -sS --max-time 10 --cacert "$FA_CA" -c "$jar" -b "$jar" -D - -o /dev/null \
        "$GW_ISSUER/device?code=$code" | sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
    case $loc in
        "$GW_URL/login.html?"*) ;;
        *) diag "verification page: unexpected redirect '$loc'"; rm -f "$jar"; return 1 ;;
    esac
    if printf '{"username":"%s","password":"%s"}' "$user" "$pass" |
        curl -sS -f --max-time 10 --cacert "$FA_CA" -c "$jar" -b "$jar" -o /dev/null \
            -H 'Content-Type: application/json' --data-binary @- "$GW_URL/api/auth/" &&
        curl -sS -f --max-time 10 --cacert "$FA_CA" -c "$jar" -b "$jar" -o /dev/null -X PUT \
            -H 'Content-Type: application/json' \
            -d '{"scope":"openid profile offline_access"}' "$GW_URL/api/auth/grant/$client"; then
        loc=$(curl -sS --max-time 10 --cacert "$FA_CA" -c "$jar" -b "$jar" -D - -o /dev/null \
            "$GW_ISSUER/device?code=$code&g_continue" | sed -n 's/^[Ll]ocation: *//p' | tr -d '\r')
        case $loc in
            *prompt=deviceComplete*) rc=0 ;;
            *) diag "device approval: unexpected redirect '$loc'" ;;
        esac
    fi
    rm -f "$jar"
    return $rc
}

# gw_dev_start / gw_dev_code / gw_dev_wait: fhir-token login --device in
# the background (as device.t); gw_dev_code waits for the user code
# (GW_DEV_CODE), gw_dev_wait for the end (GW_DEV_RC, GW_DEV_ERR).
gw_dev_start() {
    : >"$FA_TMP/dev.err"
    env -u DISPLAY -u WAYLAND_DISPLAY "$FA_TOKEN_BIN" --config "$FA_CONF" \
        --profile "$FA_PROFILE" login --device >/dev/null 2>"$FA_TMP/dev.err" </dev/null &
    GW_DEV_PID=$!
}
gw_dev_code() {
    local i
    GW_DEV_CODE=
    for ((i = 0; i < 100; i++)); do
        GW_DEV_CODE=$(sed -n 's/^and enter the code \(.*\)$/\1/p' "$FA_TMP/dev.err")
        [ -n "$GW_DEV_CODE" ] && return 0
        kill -0 "$GW_DEV_PID" 2>/dev/null || break
        sleep 0.1
    done
    diag "no user code; stderr: $(cat "$FA_TMP/dev.err")"
    return 1
}
gw_dev_wait() {
    local i
    for ((i = 0; i < 150; i++)); do
        kill -0 "$GW_DEV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$GW_DEV_PID" 2>/dev/null
    wait "$GW_DEV_PID"
    GW_DEV_RC=$?
    GW_DEV_ERR=$(cat "$FA_TMP/dev.err")
}

# gw_show_log: glewlwyd's log as diagnostics when a test failed (call it
# from pam_cleanup_hook).
gw_show_log() {
    if [ "$_fa_failed" -gt 0 ] || [ "${FA_VERBOSE:-}" = 1 ]; then
        [ -s "${GW_LOG:-}" ] && diag "---- glewlwyd.log (last 20 lines)" "$(tail -20 "$GW_LOG")"
    fi
    return 0
}
