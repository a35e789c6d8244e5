#!/bin/bash
# concurrency.t - 32 fhir-token processes started together on an expired
# access token: exactly one refresh at the AS, and all 32 print the same
# token, which the FHIR server accepts.  Run twice: with the persistent
# anchor (the default) and with the user anchor.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

N=32
plan 14

round() { # ANCHOR
    local anchor=$1 t0 old i rc fails=0 distinct first
    fa_start_servers --ttl 4 --rotate on --keyring "$anchor"
    fa_login alice
    is "$FA_RC" 0 "$anchor: login" || fa_show
    t0=$(fa_now)
    fa_run fa_token
    old=$FA_OUT
    is "$(fa_as_count refresh_token)" 0 "$anchor: no refresh yet"

    # The access token has expired.
    fa_sleep_past "$t0" "$FA_TTL"
    rm -rf "$FA_TMP/conc"
    mkdir "$FA_TMP/conc"
    local pids=()
    for ((i = 0; i < N; i++)); do
        fa_token >"$FA_TMP/conc/$i.out" 2>"$FA_TMP/conc/$i.err" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}"
        rc=$?
        if [ "$rc" -ne 0 ]; then
            fails=$((fails + 1))
            diag "process $i: exit $rc: $(cat "$FA_TMP/conc/$i.err")"
        fi
    done
    is "$fails" 0 "$anchor: all $N processes exit 0"
    distinct=$(cat "$FA_TMP"/conc/*.out | sort -u | wc -l)
    is "$distinct" 1 "$anchor: all $N print the same token"
    first=$(cat "$FA_TMP/conc/0.out")
    isnt "$first" "$old" "$anchor: it is a new token"
    is "$(fa_as_count refresh_token)" 1 "$anchor: the AS log shows exactly one refresh"
    is "$(fa_fhir_get "$FA_FHIR/Patient/example" "$first")" 200 "$anchor: the FHIR server accepts it"
}

round persistent
round user

done_testing
