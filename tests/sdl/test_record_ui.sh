#!/bin/sh
# A person's actions in the window are inputs of a recording too (issue 15,
# point 4: "UI actions"): the twin with its SDL window on Xvfb serves
# mbpoll on a pty while it records; keys typed into the window (tests/sdl/
# xkey.c: q = L1 +1 A, p = the supply, frontends/sdl/sdl_view.c) change what
# the meter answers: the current read is 10 + 2 = 12 A, a read while the
# supply is off gets no reply. --replay, headless, gives the same replies;
# the same recording without its window actions does not. Speaks TAP.
#
# Needs Xvfb, the X11 headers and mbpoll; without them the tests are skipped,
# saying why.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
XKEY=$BUILD/tests/xkey
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
finish() { echo "1..$n"; exit 0; }
tmp=$(mktemp -d)
xpid="" mpid=""
cleanup() {
    [ -n "$mpid" ] && kill "$mpid" 2>/dev/null
    [ -n "$xpid" ] && kill "$xpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" HUP INT TERM PIPE

wait_for() { # secs, cond...
    secs=$1
    shift
    i=0
    while ! "$@"; do
        i=$((i + 1))
        [ "$i" -gt $((secs * 10)) ] && return 1
        sleep 0.1
    done
}

if ! command -v Xvfb >/dev/null 2>&1 || ! command -v mbpoll >/dev/null 2>&1; then
    skip "Xvfb or mbpoll is not installed (Debian xvfb, mbpoll)"
    finish
fi
mkdir -p "$BUILD/tests"
if ! ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror tests/sdl/xkey.c \
    $(pkg-config --cflags --libs x11) -o "$XKEY" 2>"$tmp/cc"; then
    cat "$tmp/cc" >&2
    skip "no X11 headers to build tests/sdl/xkey.c (Debian libx11-dev)"
    finish
fi
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/dpy" >/dev/null 2>&1 &
xpid=$!
if ! wait_for 10 test -s "$tmp/dpy"; then
    notok "Xvfb did not start"
    finish
fi
DISPLAY=":$(head -n 1 "$tmp/dpy")"
export DISPLAY

printf '%s\n' '{"meter": {"model": "4PU", "serial": "13070001"},
 "grid": {"voltage": 230, "frequency": 50}, "load": {"current": 10, "pf": 1}}' >"$tmp/s.json"
PORT=$tmp/meter
REC=$tmp/ui.jsonl
"$BIN" --modbus "pty:$PORT" --scenario "$tmp/s.json" --until 300s --record "$REC" \
    >"$tmp/log" 2>"$tmp/err" &
mpid=$!
published() { grep -q '"t":2[,}]' "$tmp/log" 2>/dev/null; }
if wait_for 20 test -L "$PORT" && wait_for 20 published && ! grep -q "as text" "$tmp/err"; then
    ok "metersim runs with its window on Xvfb, serving a pty, recording"
else
    notok "metersim with a window: $(cat "$tmp/err")"
    finish
fi
mb() { mbpoll -m rtu -a 1 -b 9600 -P even -0 -B -1 -o 0.5 "$@" "$PORT"; }
key() { "$XKEY" "metersim" "$1" 5; }

# q twice: L1 from 10 A to 12 A (whole cycles: the next published window).
key q && sleep 0.2 && key q
sleep 0.2
supply_is() { grep -q "\"event\":\"supply\".*\"on\":$1" "$tmp/log"; }
# p: the supply off (the log tells it); a read then gets no reply.
key p
if wait_for 5 supply_is false && ! mb -t 4:float -r 0x5002 -c 1 >"$tmp/off.out" 2>&1; then
    ok "with the supply switched off in the window, mbpoll gets no reply"
else
    notok "supply off: $(cat "$tmp/off.out")"
fi
key p
wait_for 5 supply_is true
# The boot (0.5 s) and a whole window at 12 A: read until the current is there.
i=0
while :; do
    mb -t 4:float -r 0x500C -c 1 >"$tmp/i.out" 2>&1
    grep -qE '^\[20492\]:[[:space:]]+12$' "$tmp/i.out" && break
    i=$((i + 1))
    [ $i -gt 20 ] && break
    sleep 0.2
done
grep -qE '^\[20492\]:[[:space:]]+12$' "$tmp/i.out" &&
    ok "after two presses of q, mbpoll reads I L1 = 12 A" ||
    notok "I L1: $(cat "$tmp/i.out")"
mb -t 4:hex -r 0x6000 -c 4 >/dev/null 2>&1 # the energy, which the outage and the load changed
kill "$mpid"
wait "$mpid" 2>/dev/null
mpid=""

acts=$($PY -c "
import json, sys
print(' '.join(r['action'] + '=' + format(r['value'], 'g') for r in map(json.loads, open(sys.argv[1])) if r.get('type') == 'ui'))" "$REC")
[ "$acts" = "current=11 current=12 supply=0 supply=1" ] &&
    ok "the recording holds the window's actions in order ($acts)" ||
    notok "the window's actions: $acts"

"$BIN" --replay "$REC" --quiet >/dev/null 2>"$tmp/replay.err"
st=$?
[ $st -eq 0 ] && grep -q identical "$tmp/replay.err" &&
    ok "--replay gives the same replies, the window's actions applied at their times" ||
    notok "--replay (status $st): $(cat "$tmp/replay.err")"

# Without the window's actions (records renumbered), the replies differ.
$PY - "$REC" "$tmp/noui.jsonl" <<'PYEOF'
import json, sys
out, k = [], 0
for i, line in enumerate(open(sys.argv[1])):
    r = json.loads(line)
    if i and r.get("type") == "ui":
        continue
    if i:
        k += 1
        r["n"] = k
    out.append(json.dumps(r, separators=(",", ":")))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PYEOF
"$BIN" --replay "$tmp/noui.jsonl" --quiet >/dev/null 2>"$tmp/noui.err"
st=$?
[ $st -eq 1 ] && grep -q 'the replies differ' "$tmp/noui.err" &&
    ok "the same recording without the window's actions replays to other replies (status 1)" ||
    notok "without the actions (status $st): $(cat "$tmp/noui.err")"
finish
