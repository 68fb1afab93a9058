#!/bin/sh
# Long scenarios, headless at full speed (issue 14):
#
#   the office week (bench/week-office.json: the office day's profiles per
#   phase, the tariff input every night; 604 800 s simulated): its wall time
#   at sample level and with --fidelity auto, and the ratio of the two
#   (target: under 20 s with auto);
#   the household year (scenarios/year-household.json, tools/gen_year.py:
#   seasonal load, nightly T1/T2, summer time, 12 monthly Modbus reads): its
#   wall time with --fidelity auto (target: under 60 s; at sample level a year
#   would take hours, so it is not run).
#
# Each figure is printed beside the check that the run computed the right
# thing: every assertion and every Modbus read of the file held (their number
# counted in the file), the week's forward energy against its hand integral.
# A run that fails (non-zero status, a file missing, an expectation failing,
# fewer results than the file asks for, over BENCH_SCENARIO_TIMEOUT) prints no
# figure and fails the benchmark.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
WEEK=${WEEK:-bench/week-office.json}
YEAR=${YEAR:-scenarios/year-household.json}
TIMEOUT=${BENCH_SCENARIO_TIMEOUT:-900}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

if [ ! -x "$BIN" ]; then
    echo "bench_scenario: $BIN: no such program: no figure"
    exit 1
fi

# run FILE LABEL ARGS...: prints "WALL SIMULATED CHECKS CPU" on success, or a
# line saying why there is no figure (status 1).
run() {
    file=$1 label=$2
    shift 2
    if [ ! -f "$file" ]; then
        echo "$label: $file: no such file: no figure"
        return 1
    fi
    # what the file asks for: its assertions and its requests
    want=$(/usr/bin/python3 - "$file" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = 0
for ev in s.get("timeline", []):
    a = ev.get("assert")
    n += len(a) if isinstance(a, list) else (1 if a else 0)
    n += ("modbus" in ev) + ("mbus" in ev)
print(n)
PY
) || {
        echo "$label: $file: cannot count its expectations: no figure"
        return 1
    }
    start=$(date +%s.%N)
    timeout "$TIMEOUT" "$BIN" --headless --quiet --speed max --stats --scenario "$file" "$@" \
        >"$tmp/log" 2>"$tmp/err"
    st=$?
    end=$(date +%s.%N)
    held=$(grep -cE '"event":"(assert|modbus|mbus)".*"ok":true' "$tmp/log")
    failed=$(grep -c '"ok":false' "$tmp/log")
    sim=$(sed -n 's/.*"simulated_s":\([0-9.]*\).*/\1/p' "$tmp/err")
    cpu=$(sed -n 's/.*"cpu_s":\([0-9.]*\).*/\1/p' "$tmp/err")
    if [ "$st" -ne 0 ] || [ "$held" -ne "$want" ] || [ "$failed" -ne 0 ] || [ -z "$sim" ]; then
        why="status $st"
        [ "$st" -eq 124 ] && why="over ${TIMEOUT} s"
        echo "$label: $file failed ($why, $held of $want expectations held, $failed failed): no figure"
        grep -h 'assertion failed' "$tmp/err" | head -3
        return 1
    fi
    awk -v s="$start" -v e="$end" -v sim="$sim" -v held="$held" -v cpu="$cpu" 'BEGIN { printf "%.1f %s %d %s\n", e - s, sim, held, cpu }'
}

# fig LABEL "WALL SIM HELD CPU" TARGET_S WHAT (the target is on the wall time;
# the CPU time tells how much of it was the twin's on a shared machine)
fig() {
    echo "$2" | awk -v label="$1" -v t="$3" -v what="$4" '{
        v = ""
        if ($1 < 0.05) $1 = 0.05 # a run too short to time: at most this
        if (t > 0) v = sprintf(" (target < %d s: %s)", t, ($1 < t) ? "met" : "NOT met")
        printf "%s: wall %.1f s (cpu %.1f s), %.0f x real time%s; check: all %d %s held\n", label, $1, $4, $2 / $1, v, $3, what
    }'
}

week_what="assertions of the week (forward energy per tariff and total against the hand integral)"
ws=$(run "$WEEK" "week (sample)" --fidelity sample) || { echo "$ws"; status=1; ws=""; }
[ -n "$ws" ] && fig "week (sample), $WEEK" "$ws" 0 "$week_what"
wa=$(run "$WEEK" "week (auto)" --fidelity auto) || { echo "$wa"; status=1; wa=""; }
[ -n "$wa" ] && fig "week (auto), $WEEK" "$wa" 20 "$week_what"
if [ -n "$ws" ] && [ -n "$wa" ]; then
    echo "$ws $wa" | awk '{ printf "week: auto is %.1f x faster than sample (wall %.1f s / %.1f s; cpu %.1f s / %.1f s; both checked above)\n", $1 / $5, $1, $5, $4, $8 }'
fi
ya=$(run "$YEAR" "year (auto)" --fidelity auto) || { echo "$ya"; status=1; ya=""; }
[ -n "$ya" ] && fig "year (auto), $YEAR" "$ya" 60 "monthly Modbus reads (every register against its integral)"
exit $status
