#!/bin/sh
# A week of the office building (scenarios/week-office.json: daily load
# profile per phase, tariff input every night), headless at full speed:
# wall time and times real time (7 days = 604 800 s of simulated time).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
SCEN=${SCEN:-scenarios/week-office.json}
SIM_SECONDS=${SIM_SECONDS:-604800}
start=$(date +%s.%N)
"$BIN" --headless --quiet --speed max --scenario "$SCEN" >/dev/null
st=$?
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v sim="$SIM_SECONDS" -v st="$st" -v scen="$SCEN" 'BEGIN {
    wall = e - s
    x = 0
    if (wall > 0)
        x = sim / wall
    printf "%s: %d s simulated, 3 phases at 8 kHz: wall %.1f s, %.0f x real time, status %d\n", scen, sim, wall, x, st
}'
exit $st
