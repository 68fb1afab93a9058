#!/bin/sh
# The program's version: VERSION at the top of the source, with the commit
# it is built from ("0.9.0 (git 751e2be-dirty)") when the source folder is
# itself the top of a git checkout that git can describe (a tarball unpacked
# inside some other repository is not described by that one's commits).
# Usage: mk/version.sh  (run from anywhere; prints one line)
set -u
src=$(cd "$(dirname "$0")/.." && pwd -P)
v=$(tr -d ' \n' <"$src/VERSION")
top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) || top=
if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$src" ] &&
    d=$(git -C "$src" describe --always --dirty 2>/dev/null) && [ -n "$d" ]; then
    v="$v (git $d)"
fi
printf '%s\n' "$v"
