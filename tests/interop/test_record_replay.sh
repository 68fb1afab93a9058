#!/bin/sh
# Record and replay (issue 15, point 4): mbpoll and node-mbus (libmbus) read
# the twin on two ptys, node-mbus again over M-Bus/TCP (127.0.0.1:41100) and
# mbpoll over Modbus TCP (127.0.0.1:41102, through the twin's gateway), while
# it records (--record); the recording then
# replays headless, at full speed, without ports, to the very bytes the
# clients got (--replay compares every reply byte and exits 0 only if all
# are identical); --record-to-scenario turns it into a scenario that passes,
# and that fails once one expected byte is changed. The values the clients
# read are checked against the physics (230 V, 50 Hz), so the bytes compared
# are real replies, not empty ones. Speaks TAP. RECORD_REPLAY_PORT moves the
# two TCP ports (it and it + 2); TRACE_KEEP=DIR keeps traces that differ.
. "$(dirname "$0")/lib.sh"
DIR=$(dirname "$0")/mbus

if ! command -v mbpoll >/dev/null || ! command -v node >/dev/null ||
    [ ! -d "$DIR/node_modules/node-mbus" ]; then
    notok "mbpoll, node and node-mbus are installed (make deps)"
    echo "1..$n"
    exit 1
fi

MBUS=$tmp/mbus
REC=$tmp/session.jsonl
SCEN='{"meter": {"model": "4PU", "serial": "13070001", "settings": {"mbus_id": 1, "mbus_baud": 9600}},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 10, "pf": 1}}'
TCP_PORT=${RECORD_REPLAY_PORT:-41100} # this test's ports (tests/interop: each test its own)
MBAP_PORT=$((TCP_PORT + 2))
if ! start_twin "$SCEN" --mbus "pty:$MBUS" --mbus "tcp:127.0.0.1:$TCP_PORT" \
    --modbus "tcp:127.0.0.1:$MBAP_PORT" --record "$REC" \
    --trace-jsonl "$tmp/live.trace.jsonl" --trace-pcap "$tmp/live.pcap" \
    --trace-vcd "$tmp/live.vcd" ||
    ! wait_published; then
    notok "the twin serves Modbus and M-Bus on ptys, recording: $(cat "$tmp/twin.err")"
    echo "1..$n"
    exit 1
fi
ok "the twin serves Modbus and M-Bus on ptys, recording to a file"

# mbpoll: U L1..L3 and f as Float ABCD (A3.2 0x5002.., 0x5008).
mb() { mbpoll -m rtu -a 1 -b 9600 -P even -0 -B -1 -o 1 "$@" "$PORT"; }
mb -t 4:float -r 0x5002 -c 3 >"$tmp/u.out" 2>&1
st1=$?
mb -t 4:float -r 0x5008 -c 1 >"$tmp/f.out" 2>&1
st2=$?
if [ $st1 -eq 0 ] && [ $st2 -eq 0 ] &&
    $PY - "$tmp" <<'PYEOF'; then
import re, sys
t = sys.argv[1]
def vals(name):
    return [float(m.group(1)) for m in re.finditer(r"\[\d+\]:\s+(\S+)", open(f"{t}/{name}.out").read())]
u, f = vals("u"), vals("f")
ok = len(u) == 3 and all(abs(x - 230) <= 0.5 for x in u) and len(f) == 1 and abs(f[0] - 50) <= 0.01
sys.exit(0 if ok else 1)
PYEOF
    ok "mbpoll reads U = 230 V on L1..L3 and f = 50 Hz through the recording twin"
else
    notok "mbpoll reads U and f (status $st1 $st2): $(cat "$tmp/u.out" "$tmp/f.out")"
fi

# A3.3: 01 06 6048 0002 selects T2; the read-back depends on the write, so
# the replay and the scenario must apply it at its time too.
mbpoll -m rtu -a 1 -b 9600 -P even -0 -B -1 -o 1 -t 4 -r 0x6048 "$PORT" 2 >"$tmp/w.out" 2>&1
mb -t 4 -r 0x6048 -c 1 >"$tmp/t.out" 2>&1
grep -q "Written 1 references" "$tmp/w.out" && grep -qE '^\[24648\]:[[:space:]]+2$' "$tmp/t.out" &&
    ok "mbpoll writes the tariff (0x6048 = 2) and reads it back" ||
    notok "tariff write: $(cat "$tmp/w.out" "$tmp/t.out")"

# mbpoll over Modbus TCP: the same U L1 and f through the gateway (unit 1).
mbpoll -m tcp -p $MBAP_PORT -a 1 -0 -B -1 -o 1 -t 4:float -r 0x5002 -c 1 127.0.0.1 >"$tmp/tu.out" 2>&1
mbpoll -m tcp -p $MBAP_PORT -a 1 -0 -B -1 -o 1 -t 4:float -r 0x5008 -c 1 127.0.0.1 >"$tmp/tf.out" 2>&1
grep -qE '^\[20482\]:[[:space:]]+230$' "$tmp/tu.out" && grep -qE '^\[20488\]:[[:space:]]+50$' "$tmp/tf.out" &&
    ok "mbpoll reads U L1 = 230 V and f = 50 Hz over Modbus TCP" ||
    notok "mbpoll over Modbus TCP: $(cat "$tmp/tu.out" "$tmp/tf.out")"

# node-mbus: a REQ_UD2 to primary address 1: the header names the meter
# (serial 13070001) and the voltage records read 230 V (A2.2, in 10 mV: 23000).
cat >"$tmp/mbus.js" <<'JSEOF'
const path = require('path');
const MbusMaster = require(path.join(process.argv[2], 'node_modules', 'node-mbus'));
const where = process.argv[3];
const master = new MbusMaster(where.startsWith('tcp:')
    ? {host: '127.0.0.1', port: Number(where.slice(4)), timeout: 300, autoConnect: true}
    : {serialPort: where, serialBaudRate: 9600, autoConnect: true});
master.getData(1, (err, data) => {
    let ok = false;
    if (!err) {
        const recs = data.DataRecord || [];
        const info = data.SlaveInformation || {};
        ok = info.Id === 13070001 && recs.some((r) => Math.abs(Number(r.Value) - 23000) <= 50);
    }
    console.log((ok ? 'ok' : 'not ok') + ' - node-mbus reads meter 1 by primary address on ' + where + ': id 13070001, 230 V' + (err ? ' (' + err + ')' : ''));
    master.close();
});
JSEOF
node "$tmp/mbus.js" "$(cd "$DIR" && pwd)" "$MBUS" >"$tmp/js.out" 2>&1
grep -q '^ok - ' "$tmp/js.out" && ok "$(sed -n 's/^ok - //p' "$tmp/js.out")" ||
    notok "node-mbus: $(cat "$tmp/js.out")"
node "$tmp/mbus.js" "$(cd "$DIR" && pwd)" "tcp:$TCP_PORT" >"$tmp/js2.out" 2>&1
grep -q '^ok - ' "$tmp/js2.out" && ok "$(sed -n 's/^ok - //p' "$tmp/js2.out")" ||
    notok "node-mbus over TCP: $(cat "$tmp/js2.out")"
stop_twin

# The recording: both endpoints, their requests and the replies.
if $PY - "$REC" >"$tmp/count.out" 2>&1 <<'PYEOF'; then
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
h = lines[0]
assert h["format"] == "metersim-record" and h["version"] == 2, h
eps = {r["ep"]: r["line"] for r in lines if r.get("type") == "endpoint"}
ins = {e: sum(1 for r in lines if r.get("type") == "in" and r["ep"] == e) for e in eps}
outs = {e: sum(len(r["hex"]) // 2 for r in lines if r.get("type") == "out" and r["ep"] == e) for e in eps}
assert [eps[e] for e in sorted(eps)] == ["modbus", "mbus", "mbus", "modbus"], eps
assert all(ins[e] >= 1 and outs[e] > 0 for e in eps), (ins, outs)
conns = [(r["type"], r["ep"], r["conn"]) for r in lines if r.get("type") in ("connect", "close")]
assert [c for c in conns if c[1] == 2] == [("connect", 2, 0), ("close", 2, 0)], conns
assert [c for c in conns if c[1] == 3] == [("connect", 3, 0), ("close", 3, 0), ("connect", 3, 1), ("close", 3, 1)], conns
assert all("conn" in r for r in lines if r.get("type") in ("in", "out") and r["ep"] >= 2)
# Each Modbus TCP request (mbpoll's two) went on the line at a recorded instant.
assert [(r["ep"], r["conn"]) for r in lines if r.get("type") == "start"] == [(3, 0), (3, 1)], lines
assert lines[-1]["type"] == "end"
print(f"{len(lines)} records; requests {ins}; reply bytes {outs}")
PYEOF
    ok "the recording holds every endpoint's requests and replies, the TCP client's connect and close ($(cat "$tmp/count.out"))"
else
    notok "the recording: $(cat "$tmp/count.out")"
fi

# Replay: headless, full speed, the same bytes.
"$BIN" --replay "$REC" --quiet --trace-jsonl "$tmp/replay.trace.jsonl" \
    --trace-pcap "$tmp/replay.pcap" --trace-vcd "$tmp/replay.vcd" >"$tmp/replay.log" 2>"$tmp/replay.err"
st=$?
[ $st -eq 0 ] && grep -q 'identical' "$tmp/replay.err" &&
    ok "--replay gives byte-identical replies ($(sed -n 's/^metersim: --replay: //p' "$tmp/replay.err"))" ||
    notok "--replay (status $st): $(cat "$tmp/replay.err")"
# ... and the same traces (issue 15: byte-identical replies and traces): the
# JSONL (frames, pulse edges, LCD changes, windows) and the pcap of the live
# run, byte for byte (and so at any pace: the replay runs on its own clock).
if cmp -s "$tmp/live.trace.jsonl" "$tmp/replay.trace.jsonl" && cmp -s "$tmp/live.pcap" "$tmp/replay.pcap" &&
    cmp -s "$tmp/live.vcd" "$tmp/replay.vcd" &&
    [ "$(grep -c '"frame"' "$tmp/live.trace.jsonl")" -gt 10 ] &&
    [ "$(grep -c '"mbtcp"' "$tmp/live.trace.jsonl")" -ge 4 ] &&
    [ "$(grep -c '"lcd"' "$tmp/live.trace.jsonl")" -ge 1 ]; then
    ok "the replay's JSONL, pcap and VCD traces are byte-identical to the live run's"
else
    [ -n "${TRACE_KEEP:-}" ] && cp "$tmp"/live.* "$tmp"/replay.* "$TRACE_KEEP"/
    notok "traces differ: $(cmp "$tmp/live.trace.jsonl" "$tmp/replay.trace.jsonl" 2>&1; cmp "$tmp/live.pcap" "$tmp/replay.pcap" 2>&1; cmp "$tmp/live.vcd" "$tmp/replay.vcd" 2>&1)"
fi

# A recording whose reply was edited: the replay names the record.
$PY - "$REC" "$tmp/edited.jsonl" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
for i, l in enumerate(lines):
    r = json.loads(l)
    if r.get("type") == "out" and r["ep"] == 0:
        b = bytearray.fromhex(r["hex"]); b[0] ^= 0x01; r["hex"] = b.hex()
        lines[i] = json.dumps(r, separators=(",", ":")); break
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PYEOF
edited=$($PY -c "import json,sys; print(next(json.loads(l)['n'] for l in open(sys.argv[1]) if '\"out\"' in l))" "$REC")
"$BIN" --replay "$tmp/edited.jsonl" --quiet >/dev/null 2>"$tmp/edited.err"
st=$?
[ $st -eq 1 ] && grep -q "record $edited (out, endpoint 0)" "$tmp/edited.err" &&
    ok "a recording with one reply byte changed: --replay exits 1 naming record $edited" ||
    notok "edited reply (status $st, record $edited): $(cat "$tmp/edited.err")"

# The recording as a scenario: the requests at their times, the replies as
# expectations; it passes headless (`metersim --headless OUT.json`).
OUT=$tmp/session.json
"$BIN" --record-to-scenario "$REC" "$OUT" 2>"$tmp/conv.err"
st=$?
steps=$($PY -c "
import json, sys
t = json.load(open(sys.argv[1]))['timeline']
print(sum(1 for e in t if 'expect' in e.get('modbus', {})), sum(1 for e in t if 'expect' in e.get('mbus', {})))" "$OUT" 2>&1)
[ $st -eq 0 ] && [ "${steps% *}" -ge 6 ] && [ "${steps#* }" -ge 2 ] &&
    ok "--record-to-scenario writes a scenario with Modbus and M-Bus steps expecting replies ($steps)" ||
    notok "--record-to-scenario (status $st, steps $steps): $(cat "$tmp/conv.err")"
"$BIN" --headless --quiet "$OUT" >"$tmp/scen.log" 2>"$tmp/scen.err"
st=$?
[ $st -eq 0 ] && [ "$(grep -c '"ok":true' "$tmp/scen.log")" -ge 9 ] &&
    ok "the generated scenario passes (status 0, $(grep -c '"ok":true' "$tmp/scen.log") exchanges as recorded)" ||
    notok "the generated scenario (status $st): $(cat "$tmp/scen.err")"

# Edited to expect a wrong value (the L1 voltage's first byte in the first
# Modbus reply), it fails.
$PY - "$OUT" "$tmp/wrong.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
for e in s["timeline"]:
    x = e.get("modbus")
    if x and "expect" in x:
        b = x["expect"].split()
        b[3] = "%02X" % (int(b[3], 16) ^ 0x40)
        x["expect"] = " ".join(b)
        break
json.dump(s, open(sys.argv[2], "w"), indent=1)
PYEOF
"$BIN" --headless --quiet "$tmp/wrong.json" >/dev/null 2>"$tmp/wrong.err"
st=$?
[ $st -eq 1 ] && grep -q 'the reply differs' "$tmp/wrong.err" &&
    ok "edited to expect a wrong value, the scenario fails (status 1: the reply differs)" ||
    notok "the edited scenario (status $st): $(cat "$tmp/wrong.err")"

echo "1..$n"
