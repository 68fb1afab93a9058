#!/bin/sh
# A paced run with nothing due sleeps, waking only to move its fleet on
# (docs/decisions.md, an idle host): with n >= 20 meters every 50 ms
# (PACED_TICKS), so 20 wakes a simulated second, plus one for each event.
# A load event at 230 ms leaves the fleet off that 50 ms grid; the run must
# still wake about 20 times a second, not spin on a step it slept to but did
# not take (it spun there: tens of thousands of wakes a second, issue 14's
# fleet benchmark). Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/fleet.json" <<'JSON'
{ "name": "off the grid",
  "meters": [ { "count": 100, "name": "m{n:03}", "serial": "10000001" } ],
  "load": { "current": 10, "pf": 0.95 },
  "duration": "3s",
  "timeline": [ { "at": "230ms", "load": { "current": 12, "pf": 0.95 } },
                { "at": "1730ms", "load": { "current": 8, "pf": 0.95 } } ] }
JSON
n=0
for fid in auto sample; do
    n=$((n + 1))
    "$BIN" --headless --quiet --stats --speed 1 --fidelity "$fid" --scenario "$tmp/fleet.json" \
        >/dev/null 2>"$tmp/err"
    st=$?
    w=$(sed -n 's/.*"wakeups":\([0-9]*\).*/\1/p' "$tmp/err")
    # 3 s x 20 idle steps + 2 events + the end: 63; 150 leaves room for a
    # busy host's late wakes, far below a spin's thousands.
    if [ "$st" -eq 0 ] && [ -n "$w" ] && [ "$w" -le 150 ]; then
        echo "ok $n - --fidelity $fid: 100 meters off the 50 ms grid for 3 s wake $w times (<= 150)"
    else
        echo "not ok $n - --fidelity $fid: status $st, wakeups ${w:-none} (want <= 150)"
        tail -3 "$tmp/err" | sed 's/^/# /'
    fi
done
echo "1..$n"
