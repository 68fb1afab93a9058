#!/bin/sh
# A week of the office building (bench/week-office.json: daily load profile
# per phase, tariff input every night), headless at full speed, in both
# fidelities (--fidelity sample: every tick; auto: steady cycles in closed
# form, issue 14): wall time and times real time (7 days = 604 800 s of
# simulated time) of each and their ratio in the same run, beside the check
# that the run computed the right thing: the scenario's own assertion of the
# week's forward energy (worked out from the profile in the file) held. A
# run that fails prints no figure and fails the benchmark.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
SCEN=${SCEN:-bench/week-office.json}
SIM_SECONDS=${SIM_SECONDS:-604800}
if [ ! -f "$SCEN" ]; then
    echo "bench_scenario: $SCEN: no such file"
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
walls=""
for mode in sample auto; do
    start=$(date +%s.%N)
    "$BIN" --headless --quiet --speed max --fidelity "$mode" --scenario "$SCEN" >"$log"
    st=$?
    end=$(date +%s.%N)
    held=$(grep -c '"event":"assert".*"ok":true' "$log")
    failed=$(grep -c '"event":"assert".*"ok":false' "$log")
    if [ "$st" -ne 0 ] || [ "$held" -eq 0 ] || [ "$failed" -ne 0 ]; then
        echo "$SCEN --fidelity $mode: failed (status $st, assertions held $held, failed $failed): no figure"
        exit 1
    fi
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
    walls="$walls $wall"
    awk -v wall="$wall" -v sim="$SIM_SECONDS" -v scen="$SCEN" -v held="$held" -v mode="$mode" 'BEGIN {
        printf "%s --fidelity %s: %d s simulated, 3 phases at 8 kHz: wall %.1f s, %.0f x real time; check: %d assertion(s) of the week held\n", scen, mode, sim, wall, sim / wall, held
    }'
done
echo "$walls" | awk '{ printf "fidelity auto is %.1f x faster than sample on the same week (same run)\n", $1 / $2 }'
