#!/bin/sh
# The web service's benchmark (issue 16, docs/http.md):
#
# 1. GET /api/meters/0/readings per second and its p50/p99 latency, one
#    request at a time on a keep-alive connection (a Python http.client), while
#    the twin serves Modbus TCP at full rate (--fast, the libmodbus client of
#    bench_modbus_tcp.sh reading 0x5002 back to back); and that Modbus rate
#    beside the rate of a run of the same length without HTTP load, measured
#    here. Every HTTP reply is checked (A4.4's 13 + 13 rows, L1 voltage 230 V
#    +- 0.5 for the scenario's 230 V), every Modbus reply by the client (U L1
#    = 230 V +- 0.5): a wrong value or a failed run prints no figure.
# 2. The cost of --http with no browser connected on the sample-level figure:
#    6 h of one meter at 8 kHz (--fidelity sample), headless at full speed,
#    without and with --http, in turn, RUNS rounds; the figure is the least
#    CPU time (user + system) of each, the overhead their ratio (target under
#    5 %). Both runs must succeed and log the same readings.
#
#   BENCH_HTTP_SECONDS (4)  RUNS (3)
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
OUT=$BUILD/bench/modbus
SECS=${BENCH_HTTP_SECONDS:-4}
RUNS=${RUNS:-3}
HTTP_PORT=47190
MB_PORT=47191
mkdir -p "$OUT"
tmp=$(mktemp -d)
twin=""
stop() {
    [ -n "$twin" ] && kill "$twin" 2>/dev/null && wait "$twin" 2>/dev/null
    twin=""
}
trap 'stop; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

MB="$(pkg-config --cflags --libs libmodbus)"
# shellcheck disable=SC2086
[ -x "$OUT/tcp_client" ] || cc -std=c11 -O2 -Wall -Wextra -Werror bench/modbus/tcp_client.c \
    -o "$OUT/tcp_client" $MB -lm || {
    echo "bench_http: cannot build bench/modbus/tcp_client.c (make deps: libmodbus-dev)"
    exit 1
}

# ---- 1. readings GETs while Modbus runs at full rate ----------------------
echo '{"meter": {"turnaround": "10ms"}, "load": {"current": 10, "pf": 1}}' >"$tmp/sc.json"
"$BIN" --headless --quiet --fast --scenario "$tmp/sc.json" --modbus "tcp:127.0.0.1:$MB_PORT" \
    --http "127.0.0.1:$HTTP_PORT" >/dev/null 2>"$tmp/twin.err" &
twin=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/meters"; do
    i=$((i + 1))
    if [ $i -gt 250 ] || ! kill -0 "$twin" 2>/dev/null; then
        echo "bench_http: the twin did not start: $(cat "$tmp/twin.err"): no figure"
        exit 1
    fi
    sleep 0.02
done
cat >"$tmp/get.py" <<'PY'
# get.py PORT SECONDS: readings GETs one at a time; "n rps p50_us p99_us bad"
import http.client, json, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
def get():
    c.request("GET", "/api/meters/0/readings")
    r = c.getresponse()
    return r.status, json.loads(r.read())
t_end = time.monotonic() + 5 # the first window (the registers read 0 before)
while time.monotonic() < t_end:
    st, d = get()
    if st == 200 and abs(d["instantaneous"][1]["value"] - 230) < 0.5:
        break
lat, bad = [], 0
t0 = time.monotonic()
while time.monotonic() - t0 < secs:
    a = time.perf_counter()
    st, d = get()
    lat.append(time.perf_counter() - a)
    ok = (st == 200 and len(d["energy"]) == 13 and len(d["instantaneous"]) == 13
          and d["instantaneous"][1]["label"] == "L1 Voltage"
          and abs(d["instantaneous"][1]["value"] - 230) < 0.5)
    bad += not ok
el = time.monotonic() - t0
lat.sort()
print(len(lat), "%.0f" % (len(lat) / el), "%.0f" % (lat[len(lat) // 2] * 1e6),
      "%.0f" % (lat[int(len(lat) * 0.99)] * 1e6), bad)
PY
alone=$("$OUT/tcp_client" 127.0.0.1 "$MB_PORT" "$SECS" 100000000 1 2>"$tmp/c1.err") || {
    echo "bench_http: Modbus alone failed: $alone $(cat "$tmp/c1.err"): no figure"
    exit 1
}
"$OUT/tcp_client" 127.0.0.1 "$MB_PORT" "$SECS" 100000000 1 >"$tmp/c2.out" 2>"$tmp/c2.err" &
client=$!
http=$("$PY" "$tmp/get.py" "$HTTP_PORT" "$SECS") || http="failed"
wait "$client"
mst=$?
with=$(cat "$tmp/c2.out")
stop
set -- $http
if [ "$http" = failed ] || [ "$mst" -ne 0 ] || [ "$5" -ne 0 ]; then
    echo "bench_http: a run failed or read a wrong value (http: $http; modbus: $with): no figure"
    exit 1
fi
n=$1 hrps=$2 p50=$3 p99=$4
mb_alone=$(printf '%s' "$alone" | sed -n 's/.* rps \([0-9.]*\) .*/\1/p')
mb_with=$(printf '%s' "$with" | sed -n 's/.* rps \([0-9.]*\) .*/\1/p')
echo "readings GETs while Modbus TCP runs at full rate (--fast), ${SECS} s each, every reply checked:"
printf '  GET /api/meters/0/readings  %s req/s  p50 %s us  p99 %s us  (%s requests, A4.4 rows and 230 V right)\n' \
    "$hrps" "$p50" "$p99" "$n"
printf '  Modbus TCP 03 5002 beside it  %s req/s; alone %s req/s (%s of it; 230 V right)\n' \
    "$mb_with" "$mb_alone" "$(awk -v a="$mb_alone" -v w="$mb_with" 'BEGIN { printf "%.0f %%", 100 * w / a }')"

# ---- 2. the cost of --http with no browser, sample level -----------------
echo '{"name": "bench_http: 6 h", "duration": "6h", "grid": {"voltage": 230},
 "load": {"current": 10, "pf": 0.9}, "meter": {"name": "m1", "serial": "13070001"}}' >"$tmp/6h.json"
export RUNS
times=$("$PY" - "$tmp" "$BIN" "$HTTP_PORT" <<'PY'
import os, resource, subprocess, sys
d, binary, port = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = [binary, "--headless", "--speed", "max", "--every", "60s", "--fidelity", "sample",
       "--scenario", d + "/6h.json"]
configs = [("none", []), ("http", ["--http", "127.0.0.1:" + port])]
best = {}
for _ in range(int(os.environ.get("RUNS", "3"))):
    for name, extra in configs:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(d + "/" + name + ".log", "w") as out:
            st = subprocess.run(cmd + extra, stdout=out, stderr=subprocess.DEVNULL).returncode
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if st != 0:
            print("fail %s status %d" % (name, st))
            sys.exit(1)
        t = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best[name] = min(best.get(name, t), t)
a, b = open(d + "/none.log").read(), open(d + "/http.log").read()
if a != b or a.count("\n") != 360:
    print("the logs differ or are short (%d lines)" % a.count("\n"))
    sys.exit(1)
print("%.3f %.3f" % (best["none"], best["http"]))
PY
) || {
    echo "bench_http: a sample-level run failed ($times): no figure"
    exit 1
}
set -- $times
awk -v b="$1" -v h="$2" -v r="$RUNS" 'BEGIN {
    printf "6 h of one meter at 8 kHz (--fidelity sample), CPU time (least of %s runs), the same 360 readings logged:\n", r
    printf "  without --http %.2f s; with --http, no browser %.2f s (%+.1f %%, target < 5 %%)\n", b, h, 100 * (h - b) / b
}'
