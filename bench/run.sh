#!/bin/sh
# Runs every benchmark; each prints its own figures and ratios against the
# baseline it measures in the same run, each figure beside the check that its
# run computed the right thing. A benchmark that fails (non-zero status: a
# run failed or computed a wrong result, and then it prints no figure) makes
# this script, and so `make bench`, fail (issue 14).
set -u
BUILD=${BUILD:-build}
status=0
failed=""
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || { status=1 && failed="$failed $(basename "$b")"; }
done
for s in bench/bench_*.sh; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s" .sh)"
    sh "$s" || { status=1 && failed="$failed $(basename "$s" .sh)"; }
done
[ $status -eq 0 ] || echo "make bench: failed:$failed"
exit $status
