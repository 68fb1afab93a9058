#!/bin/sh
# Issue 12 point 6, the M-Bus side: a 7.1 fault found at a power-up sets the
# RSP_UD's status byte to 02 ("00 = OK 02 = Error", A2.2 line 811), whether
# the meter runs on or stopped; a sound meter's stays 00. The Modbus side
# (0x401D) and the LCD's Err XX are in tests/scenarios/pass/errors-7-1.json.
# Three meters on one M-Bus pty (addresses 1-3, 9600): sound, corrupt_backup
# (bit 5, runs on), eeprom_init (bit 7, stopped); the faults at 0.5 s, the
# reads (a raw REQ_UD2 over pyserial) once the log says t = 2. Speaks TAP.
. "$(dirname "$0")/lib.sh"

cat >"$tmp/faults.json" <<'J'
{"meters": [
  {"name": "sound", "serial": "13070001", "settings": {"mbus_id": 1, "mbus_baud": 9600}},
  {"name": "runs", "serial": "13070002", "settings": {"mbus_id": 2, "mbus_baud": 9600}},
  {"name": "stopped", "serial": "13070003", "settings": {"mbus_id": 3, "mbus_baud": 9600}}],
 "load": {"current": 10, "pf": 1},
 "timeline": [{"at": "0.5s", "meter": "runs", "fault": "corrupt_backup"},
              {"at": "0.5s", "meter": "stopped", "fault": "eeprom_init"}]}
J
rm -f "$tmp/mbus"
"$BIN" --headless --mbus "pty:$tmp/mbus" --scenario "$tmp/faults.json" --until 120s \
    >"$tmp/twin.log" 2>"$tmp/twin.err" &
twin_pid=$!
if ! wait_log_t 2; then
    notok "the twin runs three meters on an M-Bus pty: $(head -c 300 "$tmp/twin.err")"
    echo "1..$n"
    exit 1
fi
ok "the twin runs three meters on an M-Bus pty"

$PY - "$tmp/mbus" >"$tmp/py.out" 2>&1 <<'PYEOF'
import sys, time
import serial

port = serial.Serial(sys.argv[1], 9600, timeout=0.2)
# address, meter, status expected (A2.2: 00 OK, 02 error), the 7.1 byte
for addr, name, want in ((1, "sound", 0x00), (2, "corrupt_backup (runs on)", 0x02),
                         (3, "eeprom_init (stopped)", 0x02)):
    port.reset_input_buffer()
    port.write(bytes([0x10, 0x5B, addr, (0x5B + addr) & 0xFF, 0x16]))
    f, end = b"", time.monotonic() + 2
    while time.monotonic() < end and not (len(f) > 2 and len(f) >= f[1] + 6):
        f += port.read(300)
    sound = len(f) > 21 and f[0] == 0x68 and f[-1] == 0x16 and f[-2] == sum(f[4:-2]) & 0xFF
    # 68 L L 68 C A CI | ID(4) man(2) version medium access STATUS signature(2)
    status = f[16] if sound else None
    print(("ok - " if status == want else "not ok - ") +
          f"M-Bus {addr} ({name}): RSP_UD status {status if status is None else '%02X' % status}, "
          f"expected {want:02X} (A2.2)")
PYEOF
number "$tmp/py.out"
stop_twin
echo "1..$n"
