#!/bin/sh
# Runs every suite and ends with one line: "N passed, N failed".
#
# A suite is a cmocka executable (build/tests/test_*) or a script
# (tests/*/test_*.sh). Each speaks TAP ("ok N - name" / "not ok N - name");
# a suite that exits non-zero without reporting a failure (a crash, a missing
# tool) counts as one failed test, so nothing fails silently.
#
# SUITES="unit cli scenarios" runs only those: "unit" is the cmocka
# executables, any other word a folder of tests/ (the sanitizer suite runs
# the twin's own suites this way against its ASan + UBSan build).
set -u
SUITES=${SUITES:-}
wanted() { # unit | a folder of tests/
    [ -z "$SUITES" ] && return 0
    case " $SUITES " in *" $1 "*) return 0 ;; esac
    return 1
}
BUILD=${BUILD:-build}
export BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
passed=0
failed=0
failed_suites=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_suite() { # name, command...
    name=$1
    shift
    echo "== $name"
    timeout 900 "$@" >"$log" 2>&1
    status=$?
    cat "$log"
    p=$(grep -cE '^ok [0-9]+' "$log")
    f=$(grep -cE '^not ok [0-9]+' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $status"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -gt 0 ] && failed_suites="$failed_suites $name"
}

if wanted unit; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] && run_suite "$(basename "$t")" "$t"
    done
fi
for t in tests/*/test_*.sh; do
    dir=$(basename "$(dirname "$t")")
    wanted "$dir" || continue
    [ -f "$t" ] && run_suite "$(basename "$t" .sh)" sh "$t"
done

[ -n "$failed_suites" ] && echo "failed suites:$failed_suites"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
