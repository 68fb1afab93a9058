#!/bin/sh
# make deb: the Debian packages (debian/) into $BUILD/deb/, the tree left
# clean. The source tree is copied into $BUILD/deb/metersim-VERSION (without
# build folders, .git and node_modules) and built there with
# `dpkg-buildpackage -b -us -uc`, so debian/tmp, debian/.debhelper and the
# .deb files never land in the checkout or in its parent folder; the copy is
# removed afterwards, the log kept (build.log). DEB_BUILD_OPTIONS defaults to
# "nocheck parallel=2" (the suites run with make test). Exit status:
# dpkg-buildpackage's; 2 when debian/changelog and VERSION disagree.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=$build/deb
version=$(dpkg-parsechangelog -S Version)
if [ -f VERSION ] && [ "$(tr -d ' \n' <VERSION)" != "$version" ]; then
    echo "deb: debian/changelog is at $version, VERSION says $(tr -d ' \n' <VERSION): add a changelog entry (dch -v $(tr -d ' \n' <VERSION))" >&2
    exit 2
fi
src=$out/metersim-$version
rm -rf "$out"
mkdir -p "$src"
tar --exclude="./$build" --exclude=./build --exclude=./build-san --exclude=./.git \
    --exclude=node_modules -cf - . | tar -xf - -C "$src"
# A make of our own (make deb, make test) must not hand its jobserver on.
unset MAKEFLAGS MFLAGS MAKELEVEL
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=2}"
echo "deb: dpkg-buildpackage -b -us -uc in $src (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)" >&2
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    echo "deb: the package build failed; the whole log: $out/build.log" >&2
    exit 1
fi
rm -rf "$src"
ls "$out"/*.deb
