#!/bin/sh
# --record / --replay / --record-to-scenario on recordings made here by hand
# (issue 15, "Bad input"): the test writes a recording of its own (the
# header's CRC-32 by Python's zlib, the request's CRC-16 computed here), so
# what is refused and why does not depend on the twin's writer. A recording
# truncated, of another version or out of order is refused with status 2 and
# the record number and what was expected; a reply the recording does not
# have is a difference (status 1). Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
# expect DESC STATUS PATTERN CMD...: the command exits with STATUS and its
# standard error contains PATTERN (grep -E).
expect() {
    desc=$1 want=$2 pat=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq "$want" ] && grep -qE -- "$pat" "$tmp/err"; then
        ok "$desc"
    else
        notok "$desc (status $st, expected $want; stderr: $(cat "$tmp/err"))"
    fi
}

printf '%s\n' '{"meter": {"model": "4PU", "serial": "13070001"}, "grid": {"voltage": 230}, "load": {"current": 5}}' >"$tmp/s.json"

# mkrec OUT ID: a recording of two Modbus requests (read 0x5002, 2 words) to
# slave ID at 1.5 s and 2.0 s on one pty, no reply recorded, the end at 3 s.
mkrec() {
    $PY - "$tmp/s.json" "$1" "$2" <<'PYEOF'
import json, sys, zlib, os
scen, out, sid = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(scen).read()
def crc16(b):  # Modbus over Serial Line V1.02, 6.2.2: poly 0xA001, init 0xFFFF
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return bytes([c & 0xFF, c >> 8])
req = bytes([sid, 0x03, 0x50, 0x02, 0x00, 0x02])
req += crc16(req)
recs = [{"format": "metersim-record", "version": 1, "metersim": "0.1",
         "scenario": {"path": os.path.realpath(scen), "crc32": "%08x" % zlib.crc32(text.encode()), "text": text},
         "flags": {"fast": False, "copper": False, "allow_outside_paths": False,
                   "until_ns": 0, "tcp_idle_ns": 0, "gateway_timeout_ns": 0}},
        {"n": 1, "t_ns": 0, "type": "endpoint", "ep": 0, "line": "modbus", "spec": "pty", "bus": "bus1", "copper": False},
        {"n": 2, "t_ns": 1500000000, "type": "in", "ep": 0, "hex": req.hex()},
        {"n": 3, "t_ns": 2000000000, "type": "in", "ep": 0, "hex": req.hex()},
        {"n": 4, "t_ns": 3000000000, "type": "end"}]
with open(out, "w") as f:
    for r in recs:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
PYEOF
}
mkrec "$tmp/id7.jsonl" 7
mkrec "$tmp/id1.jsonl" 1

# The controls: ID 7 is not the meter's (factory ID 1, A3.1): it stays
# silent, as the recording says; to ID 1 it answers, which the recording
# does not have.
expect "a recording of requests to another ID replays identical (no reply, status 0)" 0 \
    'identical' "$BIN" --replay "$tmp/id7.jsonl" --quiet
expect "a reply the recording does not have is a difference (status 1, after its last reply)" 1 \
    'the replies differ: endpoint 0: the replay sent 0x01 .*expected nothing more' \
    "$BIN" --replay "$tmp/id1.jsonl" --quiet

# Truncated: the end record cut off; a line cut in the middle.
head -n 4 "$tmp/id7.jsonl" >"$tmp/cut.jsonl"
expect "truncated (no end record): refused, status 2, record 4, what was expected" 2 \
    'cut.jsonl: record 4: the file ends here, expected more records and then "end": truncated' \
    "$BIN" --replay "$tmp/cut.jsonl"
head -c -20 "$tmp/id7.jsonl" >"$tmp/cut2.jsonl"
expect "truncated in the middle of a line: refused, status 2, record 4" 2 \
    'cut2.jsonl: record 4: the line does not end: the file is truncated' \
    "$BIN" --replay "$tmp/cut2.jsonl"
expect "--record-to-scenario refuses a truncated recording the same way (status 2)" 2 \
    'record 4: the file ends here' "$BIN" --record-to-scenario "$tmp/cut.jsonl" "$tmp/x.json"

# Another version, another format.
sed '1s/"version":[0-9]*/"version":3/' "$tmp/id7.jsonl" >"$tmp/v3.jsonl"
expect "version 3: refused, status 2, record 0 (the header), versions 1 to 2 expected" 2 \
    'record 0 \(the header\): version 3, expected 1 to 2' "$BIN" --replay "$tmp/v3.jsonl"
sed '1s/"metersim-record"/"pcap"/' "$tmp/id7.jsonl" >"$tmp/fmt.jsonl"
expect "another format: refused, status 2" 2 \
    'record 0 \(the header\): format "pcap", expected "metersim-record"' \
    "$BIN" --replay "$tmp/fmt.jsonl"

# Out of order: two records swapped as they were; swapped and renumbered.
awk 'NR==3{a=$0; next} NR==4{print; print a; next} {print}' "$tmp/id7.jsonl" >"$tmp/swap.jsonl"
expect "records swapped: refused, status 2, record 2 numbered 3" 2 \
    'record 2: numbered 3, expected 2 \(records out of order' "$BIN" --replay "$tmp/swap.jsonl"
sed -e '3s/"n":3/"n":2/' -e '4s/"n":2/"n":3/' "$tmp/swap.jsonl" >"$tmp/renum.jsonl"
expect "swapped and renumbered: refused, status 2, record 3's time goes back" 2 \
    'record 3: t_ns 1500000000 is before the previous input.s 2000000000, expected times that never go back' \
    "$BIN" --replay "$tmp/renum.jsonl"
sed '4s/"ep":0/"ep":3/' "$tmp/id7.jsonl" >"$tmp/ep.jsonl"
expect "an input on an endpoint never declared: refused, status 2" 2 \
    'record 3: endpoint unknown, expected one declared before \(0 to 0\)' \
    "$BIN" --replay "$tmp/ep.jsonl"
# A raw TCP endpoint: bytes on a connection that never connected.
sed -e '2s/"spec":"pty"/"spec":"rtu-over-tcp:127.0.0.1:41101"/' \
    -e '3s/"ep":0,/"ep":0,"conn":0,/' "$tmp/id7.jsonl" >"$tmp/conn.jsonl"
expect "bytes on a TCP connection never connected: refused, status 2" 2 \
    'record 2: connection 0 of TCP endpoint 0, expected a "connect" first' \
    "$BIN" --replay "$tmp/conn.jsonl"
sed '1s/current\\": 5/current\\": 6/' "$tmp/id7.jsonl" >"$tmp/scen.jsonl"
expect "the recorded scenario edited (its CRC-32 no longer matches): refused, status 2" 2 \
    'record 0 \(the header\): the scenario.s text has CRC-32 [0-9a-f]{8}, expected [0-9a-f]{8}' \
    "$BIN" --replay "$tmp/scen.jsonl"

# --record: what it cannot hold (the state file's memory) is refused before
# the run; a file it cannot write stops the run before it starts (status 3).
expect "--record with --state: refused, status 2" 2 'not with --state' \
    "$BIN" --headless --scenario "$tmp/s.json" --until 1s --record "$tmp/r.jsonl" --state "$tmp/st"
expect "--record to a file that cannot be written: status 3 before the run" 3 \
    '--record /nonexistent/r.jsonl: cannot be written' \
    "$BIN" --headless --scenario "$tmp/s.json" --until 1s --record /nonexistent/r.jsonl
[ ! -s "$tmp/out" ] && ok "... and nothing ran (no log)" || notok "... a log was written: $(head -2 "$tmp/out")"
expect "--replay with --scenario: refused, status 2" 2 'the scenario, the endpoints and the flags are the recording' \
    "$BIN" --replay "$tmp/id7.jsonl" --scenario "$tmp/s.json"
expect "--record-to-scenario into a folder that does not exist: status 3" 3 \
    '/nonexistent/x.json cannot be written' "$BIN" --record-to-scenario "$tmp/id7.jsonl" /nonexistent/x.json

# A headless recording without endpoints: the header and its end, replayed.
"$BIN" --headless --quiet --scenario "$tmp/s.json" --until 2s --record "$tmp/h.jsonl" >/dev/null 2>&1
expect "a headless recording (no endpoints) replays (status 0)" 0 'identical' \
    "$BIN" --replay "$tmp/h.jsonl" --quiet
echo "1..$n"
