#!/bin/sh
# `make check-format` holds the tree, and would catch a file out of style.
# Speaks TAP.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if out=$(sh tests/style/format.sh 2>&1); then
    echo "ok 1 - every C file is formatted by .clang-format"
else
    echo "not ok 1 - every C file is formatted by .clang-format"
    printf '%s\n' "$out" | sed 's/^/# /'
fi
cp .clang-format "$tmp/"
printf 'int  f( int x ){return x;}\n' >"$tmp/bad.c"
if (cd "$tmp" && clang-format --dry-run --Werror bad.c >/dev/null 2>&1); then
    echo "not ok 2 - a file out of style is caught"
else
    echo "ok 2 - a file out of style is caught"
fi
echo "1..2"
