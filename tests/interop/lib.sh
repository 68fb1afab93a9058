# Shared by the interop tests (sourced, not run): the twin started on a pty
# with a symlink; the TAP counters, the temporary directory and stop_twin are
# tests/tap.sh's.
#
#   . "$(dirname "$0")/lib.sh"
#   start_twin SCENARIO_JSON [metersim flags...]   -> $PORT (the symlink), $twin_pid, $T0, $TL
#   wait_published                                  -> the first 1 s window is out
#   stop_twin
#
# The twin runs in real time on a pty (docs/interop.md). Waits poll for a
# file or a line with short retry steps; nothing sleeps a fixed time.
# shellcheck source=../tap.sh
. "$(dirname "$0")/../tap.sh"
PORT=$tmp/meter
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

# The CT-operated variant and an outage (issue 12): a 2PCT (0x4002 1113) at
# its factory 5/5, 4 A PF 1 at its terminals (the transformers' secondary),
# 230 V, 50 Hz; every phase at 0 V from 4 s to 7 s. Each client first sets
# the ratio with the manual's own A3.3 command (01 10 401F 0002 04 9995 0005;
# node-mbus, which has no such write over M-Bus, gets it as a scenario
# setting) and reads primary values: I = 4 A x 9995/5 = 7996 A, P = S =
# 230 V x 7996 A = 1839.08 kW per phase, computed by each client from these
# numbers. During the outage a read times out (the meter is off: manual 4,
# 6.6.12); the supply returns at 7 s, the meter boots for 0.5 s
# (docs/decisions.md "Supply and boot"), and the first read at t = 8 s
# succeeds: one power-down (0x4016), the ratio kept.
CT_SECONDARY=4
CT_PRIMARY=9995
CT_U=230
SCENARIO_CT='{"meter": {"model": "2PCT", "serial": "13070001", "settings": {"mbus_id": 1, "mbus_baud": 9600}},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 4, "pf": 1},
 "timeline": [{"at": "4s", "grid": {"voltage": 0}}, {"at": "7s", "grid": {"voltage": 230}}]}'

# wait_log_t N: the twin's log has reached its reading of t = N s (the log as
# a clock: it runs in real time). Fails after 20 s.
wait_log_t() {
    i=0
    while ! grep -q "\"t\":$1[,}]" "$tmp/twin.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 1000 ] && return 1
        sleep 0.02
    done
    return 0
}

# number FILE: the unnumbered "ok - " / "not ok - " lines of a client, numbered.
number() {
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        *) echo "# $line" ;;
        esac
    done <"$1"
}

# ct_outage_stages CLIENT...: with the twin of SCENARIO_CT running, CLIENT is
# called as `CLIENT OP` for OP = write (at once: the A3.3 ratio write and its
# read-back), values (t = 3: the primary values of a published window after
# the write), down (t = 5: in the outage, must time out), up (t = 8: after the
# boot, must answer at the first try); it prints "ok - " / "not ok - " lines.
ct_outage_stages() {
    for stage in write:0 values:3 down:5 up:8; do
        op=${stage%:*} at=${stage#*:}
        if [ "$at" -gt 0 ] && ! wait_log_t "$at"; then
            notok "the twin's log reaches t = $at s"
            continue
        fi
        "$@" "$op" >"$tmp/stage.out" 2>&1
        number "$tmp/stage.out"
    done
}
