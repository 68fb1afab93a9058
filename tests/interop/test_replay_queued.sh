#!/bin/sh
# Record and replay with requests queued at the Modbus TCP gateway (issue 15,
# point 4): three mbpoll processes poll the twin at once over Modbus TCP
# (127.0.0.1:41110) while a fourth client pipelines five requests in one
# segment, so requests wait for the line behind each other. Live, a waiting
# request goes on the line when the host next looks, a little after the line
# became free; the recording says when ("start" records, version 2), and the
# replay puts each request on the line at that instant: the same replies and
# the same JSONL and pcap traces. A version 1 recording (no "start" records)
# is still read. The values are checked against the physics (230 V). Speaks
# TAP. REPLAY_QUEUED_PORT moves the port; TRACE_KEEP=DIR keeps traces that
# differ.
. "$(dirname "$0")/lib.sh"

if ! command -v mbpoll >/dev/null; then
    notok "mbpoll is installed (make deps)"
    echo "1..$n"
    exit 1
fi
P=${REPLAY_QUEUED_PORT:-41110}
REC=$tmp/session.jsonl
SCEN='{"meter": {"model": "4PU", "serial": "13070002"},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 10, "pf": 1}}'
if ! start_twin "$SCEN" --modbus "tcp:127.0.0.1:$P" --record "$REC" \
    --trace-jsonl "$tmp/live.jsonl" --trace-pcap "$tmp/live.pcap" || ! wait_published; then
    notok "the twin serves Modbus TCP, recording: $(cat "$tmp/twin.err")"
    echo "1..$n"
    exit 1
fi

for k in 1 2 3; do
    (
        for i in 1 2 3 4; do
            mbpoll -m tcp -p "$P" -a 1 -0 -B -1 -o 2 -t 4:float -r 0x5002 -c 3 127.0.0.1
        done >"$tmp/poll$k.out" 2>&1
    ) &
done
# Five requests (read U L1..L3, two registers each) in one segment: the
# gateway takes them one at a time.
$PY - "$P" >"$tmp/pipe.out" 2>&1 <<'PY'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"".join(struct.pack(">HHHBBHH", t, 0, 6, 1, 3, 0x5002, 6) for t in range(1, 6)))
got, end = b"", time.time() + 5
while len(got) < 5 * 21 and time.time() < end:
    s.settimeout(end - time.time())
    got += s.recv(4096)
ok = len(got) == 5 * 21
for k in range(5):
    tid, _, ln, unit, fc, bc = struct.unpack_from(">HHHBBB", got, 21 * k)
    u = struct.unpack_from(">3f", got, 21 * k + 9)
    ok = ok and tid == k + 1 and fc == 3 and bc == 12 and all(abs(x - 230) < 0.5 for x in u)
print("ok" if ok else "bad: %r" % got)
PY
wait_polls() {
    for k in 1 2 3; do
        i=0
        while [ "$(grep -c '^\[20482\]' "$tmp/poll$k.out" 2>/dev/null)" -lt 4 ] && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    done
}
wait_polls
good=$(cat "$tmp/poll1.out" "$tmp/poll2.out" "$tmp/poll3.out" | grep -cE '^\[2048[246]\]:[[:space:]]+230$')
if [ "$good" -eq 36 ] && grep -q '^ok$' "$tmp/pipe.out"; then
    ok "three mbpoll at once and a pipelining client read U = 230 V on L1..L3 (36 + 15 values)"
else
    notok "concurrent reads: $good of 36 mbpoll values; pipelined: $(cat "$tmp/pipe.out")"
fi
sleep 0.3
stop_twin

# Which requests waited: a "start" later than the last input of its
# connection (its request arrived while the line was busy).
$PY - "$REC" >"$tmp/starts.out" 2>&1 <<'PY'
import json, sys
last_in, starts, waited = {}, 0, 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    key = (o.get("ep"), o.get("conn"))
    if o.get("type") == "in":
        last_in[key] = o["t_ns"]
    elif o.get("type") == "start":
        starts += 1
        waited += o["t_ns"] > last_in.get(key, o["t_ns"])
print(starts, waited)
PY
read -r starts waited <"$tmp/starts.out"
if [ "${starts:-0}" -eq 17 ] && [ "${waited:-0}" -ge 1 ]; then
    ok "the recording (version 2) has a start for each of the 17 requests, $waited of them after waiting for the line"
else
    notok "start records: $(cat "$tmp/starts.out")"
fi

"$BIN" --replay "$REC" --quiet --trace-jsonl "$tmp/replay.jsonl" --trace-pcap "$tmp/replay.pcap" \
    >"$tmp/replay.log" 2>"$tmp/replay.err"
st=$?
[ $st -eq 0 ] && grep -q identical "$tmp/replay.err" &&
    ok "--replay gives byte-identical replies" ||
    notok "--replay (status $st): $(cat "$tmp/replay.err")"
if cmp -s "$tmp/live.jsonl" "$tmp/replay.jsonl" && cmp -s "$tmp/live.pcap" "$tmp/replay.pcap"; then
    ok "the replay's JSONL and pcap traces are byte-identical to the live run's"
else
    notok "traces differ: $(cmp "$tmp/live.jsonl" "$tmp/replay.jsonl" 2>&1; cmp "$tmp/live.pcap" "$tmp/replay.pcap" 2>&1)"
    [ -n "${TRACE_KEEP:-}" ] && cp "$REC" "$tmp"/live.* "$tmp"/replay.* "$TRACE_KEEP"/
fi

# The same session as a version 1 file (an older metersim: no "start"
# records, renumbered) is still read and replayed; its queued requests start
# when the line is free, so its replies may differ (status 1), never refused.
$PY - "$REC" >"$tmp/v1.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
h = json.loads(lines[0])
h["version"] = 1
out, n = [json.dumps(h)], 0
for line in lines[1:]:
    o = json.loads(line)
    if o["type"] == "start":
        continue
    n += 1
    o["n"] = n
    out.append(json.dumps(o))
print("\n".join(out))
PY
"$BIN" --replay "$tmp/v1.jsonl" --quiet >/dev/null 2>"$tmp/v1.err"
st=$?
{ [ $st -eq 0 ] && grep -q identical "$tmp/v1.err"; } ||
    { [ $st -eq 1 ] && grep -q "the replies differ" "$tmp/v1.err"; } &&
    ok "a version 1 recording of it (no start records) is read and replayed (status $st)" ||
    notok "version 1 (status $st): $(cat "$tmp/v1.err")"

# A start record in a version 1 file is refused, naming the record.
sed '1s/"version":2/"version":1/' "$REC" >"$tmp/v1bad.jsonl"
bad=$(grep -n '"type":"start"' "$tmp/v1bad.jsonl" | head -1 | cut -d: -f1)
"$BIN" --replay "$tmp/v1bad.jsonl" --quiet >/dev/null 2>"$tmp/v1bad.err"
st=$?
[ $st -eq 2 ] && grep -q "record $((bad - 1)): type start" "$tmp/v1bad.err" &&
    ok "a start record in a version 1 file is refused (status 2, record $((bad - 1)))" ||
    notok "start in version 1 (status $st): $(cat "$tmp/v1bad.err")"
echo "1..$n"
