#!/bin/sh
# metersim --check SCENARIO...: every scenario loaded and validated as a run
# would (its CSV profiles too), nothing run. A valid file: "FILE: ok" on
# standard output and status 0; an invalid one: every error found, one a
# line, FILE:LINE:COL: PATH: what, and status 2 (docs/cli.md). Line and
# column are those of the bad value in the text written here (line 1 is the
# first line after the "<<" marker). Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # DESCRIPTION CONDITION...
    d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}

# --- the scenario library and the regression scenarios are valid ------------
# The "fail" scenarios are valid files whose assertions fail when run:
# --check runs nothing, so it passes them.
files=$(ls scenarios/*.json tests/scenarios/pass/*.json tests/scenarios/fail/*.json)
count=$(echo "$files" | wc -l)
# shellcheck disable=SC2086
timeout 60 "$BIN" --check $files >"$tmp/out" 2>"$tmp/err"
st=$?
check "all $count library and regression scenarios: status 0 ($st)" [ "$st" -eq 0 ]
check "one \"FILE: ok\" line for each of them" [ "$(grep -c ': ok: ' "$tmp/out")" -eq "$count" ]
check "nothing on standard error for valid files" [ ! -s "$tmp/err" ]
check "the office day: 1 meter, its 23 events" grep -qx 'scenarios/office-day.json: ok: 1 meter on 1 bus, 23 events' "$tmp/out"

# --- runs nothing ------------------------------------------------------------
# A hundred days, and a Modbus TCP endpoint on a port of this suite: a run
# would last and listen; --check returns at once and nobody listens.
cat >"$tmp/long.json" <<'J'
{
  "duration": "100d",
  "buses": [ { "name": "b", "modbus": "tcp:127.0.0.1:47451", "meters": [ { "count": 3 } ] } ]
}
J
start=$(date +%s)
timeout 20 "$BIN" --check "$tmp/long.json" >"$tmp/out" 2>"$tmp/err"
st=$?
took=$(($(date +%s) - start))
check "100 days with an endpoint: status 0 in ${took}s, nothing run" [ "$st" -eq 0 ] && [ "$took" -le 5 ]
check "... 3 meters on 1 bus, no log of readings" grep -qx "$tmp/long.json: ok: 3 meters on 1 bus, 0 events" "$tmp/out"

# --- every error, not only the first -----------------------------------------
cat >"$tmp/many.json" <<'J'
{
  "name": 5,
  "seed": "x",
  "grid": { "voltage": 300 },
  "meters": [
    { "name": "a", "settings": { "modbus_id": 300 } },
    { "name": "b", "serial": "12x" },
    { "name": "a" }
  ],
  "timeline": [
    { "at": "1s", "meter": "a", "tariff_input": "on" },
    { "at": "2s", "meter": "zzz", "tariff_input": true },
    { "at": "3s", "meter": "b", "assert": { "field": "voltage.L4", "min": 1 } }
  ]
}
J
timeout 20 "$BIN" --check "$tmp/many.json" >"$tmp/out" 2>"$tmp/err"
st=$?
check "nine errors in one file: status 2 ($st)" [ "$st" -eq 2 ]
check "... nothing on standard output" [ ! -s "$tmp/out" ]
check "... nine lines on standard error ($(wc -l <"$tmp/err"))" [ "$(wc -l <"$tmp/err")" -eq 9 ]
f=$tmp/many.json
want() { # LINE:COL PATH TEXT: one line of standard error starts so and has TEXT
    grep -F -- "$f:$1: $2: " "$tmp/err" | grep -qF -- "$3"
}
check "name not a string at 2:11" want 2:11 '$.name' "expected a string"
check "seed not an integer at 3:11" want 3:11 '$.seed' "expected an integer"
check "voltage 300 at 4:24" want 4:24 '$.grid.voltage' "300 is out of range; allowed 0 to 276"
check "modbus_id 300 of the first meter at 6:47" want 6:47 '$.meters[0].settings.modbus_id' "300 refused"
check "a serial with a letter at 7:30" want 7:30 '$.meters[1].serial' "expected a string of 1 to 16 decimal digits"
check "the name \"a\" twice at 8:5" want 8:5 '$.meters[2]' 'two meters are named "a"'
check "tariff_input \"on\" at 11:49" want 11:49 '$.timeline[0].tariff_input' "expected true"
check "an unknown meter at 12:28" want 12:28 '$.timeline[1].meter' "no meter named zzz"
check "an unknown field at 13:54 (meter b, whose serial was bad, still known)" \
    want 13:54 '$.timeline[2].assert.field' 'no field named "voltage.L4"'
check "errors in file order" sh -c "cut -d: -f2 '$tmp/err' | sort -n -c"

# No meter could be read at all: the timeline is still checked (a case
# found by mutating the library's scenarios under ASan/UBSan).
cat >"$tmp/nometer.json" <<'J'
{
  "meters": [ { "count": "x" } ],
  "timeline": [ { "at": "1s", "tariff_input": "on" } ]
}
J
timeout 20 "$BIN" --check "$tmp/nometer.json" >"$tmp/out" 2>"$tmp/err"
st=$?
f=$tmp/nometer.json
check "no meter readable: status 2, the count at 2:26 and the timeline's error at 3:47" [ "$st" -eq 2 ] &&
    want 2:26 '$.meters[0].count' "expected an integer" && want 3:47 '$.timeline[0].tariff_input' "expected true" &&
    [ "$(wc -l <"$tmp/err")" -eq 2 ]
f=$tmp/many.json

# A run of the same file stops at the first of them, with the same text.
timeout 20 "$BIN" --headless --quiet "$tmp/many.json" >"$tmp/out" 2>"$tmp/err1"
st=$?
check "a run of it: status 2 and the first error alone, as --check words it" \
    [ "$st" -eq 2 ] && [ "$(cat "$tmp/err1")" = "metersim: $(head -n 1 "$tmp/err")" ]

# Text that is not JSON: one error, the place where parsing stopped.
printf '{\n  "grid": {\n    "voltage": two\n  }\n}\n' >"$tmp/nojson.json"
timeout 20 "$BIN" --check "$tmp/nojson.json" >"$tmp/out" 2>"$tmp/err"
st=$?
check "not JSON: status 2, one error at 3:16" [ "$st" -eq 2 ] &&
    grep -qxF "$tmp/nojson.json:3:16: not valid JSON" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ]

# A CSV profile is read as a run reads it: its errors name the CSV's line.
printf 'time,L1\n0,5\n60,abc\n' >"$tmp/nan.csv"
cat >"$tmp/csv.json" <<'J'
{
  "load": { "current": {"csv": "nan.csv", "column": "L1"} },
  "meters": [ { "name": "m", "model": "4XX" } ]
}
J
timeout 20 "$BIN" --check "$tmp/csv.json" >"$tmp/out" 2>"$tmp/err"
st=$?
f=$tmp/csv.json
check "a CSV with a non-number: status 2, nan.csv:3 named at 2:32" [ "$st" -eq 2 ] &&
    want 2:32 '$.load.current.csv' "nan.csv:3: column 2 is not a number"
check "... and the meter's model after it at 3:39" want 3:39 '$.meters[0].model' '"4XX" is not one of'
timeout 20 "$BIN" --check "$tmp/nothere.json" >"$tmp/out" 2>"$tmp/err"
st=$?
check "a missing file: status 2, named" [ "$st" -eq 2 ] && grep -qF "$tmp/nothere.json: cannot open" "$tmp/err"

# At most 100 errors are printed, then how many more there were.
{
    printf '{\n  "meters": [\n'
    for i in $(seq 1 150); do printf '    { "name": "m%d", "model": "X" }%s\n' "$i" "$([ "$i" -lt 150 ] && echo ,)"; done
    printf '  ]\n}\n'
} >"$tmp/150.json"
timeout 20 "$BIN" --check "$tmp/150.json" >"$tmp/out" 2>"$tmp/err"
st=$?
check "150 bad meters: status 2, 100 errors, then \"50 more errors not shown\"" [ "$st" -eq 2 ] &&
    [ "$(grep -c '\.model: ' "$tmp/err")" -eq 100 ] && grep -qxF "$tmp/150.json: 50 more errors not shown" "$tmp/err"
check "... the 100th is the 100th meter's, at line 102" grep -qF "$tmp/150.json:102:32: \$.meters[99].model" "$tmp/err"

# --- several files -------------------------------------------------------------
timeout 20 "$BIN" --check scenarios/office-day.json "$tmp/nojson.json" scenarios/rollover.json \
    >"$tmp/out" 2>"$tmp/err"
st=$?
check "two valid and one invalid file: status 2, both valid ones said ok" [ "$st" -eq 2 ] &&
    [ "$(grep -c ': ok: ' "$tmp/out")" -eq 2 ]
check "... and a summary: 1 of 3 invalid" grep -qxF "metersim: --check: 1 of 3 scenarios invalid" "$tmp/err"

# A library name, as --scenario takes one (metersim --list-scenarios).
timeout 20 "$BIN" --check office-day >"$tmp/out" 2>"$tmp/err"
st=$?
check "a library name (office-day): status 0, its file named" [ "$st" -eq 0 ] &&
    grep -q 'scenarios/office-day.json: ok: 1 meter' "$tmp/out"

# --- the command line ----------------------------------------------------------
timeout 20 "$BIN" --check >"$tmp/out" 2>"$tmp/err"
st=$?
check "--check without a file: status 2 and why" [ "$st" -eq 2 ] && grep -qF "needs one or more scenario files" "$tmp/err"
timeout 20 "$BIN" --check --headless scenarios/office-day.json >"$tmp/out" 2>"$tmp/err"
st=$?
check "--check with a run's option: status 2, named" [ "$st" -eq 2 ] && grep -qF -- "--check --headless" "$tmp/err"
"$BIN" --help >"$tmp/help"
check "--check in --help" grep -qF -- "--check SCENARIO..." "$tmp/help"
check "--check in docs/cli.md" grep -qF -- "--check" docs/cli.md

echo "1..$n"
