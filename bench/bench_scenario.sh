#!/bin/sh
# A week of the office building (bench/week-office.json: daily load profile
# per phase, tariff input every night), headless at full speed: wall time and
# times real time (7 days = 604 800 s of simulated time), beside the check
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
start=$(date +%s.%N)
"$BIN" --headless --quiet --speed max --scenario "$SCEN" >"$log"
st=$?
end=$(date +%s.%N)
held=$(grep -c '"event":"assert".*"ok":true' "$log")
failed=$(grep -c '"event":"assert".*"ok":false' "$log")
if [ "$st" -ne 0 ] || [ "$held" -eq 0 ] || [ "$failed" -ne 0 ]; then
    echo "$SCEN: failed (status $st, assertions held $held, failed $failed): no figure"
    exit 1
fi
awk -v s="$start" -v e="$end" -v sim="$SIM_SECONDS" -v scen="$SCEN" -v held="$held" 'BEGIN {
    wall = e - s
    printf "%s: %d s simulated, 3 phases at 8 kHz: wall %.1f s, %.0f x real time; check: %d assertion(s) of the week held\n", scen, sim, wall, sim / wall, held
}'
