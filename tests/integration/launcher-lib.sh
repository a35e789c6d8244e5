# shellcheck shell=bash
# launcher-lib.sh - the SMART on FHIR reference launcher in the test bed
# (github.com/smart-on-fhir/smart-launcher-v2, unmodified; nobody here wrote
# it).  Sourced after lib.sh.
#
# Its source, at a pinned commit, is a tarball beside the checkout
# (../shared/vendor/, or FA_LAUNCHER_TARBALL); its npm packages are those
# scripts/install-deps installs into tests/servers/launcher/node_modules
# (or FA_LAUNCHER_MODULES).  fa_start_launcher extracts the tarball into
# the test's temporary directory, links the packages in, and serves the
# launcher's express app over HTTPS on 127.0.0.1 with the test CA
# (tests/servers/src/launcher-tls.js); its FHIR proxy forwards to fhir.js
# run with --require-token off.  Both are stopped on every exit by lib.sh's
# cleanup.

# The pinned source: smart-launcher-v2 2.0.1, commit 64374254 (also named
# in scripts/install-deps).
FA_LAUNCHER_TARBALL=${FA_LAUNCHER_TARBALL:-$top_srcdir/../shared/vendor/smart-launcher-v2-64374254.tar.gz}
FA_LAUNCHER_MODULES=${FA_LAUNCHER_MODULES:-$top_srcdir/tests/servers/launcher/node_modules}

# fa_launcher_sim JSON: the launch settings as the launcher takes them in
# its URLs (/v/r4/sim/SIM/fhir): base64url of a JSON array, whose fields
# are, in order (the launcher's src/isomorphic/codec.ts): launch type (0
# provider-ehr, 1 patient-portal, 2 provider-standalone, 3
# patient-standalone, 4 backend-service), patient, provider, encounter
# ("AUTO" asks its FHIR server, "NONE", or an id), skip_login (1),
# skip_auth (1), sim_ehr, scope, redirect_uris, client_id, client_secret,
# auth_error, jwks_url, jwks, client type (0 public), PKCE (0 none, 1 auto,
# 2 always), fhir_server.
fa_launcher_sim() {
    node -e 'process.stdout.write(Buffer.from(JSON.stringify(JSON.parse(process.argv[1]))).toString("base64url"))' "$1"
}

# fa_start_launcher [--lifetime MIN] [--sim JSON]: the test bed of this
# server: the CA, fhir.js (the upstream, no tokens), the launcher.  Access
# tokens live MIN minutes (default 0.1 = 6 s; fractions are allowed when
# MIN * 60 comes out whole in floating point, or the launcher's token
# endpoint answers 500: jsonwebtoken wants whole seconds).  The
# launch settings default to a patient standalone launch of patient
# "example" with encounter "enc-1" and the login and authorization pages
# skipped.  Exports FA_TMP FA_CA FA_LAUNCHER_URL (the server's origin)
# FA_LAUNCHER_LOG (one JSON line per request, launcher-tls.js --log)
# FA_LAUNCHER_START (seconds from start to listening) FA_UPSTREAM (the
# FHIR server behind the proxy) FA_FHIR_LOG, and FA_FHIR: the launcher's
# FHIR base for those launch settings, which is also its issuer and the
# "aud" it insists on.
fa_start_launcher() {
    local lifetime=0.1 sim='[3,"example","","enc-1",1,1,0,"","","","","","","",0,1,""]' t0
    while [ $# -gt 0 ]; do
        case $1 in
            --lifetime) lifetime=$2; shift ;;
            --sim) sim=$2; shift ;;
            *) bail "fa_start_launcher: unknown option $1" ;;
        esac
        shift
    done
    [ -f "$FA_LAUNCHER_TARBALL" ] ||
        skip_all "no SMART launcher source at $FA_LAUNCHER_TARBALL (../shared/vendor beside the checkout)"
    [ -d "$FA_LAUNCHER_MODULES/ts-node" ] ||
        skip_all "the SMART launcher's npm packages are not installed in $FA_LAUNCHER_MODULES (scripts/install-deps)"
    fa_test_dir
    rm -rf "$FA_TMP/launcher"
    if ! mkdir -p "$FA_TMP/launcher" || ! tar -xzf "$FA_LAUNCHER_TARBALL" -C "$FA_TMP/launcher"; then
        bail "cannot extract $FA_LAUNCHER_TARBALL"
    fi
    local dir
    dir=$(find "$FA_TMP/launcher" -mindepth 2 -maxdepth 2 -name package.json -printf '%h\n' | head -1)
    [ -f "$dir/backend/index.ts" ] || bail "$FA_LAUNCHER_TARBALL holds no backend/index.ts"
    ln -s "$(cd "$FA_LAUNCHER_MODULES" && pwd)" "$dir/node_modules"

    FA_FHIR_LOG=$FA_TMP/fhir.log
    FA_LAUNCHER_LOG=$FA_TMP/launcher.log
    : >"$FA_FHIR_LOG"
    : >"$FA_LAUNCHER_LOG"
    export FA_FHIR_LOG FA_LAUNCHER_LOG
    _fa_start fhir fhir.js --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" \
        --require-token off --log "$FA_FHIR_LOG"
    FA_UPSTREAM=https://127.0.0.1:$FA_FHIR_PORT/fhir
    t0=$(fa_now)
    _fa_start launcher launcher-tls.js --launcher "$dir" \
        --key "$FA_TMP/server.key" --cert "$FA_TMP/server.pem" --ca "$FA_CA" \
        --fhir-server "$FA_UPSTREAM" --access-token-lifetime "$lifetime" \
        --log "$FA_LAUNCHER_LOG"
    FA_LAUNCHER_START=$(awk -v a="$t0" -v b="$(fa_now)" 'BEGIN { printf "%.1f", b - a }')
    FA_LAUNCHER_URL=https://127.0.0.1:$FA_LAUNCHER_PORT
    FA_FHIR=$FA_LAUNCHER_URL/v/r4/sim/$(fa_launcher_sim "$sim")/fhir
    export FA_UPSTREAM FA_LAUNCHER_START FA_LAUNCHER_URL FA_FHIR
}

# fa_launcher_conf EXAMPLE: FA_CONF from examples/EXAMPLE with the
# launcher's FHIR base, the test CA, this test's profile and min_valid 1
# put in.
fa_launcher_conf() {
    FA_CONF=$FA_TMP/pam_fhir.conf
    export FA_CONF
    sed -e "s|^fhir_base = .*|fhir_base = $FA_FHIR|" \
        -e "s|^# *ca_file = .*|ca_file = $FA_CA|" \
        -e "s|^min_valid = .*|min_valid = 1|" \
        -e "s|^default_profile = .*|default_profile = $FA_PROFILE|" \
        -e "s|^\\[profile [^]]*\\]|[profile $FA_PROFILE]|" \
        "$top_srcdir/examples/$1" >"$FA_CONF" || bail "cannot read examples/$1"
    chmod 644 "$FA_CONF"
}

# fa_launcher_count GRANT: token requests with that grant_type the
# launcher answered with 200.
fa_launcher_count() {
    local n
    n=$(grep -F '"path":"/v/r4/sim/SIM/auth/token"' "$FA_LAUNCHER_LOG" |
        grep -F "\"grant_type\":\"$1\"" | grep -cF '"status":200')
    echo $((n + 0))
}
