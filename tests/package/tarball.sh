#!/bin/sh
# The release tarball builds with only the build packages (TAP): no autoreconf, aclocal,
# automake, autoconf, autoheader, autom4te, libtoolize or git.
#
#   tests/package/tarball.sh wsbridge-VERSION.tar.gz [GIT-TREE]
#
# The tarball is unpacked in a scratch directory and built (configure, make, the unit,
# fuzz-replay and version tests) with a PATH whose first directory holds failing stand-ins
# for those tools, each of which leaves a mark when called: a build that wants to
# regenerate anything fails and says which tool it called. (make distcheck runs the whole of make check from the
# tarball, with the tools there.) With GIT-TREE, also: every file git tracks there is in the
# tarball, but for the repository's own (.gitignore, .ci/, m4/.gitkeep).
set -u
tarball=${1:?usage: tarball.sh wsbridge-VERSION.tar.gz [GIT-TREE]}
tree=${2:-}
[ -f "$tarball" ] || { echo "tarball.sh: no such file: $tarball" >&2; exit 2; }
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsb-tarball.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0 failed=0
ok() { # ok EXIT-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
show() { sed 's/^/# /' "$1" | tail -n "${2:-40}"; }

# before git is hidden: what the tree tracks
[ -z "$tree" ] || git -C "$tree" ls-files >"$tmp/tracked" || exit 2

mkdir "$tmp/stubs"
hidden="autoreconf aclocal automake autoconf autoheader autom4te autoscan autoupdate ifnames libtoolize autopoint git"
# the versioned names automake's `missing` calls (aclocal-1.16, automake-1.16)
for f in /usr/bin/aclocal-* /usr/bin/automake-*; do [ -e "$f" ] && hidden="$hidden ${f##*/}"; done
for t in $hidden; do
    printf '#!/bin/sh\necho "%s was called: $*" >>"%s/called"\necho "%s: hidden by tarball.sh" >&2\nexit 127\n' \
        "$t" "$tmp" "$t" >"$tmp/stubs/$t"
    chmod +x "$tmp/stubs/$t"
done
PATH=$tmp/stubs:$PATH
export PATH

echo "1..$([ -n "$tree" ] && echo 7 || echo 6)"
tar -xzf "$tarball" -C "$tmp"; ok $? "the tarball unpacks"
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'wsbridge-*' | head -n 1)
if [ -n "$tree" ]; then
    : >"$tmp/left-out"
    while IFS= read -r f; do
        case "$f" in .gitignore | .ci/* | m4/.gitkeep) continue ;; esac
        [ -e "$src/$f" ] || echo "$f" >>"$tmp/left-out"
    done <"$tmp/tracked"
    [ ! -s "$tmp/left-out" ]; rc=$?
    [ $rc -eq 0 ] || show "$tmp/left-out"
    ok $rc "every file git tracks is in the tarball (EXTRA_DIST)"
fi
command -v autoreconf | grep -q "^$tmp/stubs/"; ok $? "autoreconf on PATH is the failing stand-in"
# out of tree, as distcheck does, and a second time in the tree below would cost minutes
mkdir "$tmp/build"
(cd "$tmp/build" && "$src/configure" >"$tmp/configure.log" 2>&1)
rc=$?; [ $rc -eq 0 ] || show "$tmp/configure.log"
ok $rc "configure"
(cd "$tmp/build" && make -j"${JOBS:-2}" >"$tmp/make.log" 2>&1)
rc=$?; [ $rc -eq 0 ] || show "$tmp/make.log"
ok $rc "make"
(cd "$tmp/build" && make -j"${JOBS:-2}" check \
    TESTS='$(UNIT_TESTS) $(REPLAY_TESTS) tests/package/version.sh' >"$tmp/check.log" 2>&1)
rc=$?; [ $rc -eq 0 ] || show "$tmp/check.log"
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$tmp/check.log" | sed 's/^/# check: /'
ok $rc "make check of the unit, fuzz-replay and version tests"
[ ! -e "$tmp/called" ]; rc=$?
[ $rc -eq 0 ] || show "$tmp/called"
ok $rc "no autotools and no git were called"
[ $failed -eq 0 ]
