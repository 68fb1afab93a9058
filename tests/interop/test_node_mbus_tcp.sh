#!/bin/sh
# node-mbus (libmbus) as an M-Bus master over TCP: the three meters of
# tests/interop/mbus/three.json served by the twin on --mbus tcp:PORT (M-Bus
# frames on a TCP stream), read by primary address and by secondary address;
# the values it decodes must match the scenario's physics, with the checks of
# node_mbus_check.js (tests/interop/mbus/node_mbus_tcp_check.js). Wire time on:
# the 244-byte telegrams take their 280 ms at 9600 bit/s. Speaks TAP.
#
# Needs: node, and node-mbus in tests/interop/mbus/node_modules (`make deps`).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
DIR=$(dirname "$0")/mbus
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
number() { # file: numbers the unnumbered "ok - ..." / "not ok - ..." lines
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        *) echo "# $line" ;;
        esac
    done <"$1"
}

tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v node >/dev/null 2>&1 || [ ! -d "$DIR/node_modules/node-mbus" ]; then
    notok "node and node-mbus are installed (run: make deps)"
    echo "1..$n"
    exit 1
fi

# The twin on an M-Bus TCP endpoint at a port the system picks (it prints it).
spawn_ms=$(date +%s%3N)
"$BIN" --headless --mbus tcp:127.0.0.1:0 --scenario "$DIR/three.json" --until 300s \
    >"$tmp/log" 2>"$tmp/err" &
pid=$!
# Up when it names its port and its first readings are out (the log's line for
# t = 2; the log is a clock here, never a source of values): 10 s at most.
i=0
port=""
while [ $i -lt 500 ] && kill -0 "$pid" 2>/dev/null; do
    port=$(sed -n 's/^metersim: M-Bus over TCP on tcp:127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/err")
    [ -n "$port" ] && grep -q '"t":2[,}]' "$tmp/log" && break
    sleep 0.02
    i=$((i + 1))
done
if [ -n "$port" ] && grep -q '"t":2[,}]' "$tmp/log"; then
    ok "the twin serves M-Bus over TCP on 127.0.0.1:$port (three meters, 9600 bit/s, wire time on)"
else
    notok "the twin did not open its M-Bus TCP endpoint: $(cat "$tmp/err")"
    echo "1..$n"
    exit 1
fi

node "$DIR/node_mbus_tcp_check.js" 127.0.0.1 "$port" "$spawn_ms" >"$tmp/node" 2>"$tmp/node.err"
st=$?
number "$tmp/node"
sed 's/^/# /' "$tmp/node.err"
[ $st -eq 0 ] || notok "node-mbus TCP check exited with status $st"

# No closure was logged: node-mbus was never dropped (its connection closed by itself).
if grep -q 'closed: \|refused: ' "$tmp/err"; then
    notok "the twin closed node-mbus's connection: $(grep 'closed: \|refused: ' "$tmp/err")"
else
    ok "the twin logged no closure of node-mbus's connection"
fi

kill "$pid"
wait "$pid"
st=$?
pid=""
if [ $st -eq 0 ]; then ok "the twin stops on SIGTERM with status 0"; else notok "the twin exited with status $st: $(cat "$tmp/err")"; fi
echo "1..$n"
