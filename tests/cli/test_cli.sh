#!/bin/sh
# The metersim command: --help, determinism, and bad input refused with a
# message that names the place, exit status 2, and nothing run. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

# --help lists every flag.
if "$BIN" --help >"$tmp/help" 2>&1; then
    missing=""
    for f in --scenario --until --headless --speed --help --version; do
        grep -q -- "$f" "$tmp/help" || missing="$missing $f"
    done
    [ -z "$missing" ] && ok "--help lists every flag" || notok "--help misses:$missing"
else
    notok "--help exits 0"
fi

# One JSON line per simulated second.
"$BIN" --headless --until 5s >"$tmp/a" 2>"$tmp/err"
lines=$(wc -l <"$tmp/a")
if [ "$lines" -eq 5 ] && /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["t"] for r in rows] == [1, 2, 3, 4, 5]
assert all(len(r["U"]) == 3 and 45 <= r["f"] <= 65 for r in rows[1:])
' "$tmp/a"; then ok "one JSON object per simulated second"; else notok "JSON lines ($lines lines)"; fi

# Determinism: the same scenario twice, and at another pace, gives the same bytes.
"$BIN" --headless --until 120s >"$tmp/run1"
"$BIN" --headless --until 120s >"$tmp/run2"
"$BIN" --headless --until 120s --speed 2000 >"$tmp/run3"
if cmp -s "$tmp/run1" "$tmp/run2"; then ok "same scenario twice: identical output"; else notok "same scenario twice differs"; fi
if cmp -s "$tmp/run1" "$tmp/run3"; then ok "--speed 2000 and max: identical output"; else notok "pace changed the output"; fi

# A scenario with a timeline: the tariff input moves energy to T2.
cat >"$tmp/tl.json" <<'J'
{"meter": {"connection": "3P4W"},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 10, "pf": 1},
 "timeline": [{"at": "30s", "tariff_input": true}, {"at": "60s", "load": {"current": 0}}]}
J
"$BIN" --headless --scenario "$tmp/tl.json" --until 90s >"$tmp/tl" 2>"$tmp/err"
if /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[10]["tariff"] == 1 and rows[40]["tariff"] == 2
assert abs(rows[-1]["E_total_kWh"] - 6.9 * 60 / 3600) < 2e-5, rows[-1]["E_total_kWh"]
assert rows[-1]["P_total_kW"] == 0.0
' "$tmp/tl"; then ok "timeline: tariff input and load step"; else notok "timeline scenario"; fi

# Bad input: status 2, and a message naming the place.
bad() { # description, expected text in the message, scenario text or "", extra args...
    desc=$1 want=$2 text=$3
    shift 3
    if [ -n "$text" ]; then
        printf '%s' "$text" >"$tmp/bad.json"
        set -- --scenario "$tmp/bad.json" "$@"
    fi
    "$BIN" --headless --until 1s "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq 2 ] && grep -qF -- "$want" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        ok "refused: $desc"
    else
        notok "refused: $desc (status $st, message: $(cat "$tmp/err"))"
    fi
}
bad "negative RMS current" '$.load.L2.current: -3 is out of range; allowed 0 to 65' \
    '{"load": {"L2": {"current": -3}}}'
bad "frequency 0" '$.grid.frequency: 0 is out of range; allowed 45 to 65 Hz' \
    '{"grid": {"frequency": 0}}'
bad "unknown connection type" '$.meter.connection: "3P5W" is not one of' \
    '{"meter": {"connection": "3P5W"}}'
bad "missing field" '$.timeline[0].at: missing' '{"timeline": [{"tariff_input": true}]}'
bad "unknown key" '$.grid.volts: unknown key "volts"' '{"grid": {"volts": 230}}'
bad "wrong type" '$.grid.voltage: expected a number' '{"grid": {"voltage": "230"}}'
bad "voltage above Un + 20 %" '$.grid.voltage[2]: 300 is out of range; allowed 0 to 276' \
    '{"grid": {"voltage": [230, 230, 300]}}'
bad "power factor above 1" '$.load.pf: 1.2 is out of range' '{"load": {"pf": 1.2}}'
bad "harmonic order" '$.grid.harmonics[0].order: 1 is out of range' \
    '{"grid": {"harmonics": [{"order": 1, "percent": 5}]}}'
bad "events out of order" '$.timeline[1].at: events must be in time order' \
    '{"timeline": [{"at": "1h"}, {"at": "5m"}]}'
bad "bad duration" '$.timeline[0].at: expected a duration' '{"timeline": [{"at": "5 parsecs"}]}'
bad "not JSON" 'bad.json:1:' '{ this is not json }'
bad "truncated" 'not valid JSON (the file ends too early)' '{"grid": {"voltage": 230'
bad "serial not digits" '$.meter.serial: expected a string of 1 to 16 decimal digits' \
    '{"meter": {"serial": "12AB"}}'
bad "missing file" 'cannot open' '' --scenario "$tmp/does-not-exist.json"
bad "a directory" 'not a regular file' '' --scenario "$tmp"
bad "10000 years" '--until 10000y' '' --until 10000y
bad "10000 years in days" 'at most 100 years' '' --until 3650000d
bad "speed 0" '--speed 0: expected a positive number or max' '' --speed 0
bad "unknown option" 'unknown option --frobnicate' '' --frobnicate
bad "option without value" '--scenario needs a value' '' --scenario

echo "1..$n"
