#!/bin/sh
# --http's changes are timeline events (issue 16): with --record, a session
# of a Modbus master (pymodbus over Modbus TCP) while the API changes the
# physics, the settings, the Bluetooth link and presses a button is replayed
# by --replay to the same reply bytes (docs/record.md), so every change was
# recorded at the instant it took effect. Ports 47150-47151. Speaks TAP.
. "$(dirname "$0")/http_lib.sh"

SC='{"name":"http record","grid":{"voltage":230},"load":{"current":10,"pf":0.9},
 "meter":{"name":"m1","serial":"13070001"}}'
start_http 47150 "$SC" --modbus tcp:47151 --record "$tmp/rec.jsonl" ||
    { echo "not ok 1 - the twin starts"; exit 1; }
ok "the twin starts with --http, Modbus TCP and --record"

cat >"$tmp/poll.py" <<'PY'
# poll.py PORT UNIT N: N reads of U L1..L3 and the tariff, 100 ms apart
import sys, time
from pymodbus.client import ModbusTcpClient
port, unit, n = (int(x) for x in sys.argv[1:4])
c = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
c.connect()
for i in range(n):
    c.read_holding_registers(0x5002, 6, slave=unit)
    c.read_holding_registers(0x6048, 1, slave=unit)
    time.sleep(0.1)
c.close()
PY
"$PY" "$tmp/poll.py" 47151 1 5
api POST /api/meters/0/physics '{"voltage":[220,225,235],"current":[4,5,6],"pf":[1,0.5,-0.8],"tariff_input":true}'
c1=$code
"$PY" "$tmp/poll.py" 47151 1 15
api PUT /api/meters/0/settings '{"password":"0000","settings":{"modbus_id":3,"bluetooth":1}}'
c2=$code
api POST /api/meters/0/connect
c3=$code
api POST /api/meters/0/buttons '{"button":"right"}'
c4=$code
api POST /api/meters/0/physics '{"supply":[true,false,true],"frequency":49.8,"direction":"export"}'
c5=$code
"$PY" "$tmp/poll.py" 47151 3 15
expect "the API's changes were accepted" [ "$c1$c2$c3$c4$c5" = 200200200200200 ]
stop_twin
expect "the recording holds them as actions" eval 'grep -q "\"action\":\"voltage\"" "$tmp/rec.jsonl" && grep -q "\"action\":\"setting\"" "$tmp/rec.jsonl" && grep -q "\"action\":\"bluetooth\"" "$tmp/rec.jsonl" && grep -q "\"action\":\"button\"" "$tmp/rec.jsonl" && grep -q "\"action\":\"phase_supply\"" "$tmp/rec.jsonl"'
"$BIN" --replay "$tmp/rec.jsonl" --quiet >"$tmp/replay.log" 2>"$tmp/replay.err"
st=$?
expect "--replay gives the same reply bytes (status 0, identical)" eval '[ $st = 0 ] && grep -q identical "$tmp/replay.err" || { cat "$tmp/replay.err"; false; }'
echo "1..$n"
