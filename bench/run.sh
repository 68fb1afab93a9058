#!/bin/sh
# Runs every benchmark; each prints its own figures and ratios against the
# baseline it measures in the same run.
set -u
BUILD=${BUILD:-build}
status=0
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || status=1
done
for s in bench/bench_*.sh; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s" .sh)"
    sh "$s" || status=1
done
exit $status
