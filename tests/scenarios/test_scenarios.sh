#!/bin/sh
# The scenario library and the engine's assertions, run headless. Speaks TAP.
#
#   scenarios/*.json, tests/scenarios/pass/*.json   must end with status 0
#   tests/scenarios/fail/NAME.json                  must end with status 1, and
#       every line of NAME.expect must appear on standard error (a line that
#       starts with "!" must not)
#   determinism: the same section at --speed max and --speed 50, same bytes
#   --junit: a well-formed report with the right counts
#
# scenarios/week-office.json is the benchmark's (bench/bench_scenario.sh).
# SCENARIOS_SKIP: library files not run here (the sanitizer build skips the
# 24-hour office day: its code is the short scenarios', four times slower).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

for f in scenarios/*.json tests/scenarios/pass/*.json; do
    [ -f "$f" ] || continue
    [ "$f" = scenarios/week-office.json ] && continue
    # a year at sample level: its cuts run in test_year.sh, the whole in make bench
    [ "$f" = scenarios/year-household.json ] && continue
    case " ${SCENARIOS_SKIP:-} " in *" $f "*) continue ;; esac
    "$BIN" --headless --quiet --scenario "$f" >"$tmp/log" 2>"$tmp/err"
    st=$?
    asserts=$(grep -cE '"event":"assert"|"event":"(modbus|mbus)".*"ok":' "$tmp/log")
    if [ "$st" -eq 0 ] && [ "$asserts" -gt 0 ] && ! grep -q '"ok":false' "$tmp/log"; then
        ok "passes: $f ($asserts assertions)"
    else
        notok "passes: $f (status $st, $asserts assertions: $(head -c 600 "$tmp/err"))"
    fi
done

for f in tests/scenarios/fail/*.json; do
    [ -f "$f" ] || continue
    expect=${f%.json}.expect
    "$BIN" --headless --quiet --scenario "$f" >"$tmp/log" 2>"$tmp/err"
    st=$?
    why=""
    [ "$st" -eq 1 ] || why="status $st, not 1"
    if [ ! -s "$expect" ]; then
        why="$why; no $expect"
    else
        while IFS= read -r want; do
            [ -n "$want" ] || continue
            case $want in
            !*) grep -qF -- "${want#!}" "$tmp/err" && why="$why; must not say: ${want#!}" ;;
            *) grep -qF -- "$want" "$tmp/err" || why="$why; missing: $want" ;;
            esac
        done <"$expect"
    fi
    if [ -z "$why" ]; then
        ok "fails as it must: $f"
    else
        notok "fails as it must: $f ($why; stderr: $(head -c 600 "$tmp/err"))"
    fi
done

# Determinism: the first 100 s of the office day (tariff input, noise,
# harmonics, readings every second) at full speed and at 50x real time.
"$BIN" --headless --scenario scenarios/office-day.json --until 100s --every 1s --speed max \
    >"$tmp/max" 2>"$tmp/err1"
st1=$?
"$BIN" --headless --scenario scenarios/office-day.json --until 100s --every 1s --speed 50 \
    >"$tmp/s50" 2>"$tmp/err2"
st2=$?
lines=$(grep -c '"t":' "$tmp/max")
if [ "$st1" -eq "$st2" ] && [ "$lines" -ge 100 ] && cmp -s "$tmp/max" "$tmp/s50"; then
    ok "--speed max and --speed 50: identical log ($lines lines) and status $st1"
else
    notok "--speed max and --speed 50 differ (status $st1/$st2, $lines lines)"
fi

# The same with a failing assertion: identical log, message and status 1.
"$BIN" --headless --scenario tests/scenarios/fail/tariff.json --speed max >"$tmp/fmax" 2>"$tmp/fe1"
st1=$?
"$BIN" --headless --scenario tests/scenarios/fail/tariff.json --speed 50 >"$tmp/f50" 2>"$tmp/fe2"
st2=$?
if [ "$st1" -eq 1 ] && [ "$st2" -eq 1 ] && cmp -s "$tmp/fmax" "$tmp/f50" && cmp -s "$tmp/fe1" "$tmp/fe2"; then
    ok "a failing scenario at --speed max and 50: same log, message and status 1"
else
    notok "a failing scenario differs with the pace (status $st1/$st2)"
fi

# --junit: one testcase per assertion, the failures counted and described.
junit_check() { # description, scenario, expected status, testcases, failures
    desc=$1 f=$2 want_st=$3 want_tests=$4 want_fail=$5
    rm -f "$tmp/junit.xml"
    "$BIN" --headless --quiet --scenario "$f" --junit "$tmp/junit.xml" >/dev/null 2>&1
    st=$?
    if [ "$st" -eq "$want_st" ] && "$PY" - "$tmp/junit.xml" "$want_tests" "$want_fail" <<'PYEOF'; then
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
tests, fails = int(sys.argv[2]), int(sys.argv[3])
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
assert root.tag in ("testsuites", "testsuite") and len(suites) == 1, root.tag
s = suites[0]
cases = s.findall("testcase")
failed = [c for c in cases if c.find("failure") is not None]
assert len(cases) == tests, (len(cases), tests)
assert len(failed) == fails, (len(failed), fails)
assert int(s.get("tests")) == tests and int(s.get("failures")) == fails, s.attrib
for c in failed:
    assert c.find("failure").get("message"), "a failure without a message"
for c in cases:
    assert c.get("name") and c.get("classname"), c.attrib
PYEOF
        ok "--junit: $desc"
    else
        notok "--junit: $desc (status $st)"
    fi
}
junit_check "passing library scenario, 15 testcases, 0 failures" scenarios/combination-codes.json 0 15 0
junit_check "one of two assertions failing: 2 testcases, 1 failure" tests/scenarios/fail/second-meter.json 1 2 1
junit_check "escaped names (\$.timeline[0] ...), 1 failure" tests/scenarios/fail/energy-register.json 1 1 1

echo "1..$n"
