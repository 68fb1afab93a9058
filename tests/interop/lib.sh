# Shared by the interop tests (sourced, not run): TAP counters, a temporary
# directory, and the twin started on a pty with a symlink, stopped by its PID.
#
#   . "$(dirname "$0")/lib.sh"
#   start_twin SCENARIO_JSON [metersim flags...]   -> $PORT (the symlink), $twin_pid, $T0, $TL
#   wait_published                                  -> the first 1 s window is out
#   stop_twin
#
# The twin runs in real time on a pty (docs/interop.md). Waits poll for a
# file or a line with short retry steps; nothing sleeps a fixed time.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3 # Debian's python: it has pymodbus (the pyenv one on PATH does not)
tmp=$(mktemp -d)
PORT=$tmp/meter
twin_pid=""
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds, else not ok with its output.
check() {
    desc=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then
        ok "$desc"
    else
        notok "$desc"
        sed 's/^/# /' "$tmp/check.out"
    fi
}
now() { date +%s.%N; }

stop_twin() {
    if [ -n "$twin_pid" ]; then
        kill "$twin_pid" 2>/dev/null
        wait "$twin_pid" 2>/dev/null
        twin_pid=""
    fi
}
cleanup() {
    stop_twin
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_twin SCENARIO_TEXT [flags...]: $T0 is the wall time before the start,
# $TL when the symlink was seen. Fails if the symlink does not come in 5 s.
start_twin() {
    printf '%s\n' "$1" >"$tmp/scenario.json"
    shift
    rm -f "$PORT"
    T0=$(now)
    "$BIN" --headless --modbus "pty:$PORT" --scenario "$tmp/scenario.json" --until 300s "$@" \
        >"$tmp/twin.log" 2>"$tmp/twin.err" &
    twin_pid=$!
    i=0
    while [ ! -L "$PORT" ]; do
        i=$((i + 1))
        if [ $i -gt 250 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
            echo "# the twin did not open $PORT: $(cat "$tmp/twin.err")"
            return 1
        fi
        sleep 0.02
    done
    TL=$(now)
    return 0
}

# The first whole-cycle window (at least 1 s) is published around t = 1 s;
# before that the measurement registers read 0. The log's second line (t = 2)
# says it is out (the log is used as a clock here, never for values).
wait_published() {
    i=0
    while ! grep -q '"t":2[,}]' "$tmp/twin.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 250 ] && return 1
        sleep 0.02
    done
    return 0
}

# The scenario every interop test uses: 3 x 230 V x 10 A at PF 1, 50 Hz, no
# noise: 2.3 kW, 0 kvar, 2.3 kVA per phase, 6.9 kW in all.
SCENARIO_10A='{"meter": {"model": "4PU", "serial": "13070001"},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 10, "pf": 1}}'
