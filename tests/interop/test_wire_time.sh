#!/bin/sh
# Wire-time emulation (the default): a client on the twin's pty measures, for
# a 2-register read, the request's frame time + the turnaround + the reply's
# frame time, as on copper (docs/modbus.md, Timing). Computed here:
#   8-byte request + 9-byte reply, 11 bits a character (8E1), at the meter's
#   baud rate, + the scenario's turnaround.
# The median of 20 round trips must lie within 1 ms of it. A round trip on a
# loaded 2-core machine can be late (the scheduler), never early: a run whose
# median misses is tried again, up to 3 times. Speaks TAP.
. "$(dirname "$0")/lib.sh"

measure() { # DESCRIPTION BAUD_CODE BAUD TURNAROUND_MS
    desc=$1 code=$2 baud=$3 ta=$4
    start_twin "{\"meter\": {\"turnaround\": \"${ta}ms\", \"settings\": {\"modbus_baud\": $code}},
                 \"load\": {\"current\": 10, \"pf\": 1}}" || { notok "$desc: the twin starts"; return; }
    verdict=""
    for try in 1 2 3; do
        if ! $PY "$(dirname "$0")/wire_latency.py" "$PORT" 20 "$baud" >"$tmp/lat" 2>"$tmp/lat.err"; then
            verdict="client failed: $(cat "$tmp/lat.err")"
            continue
        fi
        verdict=$($PY - "$tmp/lat" "$baud" "$ta" <<'PYEOF'
import statistics, sys
lat = [float(x) for x in open(sys.argv[1])]
baud, ta = int(sys.argv[2]), float(sys.argv[3]) / 1000
want = (8 + 9) * 11 / baud + ta
med = statistics.median(lat)
ok = abs(med - want) <= 0.001
print(("ok" if ok else "miss") + f" median {med * 1000:.3f} ms, expected {want * 1000:.3f} ms "
      f"(diff {(med - want) * 1000:+.3f} ms; min {min(lat) * 1000:.3f}, max {max(lat) * 1000:.3f})")
PYEOF
)
        case $verdict in ok*) break ;; esac
    done
    stop_twin
    case $verdict in
    ok*) ok "$desc: ${verdict#ok }${try:+ (try $try)}" ;;
    *) notok "$desc: $verdict" ;;
    esac
}

measure "9600 8E1, turnaround 10 ms" 6 9600 10
measure "19200 8E1, turnaround 25 ms" 7 19200 25
echo "1..$n"
