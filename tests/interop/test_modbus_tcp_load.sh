#!/bin/sh
# 32 Modbus TCP clients in parallel, 500 requests each, to 8 meters behind
# one endpoint of the twin (--modbus tcp:127.0.0.1:PORT, its MBAP gateway in
# front of one bus): every reply correct and matched to its transaction id,
# none lost, none crossed (tests/interop/tcp_load.c); then the same pipelined
# 4 deep; no descriptor leaked once the clients are gone; exit status 0 after
# SIGTERM. Then tcp_load is shown to see each kind of fault, against
# tcp_multi_unit_server.py --fault. Speaks TAP.
#
#   TCP_LOAD_SERVER_CMD   replaces the twin: a command line to which the
#                         port is appended, serving units 1-8 on 127.0.0.1,
#                         e.g. "/usr/bin/python3 tests/interop/tcp_multi_unit_server.py"
#   TCP_LOAD_CLIENTS (32), TCP_LOAD_REQUESTS (500)
. "$(dirname "$0")/lib.sh"

bad=0
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
CLIENTS=${TCP_LOAD_CLIENTS:-32}
REQUESTS=${TCP_LOAD_REQUESTS:-500}
UNITS="1 2 3 4 5 6 7 8"
mkdir -p "$BUILD/interop"
LOAD=$BUILD/interop/tcp_load
if ! cc -std=c11 -O2 -Wall -Wextra -Werror -pthread tests/interop/tcp_load.c -o "$LOAD" \
    >"$tmp/cc.out" 2>&1; then
    notok "tcp_load.c builds"
    sed 's/^/# /' "$tmp/cc.out"
    echo "1..$n"
    exit 1
fi
ok "tcp_load.c builds"

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
running() { # PID: alive and not a zombie
    [ -r "/proc/$1/stat" ] || return 1
    pstate=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
    [ -n "$pstate" ] && [ "$pstate" != Z ]
}
# wait_listen PID PORT: polls (20 ms steps, 10 s at most) until PID itself
# listens on 127.0.0.1:PORT, without connecting (a probe connection would
# disturb the descriptor count); fails at once if PID ends.
wait_listen() {
    i=0
    while ! ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"; do
        running "$1" || return 1
        i=$((i + 1))
        [ $i -gt 500 ] && return 1
        sleep 0.02
    done
}
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# stop_server: SIGTERM by PID, up to 5 s to go (then SIGKILL); $stop_status
# is its exit status ("killed" if it had to be killed).
stop_server() {
    kill "$twin_pid" 2>/dev/null
    i=0
    while running "$twin_pid" && [ $i -lt 250 ]; do
        i=$((i + 1))
        sleep 0.02
    done
    if running "$twin_pid"; then
        kill -9 "$twin_pid" 2>/dev/null
        wait "$twin_pid" 2>/dev/null
        stop_status=killed
    else
        wait "$twin_pid" 2>/dev/null
        stop_status=$?
    fi
    twin_pid=""
}
field() { # NAME LINE: the number after NAME in tcp_load's summary
    printf '%s\n' "$2" | sed -n "s/.*\\<$1 \\([0-9.]*\\).*/\\1/p"
}

# --- the endpoint under test ------------------------------------------------
load_test() {
    port=$(free_port)
    if [ -n "${TCP_LOAD_SERVER_CMD:-}" ]; then
        what="TCP_LOAD_SERVER_CMD ($TCP_LOAD_SERVER_CMD)"
        sh -c "exec $TCP_LOAD_SERVER_CMD $port" >"$tmp/server.log" 2>&1 &
    else
        what="the twin"
        sc='{"meters": ['
        for k in $UNITS; do
            [ "$k" = 1 ] || sc="$sc,"
            sc="$sc
  {\"name\": \"m$k\", \"serial\": \"0000000$k\", \"settings\": {\"modbus_id\": $k}}"
        done
        printf '%s\n' "$sc], \"load\": {\"current\": 10, \"pf\": 1}}" >"$tmp/sc.json"
        "$BIN" --headless --fast --modbus "tcp:127.0.0.1:$port" --scenario "$tmp/sc.json" \
            --until 600s --quiet >"$tmp/server.log" 2>&1 &
    fi
    twin_pid=$!
    if ! wait_listen "$twin_pid" "$port"; then
        notok "$what listens on 127.0.0.1:$port (8 meters, IDs 1-8, on one bus)"
        sed 's/^/# /' "$tmp/server.log"
        if running "$twin_pid"; then
            stop_server
        else
            wait "$twin_pid"
            echo "# it exited with status $?"
            twin_pid=""
        fi
        return 1
    fi
    ok "$what listens on 127.0.0.1:$port (8 meters, IDs 1-8, on one bus)"
    before=$(fds "$twin_pid")

    for depth in 1 4; do
        # shellcheck disable=SC2086
        line=$(timeout 300 "$LOAD" -p $depth 127.0.0.1 "$port" "$CLIENTS" "$REQUESTS" $UNITS \
            2>"$tmp/load.err")
        st=$?
        desc="$CLIENTS clients x $REQUESTS requests, $( [ $depth = 1 ] && echo "one at a time" ||
            echo "pipelined $depth deep"), over units 1-8"
        total=$((CLIENTS * REQUESTS))
        if [ -z "$(field requests "$line")" ]; then
            notok "$desc: tcp_load ran (status $st)"
            sed 's/^/# /' "$tmp/load.err"
            continue
        fi
        echo "# $line"
        sed 's/^/# /' "$tmp/load.err"
        [ "$(field ok "$line")" = "$total" ] && [ $st -eq 0 ] &&
            ok "$desc: all $total replies correct" ||
            notok "$desc: $(field ok "$line") of $total replies correct (status $st)"
        [ "$(field wrong_tid "$line")" = 0 ] &&
            ok "$desc: every reply matched to its transaction id" ||
            notok "$desc: $(field wrong_tid "$line") replies with a transaction id in flight on no request"
        [ "$(field wrong_unit "$line")" = 0 ] && [ "$(field wrong_value "$line")" = 0 ] &&
            ok "$desc: none crossed (unit id, Modbus ID 0x4003 and serial 0x4000 of the unit asked)" ||
            notok "$desc: $(field wrong_unit "$line") from another unit, $(field wrong_value "$line") with wrong content"
        [ "$(field lost "$line")" = 0 ] && ok "$desc: none lost" ||
            notok "$desc: $(field lost "$line") lost"
    done

    # The clients are gone; the server closes its side when it reads their
    # FIN: poll until its count is back (5 s at most).
    i=0
    after=$(fds "$twin_pid")
    while [ "$after" != "$before" ] && [ $i -lt 250 ]; do
        i=$((i + 1))
        sleep 0.02
        after=$(fds "$twin_pid")
    done
    [ "$after" = "$before" ] && ok "no descriptor leaked ($before open before the clients, $after after)" ||
        notok "descriptors: $before open before the clients, $after after they disconnected"

    stop_server
    [ "$stop_status" = 0 ] && ok "$what exits with status 0 after SIGTERM" ||
        notok "$what: exit status $stop_status after SIGTERM"
}
load_test

# --- tcp_load sees each fault (pymodbus stand-in spoiling every 50th reply) ---
for fault in tid unit value drop; do
    port=$(free_port)
    # shellcheck disable=SC2086
    $PY tests/interop/tcp_multi_unit_server.py --fault $fault "$port" $UNITS >"$tmp/server.log" 2>&1 &
    twin_pid=$!
    if ! wait_listen "$twin_pid" "$port"; then
        notok "tcp_multi_unit_server.py --fault $fault listens"
        sed 's/^/# /' "$tmp/server.log"
        stop_server
        continue
    fi
    # shellcheck disable=SC2086
    line=$("$LOAD" -t 300 127.0.0.1 "$port" 4 100 $UNITS 2>/dev/null)
    st=$?
    stop_server
    case $fault in
    tid) name=wrong_tid what="a reply with another connection's transaction id" ;;
    unit) name=wrong_unit what="a reply from another unit" ;;
    value) name=wrong_value what="a reply with another unit's register content" ;;
    drop) name=lost what="a request never answered" ;;
    esac
    got=$(field "$name" "$line")
    [ $st -ne 0 ] && [ -n "$got" ] && [ "$got" -gt 0 ] &&
        ok "tcp_load fails on $what ($name $got)" ||
        notok "tcp_load did not see $what (status $st): $line"
done

echo "1..$n"
[ "$bad" -eq 0 ]
