#!/bin/sh
# --http: server-sent events, tokens, refused starts, and no descriptor leak
# after many connections (counted in /proc/PID/fd). The load gives S0-1 and
# the LED pulses every second (6.9 kW at 1000 and 10000 imp/kWh, 6.6.3).
# Ports 47130-47132. Speaks TAP.
. "$(dirname "$0")/http_lib.sh"

SC='{"name":"http events","grid":{"voltage":230},"load":{"current":10,"pf":1},
 "meter":{"name":"m1","serial":"13070001"}}'
start_http 47130 "$SC" || { echo "not ok 1 - the twin starts"; exit 1; }
ok "the twin starts with --http"

curl -s -N --max-time 3.2 "$URL/api/events?meter=0" >"$tmp/sse.txt" &
sse=$!
sleep 1
api POST /api/meters/0/buttons '{"button":"right"}'
wait $sse
cat >"$tmp/sse.py" <<'PY'
import json, sys
ev, cur = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("event: "):
        cur = line[7:]
    elif line.startswith("data: "):
        ev.append((cur, json.loads(line[6:])))
kinds = [k for k, _ in ev]
r = [d for k, d in ev if k == "readings"]
i = [d for k, d in ev if k == "indicators"]
l = [d for k, d in ev if k == "lcd"]
secs = [d["t_ns"] // 10**9 for d in r]
ok = (kinds[0] == "hello" and len(l) >= 2 and 2 <= len(r) <= 5 and secs == sorted(set(secs))
      and all(len(d["energy"]) == 13 and d["meter"] == 0 for d in r)
      and len(i) >= 2 and i[-1]["led"]["pulses"] > i[0]["led"]["pulses"]
      and all("text" in d and "display" in d for d in l))
print("%d events: %d lcd, %d readings (seconds %s), %d indicators" % (len(ev), len(l), len(r), secs, len(i)))
sys.exit(0 if ok else 1)
PY
expect "events: hello, lcd on a change (a button), readings once a simulated second, indicators as the LED pulses" "$PY" "$tmp/sse.py" "$tmp/sse.txt"
head -c 300 "$tmp/sse.txt" | sed 's/^/# /' | head -3
api GET '/api/events?meter=4'
expect "events of an unknown meter: 404" eval 'status_is 404'

# Descriptors: many short connections, event streams, refused bodies and
# clients that vanish leave nothing open.
fds() { ls "/proc/$twin_pid/fd" | wc -l; }
before=$(fds)
"$PY" - "$HPORT" <<'PY'
import socket, sys, urllib.request, http.client
port = int(sys.argv[1])
for i in range(300):
    urllib.request.urlopen("http://127.0.0.1:%d/api/meters/0/readings" % port).read()
for i in range(20): # a client that connects and leaves, or sends half a request
    s = socket.create_connection(("127.0.0.1", port))
    if i % 2:
        s.sendall(b"GET /api/met")
    s.close()
for i in range(20): # event streams opened and dropped
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/api/events")
    r = c.getresponse()
    r.read1(100)
    c.close()
for i in range(20): # bodies over the bound
    c = http.client.HTTPConnection("127.0.0.1", port)
    try:
        c.request("POST", "/api/meters/0/physics", body=b" " * 70000)
        c.getresponse().read()
    except OSError:
        pass
    c.close()
PY
i=0
while [ "$(fds)" -gt "$before" ] && [ $i -lt 50 ]; do
    i=$((i + 1))
    sleep 0.1
done
after=$(fds)
expect "no descriptor leak after 360 connections ($before before, $after after)" [ "$after" -le "$before" ]
expect "the twin is still running" kill -0 "$twin_pid"

# A second twin on the same port is refused (status 2).
"$BIN" --headless --until 1s --http "127.0.0.1:$HPORT" >/dev/null 2>"$tmp/err2"
st=$?
expect "a port in use: status 2 naming it" eval '[ $st = 2 ] && grep -q "cannot listen" "$tmp/err2"'
stop_twin

"$BIN" --headless --until 1s --http 0.0.0.0:47132 >/dev/null 2>"$tmp/err3"
st=$?
expect "a non-loopback bind without --http-token: status 2 asking for it" eval '[ $st = 2 ] && grep -q -- "--http-token" "$tmp/err3" && grep -q "not a loopback" "$tmp/err3"'
"$BIN" --headless --until 1s --http 70000 >/dev/null 2>"$tmp/err4"
st=$?
expect "a bad port: status 2" eval '[ $st = 2 ] && grep -q "0 to 65535" "$tmp/err4"'
"$BIN" --headless --until 1s --http-token x >/dev/null 2>"$tmp/err5"
st=$?
expect "--http-token without --http: status 2" [ $st = 2 ]
"$BIN" --help >"$tmp/help"
expect "--help lists --http and --http-token" eval 'grep -q -- "--http \[HOST:\]PORT" "$tmp/help" && grep -q -- "--http-token TOKEN" "$tmp/help"'

# At --speed max the service is polled between the steps of the run.
"$BIN" --headless --speed max --quiet --fidelity sample --until 30d --http 127.0.0.1:47132 \
    --scenario "$tmp/scenario.json" >/dev/null 2>&1 &
twin_pid=$!
i=0
until code=$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:47132/api/meters/0/readings") &&
    [ "$code" = 200 ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && break
    sleep 0.05
done
t1=$(jq_ 'd["t_ns"]')
sleep 0.3
curl -s -o "$tmp/body" "http://127.0.0.1:47132/api/meters/0/readings"
t2=$(jq_ 'd["t_ns"]')
expect "--speed max: the API answers between the run's steps, and simulated time runs ahead fast" \
    "$PY" -c "import sys; sys.exit(0 if float('$t2') - float('$t1') > 5e9 else 1)"
stop_twin

start_http 47131 "$SC" --http-token s3cret 2>/dev/null
# start_http polls /api/meters, which answers 401 here: it still shows it is up.
api GET /api/meters
expect "with a token: a call without it is 401" eval 'status_is 401 && jt "\"token\" in d[\"error\"]"'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Authorization: Bearer wrong' "$URL/api/meters")
expect "... a wrong token is 401" status_is 401
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Authorization: Bearer s3cret' "$URL/api/meters")
expect "... Authorization: Bearer TOKEN is 200" eval 'status_is 200 && jt "len(d[\"meters\"])==1"'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$URL/api/meters?token=s3cret")
expect "... ?token=TOKEN is 200" status_is 200
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$URL/")
expect "... the page without it is 401" status_is 401
code=$(curl -s -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' "$URL/?token=s3cret")
expect "... the page with ?token= is 200 and sets an HttpOnly cookie" eval 'status_is 200 && grep -qi "^set-cookie: metersim_token=s3cret;.*HttpOnly" "$tmp/headers"'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -b 'metersim_token=s3cret' "$URL/api/meters/0/lcd")
expect "... the page's calls with the cookie are 200" status_is 200
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X PUT --data-binary '{"password":"0000","settings":{"tariff":2}}' "$URL/api/meters/0/settings")
expect "... a change without the token is 401" status_is 401
stop_twin
echo "1..$n"
