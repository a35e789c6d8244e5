#!/bin/bash
# formats.t - fhir-token --format (token, header, curl, env, json,
# exec-credential) and fhir-token exec: the exact output of each format,
# real curl reading the token from `curl -K -` (and not from its argv),
# real bash evaluating the env format, hostile values in the session that
# must stay quoted, and exec's environment and exit statuses.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 92

# The fault server fronts the AS (pass mode); its /m/stall:S/ prefix gives
# curl a request that hangs long enough to look at the running process.
fa_start_servers --fault --ttl 600 \
    --scope "openid offline_access launch/patient patient/*.read"

fa_login alice
is "$FA_RC" 0 "login with a SMART launch/patient scope" || fa_show

fa_run fa_token
is "$FA_RC" 0 "token: exit 0" || fa_show
t=$FA_OUT
like "$t" '^[A-Za-z0-9._~+/=-]{16,}$' "token: one token"
acc=$(fa_key_read access)
exp=${acc%% *}
like "$exp" '^[0-9]{10}$' "the access key holds the expiry"
out=$FA_TMP/last.out

# ---------------------------------------------------------------- shapes
fa_run fa_token --format token
is "$FA_RC" 0 "--format token: exit 0" || fa_show
ok "--format token: the token and a newline, nothing else" \
    cmp "$out" <(printf '%s\n' "$t")

fa_run fa_token --format=header
is "$FA_RC" 0 "--format=header: exit 0" || fa_show
ok "--format=header: one Authorization line" \
    cmp "$out" <(printf 'Authorization: Bearer %s\n' "$t")

fa_run fa_token --format curl
is "$FA_RC" 0 "--format curl: exit 0" || fa_show
ok "--format curl: one curl config line" \
    cmp "$out" <(printf 'header = "Authorization: Bearer %s"\n' "$t")

fa_run fa_token --format=env
is "$FA_RC" 0 "--format=env: exit 0" || fa_show
ok "--format=env: export lines, absent context unset" cmp "$out" <(
    printf "export FHIR_ACCESS_TOKEN='%s'\n" "$t"
    printf "export FHIR_TOKEN_EXPIRES_AT='%s'\n" "$exp"
    printf "export FHIR_BASE_URL='%s'\n" "$FA_FHIR"
    printf "export FHIR_PATIENT='example'\n"
    printf "export BEARER_TOKEN='%s'\n" "$t"
    printf 'unset FHIR_ENCOUNTER FHIR_USER\n')

fa_run fa_token --format=json
is "$FA_RC" 0 "--format=json: exit 0" || fa_show
json=$FA_OUT
is "$(wc -l <"$out")" 1 "json: one line"
is "$(fa_json access_token <<<"$json")" "$t" "json: access_token"
is "$(fa_json token_type <<<"$json")" Bearer "json: token_type"
is "$(fa_json expires_at <<<"$json")" "$exp" "json: expires_at (a number)"
fa_run fa_token status --json
granted=$(fa_json scope <<<"$FA_OUT")
like "$granted" 'launch/patient' "status shows the granted scope"
is "$(fa_json scope <<<"$json")" "$granted" "json: scope is the granted scope"
is "$(fa_json profile <<<"$json")" "$FA_PROFILE" "json: profile"
is "$(fa_json fhir_base <<<"$json")" "$FA_FHIR" "json: fhir_base"
is "$(fa_json patient <<<"$json")" example "json: patient from the launch context"
is "$(node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(Object.keys(o).sort().join(" "))' <<<"$json")" \
    "access_token expires_at fhir_base patient profile scope token_type" \
    "json: exactly these members (no encounter or fhirUser when absent)"

# kubectl's ExecCredential (client.authentication.k8s.io/v1).
fa_run fa_token --format exec-credential
is "$FA_RC" 0 "--format exec-credential: exit 0" || fa_show
is "$(node -e '
    const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [tok, exp] = process.argv.slice(1);
    const ts = o.status && o.status.expirationTimestamp;
    const bad = [];
    if (o.apiVersion !== "client.authentication.k8s.io/v1") bad.push("apiVersion");
    if (o.kind !== "ExecCredential") bad.push("kind");
    if (o.status.token !== tok) bad.push("token");
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(ts)) bad.push("RFC 3339 UTC");
    else if (Date.parse(ts) / 1000 !== Number(exp)) bad.push("expiry");
    if (Object.keys(o).sort().join() !== "apiVersion,kind,status") bad.push("members");
    console.log(bad.length ? bad.join(" ") : "ok");' "$t" "$exp" <"$out" 2>&1)" ok \
    "exec-credential: apiVersion, kind, status.token, expirationTimestamp = expiry"

fa_run fa_token --format=bogus
is "$FA_RC" 1 "--format=bogus: exit 1"
like "$FA_ERR" '^fhir-token: .*bogus' "an error naming the format on stderr"
is "$FA_OUT" "" "and nothing on stdout"
fa_run fa_token --format
is "$FA_RC" 1 "--format without a value: exit 1"
fa_run fa_token --min-valid 30 --format=header
is "$FA_RC:$FA_OUT" "0:Authorization: Bearer $t" "--min-valid and --format together"
is "$(fa_as_count refresh_token)" 0 "no refresh so far (every format used the cached token)"

# ---------------------------------------------------------------- real curl
fa_run bash -c 'set -o pipefail; "$@" --format=curl |
    curl -sS -K - --cacert "$FA_CA" -o "$FA_TMP/curl.body" -w "%{http_code}" "$FA_FHIR/Patient/example"' \
    _ "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_OUT" 200 "fhir-token --format=curl | curl -K - : the FHIR server answers 200" || fa_show
like "$(cat "$FA_TMP/curl.body")" '"resourceType":"Patient"' "with the Patient"

# A request that stalls (the fault server holds it 4 s): look at the curl
# while it runs, after it has sent the header.
fa_token --format=curl |
    curl -sS -v -K - --cacert "$FA_CA" --max-time 20 -o /dev/null \
        "$FA_FAULT/m/stall:4/fhir/Patient/example" 2>"$FA_TMP/curl.err" &
cpid=$!
for ((i = 0; i < 50; i++)); do
    grep -q '^> Authorization: Bearer' "$FA_TMP/curl.err" && break
    sleep 0.1
done
cmdline=$(tr '\0' ' ' <"/proc/$cpid/cmdline" 2>/dev/null)
environ=$(tr '\0' '\n' <"/proc/$cpid/environ" 2>/dev/null)
like "$cmdline" '^curl .*-K - .*/m/stall:4/' "the running curl's /proc/PID/cmdline was read"
ok "the running curl sent the token from its config" \
    grep -qxF "> Authorization: Bearer $t"$'\r' "$FA_TMP/curl.err"
unlike "$cmdline" "$t" "the token is not in the running curl's cmdline"
unlike "$environ" "$t" "nor in its environment"
wait "$cpid"

# ---------------------------------------------------------------- real bash
# show-vars DIR: each variable's value into DIR/NAME (nothing when unset);
# run as a child process, so it sees exported variables only.
vars="FHIR_ACCESS_TOKEN FHIR_TOKEN_EXPIRES_AT FHIR_BASE_URL FHIR_PATIENT FHIR_ENCOUNTER FHIR_USER BEARER_TOKEN"
cat >"$FA_TMP/show-vars" <<EOF
#!/bin/bash
mkdir -p "\$1" && cd "\$1" || exit 99
for v in $vars; do
    [ "\${!v+set}" = set ] && printf '%s' "\${!v}" >"\$v"
done
exit 0
EOF
chmod 755 "$FA_TMP/show-vars"

# eval_env DIR: a bash that evals the env format (in DIR, with a stale
# FHIR_ENCOUNTER inherited), then lists the variables into DIR/vars.
eval_env() {
    mkdir -p "$1"
    (cd "$1" && FHIR_ENCOUNTER=stale bash -c '
        out=$("$@" --format=env) || exit 9
        eval "$out" || exit 8
        exec "$FA_TMP/show-vars" vars' _ \
        "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE")
}
# same VALUE FILE: FILE holds exactly VALUE.
same() {
    cmp -s <(printf '%s' "$1") "$2"
}

fa_run eval_env "$FA_TMP/eval1"
is "$FA_RC" 0 'eval "$(fhir-token --format=env)": exit 0' || fa_show
d=$FA_TMP/eval1/vars
ok "eval: FHIR_ACCESS_TOKEN exported" same "$t" "$d/FHIR_ACCESS_TOKEN"
ok "eval: BEARER_TOKEN exported" same "$t" "$d/BEARER_TOKEN"
ok "eval: FHIR_TOKEN_EXPIRES_AT exported" same "$exp" "$d/FHIR_TOKEN_EXPIRES_AT"
ok "eval: FHIR_BASE_URL exported" same "$FA_FHIR" "$d/FHIR_BASE_URL"
ok "eval: FHIR_PATIENT exported" same example "$d/FHIR_PATIENT"
nok "eval: a stale FHIR_ENCOUNTER is unset" test -e "$d/FHIR_ENCOUNTER"

# ---------------------------------------------------------------- exec
fa_run fa_token exec -- "$FA_TMP/show-vars" "$FA_TMP/exec1"
is "$FA_RC" 0 "exec: the command's exit status 0" || fa_show
ok "exec: the child sees FHIR_ACCESS_TOKEN" same "$t" "$FA_TMP/exec1/FHIR_ACCESS_TOKEN"
ok "exec: the child sees BEARER_TOKEN" same "$t" "$FA_TMP/exec1/BEARER_TOKEN"
ok "exec: the child sees FHIR_PATIENT" same example "$FA_TMP/exec1/FHIR_PATIENT"
ok "exec: the child sees FHIR_BASE_URL" same "$FA_FHIR" "$FA_TMP/exec1/FHIR_BASE_URL"

fa_run env FHIR_USER=stale UNRELATED=kept "$FA_TOKEN_BIN" --config "$FA_CONF" \
    --profile "$FA_PROFILE" exec sh -c 'echo "${FHIR_USER-unset} $UNRELATED"; exit 7'
is "$FA_RC" 7 "exec: the command's own exit status (7)"
is "$FA_OUT" "unset kept" "exec: stale variables of ours removed, others inherited"

fa_run fa_token exec -- no-such-command-fa
is "$FA_RC" 127 "exec: command not found: 127"
like "$FA_ERR" '^fhir-token: no-such-command-fa: ' "with a message naming it"
printf '#!/bin/sh\nexit 0\n' >"$FA_TMP/not-executable"
chmod 644 "$FA_TMP/not-executable"
fa_run fa_token exec "$FA_TMP/not-executable"
is "$FA_RC" 126 "exec: found but not executable: 126"
fa_run fa_token exec
is "$FA_RC" 125 "exec without a command: 125"
fa_run fa_token exec --bogus true
is "$FA_RC" 125 "exec with an unknown option: 125"
fa_run "$FA_TOKEN_BIN" --config "$FA_CONF" --profile no-such-profile exec touch "$FA_TMP/ran"
is "$FA_RC" 125 "exec with a configuration error: 125"
nok "and the command did not run" test -e "$FA_TMP/ran"

# --min-valid beyond the token's life: exec refreshes first.
fa_run fa_token exec --min-valid 3600 -- "$FA_TMP/show-vars" "$FA_TMP/exec2"
is "$FA_RC" 0 "exec --min-valid 3600: exit 0" || fa_show
is "$(fa_as_count refresh_token ok)" 1 "exec --min-valid: one refresh at the AS"
t2=$(cat "$FA_TMP/exec2/FHIR_ACCESS_TOKEN")
isnt "$t2" "$t" "the child got the new token"
is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$t2")" 200 "which the FHIR server accepts"
t=$t2

# ---------------------------------------------------------------- one keyring read
# The token formats without context must not read the meta key: with the
# meta key damaged they still work, while json and env fail.
meta_id=$(fa_key_id meta)
meta=$(fa_key_read meta)
printf 'not json' | keyctl pupdate "$meta_id"
fa_run fa_token
is "$FA_RC:$FA_OUT" "0:$t" "damaged meta key: the plain token still comes from the access key"
fa_run fa_token --format=header
is "$FA_RC" 0 "damaged meta key: header still works"
fa_run fa_token --format=json
isnt "$FA_RC" 0 "damaged meta key: json fails (it reads the session context)"
is "$FA_OUT" "" "and prints nothing on stdout"
fa_run fa_token exec true
is "$FA_RC" 125 "damaged meta key: exec fails before the command: 125"

# ---------------------------------------------------------------- hostile values
# SMART context and a token full of shell and curl metacharacters, written
# into the session by hand: they must come out quoted, never executed.
hp=$'p\'1"2 $(touch PWNED1) `touch PWNED2` ${HOME} \\ $PATH\nline2; touch PWNED3'
he=$'\'; touch PWNED4; echo \'\n'
hu=$'Practitioner/$(touch PWNED5)\'\\\'\'"'
ht=$'h\'"\\$(touch${IFS}PWNED6)`touch${IFS}PWNED7`;x\\"'
printf '%s' "$meta" | HP=$hp HE=$he HU=$hu node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
    m.patient = process.env.HP; m.encounter = process.env.HE; m.fhirUser = process.env.HU;
    process.stdout.write(JSON.stringify(m));' | keyctl pupdate "$meta_id"
acc_id=$(fa_key_id access)
printf '%s %s' "$exp" "$ht" | keyctl pupdate "$acc_id"

mkdir -p "$FA_TMP/evil"
cd "$FA_TMP/evil" || bail "cd"
fa_run fa_token --format=header
ok "hostile token: header carries it verbatim" \
    cmp "$out" <(printf 'Authorization: Bearer %s\n' "$ht")
fa_run fa_token --format=curl
ok "hostile token: curl line with \\ and \" escaped" \
    cmp "$out" <(printf '%s\n' 'header = "Authorization: Bearer h'\''\"\\$(touch${IFS}PWNED6)`touch${IFS}PWNED7`;x\\\""')
fa_token --format=curl | curl -sS -v -K - --cacert "$FA_CA" --max-time 10 -o /dev/null \
    "$FA_FHIR/Patient/example" 2>"$FA_TMP/curl2.err"
ok "hostile token: real curl sends exactly the token" \
    grep -qxF "> Authorization: Bearer $ht"$'\r' "$FA_TMP/curl2.err"

fa_run eval_env "$FA_TMP/evil"
is "$FA_RC" 0 "hostile values: eval succeeds" || fa_show
d=$FA_TMP/evil/vars
ok "hostile patient arrives verbatim" same "$hp" "$d/FHIR_PATIENT"
ok "hostile encounter arrives verbatim (trailing newline too)" same "$he" "$d/FHIR_ENCOUNTER"
ok "hostile fhirUser arrives verbatim" same "$hu" "$d/FHIR_USER"
ok "hostile token arrives verbatim" same "$ht" "$d/FHIR_ACCESS_TOKEN"

fa_run fa_token --format=json
is "$FA_RC" 0 "hostile values: json exit 0"
is "$(fa_json patient <"$out")" "$hp" "json: hostile patient round-trips"
is "$(fa_json fhirUser <"$out")" "$hu" "json: hostile fhirUser round-trips"
is "$(fa_json access_token <"$out")" "$ht" "json: hostile token round-trips"
fa_run fa_token --format=exec-credential
is "$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).status.token)' <"$out")" \
    "$ht" "exec-credential: hostile token round-trips"

fa_run fa_token exec -- "$FA_TMP/show-vars" "$FA_TMP/evil/exec"
is "$FA_RC" 0 "hostile values: exec exit 0"
ok "exec: hostile patient verbatim" same "$hp" "$FA_TMP/evil/exec/FHIR_PATIENT"
ok "exec: hostile encounter verbatim" same "$he" "$FA_TMP/evil/exec/FHIR_ENCOUNTER"
ok "exec: hostile token verbatim" same "$ht" "$FA_TMP/evil/exec/BEARER_TOKEN"

pwned=$(find "$FA_TMP" / -maxdepth 1 -name 'PWNED*' 2>/dev/null; find "$FA_TMP" -name 'PWNED*')
is "$pwned" "" "nothing in the hostile values was executed"
cd "$top_builddir" || bail "cd"

# ---------------------------------------------------------------- logged out
fa_run fa_token logout
is "$FA_RC" 0 "logout" || fa_show
fa_run fa_token --format=env
is "$FA_RC" 2 "--format=env when logged out: exit 2"
is "$FA_OUT" "" "nothing on stdout (eval of it changes nothing)"
fa_run fa_token exec -- touch "$FA_TMP/ran2"
is "$FA_RC" 125 "exec when logged out: 125"
like "$FA_ERR" '^fhir-token: ' "with the error on stderr"
like "$FA_ERR" 'log in' "saying to log in"
nok "and the command did not run" test -e "$FA_TMP/ran2"

done_testing
