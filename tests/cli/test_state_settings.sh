#!/bin/sh
# A setting changed while the twin runs is in the state file at once, as the
# meter writes its EEPROM at once (A3.3 "kept in the non-volatile memory"):
# killed with SIGKILL long before the periodic save, the twin comes back with
# it. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/set.json" <<'J'
{"load": {"current": 10, "pf": 1},
 "timeline": [{"at": "2s", "set": {"modbus_id": 7, "combination_code": 5}},
              {"at": "2s", "reset": "power_down_counter"}], "duration": "1h"}
J
cat >"$tmp/check.json" <<'J'
{"load": {"current": 10, "pf": 1},
 "timeline": [{"at": "1s", "assert": [{"field": "settings.modbus_id", "equals": 7},
                                      {"field": "settings.combination_code", "equals": 5}]}]}
J
"$BIN" --headless --speed 10 --state "$tmp/state" --save-interval 1h --scenario "$tmp/set.json" \
    >"$tmp/log" 2>"$tmp/err" &
pid=$!
# Wait (at most 10 s) for the log to show the setting made, then a little more.
i=0
while ! grep -q '"setting":"modbus_id"' "$tmp/log" && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.3
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=""
if grep -q '"setting":"modbus_id"' "$tmp/log"; then echo "ok 1 - the setting was made before the kill"; else echo "not ok 1 - the setting was never made"; fi
if "$BIN" --headless --quiet --state "$tmp/state" --scenario "$tmp/check.json" >"$tmp/log2" 2>"$tmp/err2"; then
    echo "ok 2 - after SIGKILL the meter came back with Modbus ID 7 and C-05"
else
    echo "not ok 2 - the setting was lost: $(cat "$tmp/err2")"
fi
echo "1..2"
