#!/bin/sh
# Lazy stepping (docs/decisions.md): in a paced run that only its lines look
# at, each meter moves when its bus has traffic for it, when an event acts on
# it, and otherwise in turn about once a second; frames for other slaves
# reach a meter while its clock lags (meter_line_others), and a waveform set
# while it lags waits for it at its second. None of that may show: the same
# fleet, with load ramps every second, requests to several IDs on two buses
# (the same IDs on both), a setting, a supply loss and readings every 5 s,
# must give the same bytes paced (lazy, --stats says so) as at full speed,
# where every meter crosses every stop together. The requests' expected
# values are the grid's 230 V. Speaks TAP.
. "$(dirname "$0")/../tap.sh"
# same_paced SCENARIO TAG [flags...]: the scenario at full speed into
# $tmp/TAG.max and at --speed 20 into $tmp/TAG.paced (statuses in st1, st2);
# true when both end with status 0 and log the same bytes.
same_paced() {
    f=$1 tag=$2
    shift 2
    "$BIN" --headless --scenario "$f" "$@" --speed max >"$tmp/$tag.max" 2>/dev/null
    st1=$?
    "$BIN" --headless --scenario "$f" "$@" --speed 20 >"$tmp/$tag.paced" 2>/dev/null
    st2=$?
    [ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] && cmp -s "$tmp/$tag.max" "$tmp/$tag.paced"
}

cat >"$tmp/fleet.json" <<'JSON'
{ "name": "a lazy fleet", "seed": 5, "duration": "24s",
  "grid": { "voltage": 230, "harmonics": [ { "order": 5, "percent": 3 } ], "noise": 0.02 },
  "load": { "current": 6, "pf": 0.9 },
  "buses": [
    { "name": "north", "meters": [ { "name": "n{n}", "count": 6, "serial": "13070001",
                                     "vary": { "current": [0.5, 1.5] } } ] },
    { "name": "south", "meters": [ { "name": "s{n}", "count": 6, "serial": "13080001",
                                     "vary": { "current": [0.5, 1.5], "pf": [0.8, 1.0] } } ] } ],
  "timeline": [
    { "at": "2s", "load": { "current": { "ramp": { "from": 4, "to": 16, "over": "15s" } }, "pf": 0.9 } },
    { "at": "3s", "bus": "north", "modbus": { "request": "03 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "3500ms", "bus": "south", "modbus": { "request": "06 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "5s", "bus": "north", "modbus": { "request": "05 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "7s", "meter": "n4", "set": { "tariff": 2 } },
    { "at": "9s", "meter": "s3", "supply": false },
    { "at": "11s", "meter": "s3", "supply": true },
    { "at": "13s", "bus": "north", "modbus": { "request": "01 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "13s", "bus": "south", "modbus": { "request": "01 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "17s", "bus": "south", "modbus": { "request": "03 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "21s", "bus": "north", "modbus": { "request": "04 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } },
    { "at": "23s", "meter": "s6", "assert": { "field": "voltage.L1", "equals": 230, "tolerance": 0.5 } }
  ] }
JSON

"$BIN" --headless --scenario "$tmp/fleet.json" --every 5s --speed max --stats >"$tmp/max" 2>"$tmp/max.err"
st1=$?
"$BIN" --headless --scenario "$tmp/fleet.json" --every 5s --speed 8 --stats >"$tmp/paced" 2>"$tmp/paced.err"
st2=$?
if [ "$st1" -eq 0 ] && [ "$st2" -eq 0 ]; then
    ok "full speed and --speed 8: status 0 (every request answered 230 V)"
else
    notok "status $st1 at full speed, $st2 at --speed 8"
    tail -n 3 "$tmp/max.err" "$tmp/paced.err" | sed 's/^/# /'
fi
if grep -q '"lazy":true' "$tmp/paced.err" && grep -q '"lazy":false' "$tmp/max.err"; then
    ok "--stats: the paced run stepped lazily, the run at full speed did not"
else
    notok "--stats: lazy not as expected: $(grep -o '"lazy":[a-z]*' "$tmp/paced.err" "$tmp/max.err" | tr '\n' ' ')"
fi
lines=$(wc -l <"$tmp/max")
xfers=$(grep -c '"modbus"' "$tmp/max")
if [ "$lines" -gt 20 ] && cmp -s "$tmp/max" "$tmp/paced"; then
    ok "the same log paced and at full speed ($lines lines, $xfers lines on requests)"
else
    notok "the logs differ ($lines lines at full speed)"
    diff "$tmp/max" "$tmp/paced" | head -5 | sed 's/^/# /'
fi
# A trace looks at every meter between the lines: that run steps them together.
"$BIN" --headless --scenario "$tmp/fleet.json" --until 3s --speed 8 --stats \
    --trace-jsonl "$tmp/t.jsonl" >/dev/null 2>"$tmp/tr.err"
if grep -q '"lazy":false' "$tmp/tr.err"; then
    ok "with a trace, a paced run steps its meters together"
else
    notok "with a trace: $(grep -o '"lazy":[a-z]*' "$tmp/tr.err")"
fi
# --every below a second: the readings fall on their multiples at any pace.
# An event off the 50 ms grid (1.3 s) used to shift the common stops, and
# a paced run's wakes shifted them again: most multiples of 250 ms were
# missed, and differently paced than at full speed. 4 s at 250 ms is 16
# readings of each meter (0.25 s to 4 s).
cat >"$tmp/every.json" <<'JSON'
{ "name": "readings 4 a second", "duration": "4s", "load": { "current": 5 },
  "meters": [ { "name": "a", "serial": "13070001", "settings": { "modbus_id": 1 } },
              { "name": "b", "serial": "13070002", "settings": { "modbus_id": 2 } } ],
  "timeline": [
    { "at": "1300ms", "meter": "b", "load": { "current": 9 } },
    { "at": "2100ms", "modbus": { "request": "02 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } } ] }
JSON
"$BIN" --headless --scenario "$tmp/every.json" --every 250ms --speed max >"$tmp/e.max" 2>/dev/null
"$BIN" --headless --scenario "$tmp/every.json" --every 250ms --speed 20 --stats >"$tmp/e.paced" 2>"$tmp/e.err"
na=$(grep -c '"meter":"a","f"' "$tmp/e.max")
nb=$(grep -c '"meter":"b","f"' "$tmp/e.max")
if [ "$na" -eq 16 ] && [ "$nb" -eq 16 ]; then
    ok "--every 250ms over 4 s: 16 readings of each meter at full speed"
else
    notok "--every 250ms over 4 s: $na readings of a, $nb of b at full speed (16 each expected)"
fi
if grep -q '"lazy":true' "$tmp/e.err" && cmp -s "$tmp/e.max" "$tmp/e.paced"; then
    ok "--every 250ms: the same log paced (lazy) and at full speed"
else
    notok "--every 250ms: the logs differ ($(grep -c '"meter":"a","f"' "$tmp/e.paced") readings of a paced)"
    diff "$tmp/e.max" "$tmp/e.paced" | head -3 | cut -c1-100 | sed 's/^/# /'
fi
# A request that starts within t3.5 of the last frame's end joins it
# (Serial Line 2.5.1.1), at any pace. At 9600 8E1 a character is 1.146 ms
# and t3.5 4.01 ms: the 8N1 frame at 1958 ms (parity errors at the meters'
# 8E1) begins 2.8 ms after the request to 9 ends, and its last character
# ends 3.97 ms before the next request to 9 at 1970 ms: the three are one
# damaged frame, and nothing answers. Paced, the replies and ports at the
# step to 1970 ms moved meter 9 a tick past the event before its request
# went out: its t3.5 ran out, and it answered (and wrote the LCD cycle).
cat >"$tmp/t35.json" <<'JSON'
{ "name": "within t3.5", "duration": "3s", "load": { "current": 5 },
  "meters": [ { "name": "a", "serial": "13070001", "settings": { "modbus_id": 8 } },
              { "name": "b", "serial": "13070002", "settings": { "modbus_id": 9 } } ],
  "timeline": [
    { "at": "1946ms", "modbus": { "request": "09 03 60 00 00 04", "expect_none": true } },
    { "at": "1958ms", "modbus": { "request": "02 06 40 10 00 03", "parity": "none", "expect_none": true } },
    { "at": "1970ms", "modbus": { "request": "09 06 40 10 00 03", "expect_none": true } } ] }
JSON
if same_paced "$tmp/t35.json" t --every 3s; then
    ok "a request within t3.5 of a frame joins it, paced as at full speed: no reply"
else
    notok "a request within t3.5: status $st1 at full speed, $st2 paced"
    grep 'timeline\[2\]' "$tmp/t.paced" | cut -c1-160 | sed 's/^/# /'
fi
# A reply due just past a second: the request to b at 8981 ms ends at
# 8990.17 ms (8 characters of 1.146 ms at 9600 8E1) and b answers 10 ms
# later, at 9000.17 ms. The load steps from 1 A to 60 A at 9 s. a and b
# draw the same load, and a is asked nothing: the two must register the
# same energy, to the last digit, paced as at full speed. Paced, the ports
# at the step to 9 s brought b up to the wall clock before that second's
# waveforms and readings: b met its 60 A late (0.1 Wh less by 12 s) and the
# reading at 9 s was taken late.
cat >"$tmp/late.json" <<'JSON'
{ "name": "a reply due just past a second", "duration": "12s",
  "load": { "current": { "steps": [["0s", 1], ["9s", 60]] }, "pf": 1 },
  "meters": [ { "name": "a", "serial": "13070001", "turnaround": "10ms", "settings": { "modbus_id": 1 } },
              { "name": "b", "serial": "13070002", "turnaround": "10ms", "settings": { "modbus_id": 2 } } ],
  "timeline": [
    { "at": "8981ms", "modbus": { "request": "02 03 50 02 00 02", "expect_floats": [230], "tolerance": 0.5 } } ] }
JSON
"$BIN" --headless --scenario "$tmp/late.json" --speed max >"$tmp/l.max" 2>/dev/null
"$BIN" --headless --scenario "$tmp/late.json" --speed 20 >"$tmp/l.paced" 2>/dev/null
same_ab() { [ "$(grep -E '"t":(9|10|11|12),' "$1" | sed 's/"meter":"[ab]"//' | uniq | wc -l)" -eq 4 ]; }
if same_ab "$tmp/l.max" && same_ab "$tmp/l.paced" && cmp -s "$tmp/l.max" "$tmp/l.paced"; then
    ok "a reply due just past a second: a and b read the same from 9 s on, paced as at full speed"
else
    notok "a reply due just past a second: a and b differ, or paced and full speed do"
    diff "$tmp/l.max" "$tmp/l.paced" | grep -o '"t":[0-9]*,"meter":"[ab]".*"E_total_kWh":[0-9.]*' |
        sed 's/"f".*"E_total/ E_total/; s/^/# /' | head -4
fi
# An ID set while a frame to it ends: the request to 5 ends at 2009.17 ms,
# and its end is known at t3.5 later (2013.18 ms at 9600 8E1); b takes ID 5
# at 2010 ms, so b answers with its serial (0x4000, BCD: 13070002). Paced,
# b lagged with the frame taken for another's, the line's due time stayed
# "never" after the setting, and b answered long after the master gave up.
cat >"$tmp/id.json" <<'JSON'
{ "name": "an ID set while a frame to it ends", "duration": "4s", "load": { "current": 5 },
  "meters": [ { "name": "a", "serial": "13070001", "turnaround": "10ms", "settings": { "modbus_id": 1 } },
              { "name": "b", "serial": "13070002", "turnaround": "10ms", "settings": { "modbus_id": 2 } } ],
  "timeline": [
    { "at": "2000ms", "modbus": { "request": "05 03 40 00 00 02", "expect": "05 03 04 13 07 00 02" } },
    { "at": "2010ms", "meter": "b", "set": { "modbus_id": 5 } } ] }
JSON
if same_paced "$tmp/id.json" i; then
    ok "an ID set within t3.5 of a frame to it: the meter answers, paced as at full speed"
else
    notok "an ID set within t3.5 of a frame to it: status $st1 at full speed, $st2 paced"
    grep '"modbus"' "$tmp/i.paced" | cut -c1-160 | sed 's/^/# /'
fi
# Bytes heard in a turnaround: b's reply to the first request is due at
# 2019.17 ms (its end at 2009.17 ms, 10 ms turnaround); a request at 19200
# (2015 to 2019.58 ms) reaches b, busy with its reply, meanwhile. The reply
# still leaves at 2019.17 ms, and the master, at 19200, hears it garbled
# (0.42 ms before its own request ends). The bytes had moved b's line clock
# past its reply's start: the reply had no due time, and went out only with
# the next request's reply, 90 ms late; at full speed another meter's t3.5
# picked it up in time, so two meters were right at full speed and wrong
# paced, one meter wrong at both.
for nm in 2 1; do
    if [ "$nm" -eq 2 ]; then
        a='{ "name": "a", "serial": "13070001", "turnaround": "10ms", "settings": { "modbus_id": 1 } },'
    else
        a=''
    fi
    cat >"$tmp/turn.json" <<JSON
{ "name": "bytes in a turnaround", "duration": "3s", "load": { "current": 5 },
  "meters": [ $a
              { "name": "b", "serial": "13070002", "turnaround": "10ms", "settings": { "modbus_id": 2 } } ],
  "timeline": [
    { "at": "2000ms", "modbus": { "request": "02 03 40 00 00 02" } },
    { "at": "2015ms", "modbus": { "request": "01 03 40 00 00 02", "baud": 19200, "expect_garbled": true } },
    { "at": "2100ms", "modbus": { "request": "02 03 40 00 00 02", "expect": "02 03 04 13 07 00 02" } } ] }
JSON
    if same_paced "$tmp/turn.json" u; then
        ok "$nm meter(s): a reply leaves on time though bytes came in its turnaround, paced as at full speed"
    else
        notok "$nm meter(s): bytes in a turnaround: status $st1 at full speed, $st2 paced"
        grep '"modbus"' "$tmp/u.paced" | cut -c60-190 | sed 's/^/# /'
    fi
done
# Forty meters answer a REQ_UD2 to 254 (every meter, EN 13757-2) at once,
# at 300 baud, each after its own 33 to 40 bit times: more replies than the
# bus keeps apart (32). The master hears garbage, the same garbage at any
# pace: at full speed the bus took the first 32 meters in its order at a
# stop, paced the first 32 to fall due.
cat >"$tmp/forty.json" <<'JSON'
{ "name": "forty answer at once", "duration": "3s", "load": { "current": 5 },
  "meters": [ { "name": "m{n}", "count": 40, "serial": "13070001", "settings": { "mbus_baud": 300 } } ],
  "timeline": [ { "at": "2s", "mbus": { "short": "7B FE", "expect_garbled": true } } ] }
JSON
if same_paced "$tmp/forty.json" f; then
    ok "forty M-Bus replies at once: the same garbage paced as at full speed"
else
    notok "forty M-Bus replies at once: status $st1 at full speed, $st2 paced, or the logs differ"
fi
echo "1..$n"
