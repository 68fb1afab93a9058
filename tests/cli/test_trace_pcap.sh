#!/bin/sh
# --trace-pcap (issue 15, docs/trace.md): tshark dissects the pcap of
# tests/cli/trace/trace-modbus.json (every request and reply of Modbus RTU
# paired, function codes, register values, no malformed packet; the M-Bus
# frames' FT1.2 link layer), then of a Modbus TCP session of mbpoll through
# the gateway (port 41001 of this suite's range). check_pcap.py holds the
# expected values and the tshark options. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
DIR=tests/cli/trace
SC=$DIR/trace-modbus.json
PORT=${TRACE_TEST_PORT:-41001}
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
for tool in tshark mbpoll "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "not ok 1 - $tool is missing (make deps installs it)"
        exit 1
    }
done
checks() { # mode spec pcap
    "$PY" "$DIR/check_pcap.py" "$1" "$2" "$3" $((n + 1)) >"$tmp/tap"
    cat "$tmp/tap"
    n=$((n + $(grep -c '^\(not \)\{0,1\}ok ' "$tmp/tap")))
}

"$BIN" --headless --quiet --scenario "$SC" --trace-pcap "$tmp/rtu.pcap" >/dev/null 2>"$tmp/err"
st=$?
if [ "$st" -eq 0 ] && [ ! -s "$tmp/err" ]; then
    ok "the scenario runs with --trace-pcap (status 0)"
else
    notok "the scenario runs with --trace-pcap (status $st: $(cat "$tmp/err"))"
fi
checks rtu "$SC" "$tmp/rtu.pcap"

# Modbus TCP: a meter with no end, a gateway on PORT; three mbpoll sessions
# once it has measured, then SIGTERM (the run ends as asked, the pcap closed).
printf '{"meter": {"name": "m1", "serial": "13070001"}, "grid": {"voltage": 230}, "load": {"current": 5, "pf": 1}}\n' >"$tmp/tcp.json"
"$BIN" --headless --scenario "$tmp/tcp.json" --modbus "tcp:$PORT" --trace-pcap "$tmp/tcp.pcap" \
    >"$tmp/tcplog" 2>"$tmp/tcperr" &
pid=$!
i=0
# Listening, and past the first published window (the readings at 2 s).
while ! grep -q '"t":2.000' "$tmp/tcplog" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 1000 ] && break
    sleep 0.02
done
mbpoll -m tcp -p "$PORT" -a 1 -t 4:hex -r 0x5002 -c 6 -0 -1 127.0.0.1 >"$tmp/p1" 2>&1
mbpoll -m tcp -p "$PORT" -a 1 -t 4 -r 0x6048 -0 -1 127.0.0.1 1 >"$tmp/p2" 2>&1
mbpoll -m tcp -p "$PORT" -a 1 -t 3:hex -r 0x5008 -c 2 -0 -1 127.0.0.1 >"$tmp/p3" 2>&1
kill -TERM "$pid"
wait "$pid"
st=$?
pid=""
if [ "$st" -eq 0 ] && grep -q "0x4366" "$tmp/p1"; then
    ok "a Modbus TCP run with --trace-pcap ends on SIGTERM with status 0; mbpoll read 230 V"
else
    notok "the Modbus TCP run: status $st, $(cat "$tmp/tcperr" "$tmp/p1")"
fi
# Expected: function, and the words read (230.0 and 50.0 as Float ABCD).
"$PY" -c '
import json, struct
w = lambda x: list(struct.unpack(">2H", struct.pack(">f", x)))
print(json.dumps([[3, w(230.0) * 3], [6, None], [4, w(50.0)]]))' >"$tmp/want.json"
checks tcp "$tmp/want.json" "$tmp/tcp.pcap"
