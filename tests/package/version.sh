#!/bin/sh
# One version everywhere (TAP): AC_INIT in configure.ac is the only place it is written;
# `wsbridge --version`, the man page's .TH line and debian/changelog's last entry must say
# the same.
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
wsbridge=${WSBRIDGE:-$builddir/wsbridge}

n=0 failed=0
is() { # is GOT WANT DESCRIPTION
    n=$((n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3"
        echo "#   got:  '$1'"
        echo "#   want: '$2'"
        failed=$((failed + 1))
    fi
}

echo "1..5"
version=$(sed -n 's/^AC_INIT(\[wsbridge\], *\[\([^]]*\)\].*/\1/p' "$srcdir/configure.ac")
n=$((n + 1))
if echo "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$'; then
    echo "ok $n - configure.ac's AC_INIT has a version: $version"
else
    echo "not ok $n - configure.ac's AC_INIT has a version (got '$version')"
    failed=$((failed + 1))
fi
is "$("$wsbridge" --version 2>&1)" "wsbridge $version" "wsbridge --version"
th=$(grep '^\.TH ' "$builddir/doc/wsbridge.1")
is "$(echo "$th" | sed -n 's/^\.TH WSBRIDGE 1 "[^"]*" "\([^"]*\)".*/\1/p')" "wsbridge $version" "the man page's .TH line"
is "$(grep -c '@PACKAGE_VERSION@' "$builddir/doc/wsbridge.1")" 0 "no placeholder left in the man page"
# the newest entry is the first line: "wsbridge (VERSION) DIST; urgency=..."
is "$(sed -n '1s/^wsbridge (\([^)]*\)).*/\1/p' "$srcdir/debian/changelog")" "$version" \
    "debian/changelog's newest entry"
[ $failed -eq 0 ]
