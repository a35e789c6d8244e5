#!/bin/bash
# linkage.t - the cached-token path pays for neither libcurl nor OpenSSL:
# they are not among the DT_NEEDED entries of fhir-token or libfhirauth,
# a cached `fhir-token` loads neither, and a refresh does load them (so the
# check can fail).
. "$(dirname "$0")/lib.sh"

plan 10

bin=$top_builddir/helper/.libs/fhir-token
[ -x "$bin" ] || bin=$top_builddir/helper/fhir-token
lib=$top_builddir/lib/.libs/libfhirauth.so
mod=$top_builddir/lib/.libs/fhirauth-net.so

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

unlike "$(needed "$bin")" 'libcurl|libssl|libcrypto' "fhir-token does not link libcurl or OpenSSL"
unlike "$(needed "$lib")" 'libcurl|libssl|libcrypto' "libfhirauth does not link libcurl or OpenSSL"
like "$(needed "$mod")" 'libcurl' "the network module does"
unlike "$(LD_LIBRARY_PATH=$top_builddir/lib/.libs ldd "$bin")" 'libcurl|libssl|libcrypto' \
    "ldd fhir-token: no libcurl or OpenSSL in the closure"
is "$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | grep -cv '^fhirauth_')" 0 \
    "libfhirauth exports only fhirauth_* functions"

fa_start_servers --ttl 60
fa_login alice
is "$FA_RC" 0 "password login" || fa_show

# LD_DEBUG=libs names every object the dynamic loader loads.
fa_run env LD_DEBUG=libs "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 0 "a cached token" || fa_show
unlike "$FA_ERR" 'libcurl|libssl|libcrypto|fhirauth-net' "the cached path loads no network code"

fa_run env LD_DEBUG=libs "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --min-valid 3600
is "$FA_RC" 0 "a token valid longer than the cached one: a refresh" || fa_show
like "$FA_ERR" 'fhirauth-net.so' "the refresh loads the network module"

done_testing
