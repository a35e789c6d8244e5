#!/bin/bash
# debian.sh - the Debian packages as an admin meets them, on a fresh
# Debian 12 machine: build them (dpkg-buildpackage -us -uc -b), install
# them with apt (which resolves their dependencies), enable the
# pam-auth-update profile, log local users in through the packaged stack
# (common-auth, common-session) with pamtester and through a real sshd
# with the device-grant snippet of pam_fhir(8), get a token with the
# installed fhir-token, then disable the profile and purge the packages:
# nothing of them may remain on disk and /etc/pam.d must be as before.
# TAP on standard output.
#
# It installs packages, edits /etc/pam.d and /etc/pam_fhir.conf, and adds
# users: run it only as root on a scratch machine, which --scratch says
# this is.  From a checkout (the fresh machine has only the checkout and
# ../shared):
#   ../shared/tools/fresh-debian . -- 'tests/install/debian.sh --scratch'
# scripts/check (its full tier) runs it so, as its install step.
#
# The test servers are those of the integration tests (tests/servers, the
# machinery of tests/integration/lib.sh), with the installed
# /usr/bin/fhir-token as the program under test.  Work files (the build,
# the servers' CA and logs) are below /tmp, outside the listings compared.

top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" != --scratch ]; then
    echo "usage: $0 --scratch   (as root, on a scratch Debian 12 machine: it installs and purges packages and edits /etc/pam.d)" >&2
    echo "1..0 # SKIP not told that this is a scratch machine (--scratch)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP needs root"
    exit 0
fi
case $(cat /etc/debian_version 2>/dev/null) in
    12.* | bookworm*) ;;
    *) echo "1..0 # SKIP needs Debian 12"; exit 0 ;;
esac

# lib.sh re-runs this script in a session keyring of its own (keyctl).
if [ -z "${FA_IN_KEY_SESSION:-}" ] && ! command -v keyctl >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq keyutils; } >/dev/null; then
        echo "Bail out! cannot install keyutils"
        exit 255
    fi
fi

work=/tmp/pam_fhir-install
FA_TOKEN_BIN=/usr/bin/fhir-token
FA_GCF_BIN=/usr/bin/git-credential-fhir
top_srcdir=$top
top_builddir=$work
export FA_TOKEN_BIN FA_GCF_BIN top_srcdir top_builddir
mkdir -p "$work"
# shellcheck source=../integration/lib.sh
. "$top/tests/integration/lib.sh"
# pam_sshd, ssh_device (without pam_setup: this test's PAM stack is the
# packaged one, and its users are its own).
# shellcheck source=../integration/pam-lib.sh
. "$top/tests/integration/pam-lib.sh"

export DEBIAN_FRONTEND=noninteractive
packages=(libfhirauth0 libfhirauth-dev libpam-fhir fhir-token)
log=$work/log
mkdir -p "$log"

# ------------------------------------------------------------------ what it needs
# dpkg-dev and debhelper build, apt-get build-dep installs debian/control's
# Build-Depends; the rest is the test bed (node for the servers, pamtester,
# sshd, jq for tests/integration/lib.sh).  libqrencode4: recommended by
# the packages, so installed here, so that the purge at the end leaves the
# system as it found it.
# (dpkg's unsafe I/O for these: no fsync per file on a scratch machine;
# the packages under test are installed as an admin would.)
step=$SECONDS
apt-get update -qq >"$log/apt-update" 2>&1 &&
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
        dpkg-dev debhelper \
        pamtester keyutils nodejs npm openssl curl ca-certificates \
        openssh-server openssh-client python3 procps util-linux libqrencode4 jq \
        >"$log/apt-deps" 2>&1 &&
    (cd "$top" && apt-get build-dep -y -qq -o Dpkg::Options::=--force-unsafe-io ./) \
        >"$log/build-dep" 2>&1
ok "the build's and the test bed's Debian packages install" test $? -eq 0 ||
    { diag "$(tail -20 "$log/apt-deps" "$log/build-dep" 2>/dev/null)"; bail "no build dependencies"; }
(cd "$top/tests/servers" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
    >"$log/npm" 2>&1
ok "the test servers' npm packages install (npm ci)" test $? -eq 0 ||
    { diag "$(tail -20 "$log/npm")"; bail "no test servers"; }
diag "dependencies: $((SECONDS - step))s"

# ------------------------------------------------------------------ build
# A copy of the tree (tracked files, as fresh-debian made it), built as a
# maintainer would; the packages land beside it in $work.
step=$SECONDS
rm -rf "$work/src" "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo
mkdir -p "$work/src"
tar -C "$top" --exclude=./tests/servers/node_modules --exclude=./build -cf - . |
    tar -C "$work/src" -xf -
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$log/build" 2>&1
ok "dpkg-buildpackage -us -uc -b" test $? -eq 0 ||
    { diag "$(tail -40 "$log/build")"; bail "the packages do not build"; }
debs=()
for p in "${packages[@]}"; do
    for f in "$work/${p}_"*.deb; do
        [ -f "$f" ] && debs+=("$f")
    done
done
is "${#debs[@]}" "${#packages[@]}" "it builds ${packages[*]}"
diag "build: $((SECONDS - step))s; unit tests: $(sed -n 's/^# PASS: *//p' "$log/build") passed" \
    "$(stat -c '%s %n' "${debs[@]}")"

# lintian on what was built: no error and no warning, the overrides in
# debian/*.lintian-overrides (each with its reason) applied.  (Its
# --show-overrides makes lintian exit 2 however clean the packages are:
# the overrides are listed from the files instead.)
step=$SECONDS
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io lintian \
    >"$log/apt-lintian" 2>&1 ||
    diag "$(tail -20 "$log/apt-lintian")"
changes=$(ls "$work"/pam-fhir_*.changes 2>/dev/null | head -1)
[ -n "$changes" ] && lintian --allow-root --fail-on error,warning "$changes" >"$log/lintian" 2>&1
ok "lintian on ${changes##*/}: no error and no warning" test $? -eq 0
diag "lintian ($((SECONDS - step))s) printed $(wc -l <"$log/lintian") lines:" "$(cat "$log/lintian")" \
    "its overrides:" "$(grep -hv '^#' "$top"/debian/*.lintian-overrides | sed '/^$/d')"

# ------------------------------------------------------------------ before
# The test users exist before the first listing (useradd's files are not
# the packages'): alice and bob have accounts at the AS, carol has none;
# bob is in ignore_users.  Each has a local password of its own.
for u in alice bob carol; do
    fa_add_user "$u" || bail "cannot add user $u"
done
printf 'alice:alice-Local-1\nbob:bob-Local-2\ncarol:carol-Local-3\n' | chpasswd ||
    bail "cannot set local passwords"

# listing: every path below /etc /usr /var /run with its type, owner and
# mode, but what apt, dpkg and the logs change on any install: apt's and
# debconf's caches, the logs, dpkg's own backups and its triggers' state.
listing() {
    find /etc /usr /var /run -xdev \
        \( -path /var/log -o -path /var/cache/apt -o -path /var/lib/apt \
        -o -path /var/cache/debconf -o -path /var/lib/dpkg/triggers \
        -o -path /run/sshd \) -prune \
        -o ! -name '*-old' ! -path /var/lib/dpkg/lock ! -path /var/lib/dpkg/lock-frontend \
        -printf '%y %u:%g %m %p\n' | sort
}
listing >"$work/before.list"
rm -rf "$work/pam.d.before"
cp -a /etc/pam.d "$work/pam.d.before"

# ------------------------------------------------------------------ install
(cd "$work" && apt-get install -y "${debs[@]/#$work/.}") >"$log/install" 2>&1
ok "apt-get install of the four packages (apt resolves their dependencies)" test $? -eq 0 ||
    diag "$(tail -30 "$log/install")"
for p in "${packages[@]}"; do
    is "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" "install ok installed" "$p is installed"
done
ok "installing changes no login: /etc/pam.d is as before" diff -r "$work/pam.d.before" /etc/pam.d
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in "/usr/lib/$multiarch/security/pam_fhir.so" "/usr/lib/$multiarch/pam_fhir/fhirauth-net.so" \
    "/usr/lib/$multiarch/libfhirauth.so.0" /usr/share/pam-configs/fhir /etc/pam_fhir.conf \
    /usr/lib/tmpfiles.d/pam_fhir.conf /usr/bin/fhir-token /usr/bin/git-credential-fhir \
    /usr/share/man/man8/pam_fhir.8.gz /usr/share/man/man1/fhir-token.1.gz; do
    ok "installed: $f" test -e "$f"
done
is "$(stat -c '%U %a' /var/cache/pam_fhir 2>&1)" "root 700" "/var/cache/pam_fhir is root's, 0700"
# shellcheck disable=SC2016 # for sh -c
ok "/etc/pam_fhir.conf is a conffile of libpam-fhir" \
    sh -c 'dpkg-query -W -f="\${Conffiles}" libpam-fhir | grep -q "^ /etc/pam_fhir.conf "'
is "$(grep -cv '^[[:space:]]*\(#.*\)\?$' /etc/pam_fhir.conf)" 0 "/etc/pam_fhir.conf sets nothing (comments only)"
ok "fhir-token --help runs" /usr/bin/fhir-token --help

# ------------------------------------------------------------------ enable
ok "pam-auth-update --enable fhir" pam-auth-update --enable fhir
auth=$(grep -v '^#' /etc/pam.d/common-auth | grep -v '^$')
# The first two lines: pam_fhir's password grant, then pam_unix with the
# same password; each jumps past pam_deny on success, and on anything
# else (default=ignore) goes on.
fhir_line=$(printf '%s\n' "$auth" | sed -n 1p)
unix_line=$(printf '%s\n' "$auth" | sed -n 2p)
like "$fhir_line" '^auth[[:space:]]+\[success=2 default=ignore\][[:space:]]+pam_fhir\.so grant=password minimum_uid=1000[[:space:]]*$' \
    "common-auth: first the password grant, any failure going on"
like "$unix_line" '^auth[[:space:]]+\[success=1 default=ignore\][[:space:]]+pam_unix\.so .*try_first_pass' \
    "common-auth: then pam_unix with the same password (try_first_pass)"
like "$(grep -v '^#' /etc/pam.d/common-session)" 'optional[[:space:]]+pam_fhir\.so' \
    "common-session: session optional pam_fhir.so"
unlike "$(grep -v '^#' /etc/pam.d/common-session-noninteractive)" 'pam_fhir' \
    "common-session-noninteractive: without pam_fhir"
diag "common-auth as enabled:" "$auth"

# A service as Debian's login and sshd are made: the common files, with
# pam_keyinit before the session part.
svc=pam_fhir-install-$$
svcfile=/etc/pam.d/$svc
cat >"$svcfile" <<EOF
@include common-auth
@include common-account
session optional pam_keyinit.so force revoke
@include common-session
EOF
cleanup_local() {
    pam_sshd_stop
    rm -f "$svcfile"
}
# shellcheck disable=SC2154 # rc: assigned in the trap itself
trap 'rc=$?; cleanup_local; (exit $rc); _fa_cleanup' EXIT

pt() { # USER PASSWORD OPS...
    local user=$1 pass=$2
    shift 2
    fa_run_stdin "$pass" pamtester -v "$svc" "$user" "$@"
}

# Unconfigured (the conffile as shipped): pam_fhir stands aside.
pt alice alice-Local-1 authenticate open_session close_session
is "$FA_RC" 0 "enabled but unconfigured: alice logs in with her local password" || fa_show
pt alice alice-secret authenticate
isnt "$FA_RC" 0 "... and not with another" || fa_show

# ------------------------------------------------------------------ configured
fa_start_servers --ttl 60 --keyring user
fa_config ignore_users bob
# The test bed's configuration as the system file.
cp "$FA_CONF" /etc/pam_fhir.conf && chmod 644 /etc/pam_fhir.conf
ok "/etc/pam_fhir.conf configured for the test servers" test -s /etc/pam_fhir.conf

# alice: logged in at the AS; the session stores her tokens.
before=$(fa_as_count password ok)
pt alice alice-secret authenticate open_session close_session
is "$FA_RC" 0 "alice logs in with her password at the AS (pamtester, common-auth + common-session)" ||
    { fa_show; diag "$FA_OUT"; }
is "$(fa_as_count password ok)" $((before + 1)) "... by the password grant at the AS"
tok=$(fa_as_user alice /usr/bin/fhir-token token 2>"$work/token.err")
like "$tok" '^[A-Za-z0-9._~+/=-]{20,}$' "alice gets a token with the installed /usr/bin/fhir-token" ||
    diag "$(cat "$work/token.err")"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$tok")" 200 "the FHIR server accepts alice's token"
like "$(fa_as_user alice /usr/bin/fhir-token status 2>&1)" "$FA_ISSUER" \
    "fhir-token status shows the session pam_fhir stored"
# shellcheck disable=SC2016 # for sh -c
ok "the root-side cache in /var/cache/pam_fhir was used" \
    sh -c 'test -n "$(ls -A /var/cache/pam_fhir)"'

# Nobody is locked out: every login pam_fhir cannot make goes on to
# pam_unix with the same password.
pt alice alice-Local-1 authenticate
is "$FA_RC" 0 "alice refused by the AS logs in with her local password" || fa_show
pt alice wrong-Password-9 authenticate
isnt "$FA_RC" 0 "... but not with a password neither accepts" || fa_show
pt carol carol-Local-3 authenticate
is "$FA_RC" 0 "carol, unknown to the AS, logs in with her local password" || fa_show
before=$(fa_as_count password)
pt bob bob-Local-2 authenticate
is "$FA_RC" 0 "bob (ignore_users) logs in with his local password" || fa_show
pt root not-the-Root-password authenticate
isnt "$FA_RC" 0 "root (below minimum_uid=1000) goes to pam_unix, which refuses a wrong password" || fa_show
is "$(fa_as_count password)" "$before" "... and neither bob's nor root's password reached the AS"

# ------------------------------------------------------------------ sshd
# The device-grant snippet of pam_fhir(8) for Debian: Debian's own
# /etc/pam.d/sshd with the documented line above "@include common-auth",
# run by a real sshd (as a copy named after its own service file:
# Debian's sshd takes its program name as the PAM service).
snippet=$(sed -n '/^\.SH DEBIAN/,/^\.SH /p' "$top/docs/pam_fhir.8" |
    grep -E '^auth[[:space:]].*pam_fhir\.so grant=device' | head -1)
like "$snippet" 'pam_fhir\.so grant=device' "pam_fhir(8) prints the sshd device-grant line for Debian"
if [ -x /usr/sbin/sshd ] && [ -n "$snippet" ]; then
    # Debian's sshd stack writes /run/motd.dynamic (pam_motd): the
    # test's doing, removed with sshd's other traces below.
    motd_made=
    [ -e /run/motd.dynamic ] || motd_made=1
    pam_sshd - < <(awk -v line="$snippet" '/^@include common-auth/ { print line } { print }' /etc/pam.d/sshd) ||
        diag "sshd did not start: $(tail -5 "$FA_TMP/sshd.log")"
    fa_as_user alice keyctl clear @u >/dev/null 2>&1
    ssh_device alice /usr/bin/fhir-token token
    like "$SSH_CODE" '^[A-Z]{4}-[A-Z]{4}$' "ssh (keyboard-interactive) shows the device prompt with a user code" ||
        ssh_diag
    ok "alice approves the code at the AS" fa_device_approve "$SSH_CODE" alice
    ssh_device_finish
    is "$SSH_RC" 0 "alice logs in through sshd with the device grant" || ssh_diag
    is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$SSH_LAST")" 200 \
        "the installed fhir-token inside the ssh session prints a token the FHIR server accepts"
    pam_sshd_stop
    [ -n "$motd_made" ] && rm -f /run/motd.dynamic
else
    skip "the sshd device-grant login" "no /usr/sbin/sshd or no snippet in pam_fhir(8)"
fi

# The AS down (PAM_AUTHINFO_UNAVAIL): pam_unix decides.
fa_stop_as
pt alice alice-Local-1 authenticate
is "$FA_RC" 0 "the AS down, alice logs in with her local password" || fa_show
pt alice alice-secret authenticate
isnt "$FA_RC" 0 "... and not with her password at the AS" || fa_show
rm -f "$svcfile"

# ------------------------------------------------------------------ disable, purge
ok "pam-auth-update --disable fhir" pam-auth-update --disable fhir
ok "/etc/pam.d is exactly as before the install" diff -r "$work/pam.d.before" /etc/pam.d ||
    diag "$(diff -r "$work/pam.d.before" /etc/pam.d)"
apt-get purge -y "${packages[@]}" >"$log/purge" 2>&1
ok "apt-get purge of the four packages" test $? -eq 0 || diag "$(tail -20 "$log/purge")"
for p in "${packages[@]}"; do
    nok "dpkg -L $p: not installed" dpkg -L "$p"
done
# The users' lock directories and keys are the users', not the
# packages': they go with the users (lib.sh's cleanup).
for u in alice bob carol; do
    rm -rf "/tmp/pam_fhir-$(id -u "$u")"
done
listing >"$work/after.list"
is "$(diff "$work/before.list" "$work/after.list")" "" \
    "nothing of the packages remains below /etc, /usr, /var and /run"
ok "no file of the system names pam_fhir" sh -c '! grep -rlsI pam_fhir /etc /usr/share/pam-configs /var/lib/pam'
diag "install test: ${SECONDS}s in all"
# The plan, and an exit status that says whether anything failed (this
# test runs on its own, not under the TAP driver of make check).
echo "1..$_fa_n"
_fa_planned=$_fa_n
[ "$_fa_failed" -eq 0 ]
