#!/bin/bash
# docs-tree.t - docs/ARCHITECTURE.md owns the structure: its file tables
# ("## DIR/, ..." sections, one row per file: | `name` | job |) must
# match the tree.  In each of pam_fhir/, include/, lib/, lib/net/ and
# qr/: every .c file, every header without a .c of the same name, and
# every version script has a row; every row names a file that exists
# there.  No servers, no root.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=lib.sh
. "$top_srcdir/tests/integration/lib.sh"

doc=$top_srcdir/docs/ARCHITECTURE.md
[ -f "$doc" ] || bail "no $doc"

# rows DIR: the names in the table of the section "## DIR/..." (the
# first column, between backquotes), one per line, sorted.
rows() {
    awk -v sec="## $1/" '
        /^## / {
            in_sec = index($0, sec) == 1 && substr($0, length(sec) + 1, 1) !~ /[A-Za-z0-9_]/
            next
        }
        in_sec && /^\| `[^`]*` \|/ { n = split($0, f, "`"); print f[2] }
    ' "$doc" | LC_ALL=C sort -u
}

# files DIR: the files that need a row, one per line, sorted.
files() {
    local d=$top_srcdir/$1 f b
    for f in "$d"/*.c "$d"/*.h "$d"/*.map; do
        [ -f "$f" ] || continue
        b=${f##*/}
        case $b in
            *.h) [ -f "$d/${b%.h}.c" ] && continue ;;
        esac
        printf '%s\n' "$b"
    done | LC_ALL=C sort -u
}

for dir in pam_fhir include lib lib/net qr; do
    want=$(files "$dir")
    have=$(rows "$dir")
    ok "docs/ARCHITECTURE.md has a table for $dir/" test -n "$have"
    is "$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$have") | tr '\n' ' ')" "" \
        "every file of $dir/ that needs one has a row"
    gone=
    for r in $have; do
        [ -e "$top_srcdir/$dir/$r" ] || gone+="$r "
    done
    is "$gone" "" "every row of the $dir/ table names a file of $dir/"
done
done_testing
