#!/bin/sh
# The idle host (docs/decisions.md, "An idle host sleeps"): the CPU the twin
# costs while nothing happens, and while a client that does not read its
# replies keeps sending requests. One meter, 3 x 230 V x 10 A, its log of
# readings every second, served on a pty; each figure over 10 s of wall
# time, from /proc/PID/schedstat (nanoseconds on a CPU), with
# /proc/PID/stat's utime + stime beside it (10 ms ticks: too coarse alone
# for 0.1 % of 10 s):
#   idle            no client; target < 0.1 %
#   stalled client  at 115200 bit/s, a 125-register read (255-byte reply)
#                   every 30 ms, never read: measured once the twin has
#                   told the stall (the pty's buffer is full, replies are
#                   dropped); target < 1 %
# A figure is printed only beside the check that its run was right: after
# the window, a new client reads U L1 and gets 230 V (the scenario's grid),
# and for the stalled client, the twin told the stall. Otherwise no figure,
# and the benchmark fails.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
CLIENT=bench/idle_client.py
WINDOW=${BENCH_IDLE_SECONDS:-10}
tmp=$(mktemp -d)
twin="" client=""
stop() { # PID...: each stopped and waited for
    for p in "$@"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    return 0
}
cleanup() {
    stop "$client" "$twin"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
status=0

start_twin() { # BAUD_CODE: the twin on $tmp/pty
    cat >"$tmp/sc.json" <<J
{"meter": {"model": "4PU", "serial": "13070001", "settings": {"modbus_baud": $1}},
 "grid": {"voltage": 230, "frequency": 50}, "load": {"current": 10, "pf": 1}}
J
    rm -f "$tmp/pty"
    "$BIN" --headless --modbus "pty:$tmp/pty" --scenario "$tmp/sc.json" >"$tmp/log" 2>"$tmp/err" &
    twin=$!
    i=0
    while [ ! -L "$tmp/pty" ]; do
        i=$((i + 1))
        if [ $i -gt 250 ] || ! kill -0 "$twin" 2>/dev/null; then
            echo "bench_idle: the twin did not start: $(cat "$tmp/err")"
            return 1
        fi
        sleep 0.02
    done
}
cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# window LABEL TARGET_PERCENT: the twin's CPU over WINDOW seconds -> $figure
window() {
    a=$(cpu_ns "$twin") ta=$(ticks "$twin") w0=$(date +%s.%N)
    sleep "$WINDOW"
    b=$(cpu_ns "$twin") tb=$(ticks "$twin") w1=$(date +%s.%N)
    figure=$(awk -v a="$a" -v b="$b" -v ta="$ta" -v tb="$tb" -v w0="$w0" -v w1="$w1" \
        -v l="$1" -v t="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        p = (b - a) / 1e9 / (w1 - w0) * 100
        v = "NOT met"; if (p < t) v = "met"
        printf "%s: %.3f %% CPU over %.1f s (stat: %.2f %%) (target < %s %%: %s)", l, p, w1 - w0,
            (tb - ta) / hz / (w1 - w0) * 100, t, v }')
}

# --- idle -------------------------------------------------------------------
if start_twin 6; then
    sleep 1 # past the start-up
    window "idle twin on a pty (9600 8E1)" 0.1
    if $PY "$CLIENT" check "$tmp/pty" 9600 >"$tmp/check" 2>&1 && kill -0 "$twin" 2>/dev/null; then
        echo "$figure; check: then a read of U L1 got 230 V"
    else
        echo "bench_idle: idle: no figure: $(cat "$tmp/check")"
        status=1
    fi
else
    status=1
fi
stop "$twin"
twin=""

# --- a client that does not read ---------------------------------------------
if start_twin 10; then
    $PY "$CLIENT" noread "$tmp/pty" 115200 $((WINDOW + 15)) &
    client=$!
    i=0
    while ! grep -q "the client does not read its replies" "$tmp/err"; do
        i=$((i + 1))
        [ $i -gt 500 ] && break
        sleep 0.02
    done
    if grep -q "the client does not read its replies" "$tmp/err"; then
        window "twin with a client that does not read (115200, 255-byte replies every 30 ms)" 1
        stop "$client"
        client=""
        sleep 0.1 # the last reply (22 ms) is over
        if $PY "$CLIENT" check "$tmp/pty" 115200 >"$tmp/check" 2>&1; then
            echo "$figure; check: the stall was told, then a new client read U L1 = 230 V"
        else
            echo "bench_idle: stalled client: no figure: $(cat "$tmp/check")"
            status=1
        fi
    else
        echo "bench_idle: stalled client: no stall told in 10 s: no figure"
        sed 's/^/  /' "$tmp/err"
        status=1
    fi
else
    status=1
fi
exit $status
