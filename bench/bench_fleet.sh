#!/bin/sh
# Fleet benchmark: the largest number of meters one process keeps in real
# time on one core, every meter at sample level (8 kHz), while a Modbus
# master polls every one of them over TCP.
#
# N meters on B buses (B = 10, or more so that no bus has over 240 meters; a
# template of N/B per bus, IDs 1..N/B), each bus
# behind its own Modbus TCP gateway (wire time on: 9600 8E1, 10 ms
# turnaround). The twin runs pinned to one core; the master
# (bench/fleet/poll.c), on the other, keeps one request in flight per bus,
# reading each meter's Modbus ID (0x4003) in turn, until every meter has been
# read at least once. A size "keeps real time" when the run's --stats say the
# meters were never more than 100 ms behind the wall clock (after the first
# second), the simulated time reached the wall time, and every reply was
# right (transaction id, unit, the ID it reads). Sizes grow by 1000 until one
# fails; the largest that held is the figure (target: at least 1000).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
OUT=$BUILD/bench/fleet
MAX=${BENCH_FLEET_MAX:-12000}
STEP=${BENCH_FLEET_STEP:-1000}
mkdir -p "$OUT"
tmp=$(mktemp -d)
twin=""
cleanup() {
    [ -n "$twin" ] && kill "$twin" 2>/dev/null && wait "$twin" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cc -std=c11 -O2 -Wall -Wextra -Werror bench/fleet/poll.c -o "$OUT/poll" || {
    echo "bench_fleet: cannot build bench/fleet/poll.c"
    exit 1
}
cores=$(nproc)
pin_twin="" pin_poll=""
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
    pin_twin="taskset -c 0"
    pin_poll="taskset -c 1"
fi

# A free base port with 10 free ports after it.
base=$((20000 + $$ % 20000))

# scenario N BASE: N meters on 10 buses, bus b on port BASE+b.
scenario() { # N BASE BUSES
    /usr/bin/python3 - "$1" "$2" "$3" >"$tmp/fleet.json" <<'PY'
import json, sys
n, base, nb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per = n // nb
buses = [{"name": "bus%d" % b, "modbus": ["tcp:127.0.0.1:%d" % (base + b)],
          "meters": [{"count": per, "name": "b%d-{n:03}" % b, "serial": "%02d%06d" % (b + 10, 1),
                      "settings": {"modbus_id": 1}, "vary": {"current": [0.5, 1.5]}}]}
         for b in range(nb)]
print(json.dumps({"name": "fleet", "buses": buses,
                  "load": {"current": 10, "pf": 0.95, "harmonics": [{"order": 5, "percent": 4}]}}))
PY
}

wait_ports() { # BASE BUSES: all listening, or the twin died
    i=0
    while :; do
        up=$(ss -ltn | awk -v lo="$1" -v hi="$(($1 + $2))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p < hi) c++ } END { print c + 0 }')
        [ "$up" -eq "$2" ] && return 0
        kill -0 "$twin" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -gt 1500 ] && return 1
        sleep 0.02
    done
}

# trial N: 0 when N meters kept real time; prints one line either way.
trial() {
    n=$1
    nb=$(((n + 239) / 240))
    [ "$nb" -lt 10 ] && nb=10
    per=$((n / nb))
    base=$((base + 70))
    scenario "$n" "$base" "$nb"
    # 32 requests/s per bus at 9600 baud: long enough for every meter once.
    secs=$(awk -v p="$per" 'BEGIN { s = p / 28 + 4; if (s < 8) s = 8; printf "%d", s }')
    until=$((secs + 6))
    $pin_twin "$BIN" --headless --quiet --stats --scenario "$tmp/fleet.json" --until "${until}s" \
        >/dev/null 2>"$tmp/twin.err" &
    twin=$!
    if ! wait_ports "$base" "$nb"; then
        echo "$n meters: the twin did not listen: $(tail -3 "$tmp/twin.err")"
        return 1
    fi
    line=$($pin_poll "$OUT/poll" 127.0.0.1 "$base" "$nb" "$per" "$secs" 2>&1)
    poll_status=$?
    wait "$twin"
    twin_status=$?
    twin=""
    stats=$(grep '"stats"' "$tmp/twin.err")
    lag=$(printf '%s' "$stats" | sed -n 's/.*"max_lag_ms":\([0-9.]*\).*/\1/p')
    sim=$(printf '%s' "$stats" | sed -n 's/.*"simulated_s":\([0-9.]*\).*/\1/p')
    wall=$(printf '%s' "$stats" | sed -n 's/.*"wall_s":\([0-9.]*\).*/\1/p')
    cpu=$(printf '%s' "$stats" | sed -n 's/.*"cpu_s":\([0-9.]*\).*/\1/p')
    if [ "$twin_status" -ne 0 ] || [ -z "$lag" ]; then
        echo "$n meters: the twin failed (status $twin_status): $(tail -3 "$tmp/twin.err")"
        return 1
    fi
    verdict=$(awk -v l="$lag" -v s="$sim" -v w="$wall" 'BEGIN { print (l <= 100 && s >= w - 0.5) ? "kept" : "fell behind" }')
    printf '%6d meters: %s real time (max lag %s ms, %s s simulated in %s s, cpu %s s); master: %s\n' \
        "$n" "$verdict" "$lag" "$sim" "$wall" "$cpu" "$line"
    [ "$poll_status" -eq 0 ] && [ "$verdict" = kept ]
}

best=0
n=$STEP
while [ "$n" -le "$MAX" ]; do
    if trial "$n"; then
        best=$n
    else
        break
    fi
    n=$((n + STEP))
done
if [ "$best" -eq 0 ]; then
    echo "fleet: no size kept real time"
    exit 1
fi
awk -v b="$best" 'BEGIN { v = "NOT met"; if (b >= 1000) v = "met"; printf "fleet: %d meters kept in real time on one core, every one polled over Modbus TCP (target >= 1000: %s)\n", b, v }'
