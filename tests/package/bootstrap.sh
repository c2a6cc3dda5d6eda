#!/bin/sh
# A bootstrap without autoconf-archive names the missing macro and the package (TAP).
#
# configure.ac alone is copied to a scratch directory and autoreconf runs there with
# aclocal's system directory replaced by a directory of links to everything in the real one
# except ax_*.m4: autoconf-archive "uninstalled" without touching the system. The same copy
# with links to everything must bootstrap, so the failure is the missing macros' doing.
set -u
srcdir=${top_srcdir:-.}
for tool in autoreconf aclocal autoconf; do
    if ! $tool --version >/dev/null 2>&1; then
        echo "1..0 # SKIP $tool is not installed (or does not run)"
        exit 0
    fi
done
acdir=$(aclocal --print-ac-dir)
if ! ls "$acdir"/ax_append_compile_flags.m4 >/dev/null 2>&1; then
    echo "1..0 # SKIP autoconf-archive is not installed in $acdir, nothing to hide"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsb-bootstrap.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
unset ACLOCAL_PATH # a user's extra macro directory could provide the AX_ macros

n=0 failed=0
ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# bootstrap NAME FILTER [SED-SCRIPT]: autoreconf on a fresh copy of configure.ac (edited by
# SED-SCRIPT), with the links to $acdir's files whose names do not match FILTER (a case
# pattern); output in $tmp/NAME.out
bootstrap() {
    mkdir -p "$tmp/$1/tree/m4" "$tmp/$1/acdir"
    for f in "$acdir"/*; do
        # shellcheck disable=SC2254
        case "${f##*/}" in $2) ;; *) ln -s "$f" "$tmp/$1/acdir/" ;; esac
    done
    sed -e "${3:-}" "$srcdir/configure.ac" >"$tmp/$1/tree/configure.ac"
    (cd "$tmp/$1/tree" &&
        ACLOCAL="aclocal --system-acdir=$tmp/$1/acdir" timeout 120 autoreconf -fi) >"$tmp/$1.out" 2>&1
}

echo "1..8"
bootstrap hidden 'ax_*'
rc=$?
sed 's/^/# /' "$tmp/hidden.out"
[ $rc -ne 0 ]; ok $? "autoreconf fails without the AX_ macros"
grep -q 'install autoconf-archive' "$tmp/hidden.out"; ok $? "its error names the package autoconf-archive"
grep -q 'AX_APPEND_COMPILE_FLAGS' "$tmp/hidden.out"; ok $? "its error names the macro AX_APPEND_COMPILE_FLAGS"
[ ! -s "$tmp/hidden/tree/configure" ] || ! grep -q 'AX_APPEND_COMPILE_FLAGS' "$tmp/hidden/tree/configure"
ok $? "no configure with the macro unexpanded is left behind"

# an AX_ macro without its explicit check (as a new one might be added): m4_pattern_forbid
bootstrap forbid 'ax_*' '/^WSB_REQUIRE_ARCHIVE_MACRO(\[AX_/d'
rc=$?
sed 's/^/# /' "$tmp/forbid.out"
[ $rc -ne 0 ]; ok $? "without the explicit check, autoreconf still fails"
grep -q 'error: an AX_ macro is undefined: install autoconf-archive' "$tmp/forbid.out"
ok $? "and m4_pattern_forbid's error names autoconf-archive"

# the control: the same setup hiding nothing gets past aclocal and autoconf (automake then
# fails for want of Makefile.am and the sources, which were not copied)
bootstrap all ''
[ -s "$tmp/all/tree/configure" ] && ! grep -q 'AX_APPEND_COMPILE_FLAGS' "$tmp/all/tree/configure"
ok $? "with every macro, autoconf writes configure with the macro expanded"
! grep -q 'autoconf-archive' "$tmp/all.out"; ok $? "and no autoconf-archive error"
[ $failed -eq 0 ]
