#!/bin/sh
# The same scenario gives the same trace bytes at any pace (issue 15: "the
# same scenario gives the same bytes, at any speed"; docs/trace.md, "Same
# bytes at any pace"): a scenario whose timeline is the Modbus and M-Bus
# master (tests/cli/trace/trace-modbus.json; tests/scenarios/pass/bus.json,
# three meters on one bus, its last request sent at the end, which a paced
# run waited for forever) and one that works the menu by
# its buttons (tests/scenarios/pass/menu-manual.json, many LCD changes) run
# headless at full speed and paced (--speed 20, the host chunks the meters'
# samples by the wall clock); their VCD, pcap and JSONL must be byte for
# byte the same. The JSONL is checked to be in order of time and to hold
# frames, LCD changes and windows, so the files compared are not empty.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

for sc in tests/cli/trace/trace-modbus.json tests/scenarios/pass/bus.json \
    tests/scenarios/pass/menu-manual.json; do
    name=$(basename "$sc" .json)
    for pace in full 20; do
        speed=""
        [ "$pace" = full ] || speed="--speed $pace"
        # shellcheck disable=SC2086 # $speed is two words or none
        timeout 120 "$BIN" --headless --quiet $speed --scenario "$sc" --trace-vcd "$tmp/$pace.vcd" \
            --trace-pcap "$tmp/$pace.pcap" --trace-jsonl "$tmp/$pace.jsonl" >/dev/null \
            2>"$tmp/$pace.err"
        echo $? >"$tmp/$pace.st"
    done
    if [ "$(cat "$tmp/full.st")" = 0 ] && [ "$(cat "$tmp/20.st")" = 0 ]; then
        ok "$name: the runs at full speed and at --speed 20 end with status 0"
    else
        notok "$name: status $(cat "$tmp/full.st") and $(cat "$tmp/20.st"): $(cat "$tmp/full.err" "$tmp/20.err")"
    fi
    for f in vcd pcap jsonl; do
        if [ -s "$tmp/full.$f" ] && cmp -s "$tmp/full.$f" "$tmp/20.$f"; then
            ok "$name: the $f trace is byte-identical at full speed and at --speed 20"
        else
            notok "$name: the $f traces differ: $(cmp "$tmp/full.$f" "$tmp/20.$f" 2>&1)"
        fi
    done
    "$PY" - "$tmp/20.jsonl" "$name" "$n" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[3])
t = [r["t_ns"] for r in recs]
kinds = {r["type"] for r in recs}
want = {"lcd", "window", "edge"} | ({"frame"} if sys.argv[2] != "menu-manual" else set())
ok = t == sorted(t) and want <= kinds
lcd = [r["t_ns"] for r in recs if r["type"] == "lcd"]
# LCD changes on the 100 ms grid the glass is looked at on (docs/trace.md).
grid = all(x % 100000000 == 0 for x in lcd)
print(("ok %d - %s: the JSONL is in order of time, with its frames, edges, windows and %d LCD "
       "changes, each on the 100 ms grid" if ok and grid else
       "not ok %d - %s: the JSONL is in order of time, with every kind of record, LCD on the grid"
       " (%d LCD changes)") % (n + 1, sys.argv[2], len(lcd)))
PYEOF
    n=$((n + 1))
done
echo "1..$n"
