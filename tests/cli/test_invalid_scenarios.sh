#!/bin/sh
# Invalid scenarios, one kind of mistake each: status 2, nothing on standard
# output, and a message that names the place: FILE:LINE:COL, the JSON path of
# the bad value and what is wrong with it. Line and column are those of the
# first character of the bad value in the text below (line 1 is the line after
# the "<<" marker, column 1 its first character); for text that is not JSON,
# the first character that cannot be parsed (just past the end of a truncated
# file; the 1001st "[" of nested arrays, cJSON's nesting limit is 1000); for
# an error about a whole object (two meters with one name), that object.
# Generated scenarios go through a file, not a pipe, so that the count of
# tests is kept (a pipe runs inv in a subshell). KEEP_TMP=1 keeps the files
# to look at. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] && echo "# temporary files in $tmp" || trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

# run_bad DESCRIPTION WANT... -- ARGS: status 2 within 20 s, empty stdout,
# every WANT on stderr.
run_bad() {
    desc=$1
    shift
    wants=""
    while [ "$1" != "--" ]; do
        wants="$wants$1
"
        shift
    done
    shift
    timeout 20 "$BIN" --headless --quiet "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    why=""
    [ "$st" -eq 2 ] || why="status $st"
    [ -s "$tmp/out" ] && why="$why; output on stdout"
    [ "$(wc -l <"$tmp/err")" -le 2 ] || why="$why; more than one message"
    printf '%s' "$wants" >"$tmp/wants"
    while IFS= read -r w; do
        grep -qF -- "$w" "$tmp/err" || why="$why; missing: $w"
    done <"$tmp/wants"
    if [ -z "$why" ]; then
        ok "refused: $desc"
    else
        notok "refused: $desc ($why; stderr: $(head -c 400 "$tmp/err"))"
    fi
}

# inv DESCRIPTION LINE:COL PATH TEXT [EXTRA ARGS]: the scenario on standard
# input; the message must start with FILE:LINE:COL: PATH: and contain TEXT.
inv() {
    desc=$1 where=$2 path=$3 text=$4
    shift 4
    n_file=$((n + 1))
    f=$tmp/s$n_file.json
    cat >"$f"
    if [ "$path" = "-" ]; then head="$f:$where: "; else head="$f:$where: $path: "; fi
    run_bad "$desc" "$head" "$text" -- --scenario "$f" "$@"
}

# --- not a scenario at all ---------------------------------------------------
inv "not JSON" 3:16 - "not valid JSON" <<'J'
{
  "grid": {
    "voltage": two hundred and thirty
  }
}
J
printf '{\n  "grid": {\n    "voltage": 23' >"$tmp/in"
inv <"$tmp/in" "truncated" 3:18 - "the file ends too early"
printf '' >"$tmp/in"
inv <"$tmp/in" "an empty file" 1:1 - "not valid JSON"
inv "an array, not an object" 1:1 '$' "a scenario is a JSON object" <<'J'
[ {"name": "x"} ]
J
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "["; }' >"$tmp/in"
inv <"$tmp/in" "100 000 nested arrays" 1:1001 - "not valid JSON"
truncate -s 100M "$tmp/huge.json"
run_bad "a 100 MB file" "huge.json: 104857600 bytes" "at most 16 MiB" -- --scenario "$tmp/huge.json"
run_bad "a missing scenario file" "$tmp/nothere.json: cannot open" -- --scenario "$tmp/nothere.json"

# --- CSV profiles ------------------------------------------------------------
inv "a CSV that is missing" 3:24 '$.load.current.csv' "missing.csv: cannot open: No such file" <<'J'
{
  "load": {
    "current": {"csv": "missing.csv", "column": "L1"}
  }
}
J
n_self=$((n + 1))
inv "a CSV that is the scenario itself" 3:24 '$.load.current.csv' "is this scenario itself" <<J
{
  "load": {
    "current": {"csv": "s$n_self.json", "column": "L1"}
  }
}
J
printf 'time,L1\n0,5\n60,abc\n120,7\n' >"$tmp/nan.csv"
inv "a CSV with a non-number" 3:24 '$.load.current.csv' 'nan.csv:3: column 2 is not a number' <<'J'
{
  "load": {
    "current": {"csv": "nan.csv", "column": "L1"}
  }
}
J
printf 'time,L1\n0,5\n60,80\n' >"$tmp/big.csv"
inv "a CSV value out of range" 2:31 '$.load.current.csv' 'big.csv:3: column 2 is out of range; allowed 0 to 65' <<'J'
{
  "load": {"current": {"csv": "big.csv", "column": "L1"}}
}
J

# --- durations and time ------------------------------------------------------
inv "a duration of 10 000 years" 3:15 '$.duration' "at most 100 years" <<'J'
{
  "name": "forever",
  "duration": "3650000d"
}
J
run_bad "--until 10 000 years" "--until 87600000h" "at most 100 years" -- --until 87600000h
inv "a bad duration" 3:24 '$.timeline[1].at' "expected a duration" <<'J'
{
  "timeline": [ {"at": "1m"},
                {"at": "5 parsecs"} ]
}
J
inv "a negative duration" 1:14 '$.duration' "expected a duration" <<'J'
{"duration": "-3s"}
J
inv "a ramp over no duration" 3:55 '$.load.current.ramp.over' "expected a duration" <<'J'
{
  "load": {
    "current": {"ramp": {"from": 0, "to": 10, "over": "soon"}}
  }
}
J
inv "events out of order" 4:13 '$.timeline[1].at' "events must be in time order" <<'J'
{
  "timeline": [
    { "at": "1h", "tariff_input": true },
    { "at": "5m", "tariff_input": false }
  ]
}
J
inv "daily profile times not increasing" 3:41 '$.load.current.daily[1]' "times must increase" <<'J'
{
  "load": {
    "current": {"daily": [["08:00", 5], ["07:00", 9]]}
  }
}
J

# --- unknown keys at several depths ------------------------------------------
inv "unknown key at the top" 3:11 '$.gird' 'unknown key "gird"' <<'J'
{
  "name": "typo",
  "gird": { "voltage": 230 }
}
J
inv "unknown key in a meter's load" 5:35 '$.meters[1].load.L1.curent' 'unknown key "curent"' <<'J'
{
  "meters": [
    { "name": "a" },
    { "name": "b",
      "load": { "L1": { "curent": 5 } } }
  ]
}
J
inv "unknown key in an assertion" 5:70 '$.timeline[0].assert[1].tolerence' 'unknown key "tolerence"' <<'J'
{
  "timeline": [
    { "at": "1s",
      "assert": [ { "field": "tariff", "equals": 1 },
                  { "field": "frequency", "equals": 50, "tolerence": 0.1 } ] }
  ]
}
J

# --- wrong types -------------------------------------------------------------
inv "seed is a string" 1:10 '$.seed' "expected an integer" <<'J'
{"seed": "seven"}
J
inv "timeline is an object" 2:15 '$.timeline' "expected an array" <<'J'
{
  "timeline": { "at": "1s" }
}
J
inv "tariff input is a string" 2:47 '$.timeline[0].tariff_input' "expected true" <<'J'
{
  "timeline": [ { "at": "1s", "tariff_input": "on" } ]
}
J
inv "a setting is not a whole number" 2:41 '$.meter.settings.modbus_id' "expected an integer" <<'J'
{
  "meter": { "settings": { "modbus_id": 1.5 } }
}
J

# --- values out of range -----------------------------------------------------
inv "voltage above Un + 20 %" 3:27 '$.grid.voltage[2]' "300 is out of range; allowed 0 to 276" <<'J'
{
  "grid": {
    "voltage": [230, 230, 300]
  }
}
J
inv "current above Imax" 2:32 '$.load.L3.current' "70 is out of range; allowed 0 to 65" <<'J'
{
  "load": { "L3": { "current": 70 } }
}
J
inv "frequency in a step profile" 4:26 '$.grid.frequency.steps[1][1]' "70 is out of range; allowed 45 to 65" <<'J'
{
  "grid": {
    "frequency": {"steps": [["0s", 50],
                  ["1m", 70]]}
  }
}
J
inv "negative power factor" 2:19 '$.load.pf' "-0.1 is out of range; allowed 0 to 1" <<'J'
{
  "load": { "pf": -0.1, "current": 5 }
}
J
inv "harmonic order 51" 3:39 '$.load.harmonics[1].order' "51 is out of range; allowed 2 to" <<'J'
{
  "load": { "harmonics": [ { "order": 3, "percent": 10 },
                           { "order": 51, "percent": 1 } ] }
}
J
inv "negative tolerance" 3:80 '$.timeline[0].assert.tolerance' "-1 is out of range" <<'J'
{
  "timeline": [
    { "at": "1s", "assert": { "field": "frequency", "equals": 50, "tolerance": -1 } }
  ]
}
J
inv "starting register above 999999.999" 4:31 '$.meter.registers.active_forward.total' "out of range" <<'J'
{
  "meter": {
    "registers": {
      "active_forward.total": 1000000
    }
  }
}
J

# --- meters, settings, fields ------------------------------------------------
inv "unknown meter in an event" 3:40 '$.timeline[0].meter' "no meter named basement" <<'J'
{
  "meters": [ { "name": "main" } ],
  "timeline": [ { "at": "1s", "meter": "basement", "tariff_input": true } ]
}
J
inv "unknown setting" 3:36 '$.meter.settings.modbus_adress' 'unknown setting "modbus_adress"' <<'J'
{
  "meter": {
    "settings": { "modbus_adress": 5 }
  }
}
J
inv "unknown setting in an event" 2:49 '$.timeline[0].set.tarif' 'unknown setting "tarif"' <<'J'
{
  "timeline": [ { "at": "1s", "set": { "tarif": 3 } } ]
}
J
inv "modbus_id 300" 3:32 '$.meter.settings.modbus_id' "300 refused: value outside the allowed range" <<'J'
{
  "meter": {
    "settings": { "modbus_id": 300 }
  }
}
J
inv "a field that does not exist" 2:52 '$.timeline[0].assert.field' 'no field named "voltage.L4"' <<'J'
{
  "timeline": [ { "at": "1s", "assert": { "field": "voltage.L4", "min": 200 } } ]
}
J
inv "not an energy register" 2:43 '$.meter.registers.voltage.L1' "is not an energy register" <<'J'
{
  "meter": { "registers": { "voltage.L1": 230 } }
}
J
inv "equals with min" 3:29 '$.timeline[0].assert' 'give "equals" (with "tolerance") or "min"/"max", not both' <<'J'
{
  "timeline": [
    { "at": "1s", "assert": { "field": "frequency", "equals": 50, "min": 49 } }
  ]
}
J
inv "min above max" 2:41 '$.timeline[0].assert' '"min" 5 is above "max" 4' <<'J'
{
  "timeline": [ { "at": "1s", "assert": { "field": "tariff", "min": 5, "max": 4 } } ]
}
J
inv "duplicate meter names" 4:5 '$.meters[1]' 'two meters are named "main"' <<'J'
{
  "meters": [
    { "name": "main" },
    { "name": "main" }
  ]
}
J
inv "meter and meters" 1:1 '$' 'give "meter" or "meters", not both' <<'J'
{
  "meter": { "name": "a" },
  "meters": [ { "name": "b" } ]
}
J
inv "10 001 meters" 2:26 '$.meters[0].count' "10001 is out of range; allowed 1 to 10000 meters" <<'J'
{
  "meters": [ { "count": 10001 } ]
}
J
{
    printf '{\n  "buses": [ { "meters": [\n'
    for i in $(seq 1 51); do printf '    { "name": "t%d-{n}", "count": 200 }%s\n' "$i" "$([ "$i" -lt 51 ] && echo ,)"; done
    printf '  ] } ]\n}\n'
} >"$tmp/in"
inv <"$tmp/in" "51 templates of 200 meters" 53:35 '$.buses[0].meters[50].count' "200 more meters make 10200; a scenario holds at most 10000"
inv "angle and pf together" 2:41 '$.load.L1.angle' 'give either "angle" or "pf"/"reactive", not both' <<'J'
{
  "load": { "L1": { "pf": 0.9, "angle": 30 } }
}
J
inv "a grid change for one meter" 3:53 '$.timeline[0].grid' "the grid is shared by every meter" <<'J'
{
  "meters": [ { "name": "a" }, { "name": "b" } ],
  "timeline": [ { "at": "1s", "meter": "a", "grid": { "voltage": 0 } } ]
}
J

# --- buses and fleets --------------------------------------------------------
inv "buses and meters together" 1:1 '$' 'give "buses" (each with its "meters") or "meter"/"meters", not both' <<'J'
{
  "meters": [ { "name": "a" } ],
  "buses": [ { "meters": [ { "name": "b" } ] } ]
}
J
inv "a template past Modbus ID 247" 3:63 '$.buses[0].meters[0].settings.modbus_id' 'the template "m{n}" of 10 meters would take Modbus IDs 240 to 249; a bus has 1 to 247' <<'J'
{
  "buses": [ { "name": "b1", "meters": [
    { "name": "m{n}", "count": 10, "settings": { "modbus_id": 240 } } ] } ]
}
J
inv "a template of 300 meters from ID 1" 3:54 '$.buses[0].meters[0].count' 'the template "north-{n}" of 300 meters would take Modbus IDs 1 to 300' <<'J'
{
  "buses": [ { "name": "north", "meters": [
    { "model": "4PU", "connection": "3P4W", "count": 300 } ] } ]
}
J
inv "a template past M-Bus address 250" 3:61 '$.buses[0].meters[0].settings.mbus_id' "M-Bus addresses 245 to 254; a bus has 0 to 250" <<'J'
{
  "buses": [ { "meters": [
    { "count": 10, "settings": { "modbus_id": 1, "mbus_id": 245 } } ] } ]
}
J
inv "two buses with one name" 4:15 '$.buses[1].name' 'two buses are named "north"' <<'J'
{
  "buses": [
    { "name": "north", "meters": [ {} ] },
    { "name": "north", "meters": [ {} ] }
  ]
}
J
inv "a bus name with a slash" 2:24 '$.buses[0].name' "expected a name of 1 to 31 letters, digits" <<'J'
{
  "buses": [ { "name": "a/b", "meters": [ {} ] } ]
}
J
inv "a bus without meters" 3:5 '$.buses[1]' 'a bus needs "meters"' <<'J'
{
  "buses": [ { "meters": [ {} ] },
    { "name": "empty" }
  ]
}
J
inv "two endpoints on one TCP port" 4:26 '$.buses[1].modbus[1]' 'bus "a" has "tcp:127.0.0.1:5020" already (in "modbus"): two endpoints cannot listen on one TCP port' <<'J'
{
  "buses": [
    { "name": "a", "modbus": "tcp:5020", "meters": [ {} ] },
    { "modbus": [ "pty", "tcp:0.0.0.0:5020" ], "meters": [ {} ] }
  ]
}
J
inv "two endpoints on one pty path" 3:26 '$.buses[0].mbus[1]' 'two endpoints cannot use one path' <<'J'
{
  "buses": [ { "mbus": [ "pty:/tmp/m1",
                         "pty:/tmp/m1" ], "meters": [ {} ] } ]
}
J
inv "a bad endpoint" 2:26 '$.buses[0].modbus' '"70000": expected a port number 0-65535' <<'J'
{
  "buses": [ { "modbus": "tcp:70000", "meters": [ {} ] } ]
}
J
inv "rtu-over-tcp for M-Bus" 2:26 '$.buses[0].mbus[0]' "rtu-over-tcp carries Modbus RTU" <<'J'
{
  "buses": [ { "mbus": [ "rtu-over-tcp:5021" ], "meters": [ {} ] } ]
}
J
inv "a gateway timeout of 2 minutes" 2:35 '$.buses[0].gateway_timeout' "a gateway timeout lies between 1 ms and 60 s" <<'J'
{
  "buses": [ { "gateway_timeout": "2m", "meters": [ {} ] } ]
}
J
inv "an unknown bus in an event" 4:26 '$.timeline[0].bus' 'no bus named "south" in "buses"' <<'J'
{
  "buses": [ { "name": "north", "meters": [ { "count": 2 } ] } ],
  "timeline": [
    { "at": "1s", "bus": "south", "modbus": { "request": "01 03 50 00 00 02" } }
  ]
}
J
inv "a bus without a request" 2:38 '$.timeline[0].bus' '"bus" goes with "modbus" or "mbus"' <<'J'
{
  "timeline": [ { "at": "1s", "bus": "bus1", "tariff_input": true } ]
}
J
inv "a template name without {n}" 2:53 '$.meters[0].name' '"floor": a template of 3 meters needs {n} in its name' <<'J'
{
  "meters": [ { "count": 3, "settings": {}, "name": "floor" } ]
}
J
inv "a template name with {n:3}" 2:25 '$.meters[0].name' "a meter's number is written {n}, or {n:03}" <<'J'
{
  "meters": [ { "name": "m{n:3}", "count": 3 } ]
}
J
inv "template serials past 16 digits" 2:39 '$.meters[0].serial' 'a template of 3 meters numbers their serials from "9999999999999998": the last would have more than 16 digits' <<'J'
{
  "meters": [ { "count": 3, "serial": "9999999999999998" } ]
}
J
inv "a template's name taken by a meter" 4:5 '$.meters[1]' 'two meters are named "m2"' <<'J'
{
  "meters": [
    { "name": "m{n}", "count": 3 },
    { "name": "m2" }
  ]
}
J
inv "vary above Imax" 4:54 '$.meters[0].vary.current' 'L1'"'"'s current, up to 40 A, times a factor of up to 2 ("vary") reaches 80 A; allowed 0 to 65 A' <<'J'
{
  "load": { "current": 40 },
  "meters": [ { "count": 4,
                "vary": { "pf": [0.8, 1], "current": [0.5, 2] } } ]
}
J
inv "vary with lo above hi" 2:45 '$.meters[0].vary.pf' "lo 0.9 is above hi 0.8" <<'J'
{
  "meters": [ { "count": 4, "vary": { "pf": [0.9, 0.8] } } ]
}
J
inv "vary without count" 2:38 '$.meters[0].vary' '"vary" goes with "count"' <<'J'
{
  "meters": [ { "name": "a", "vary": { "pf": [0.8, 0.9] } } ]
}
J
inv "a load change past vary's Imax" 4:46 '$.timeline[0].load' 'meter "bus1-1": L2'"'"'s current, up to 60 A, times a factor of up to 1.2' <<'J'
{
  "meters": [ { "count": 2, "vary": { "current": [0.8, 1.2] } } ],
  "timeline": [
    { "at": "1s", "meter": "bus1-1", "load": { "L2": { "current": 60 } } }
  ]
}
J
# Imax by variant (core/variant.h): a 2PCT takes 6 A at its terminals (the
# CT's secondary, 5(6) A), a direct meter 65 A (manual 4), in the meter's own
# load and in every later load change, a template's "vary" factor included.
inv "a 2PCT's own load past its 6 A" 2:12 '$.meter' 'L1'"'"'s current reaches 8 A; a 2PCT takes at most 6 A at its terminals' <<'J'
{
  "meter": { "name": "ct", "model": "2PCT", "load": { "current": { "ramp": { "from": 1, "to": 8, "over": "1h" } } } }
}
J
inv "a load change past a 2PCT's 6 A" 4:27 '$.timeline[0].load' 'meter "ct": L1'"'"'s current reaches 10 A; a 2PCT takes at most 6 A at its terminals (Imax' <<'J'
{
  "meter": { "name": "ct", "model": "2PCT" },
  "timeline": [
    { "at": "1s", "load": { "L1": { "current": 10 } } }
  ]
}
J
inv "a load change past a 2PCT's 6 A, one meter named" 5:42 '$.timeline[0].load' 'meter "ct": L3'"'"'s current reaches 6.5 A; a 2PCT takes at most 6 A' <<'J'
{
  "meters": [ { "name": "direct", "model": "4PU" },
              { "name": "ct", "model": "2PCT", "load": { "current": 5 } } ],
  "timeline": [
    { "at": "1s", "meter": "ct", "load": { "L3": { "current": 6.5 } } }
  ]
}
J
inv "a load change on 2PCTs past 6 A with vary's factor" 4:27 '$.timeline[0].load' 'meter "ct1": L2'"'"'s current reaches 7.5 A; a 2PCT takes at most 6 A' <<'J'
{
  "meters": [ { "name": "ct{n}", "model": "2PCT", "count": 3, "vary": { "current": [0.5, 1.5] } } ],
  "timeline": [
    { "at": "1s", "load": { "L2": { "current": 5 } } }
  ]
}
J
inv "70 A on a 4PU (Imax 65 A)" 4:48 '$.timeline[0].load.L1.current' '70 is out of range; allowed 0 to 65 A' <<'J'
{
  "meter": { "name": "m", "model": "4PU" },
  "timeline": [
    { "at": "1s", "load": { "L1": { "current": 70 } } }
  ]
}
J
{
    printf '{\n  "buses": [\n'
    for i in $(seq 1 50); do printf '    { "meters": [ { "count": 200 } ] }%s\n' "$([ "$i" -lt 50 ] && echo ,)"; done
    printf '  ],\n  "timeline": [\n'
    printf '    { "at": "1s", "load": { "current": 1 } },\n'
    printf '    { "at": "2s", "load": { "current": 2 } },\n'
    printf '    { "at": "3s", "load": { "current": 3 } }\n'
    printf '  ]\n}\n'
} >"$tmp/in"
inv <"$tmp/in" "load changes for 10 000 meters past 20 000 events" 57:27 '$.timeline[2].load' "with this one for 10000 meters the timeline would hold more than 20000 events"

echo "1..$n"
