#!/bin/sh
# Issue 12 point 2: every energy quantity reads the same over Modbus (pymodbus),
# over M-Bus (a raw REQ_UD2 over pyserial) and in the JSON log, under each
# combination code C-01..C-05 (tests/interop/energy_agree.py). Five meters on
# one bus, code k at Modbus ID k and M-Bus address k; the load imports on L1
# (250 V x 32 A, PF 0.8 inductive: 6.4 kW, Q1) and L2 (27 A, PF 0.9
# capacitive: 6.075 kW, Q4) and exports on L3 (57 A, PF 0.95 inductive:
# 13.54 kW, Q3), net 1.06 kW export, so C-05's netting differs from the
# others; T1 1.5 s, T2 0.5 s (the tariff input), T3 1 s and T4 2 s (by
# command, A1), so no two registers are alike; then no load: the registers stand still while
# they are read. At 6 s one probe assertion per energy field writes each
# register's value into the log. Real time, about 8 s. Speaks TAP.
. "$(dirname "$0")/lib.sh"

if ! $PY -c 'import pymodbus.client, serial' 2>/dev/null; then
    echo "not ok 1 - $PY has pymodbus and pyserial (make deps: python3-pymodbus)"
    echo "1..1"
    exit 1
fi

fields=""
for q in active_total active_forward active_reverse reactive_total reactive_forward reactive_reverse; do
    for p in total T1 T2 T3 T4 L1 L2 L3; do fields="$fields $q.$p"; done
done
for q in reactive_q1 reactive_q2 reactive_q3 reactive_q4; do
    for p in total T1 T2 T3 T4; do fields="$fields $q.$p"; done
done
fields="$fields resettable.total resettable.L1 resettable.L2 resettable.L3"
# A probe holds for any number: it only puts the value in the log.
probes=$(for f in $fields; do printf '{"field": "%s", "min": -1e12},' "$f"; done)
meters=$(for k in 1 2 3 4 5; do
    printf '{"name": "c%d", "serial": "1307000%d", "settings": {"combination_code": %d, "modbus_id": %d, "mbus_id": %d, "mbus_baud": 9600}},' \
        "$k" "$k" "$k" "$k" "$k"
done)
cat >"$tmp/agree.json" <<EOF
{"name": "energy agreement",
 "meters": [${meters%,}],
 "grid": {"voltage": 250, "frequency": 50},
 "load": {"L1": {"current": 32, "pf": 0.8, "reactive": "inductive"},
          "L2": {"current": 27, "pf": 0.9, "reactive": "capacitive"},
          "L3": {"current": 57, "pf": 0.95, "reactive": "inductive", "direction": "export"}},
 "timeline": [
  {"at": "1.5s", "tariff_input": true},
  {"at": "2s", "tariff_input": false, "set": {"tariff": 3}},
  {"at": "3s", "set": {"tariff": 4}},
  {"at": "5s", "load": {"current": 0}, "set": {"tariff": 1}},
  {"at": "6s", "assert": [${probes%,}]}
 ]}
EOF

rm -f "$tmp/mb" "$tmp/mbus"
"$BIN" --headless --modbus "pty:$tmp/mb" --mbus "pty:$tmp/mbus" --scenario "$tmp/agree.json" \
    --until 120s >"$tmp/twin.log" 2>"$tmp/twin.err" &
twin_pid=$!
# The probes are logged at 6 s (real time); the periodic line of t = 7 follows.
i=0
while ! grep -q '"t":7,"meter":"c5"' "$tmp/twin.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 1000 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
        notok "the twin runs the scenario to 7 s: $(head -c 400 "$tmp/twin.err")"
        echo "1..$n"
        exit 1
    fi
    sleep 0.02
done
ok "the twin serves five meters (C-01..C-05) on a Modbus pty and an M-Bus pty"

$PY "$(dirname "$0")/energy_agree.py" "$tmp/mb" "$tmp/mbus" "$tmp/twin.log" >"$tmp/py.out" 2>&1
st=$?
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) notok "${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
done <"$tmp/py.out"
[ $st -eq 0 ] && ok "energy_agree.py ran to its end" || notok "energy_agree.py exited with status $st"

[ -n "${KEEP:-}" ] && cp "$tmp/twin.log" /tmp/a/agree.log
stop_twin
echo "1..$n"
