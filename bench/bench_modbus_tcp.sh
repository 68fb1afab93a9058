#!/bin/sh
# Modbus TCP benchmark: requests per second and p50/p99 latency of a
# 2-register read (unit 1, 03 5002 0002), one request at a time, by the same
# libmodbus TCP client (bench/modbus/tcp_client.c) against every server, in
# the same run, on the same machine, each on its own free port on 127.0.0.1:
#   the twin (--fast --modbus tcp:127.0.0.1:PORT, its MBAP gateway),
#   a minimal libmodbus TCP server (bench/modbus/tcp_server_libmodbus.c:
#     modbus_tcp_listen + modbus_receive + modbus_reply, the same 0x5000 block),
#   pymodbus's TCP server (bench/modbus/tcp_server_pymodbus.py).
# Every reply is checked (U L1 = 230 V within 0.5 V for the scenario 230 V,
# 10 A, PF 1); a run that fails or reads a wrong value prints no figure
# ("failed: why") and the script exits non-zero. Target: twin / libmodbus
# server >= 1.0. The RTU counterpart is bench_modbus.sh.
#
#   BENCH_MODBUS_SECONDS (4)  BENCH_MODBUS_TCP_REQUESTS (1000000): per server
#   and round; BENCH_MODBUS_ROUNDS (3): the servers in turn, the best of each
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3 # Debian's python: it has pymodbus (the pyenv one on PATH does not)
OUT=$BUILD/bench/modbus
SECS=${BENCH_MODBUS_SECONDS:-4}
ROUNDS=${BENCH_MODBUS_ROUNDS:-3}
MAXREQ=${BENCH_MODBUS_TCP_REQUESTS:-1000000}
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=""
cleanup() {
    stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

MB="$(pkg-config --cflags --libs libmodbus)"
# shellcheck disable=SC2086
cc -std=c11 -O2 -Wall -Wextra -Werror bench/modbus/tcp_client.c -o "$OUT/tcp_client" $MB -lm &&
    cc -std=c11 -O2 -Wall -Wextra -Werror bench/modbus/tcp_server_libmodbus.c \
        -o "$OUT/tcp_server_libmodbus" $MB -lm || {
    echo "bench_modbus_tcp: cannot build bench/modbus/tcp_*.c (make deps: libmodbus-dev)"
    exit 1
}

# A port nobody listens on now (the system's choice for port 0). Another
# program could take it before the server binds; the server then fails to
# listen and its row says so.
free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
running() { # PID: alive and not a zombie
    [ -r "/proc/$1/stat" ] || return 1
    pstate=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
    [ -n "$pstate" ] && [ "$pstate" != Z ]
}
# wait_listen PID PORT: polls (20 ms steps, 10 s at most) until PID itself
# listens on 127.0.0.1:PORT, without connecting; fails at once if PID ends.
wait_listen() {
    i=0
    while ! ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"; do
        running "$1" || return 1
        i=$((i + 1))
        [ $i -gt 500 ] && return 1
        sleep 0.02
    done
}
start() { # command...: in the background, its PID in $last, kept for stop
    "$@" >"$tmp/server.log" 2>&1 &
    last=$!
    pids="$pids $last"
}
stop() { # every server started, by PID: TERM, then KILL after 5 s
    for p in $pids; do
        kill "$p" 2>/dev/null
        i=0
        while running "$p" && [ $i -lt 250 ]; do
            i=$((i + 1))
            sleep 0.02
        done
        running "$p" && kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    pids=""
}
oneline() { awk 'NR > 1 { printf "; " } { printf "%s", $0 }' "$1" | cut -c1-300; }
echo '{"meter": {"turnaround": "10ms"}, "load": {"current": 10, "pf": 1}}' >"$tmp/sc.json"

status=0
# bench KEY LABEL command...: the command is the server, listening on $port
# (set by the caller from free_port). The round's line goes to $tmp/KEY when
# it is the best (most requests per second) of the rounds so far; a failed
# round's line always does, and stays.
bench() {
    key=$1
    label=$2
    shift 2
    start "$@"
    if ! wait_listen "$last" "$port"; then
        if running "$last"; then
            line="failed: it does not listen on 127.0.0.1:$port after 10 s: $(oneline "$tmp/server.log")"
        else
            wait "$last" 2>/dev/null
            line="failed: the server exited (status $?) before listening: $(oneline "$tmp/server.log")"
        fi
    else
        line=$("$OUT/tcp_client" 127.0.0.1 "$port" "$SECS" "$MAXREQ" 1 2>"$tmp/client.err")
        st=$?
        if [ $st -ne 0 ] || [ "${line%% *}" != requests ]; then
            # no figure from a failed run: only why
            line="failed: client status $st: $(oneline "$tmp/client.err")"
        fi
    fi
    stop
    case $line in failed*)
        status=1
        echo "$label|$line" >"$tmp/$key"
        return
        ;;
    esac
    old=$(cat "$tmp/$key" 2>/dev/null)
    case $old in *"|failed"*) return ;; esac
    if [ -z "$old" ] || [ "$(rps_of "$line")" -gt "$(rps_of "${old#*|}")" ]; then
        echo "$label|$line" >"$tmp/$key"
    fi
}
rps_of() { printf '%s' "$1" | sed -n 's/.* rps \([0-9]*\).*/\1/p'; }

# The servers in turn, ROUNDS times, each figure the best of its rounds: the
# round trip on loopback is mostly the kernel waking the other process, and
# on a shared VM that moves by x4 with the neighbours' load (25 us with the
# other CPU busy, 90 us with it idle); rounds in turn give every server the
# same conditions to be best in.
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    port=$(free_port)
    bench twin "twin (--fast)" "$BIN" --headless --fast --modbus "tcp:127.0.0.1:$port" \
        --scenario "$tmp/sc.json" --quiet
    port=$(free_port)
    bench libmodbus "libmodbus TCP server" "$OUT/tcp_server_libmodbus" "$port"
    port=$(free_port)
    bench pymodbus "pymodbus TCP server" $PY bench/modbus/tcp_server_pymodbus.py "$port"
done
results=$(cat "$tmp/twin" "$tmp/libmodbus" "$tmp/pymodbus")
results="$results
"

printf '%-22s %9s %9s %9s %7s  %s\n' "server (best of $ROUNDS)" "req/s" "p50 us" "p99 us" "errors" "check: U L1 read (230 V +- 0.5)"
printf '%s' "$results" | while IFS='|' read -r label line; do
    # shellcheck disable=SC2086
    set -- $line
    if [ "${1:-}" = requests ]; then
        printf '%-22s %9s %9s %9s %7s  %s V over %s requests\n' "$label" "$6" "$8" "${10}" "${14}" \
            "${16}" "$2"
    else
        printf '%-22s %s\n' "$label" "$line"
    fi
done
rps() { printf '%s' "$results" | grep -F "$1|requests " | sed -n 's/.* rps \([0-9.]*\) .*/\1/p'; }
ratio() { # LABEL A B [TARGET]
    a=$(rps "$2")
    b=$(rps "$3")
    if [ -n "$a" ] && [ -n "$b" ]; then
        awk -v a="$a" -v b="$b" -v l="$1" -v t="${4:-}" 'BEGIN {
            r = a / b
            if (t == "") { printf "%-34s %6.2f\n", l, r; exit }
            v = "NOT met"; if (r >= t) v = "met"
            printf "%-34s %6.2f  (target >= %s: %s)\n", l, r, t, v }'
    else
        echo "$1: not measured (a run failed)"
    fi
}
ratio "twin / libmodbus TCP server" "twin (--fast)" "libmodbus TCP server" 1.0
ratio "twin / pymodbus TCP server" "twin (--fast)" "pymodbus TCP server"
exit $status
