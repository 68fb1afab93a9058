#!/bin/sh
# The Debian packages (docs/deploy.md, "The Debian package"): `make deb`
# builds metersim, libmetercore1 and libmetercore-dev with dpkg-buildpackage
# into build/deb/ and leaves the tree as it was; lintian finds no error; apt
# installs them on this machine; the installed /usr/bin/metersim runs a
# library scenario (its assertions from the manual hold) and finds its schema
# and man page; a program built with pkg-config against the installed
# libmetercore runs; purge removes every file and folder the packages
# brought. Root only (it installs into /usr); the packages are built with
# DEB_BUILD_OPTIONS="nocheck parallel=2 noautodbgsym" to keep it short.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
pkgs="metersim libmetercore1 libmetercore-dev"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # DESCRIPTION CONDITION...
    d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
apt() { # apt-get, waiting for another engineer's dpkg lock rather than failing
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y "$@"
}
installed() { dpkg-query -W -f '${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed; }
purge_all() {
    for p in $pkgs; do installed "$p" && apt purge $pkgs >/dev/null 2>&1 && break; done
    return 0
}
trap 'purge_all; rm -rf "$tmp"' EXIT

if [ "$(id -u)" != 0 ]; then
    echo "ok 1 # SKIP not root: the packages would be installed into /usr"
    echo "1..1"
    exit 0
fi
for p in $pkgs; do
    if installed "$p"; then
        echo "# $p is installed already (an earlier run stopped?): purged first"
        purge_all
    fi
done

# --- build ---------------------------------------------------------------------
before=$(git status --porcelain 2>/dev/null)
start=$(date +%s)
DEB_BUILD_OPTIONS="nocheck parallel=2 noautodbgsym" make --no-print-directory deb \
    >"$tmp/deb.out" 2>&1
st=$?
took=$(($(date +%s) - start))
check "make deb: status 0 in ${took}s ($(tail -n 3 "$tmp/deb.out" | tr '\n' ' ' | head -c 300))" [ "$st" -eq 0 ]
version=$(dpkg-parsechangelog -S Version)
check "debian/changelog's version is VERSION's ($version)" [ "$version" = "$(tr -d ' \n' <VERSION)" ]
arch=$(dpkg --print-architecture)
debs=""
for p in $pkgs; do debs="$debs $BUILD/deb/${p}_${version}_$arch.deb"; done
all=1
for d in $debs; do [ -f "$d" ] || all=0; done
check "three packages in $BUILD/deb/: $pkgs" [ "$all" -eq 1 ]
check "the tree is as it was: no debian/tmp, no .deb beside it ($(git status --porcelain | head -3 | tr '\n' ' '))" \
    [ "$(git status --porcelain 2>/dev/null)" = "$before" ] && [ ! -e debian/tmp ] &&
    [ -z "$(ls ../*.deb 2>/dev/null)" ]
check "the copy it was built in is gone" [ -z "$(ls -d "$BUILD"/deb/metersim-*/ 2>/dev/null)" ]

# --- lintian ---------------------------------------------------------------------
lintian --tag-display-limit 0 "$BUILD"/deb/*.changes >"$tmp/lintian" 2>&1
grep -E '^E: ' "$tmp/lintian" >"$tmp/lintian.e"
check "lintian: no error ($(head -c 400 "$tmp/lintian.e" | tr '\n' ' '))" [ ! -s "$tmp/lintian.e" ]
echo "# lintian: $(grep -c '^W: ' "$tmp/lintian") warnings"

# --- install -------------------------------------------------------------------
# What each package holds, and which of those paths exist before: after the
# purge exactly these must exist again.
for d in $debs; do dpkg-deb -c "$d"; done | awk '{ p = $6; sub(/^\./, "", p); sub(/\/$/, "", p); if (p != "") print p }' |
    sort -u >"$tmp/paths"
while read -r p; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done <"$tmp/paths" >"$tmp/existed"
check "the packages hold $(wc -l <"$tmp/paths") paths, $(wc -l <"$tmp/existed") of which exist already (/usr, ...)" \
    [ "$(wc -l <"$tmp/paths")" -gt 20 ]
abs=""
for d in $debs; do abs="$abs $(pwd)/$d"; done
# shellcheck disable=SC2086
apt install $abs >"$tmp/apt.out" 2>&1
st=$?
check "apt-get install ./metersim_*.deb ./libmetercore*.deb: status $st ($(tail -n 2 "$tmp/apt.out" | tr '\n' ' '))" [ "$st" -eq 0 ]
ok_all=1
for p in $pkgs; do installed "$p" || ok_all=0; done
check "dpkg: all three installed" [ "$ok_all" -eq 1 ]

# --- the installed program --------------------------------------------------------
check "/usr/bin/metersim --version: $version" sh -c "/usr/bin/metersim --version | grep -qF 'metersim $version'"
cd "$tmp" || exit 1
/usr/bin/metersim --headless --quiet --scenario tariff-t1-t2 >"$tmp/run.out" 2>"$tmp/run.err"
st=$?
check "the installed metersim runs the library scenario tariff-t1-t2, its assertions hold (status $st)" \
    [ "$st" -eq 0 ] && grep -q '"assert"' "$tmp/run.out" && ! grep -q '"ok":false' "$tmp/run.out"
check "... from /usr/share/metersim ($(/usr/bin/metersim --schema))" \
    [ "$(/usr/bin/metersim --schema)" = /usr/share/metersim/scenario.schema.json ]
/usr/bin/metersim --check /usr/share/metersim/scenarios/*.json >"$tmp/check.out" 2>&1
check "metersim --check on every installed library scenario" [ $? -eq 0 ]
check "man -w metersim finds the installed page" [ "$(man -w metersim 2>/dev/null)" = /usr/share/man/man1/metersim.1.gz ]
cat >"$tmp/ex.c" <<'C'
#include <metercore/meter.h>
#include <stdio.h>

int main(void)
{
    static meter_t m;
    meter_init(&m, &(meter_desc_t){.serial = "13070001"});
    printf("%u\n", (unsigned)meter_modbus_id(&m));
    return 0;
}
C
# shellcheck disable=SC2046
cc -o "$tmp/ex" "$tmp/ex.c" $(pkg-config --cflags --libs metercore) 2>"$tmp/cc.err"
st=$?
check "a program builds against the installed libmetercore with pkg-config ($(head -c 200 "$tmp/cc.err"))" [ "$st" -eq 0 ]
check "... links the shared library libmetercore.so.1" sh -c "ldd '$tmp/ex' | grep -Eq 'libmetercore\.so\.1 => /(usr/)?lib/'"
check "... and runs: a new meter's Modbus ID is the factory 1 (manual 6.6.6)" [ "$("$tmp/ex")" = 1 ]
cd - >/dev/null || exit 1
# examples/energy.c against the installed library: 3 x 230 V x 10 A at PF 1
# for 60 s is 6.9 kW x 60 s = 0.115 kWh in 3000 mains cycles, less at most
# the cycle still open at the end: at least 0.115 x 2999 / 3000 kWh.
# shellcheck disable=SC2046
cc -o "$tmp/energy" examples/energy.c $(pkg-config --cflags --libs metercore) -lm 2>"$tmp/cc.err" &&
    kwh=$("$tmp/energy" 60 230 10 | awk '{ print $5 }')
check "examples/energy.c built against the installed library: ${kwh:-nothing} kWh for 6.9 kW over 60 s" \
    awk "BEGIN { exit !(\"${kwh:-0}\" + 0 >= 0.115 * 2999 / 3000 - 1e-8 && \"${kwh:-0}\" + 0 <= 0.115) }"

# --- purge ----------------------------------------------------------------------
apt purge $pkgs >"$tmp/purge.out" 2>&1
st=$?
check "apt-get purge: status $st" [ "$st" -eq 0 ]
none=1
for p in $pkgs; do installed "$p" && none=0; done
check "dpkg: none of them installed" [ "$none" -eq 1 ]
while read -r p; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done <"$tmp/paths" >"$tmp/after"
left=$(comm -13 "$tmp/existed" "$tmp/after")
check "nothing left behind: every path the packages brought is gone ($(echo "$left" | head -3 | tr '\n' ' '))" [ -z "$left" ]
check "no /usr/share/metersim, no /usr/include/metercore" [ ! -e /usr/share/metersim ] && [ ! -e /usr/include/metercore ]
check "... and pkg-config no longer knows metercore" sh -c '! pkg-config --exists metercore'

echo "1..$n"
