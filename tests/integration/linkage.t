#!/bin/bash
# linkage.t - the cached-token path pays for neither libcurl nor OpenSSL:
# they are not among the DT_NEEDED entries of fhir-token or libfhirauth,
# a cached `fhir-token` loads neither, and a refresh does load them (so the
# check can fail).  The front ends have the engine linked in (one object
# fewer to load per call) and still find the network module.  A network
# module that refuses the library (test builds pretend to be another
# version, FHIRAUTH_TEST_NET_VERSION) is a clear error, not a crash.
. "$(dirname "$0")/lib.sh"

plan 16

bin=$top_builddir/helper/fhir-token
gcf=$top_builddir/helper/git-credential-fhir
lib=$top_builddir/lib/.libs/libfhirauth.so
mod=$top_builddir/lib/.libs/fhirauth-net.so

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

unlike "$(needed "$bin")" 'libcurl|libssl|libcrypto' "fhir-token does not link libcurl or OpenSSL"
unlike "$(needed "$lib")" 'libcurl|libssl|libcrypto' "libfhirauth does not link libcurl or OpenSSL"
like "$(needed "$mod")" 'libcurl' "the network module does"
unlike "$(ldd "$bin")" 'libcurl|libssl|libcrypto|libfhirauth' \
    "ldd fhir-token: no libcurl, OpenSSL or libfhirauth.so in the closure"
unlike "$(ldd "$gcf")" 'libcurl|libssl|libcrypto|libfhirauth' \
    "ldd git-credential-fhir: likewise"
like "$(needed "$top_builddir/tests/pamlib-driver" 2>/dev/null; needed "$top_builddir/tests/.libs/pamlib-driver" 2>/dev/null)" \
    'libfhirauth' "a program built against the library links libfhirauth.so"
is "$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | grep -cv '^fhirauth_')" 0 \
    "libfhirauth exports only fhirauth_* functions"

fa_start_servers --no-fhir --ttl 60
fa_login alice
is "$FA_RC" 0 "password login" || fa_show

# LD_DEBUG=libs names every object the dynamic loader loads.
fa_run env LD_DEBUG=libs "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE"
is "$FA_RC" 0 "a cached token" || fa_show
unlike "$FA_ERR" 'libcurl|libssl|libcrypto|fhirauth-net' "the cached path loads no network code"

fa_run env LD_DEBUG=libs "$FA_TOKEN_BIN" --config "$FA_CONF" --profile "$FA_PROFILE" --min-valid 3600
is "$FA_RC" 0 "a token valid longer than the cached one: a refresh" || fa_show
like "$FA_ERR" 'fhirauth-net.so' "the refresh loads the network module"
like "$FA_ERR" "$top_builddir/lib/.libs/fhirauth-net.so" "the build tree's own module"

# The module checks the library's version and structure sizes (net.h).
if grep -q '^#define FHIRAUTH_TEST_HOOKS 1' "$top_builddir/autoconf.h" 2>/dev/null; then
    fa_run env FHIRAUTH_TEST_NET_VERSION=0.0.0-other "$FA_TOKEN_BIN" \
        --config "$FA_CONF" --profile "$FA_PROFILE" --min-valid 3600
    # The module cannot be used, so the cached token (still valid) is
    # served with a warning, as when the server is unreachable.
    is "$FA_RC" 0 "a library of another version: the cached token, exit 0" || fa_show
    like "$FA_ERR" 'warning: could not refresh \(.*fhirauth-net\.so refused: the network module is of pam_fhir [^ ]+, the library of 0\.0\.0-other' \
        "... with a warning: the module refused, naming both versions" || fa_show
    is "$(fa_as_count refresh_token)" 1 "... and no refresh was made" || fa_show
else
    skip_na "a library of another version is refused" "needs --enable-test-hooks"
    skip_na "... naming both versions" "needs --enable-test-hooks"
    skip_na "... and no refresh" "needs --enable-test-hooks"
fi

done_testing
