#!/bin/bash
# credential-groups.t - a client credential file given to a group, from
# both sides (SECURITY.md "Confidential clients", pam_fhir.conf(5)):
#
# A. A client secret the users' own refreshes need belongs to root with a
#    group of those users, mode 0640.  The PAM module acts as the user
#    with the user's own groups (pam_fhir/user.c, getgrouplist), so
#    close_session's revoke_on_close opens it through a supplementary
#    group as the user's own fhir-token does, and the refresh token is
#    revoked at the AS, not only dropped here.
# B. A set-group-ID program has its group's files to read, its user does
#    not: a configuration the user owns must not name such a file as
#    client_secret_file together with a token endpoint of the user's own.
#    The library refuses a configuration its real user owns in a set-id
#    process (lib/config.c); a setgid copy of fhir-token stands in for
#    such a program, and a TLS listener of the test's own for the user's
#    server.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
pam_setup

plan 9

grp=fa-rv-$$
sgrp=fa-sg-$$
pam_cleanup_hook() {
    groupdel "$grp" >/dev/null 2>&1
    groupdel "$sgrp" >/dev/null 2>&1
    [ -n "${evil_pid:-}" ] && kill "$evil_pid" 2>/dev/null
    return 0
}

fa_start_servers --ttl 60 --client fhir-conf --keyring user
pam_users
groupadd "$grp" && usermod -aG "$grp" alice || bail "cannot make group $grp"
secret=$FA_TMP/fhir-conf.secret
chgrp "$grp" "$secret" && chmod 640 "$secret" || bail "chgrp $secret"

# ---------------------------------------------------------------- A
service revoke_on_close
pt alice alice-secret authenticate open_session
is "$FA_RC" 0 "A: alice logs in (the module reads the secret as root)" || fa_show
fa_run as alice token --min-valid 3600
is "$FA_RC" 0 "A: alice's own refresh reads the 0640 secret through her supplementary group" || fa_show
rt=$(user_key alice refresh)
is "$(fa_introspect "$rt")" true "A: the session's refresh token is active"
pt alice x close_session
is "$(fa_introspect "$rt")" false \
    "A: close_session (revoke_on_close) revoked it, the secret read through alice's supplementary group" || fa_show
# The same with alice's primary group: revoked.
chgrp alice "$secret"
pt alice alice-secret authenticate open_session
rt=$(user_key alice refresh)
pt alice x close_session
is "$(fa_introspect "$rt")" false "A: with alice's primary group instead, close_session revokes"

# ---------------------------------------------------------------- B
groupadd "$sgrp" || bail "cannot make group $sgrp"
gsecret=$FA_TMP/group-only.secret
printf 'only-for-group-%s\n' "$sgrp" >"$gsecret"
chown root:"$sgrp" "$gsecret" && chmod 640 "$gsecret" || bail "chown $gsecret"
bin=$(fa_user_bin) || bail "no user copy of fhir-token"
sbin=$(dirname "$bin")/fhir-token-sgid
cp "$bin" "$sbin" && chgrp "$sgrp" "$sbin" && chmod 2755 "$sbin" || bail "setgid copy"

port=$(fa_dead_port)
# The user's own "token endpoint": records one request, answers 400.
python3 - "$port" "$FA_TMP/server.pem" "$FA_TMP/server.key" "$FA_TMP/evil.out" <<'PY' &
import socket, ssl, sys
port, cert, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1)
c, _ = s.accept()
c = ctx.wrap_socket(c, server_side=True)
c.settimeout(5)
data = b""
try:
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
except Exception:
    pass
open(out, "wb").write(data)
body = b'{"error":"invalid_grant"}'
c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
c.close()
PY
evil_pid=$!
sleep 0.5
aconf=$FA_TMP/alice.conf
cat >"$aconf" <<EOF
token_endpoint = https://127.0.0.1:$port/token
client_id = evil
client_secret_file = $gsecret
client_auth = client_secret_basic
ca_file = $FA_CA
grant = password
timeout = 3
EOF
chown alice "$aconf" && chmod 600 "$aconf"
chmod o+r "$FA_CA" 2>/dev/null

fa_run_stdin x fa_as_user alice "$bin" --config "$aconf" login --password --username alice --password-stdin
like "$FA_ERR" "cannot open client_secret_file $gsecret: Permission denied" \
    "B: alice's own fhir-token cannot open the group's file (baseline)"
fa_run_stdin x fa_as_user alice "$sbin" --config "$aconf" login --password --username alice --password-stdin
diag "setgid run: rc=$FA_RC err=$FA_ERR"
want=$(printf 'evil:only-for-group-%s' "$sgrp" | base64 -w0)
sleep 0.5
kill "$evil_pid" 2>/dev/null
wait "$evil_pid" 2>/dev/null
evil_pid=
diag "what the user's server received: $(grep -a -i '^authorization' "$FA_TMP/evil.out")"
nok "B: a setgid caller does not send a file only its group can read to the user's server" \
    grep -qF "$want" "$FA_TMP/evil.out"
like "$FA_ERR" "owned by uid [0-9]+, the user of this set-id program \\(refused\\)" \
    "B: ... it refuses the user's configuration instead"
ok "B: (the group's secret is intact)" test -s "$gsecret"
