#!/bin/sh
# Fleet benchmark: how many meters one core keeps at or above real time
# (issue 14), every meter simulated, while a Modbus master polls every one of
# them over TCP. In each fidelity mode the twin has (sample level always;
# --fidelity auto as well when `metersim --help` lists --fidelity).
#
# The fleet: N meters on B buses (B = 10, or more so that no bus has over 160
# meters; a template of N/B per bus, IDs 1..N/B, loads varied, a 5th
# harmonic), each bus behind its own Modbus TCP gateway (wire time on: 9600
# 8E1, 10 ms turnaround). The twin is one thread (BENCH_FLEET_PIN=1 pins it
# to core 0 and the master to core 1); the master (bench/fleet/poll.c) keeps
# one request in flight per bus,
# reading each meter's Modbus ID (0x4003) in turn until every meter has been
# read at least once.
#
# The search, bounded to about 2 minutes a mode:
#   1. an estimate: the same fleet without endpoints, 1000 meters, 5 simulated
#      seconds headless at full speed; simulated seconds per CPU second x 1000
#      is what one core could carry (steers the search only, never printed as
#      the figure);
#   2. real-time trials (--speed 1, the master polling): the first at 80 % of
#      the estimate, then doubling up or halving down until a size that keeps
#      real time and one that does not are known, then bisection, to 250
#      meters or 1/8 of the size, at most BENCH_FLEET_TRIALS (5) trials. The
#      scenario format's limit is 10 000 meters: a size of 10 000 that keeps
#      real time ends the search ("at least 10 000").
# A size keeps real time when the run's --stats say the meters were never
# more than 100 ms behind the wall clock (after the first second) and the
# simulated time reached the wall time, and the master's every reply was right
# (transaction id, unit, the ID it reads) with every meter read.
#
# The figure is the largest size that kept real time, printed beside that
# check (the run's lag, simulated/wall, requests all right) and the size that
# fell behind. A run that fails (the twin's non-zero status, it never listens,
# a file missing, the master cannot be built) prints no figure and fails the
# benchmark; so does a mode where no size kept real time.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
OUT=$BUILD/bench/fleet
TRIALS=${BENCH_FLEET_TRIALS:-5}
LIMIT=10000 # meters in one scenario (docs/scenario.md)
# TCP ports: BASE .. BASE+63 (a trial has at most 63 buses; each trial's
# twin has ended before the next one listens)
PORT=${BENCH_FLEET_PORT:-$((20000 + $$ % 20000))}
mkdir -p "$OUT"
tmp=$(mktemp -d)
twin=""
cleanup() {
    [ -n "$twin" ] && kill "$twin" 2>/dev/null && wait "$twin" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if [ ! -x "$BIN" ]; then
    echo "bench_fleet: $BIN: no such program: no figure"
    exit 1
fi
cc -std=c11 -O2 -Wall -Wextra -Werror bench/fleet/poll.c -o "$OUT/poll" || {
    echo "bench_fleet: cannot build bench/fleet/poll.c: no figure"
    exit 1
}
# BENCH_FLEET_PIN=1: the twin on core 0, the master on core 1 (on an idle
# machine). Unpinned by default: on a shared machine a pinned twin waits for
# its core while the other is free. The twin is one thread either way: what it
# does, one core does.
pin_twin="" pin_poll=""
if [ "${BENCH_FLEET_PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_twin="taskset -c 0"
    pin_poll="taskset -c 1"
fi
modes="sample"
fid_sample=""
if "$BIN" --help 2>&1 | grep -q -- '--fidelity'; then
    modes="sample auto"
    fid_sample="--fidelity sample"
fi

# scenario N BASE BUSES ENDPOINTS(0|1) > FILE
scenario() {
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
n, base, nb, ep = (int(x) for x in sys.argv[1:5])
per = n // nb
buses = []
for b in range(nb):
    bus = {"name": "bus%d" % b,
           "meters": [{"count": per, "name": "b%d-{n:03}" % b, "serial": "%02d%06d" % (b + 10, 1),
                       "settings": {"modbus_id": 1}, "vary": {"current": [0.5, 1.5]}}]}
    if ep:
        bus["modbus"] = ["tcp:127.0.0.1:%d" % (base + b)]
    buses.append(bus)
print(json.dumps({"name": "fleet", "buses": buses,
                  "load": {"current": 10, "pf": 0.95, "harmonics": [{"order": 5, "percent": 4}]}}))
PY
}

buses_for() { # N: at most 160 meters a bus, so that the master reads them all soon;
    # every bus carries the same number, so a count that does not divide into
    # at most 63 buses of 160 takes buses of up to 200 (10 000: 50 x 200, not
    # 63 x 158 = 9 954 meters, which could never reach the format's limit)
    nb=$((($1 + 159) / 160))
    [ "$nb" -lt 10 ] && nb=10
    if [ $(($1 % nb)) -ne 0 ]; then
        alt=$((($1 + 199) / 200))
        [ "$alt" -ge 10 ] && [ $(($1 % alt)) -eq 0 ] && nb=$alt
    fi
    echo "$nb"
}

stat_of() { # KEY: from $stats
    printf '%s' "$stats" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

wait_ports() { # BASE BUSES: all listening, or the twin died
    i=0
    while :; do
        up=$(ss -ltn | awk -v lo="$1" -v hi="$(($1 + $2))" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p < hi) c++ } END { print c + 0 }')
        [ "$up" -eq "$2" ] && return 0
        kill -0 "$twin" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -gt 3000 ] && return 1
        sleep 0.02
    done
}

# estimate FID: meters one core could carry, from a headless run (stdout)
estimate() {
    scenario 1000 0 10 0 >"$tmp/probe.json"
    $pin_twin "$BIN" $1 --headless --quiet --stats --speed max --scenario "$tmp/probe.json" \
        --until 5s >/dev/null 2>"$tmp/probe.err" || return 1
    stats=$(grep '"stats"' "$tmp/probe.err")
    sim=$(stat_of simulated_s)
    cpu=$(stat_of cpu_s)
    [ -n "$sim" ] && [ -n "$cpu" ] || return 1
    awk -v s="$sim" -v c="$cpu" 'BEGIN { if (c <= 0) c = 0.001; printf "%d", 1000 * s / c }'
}

# trial FID N: status 0 kept, 1 fell behind, 2 the run failed; one line either way.
trial() {
    fid=$1 n=$2 share=""
    nb=$(buses_for "$n")
    per=$((n / nb))
    n=$((per * nb))
    base=$PORT
    scenario "$n" "$base" "$nb" 1 >"$tmp/fleet.json"
    # A bus carries about 32 requests a second at 9600 baud, about 14 when the
    # machine is busy: long enough for every meter once either way.
    secs=$(awk -v p="$per" 'BEGIN { s = p / 14 + 4; if (s < 8) s = 8; printf "%d", s }')
    until=$((secs + 8))
    $pin_twin "$BIN" $fid --headless --quiet --stats --scenario "$tmp/fleet.json" --until "${until}s" \
        >/dev/null 2>"$tmp/twin.err" &
    twin=$!
    if ! wait_ports "$base" "$nb"; then
        echo "  $n meters: the twin did not listen: $(tail -3 "$tmp/twin.err")"
        return 2
    fi
    $pin_poll "$OUT/poll" 127.0.0.1 "$base" "$nb" "$per" "$secs" >"$tmp/poll.out" 2>&1
    poll_status=$?
    line="$(grep -c 'bad reply' "$tmp/poll.out") bad replies logged; $(tail -1 "$tmp/poll.out")"
    # A twin that keeps real time ends when its simulated time does; one
    # far behind is stopped (bounded trials): it fell behind.
    i=0
    while kill -0 "$twin" 2>/dev/null && [ $i -lt $(((until - secs + 10) * 5)) ]; do
        sleep 0.2
        i=$((i + 1))
    done
    if kill -0 "$twin" 2>/dev/null; then
        kill "$twin"
        wait "$twin"
        twin=""
        printf '  %5d meters on %d buses: fell behind real time (still running %d s after its end: stopped); master: %s\n' \
            "$n" "$nb" $((until - secs + 10)) "$line"
        return 1
    fi
    wait "$twin"
    twin_status=$?
    twin=""
    stats=$(grep '"stats"' "$tmp/twin.err")
    lag=$(stat_of max_lag_ms)
    sim=$(stat_of simulated_s)
    wall=$(stat_of wall_s)
    cpu=$(stat_of cpu_s)
    if [ "$twin_status" -ne 0 ] || [ -z "$lag" ]; then
        echo "  $n meters: the twin failed (status $twin_status): $(tail -3 "$tmp/twin.err")"
        return 2
    fi
    verdict=$(awk -v l="$lag" -v s="$sim" -v w="$wall" 'BEGIN { print (l <= 100 && s >= w - 0.5) ? "kept" : "fell behind" }')
    [ "$poll_status" -eq 0 ] || verdict="fell behind"
    # the share of a core the twin had: below its need, the machine was busy
    share=$(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0) ? 100 * c / w : 0 }')
    last="max lag $lag ms, $sim s simulated in $wall s, cpu $cpu s ($share % of a core); master: $line"
    printf '  %5d meters on %d buses: %s real time (%s)\n' "$n" "$nb" "$verdict" "$last"
    [ "$verdict" = kept ]
}

round() { # N to a multiple of 250, within 250..LIMIT
    awk -v n="$1" -v l="$LIMIT" 'BEGIN { r = int(n / 250 + 0.5) * 250; if (r < 250) r = 250; if (r > l) r = l; print r }'
}

# Other work on the machine takes the twin's core: said, so the figures can be read.
echo "fleet: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores at the start"
status=0
for mode in $modes; do
    if [ "$mode" = auto ]; then fid="--fidelity auto"; else fid=$fid_sample; fi
    est=$(estimate "$fid") || {
        echo "fleet ($mode): the estimate run failed: $(tail -3 "$tmp/probe.err"): no figure"
        status=1
        continue
    }
    echo "fleet ($mode): by CPU time, headless without a master, one core carries about $est meters (1000 meters, 5 s simulated; an extrapolation, it only steers the trials); real-time trials with the master:"
    lo=0 hi=0 lo_line="" t=0 failed=0 hi_share=""
    n=$(round $((est * 8 / 10)))
    while [ "$t" -lt "$TRIALS" ]; do
        t=$((t + 1))
        trial "$fid" "$n"
        st=$?
        if [ "$st" -eq 2 ]; then
            failed=1
            break
        elif [ "$st" -eq 0 ]; then
            lo=$n lo_line=$last
            [ "$n" -ge "$LIMIT" ] && break
        else
            hi=$n hi_share=$share
        fi
        if [ "$hi" -eq 0 ]; then
            next=$(round $((lo * 2)))
        elif [ "$lo" -eq 0 ]; then
            next=$(round $((hi / 2)))
            [ "$next" -ge "$hi" ] && break
        else
            [ $((hi - lo)) -le 250 ] || [ $((hi - lo)) -le $((lo / 8)) ] && break
            next=$(round $(((lo + hi) / 2)))
            { [ "$next" -le "$lo" ] || [ "$next" -ge "$hi" ]; } && break
        fi
        n=$next
    done
    if [ "$failed" -ne 0 ]; then
        echo "fleet ($mode): a run failed: no figure"
        status=1
        continue
    fi
    if [ "$lo" -eq 0 ]; then
        echo "fleet ($mode): no size kept real time: no figure"
        status=1
        continue
    fi
    if [ "$mode" = auto ]; then target=10000; else target=1000; fi
    above="fell behind at $hi"
    [ "$hi" -eq 0 ] && above="no larger size tried"
    [ "$lo" -ge "$LIMIT" ] && above="the scenario format's limit: at least $LIMIT"
    # behind with a small share of a core: the machine's other work, not the twin
    [ -n "$hi_share" ] && [ "$hi_share" -lt 80 ] &&
        above="$above, where the twin had only $hi_share % of a core: the machine was busy"
    awk -v b="$lo" -v t="$target" -v m="$mode" -v above="$above" -v chk="$lo_line" 'BEGIN {
        v = (b >= t) ? "met" : "NOT met"
        printf "fleet (%s): %d meters kept at real time on one core (%s; target >= %d: %s); check: %s\n", m, b, above, t, v, chk
    }'
done
exit $status
