#!/bin/bash
# abi.t - libfhirauth's exports are a decision written down in four
# places, and this keeps them in step, each difference named both ways:
#  - the functions of the version node FHIRAUTH_0.1 are exactly those of
#    fhirauth(3)'s SYNOPSIS (without <fhirauth-curl.h>, whose functions are
#    static inline and exported by nobody) and those <fhirauth.h> declares;
#  - the functions of FHIRAUTH_PRIVATE_0 are exactly those of
#    include/fhirauth-private.h, which is not installed;
#  - nothing else is exported, and no other version node exists;
#  - debian/libfhirauth0.symbols lists every exported name with its node
#    (dh_makeshlibs -c4 fails the package build on any difference).
# No servers, no root.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

command -v nm >/dev/null 2>&1 || skip_all "needs nm (binutils)"
lib=$top_builddir/lib/.libs/libfhirauth.so.0
[ -f "$lib" ] || bail "$lib is missing: build first (make)"

# The headers, wherever the tree keeps them.
header() {
    local d
    for d in include lib; do
        [ -f "$top_srcdir/$d/$1" ] && { echo "$top_srcdir/$d/$1"; return 0; }
    done
    bail "$1 not found under $top_srcdir/include or lib"
}
pub_h=$(header fhirauth.h)
priv_h=$(header fhirauth-private.h)
curl_h=$(header fhirauth-curl.h)
man=$top_srcdir/docs/fhirauth.3
symbols=$top_srcdir/debian/libfhirauth0.symbols

plan 10

# exports: "NAME NODE" for every defined dynamic symbol, sorted.
exports=$(nm -D --defined-only "$lib" | awk '
    $2 == "A" { print $3, $3; next }
    { n = $3; v = ""; i = index(n, "@")
      if (i > 0) { v = substr(n, i); sub(/^@+/, "", v); n = substr(n, 1, i - 1) }
      print n, (v == "" ? "(unversioned)" : v) }' | sort)
funcs() { # NODE: the functions of that node
    printf '%s\n' "$exports" | awk -v node="$1" '$2 == node && $1 != node { print $1 }'
}
public=$(funcs FHIRAUTH_0.1)
private=$(funcs FHIRAUTH_PRIVATE_0)

# Functions a C header declares: a line at column 0 that is neither a
# comment nor a typedef, with "fhirauth_NAME(" on it.
declared() {
    grep -v -E '^(typedef|[[:space:]]|/\*|\*|#)' "$1" |
        grep -o -E '\bfhirauth_[a-z0-9_]+\(' | tr -d '(' | sort -u
}
# The functions of fhirauth(3)'s SYNOPSIS: up to the "#include
# <fhirauth-curl.h>" line (ANY) or after it (curl).
synopsis() {
    sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$man" |
        awk -v part="$1" '/fhirauth\\-curl\.h/ { curl = 1 }
            (part == "api" && !curl) || (part == "curl" && curl)' |
        grep -o -E '\bfhirauth_[a-z0-9_]+\(' | tr -d '(' | sort -u
}
# diff_both A B: the names in only one of them, marked "<" and ">".
diff_both() {
    diff <(printf '%s\n' "$1" | sed '/^$/d') <(printf '%s\n' "$2" | sed '/^$/d') |
        grep -E '^[<>]'
}

# 1: the public node is fhirauth(3)
d=$(diff_both "$public" "$(synopsis api)")
is "$d" "" "FHIRAUTH_0.1 exports exactly the functions of fhirauth(3)'s SYNOPSIS (< exported only, > documented only)"

# 2: ... and fhirauth.h
d=$(diff_both "$public" "$(declared "$pub_h")")
is "$d" "" "FHIRAUTH_0.1 exports exactly what fhirauth.h declares (< exported only, > declared only)"

# 3: the private node is the private header
d=$(diff_both "$private" "$(declared "$priv_h")")
is "$d" "" "FHIRAUTH_PRIVATE_0 exports exactly what fhirauth-private.h declares (< exported only, > declared only)"
isnt "$private" "" "... which is not empty"

# 5: the private functions are nowhere in the public documents
d=$(printf '%s\n' "$private" | grep -x -F -f - <(synopsis api; declared "$pub_h"; grep -o -E '\bfhirauth_[a-z0-9_]+' "$man" | sort -u))
is "$d" "" "no private function is in fhirauth.h or fhirauth(3)"

# 6: nothing else: only the two nodes, every symbol versioned, all fhirauth_*
d=$(printf '%s\n' "$exports" | awk '
    $2 != "FHIRAUTH_0.1" && $2 != "FHIRAUTH_PRIVATE_0" { print "node: " $0 }
    $1 != $2 && $1 !~ /^fhirauth_/ { print "name: " $0 }')
is "$d" "" "only fhirauth_* functions under FHIRAUTH_0.1 and FHIRAUTH_PRIVATE_0"

# 7: the static inline functions of fhirauth-curl.h are documented and
# exported by nobody
curl_doc=$(synopsis curl)
d=$(diff_both "$curl_doc" "$(grep -A1 -E '^static inline' "$curl_h" |
    grep -o -E '^fhirauth_[a-z0-9_]+\(' | tr -d '(' | grep -v '_priv_' | sort -u)")
is "$d" "" "fhirauth(3) lists exactly the public inline functions of fhirauth-curl.h"
d=$(printf '%s\n' "$curl_doc" | grep -x -F -f - <(printf '%s\n' "$exports" | awk '{ print $1 }'))
is "$d" "" "... none of which the library exports"

# 9: the version script names every export (no wildcard under global:)
d=$(sed -e 's,/\*.*\*/,,' -e '/\/\*/,/\*\//d' "$top_srcdir/lib/libfhirauth.map" | awk '
    /global:/ { g = 1; next } /local:/ { g = 0; next } /}/ { g = 0; next }
    g && /[*?[]/ { print }')
is "$d" "" "lib/libfhirauth.map names every export, no wildcard"

# 10: debian/libfhirauth0.symbols is the export list, name@node
if [ -f "$symbols" ]; then
    d=$(diff_both "$(printf '%s\n' "$exports" | awk '{ print $1 "@" $2 }')" \
        "$(awk '/^ / { print $1 }' "$symbols" | sort)")
    is "$d" "" "debian/libfhirauth0.symbols lists every export with its node (< exported only, > listed only)"
else
    skip_na "debian/libfhirauth0.symbols" "no debian/ in this tree"
fi
