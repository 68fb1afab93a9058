#!/bin/sh
# --http and the meter's other interfaces: what the API shows and changes is
# what a real master sees. pymodbus (Debian) reads Modbus TCP through the
# twin's gateway; M-Bus frames are built here from EN 13757-2 (SND_NKE:
# 10 40 A CS 16, answered E5). Checks: A4.4's rows against the registers
# read between two GETs of the same second; a settings change (Modbus ID,
# S0 rate, M-Bus address) reaches Modbus, M-Bus and the state file; a
# physics change (voltages, tariff input, supply) reaches the registers and
# the LCD. Ports 47120-47122. Speaks TAP.
. "$(dirname "$0")/http_lib.sh"

cat >"$tmp/mb.py" <<'PY'
# mb.py PORT UNIT ADDR COUNT: the registers as words, or "error ..."
import sys
from pymodbus.client import ModbusTcpClient
port, unit, addr, count = (int(x, 0) for x in sys.argv[1:5])
c = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
c.connect()
rr = c.read_holding_registers(addr, count, slave=unit)
c.close()
if rr.isError():
    print("error", rr)
else:
    print(" ".join(str(w) for w in rr.registers))
PY
cat >"$tmp/agree.py" <<'PY'
# agree.py HTTP_URL MODBUS_PORT: A4.4's rows against the registers (pymodbus)
# read between two GETs of the same published window; 2: try again.
import json, struct, sys, time, urllib.request
from pymodbus.client import ModbusTcpClient
url, port = sys.argv[1], int(sys.argv[2])
get = lambda: json.load(urllib.request.urlopen(url + "/api/meters/0/readings"))
c = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
c.connect()
a = get()
if a["t_ns"] % 10**9 > 500 * 10**6: # late in the second: wait for the next one
    time.sleep((10**9 - a["t_ns"] % 10**9) / 1e9 + 0.05)
    a = get()
w = {0x5000: c.read_holding_registers(0x5000, 26, slave=1).registers,
     0x6000: c.read_holding_registers(0x6000, 26, slave=1).registers}
b = get()
c.close()
def reg(addr):
    base = addr & 0xF000
    i = addr - base
    return struct.unpack(">f", struct.pack(">HH", w[base][i], w[base][i + 1]))[0]
f32 = lambda x: struct.unpack(">f", struct.pack(">f", x))[0]
if a["t_ns"] // 10**9 != b["t_ns"] // 10**9:
    print("retry: two seconds"); sys.exit(2)
bad = []
for ra, rb in zip(a["instantaneous"], b["instantaneous"]):
    if ra["value"] != rb["value"]:
        print("retry: a new window"); sys.exit(2)
    if f32(ra["value"]) != reg(int(ra["register"], 16)):
        bad.append((ra["label"], ra["value"], reg(int(ra["register"], 16))))
for ra, rb in zip(a["energy"], b["energy"]):
    m = reg(int(ra["register"], 16))
    if not (f32(ra["value"]) <= m <= f32(rb["value"])):
        bad.append((ra["label"], ra["value"], m, rb["value"]))
print(bad or "26 rows agree"); sys.exit(1 if bad else 0)
PY
mb() { "$PY" "$tmp/mb.py" 47121 "$@"; }
mbus_nke() { # ADDRESS: the reply to SND_NKE, in hex ("" for none)
    "$PY" - "$1" <<'PY'
import socket, sys
a = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", 47122))
s.sendall(bytes([0x10, 0x40, a, (0x40 + a) & 0xFF, 0x16]))
s.settimeout(1.0)
try:
    print(s.recv(16).hex())
except socket.timeout:
    print("")
PY
}
f32() { "$PY" -c 'import struct,sys; w=[int(x) for x in sys.argv[1:]]; print(" ".join("%.3f" % struct.unpack(">f", struct.pack(">HH", w[i], w[i+1]))[0] for i in range(0, len(w), 2)))' "$@"; }

SC='{"name":"http and modbus","grid":{"voltage":230},"load":{"current":10,"pf":0.9},
 "meter":{"name":"m1","serial":"13070001"}}'
start_http 47120 "$SC" --modbus tcp:47121 --mbus tcp:47122 --state "$tmp/m1.state" ||
    { echo "not ok 1 - the twin starts"; exit 1; }
ok "the twin starts with --http, Modbus TCP, M-Bus over TCP and a state file"

res=""
for try in 1 2 3 4 5; do
    res=$("$PY" "$tmp/agree.py" "$URL" 47121)
    st=$?
    [ $st -ne 2 ] && break
done
expect "every A4.4 row agrees with its register read in the same second ($res)" [ "$st" = 0 ]

api PUT /api/meters/0/settings '{"password":"0000","settings":{"modbus_id":7,"s0_rate":10000,"mbus_id":5}}'
expect "PUT settings: Modbus ID 7, S0 rate 100 imp/kWh, M-Bus address 5" eval 'status_is 200'
expect "Modbus: unit 7 answers, 0x4003 reads 7" eval '[ "$(mb 7 0x4003 1)" = 7 ]'
expect "Modbus: unit 1 no longer answers" eval 'mb 1 0x4003 1 | grep -q "^error"'
expect "Modbus: 0x400D reads 100 imp/kWh (A3.3)" eval '[ "$(f32 $(mb 7 0x400D 2))" = 100.000 ]'
expect "M-Bus: address 5 acknowledges SND_NKE (E5)" eval '[ "$(mbus_nke 5)" = e5 ]'
expect "M-Bus: address 0 no longer answers" eval '[ -z "$(mbus_nke 0)" ]'

api POST /api/meters/0/physics '{"voltage":[200,210,220],"tariff_input":true}'
expect "POST physics: 200/210/220 V and the tariff input" eval 'status_is 200'
i=0
until [ "$(f32 $(mb 7 0x5002 6) | "$PY" -c 'import sys; v=[float(x) for x in sys.stdin.read().split()]; print(all(abs(a-b)<0.3 for a,b in zip(v,[200,210,220])))')" = True ]; do
    i=$((i + 1))
    [ $i -gt 30 ] && break
    sleep 0.1
done
expect "Modbus: 0x5002-0x5006 read 200, 210, 220 V within a window or two" [ $i -le 30 ]
expect "Modbus: the tariff input selects T2 (0x6048 = 2, A1.1)" eval '[ "$(mb 7 0x6048 1)" = 2 ]'
api GET /api/meters/0/lcd
expect "the LCD shows T2" jt '"T2" in d["display"]["icons"]'

api POST /api/meters/0/physics '{"supply":[false,false,false]}'
expect "POST physics: every phase off" eval 'status_is 200 && jt "d[\"supply\"]==[False,False,False]"'
api GET /api/meters/0/lcd
expect "the meter goes dark (LCD off)" jt 'd["display"]["power"]=="off" and d["display"]["dark"] and d["text"]==""'
expect "Modbus: a dark meter does not answer" eval 'mb 7 0x4003 1 | grep -q "^error"'
api POST /api/meters/0/physics '{"supply":[true,true,true]}'
i=0
until [ "$(mb 7 0x4003 1)" = 7 ]; do
    i=$((i + 1))
    [ $i -gt 20 ] && break
    sleep 0.1
done
expect "supply back: it boots and answers again, as ID 7" [ $i -le 20 ]

api POST /api/meters/0/save
expect "POST save with --state (200)" eval 'status_is 200 && jt "d[\"saved\"]"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"lcd_cycle":17}}'
kill -9 "$twin_pid" # no chance to save at the end: the change is in the file already
wait "$twin_pid" 2>/dev/null
twin_pid=""
start_http 47120 "$SC" --modbus tcp:47121 --state "$tmp/m1.state" ||
    { notok "the twin starts again on its state file"; }
api GET /api/meters/0/settings
expect "the state file has every change at once: after SIGKILL the twin restarts with ID 7, S0 rate, M-Bus 5, LCD cycle 17" jt 'd["settings"]["modbus_id"]==7 and d["settings"]["s0_rate"]==10000 and d["settings"]["mbus_id"]==5 and d["settings"]["lcd_cycle"]==17'
stop_twin
echo "1..$n"
