#!/bin/sh
# The web page of issue 16 (frontends/web, docs/web.md) in a real browser:
# build/metersim with --http and a Modbus TCP gateway, Debian's chromium
# headless driven by playwright-core (tests/browser/page_check.cjs), mbpoll as
# the independent Modbus client. Then the front panel's pictures of each state
# against tests/browser/ref/*.png, with the SDL tests' comparison and
# tolerance (tests/sdl/imgdiff.py): the whole front, and the glass alone.
# Speaks TAP.
#
#   sh tests/browser/test_page.sh               compare
#   sh tests/browser/test_page.sh --rebaseline  rewrite the references from
#                                               this run (look at them first)
#
# Ports 47201-47203 on 127.0.0.1 (a second twin checks --http-token). The
# twins are stopped by their PIDs. The pictures
# of the last run stay in $BUILD/tests/browser-shots (NAME-diff.png for any
# that did not match), with the two files "Save meter data" downloaded.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
HERE=tests/browser
REF=$HERE/ref
OUT=$BUILD/tests/browser-shots
HTTP_PORT=${HTTP_PORT:-47201}
MB_PORT=${MB_PORT:-47202}
TOKEN_PORT=${TOKEN_PORT:-47203}
TOKEN=page-test-token
GLASS=37,162,416,166 # the LCD with its bezel, in front pixels (front.js, as sdl_view.c)
STATES="normal menu dark"
rebaseline=0
[ "${1:-}" = "--rebaseline" ] && rebaseline=1
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
finish() {
    echo "1..$n"
    exit "${1:-0}"
}
tmp=$(mktemp -d)
twin_pid=""
token_pid=""
stop() { # PID: stops one twin we started
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
}
cleanup() {
    stop "$twin_pid"
    stop "$token_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need() { # what, command that must succeed
    if ! sh -c "$2" >/dev/null 2>&1; then
        notok "$1 (make deps)"
        finish 1
    fi
}
need "chromium is installed (Debian's chromium)" "command -v chromium"
need "mbpoll is installed" "command -v mbpoll"
need "playwright-core is in $HERE/node_modules" "test -f $HERE/node_modules/playwright-core/package.json"
need "$BIN is built" "test -x $BIN"
if ! "$BIN" --help 2>&1 | grep -q -- '--http'; then
    notok "$BIN has --http (issue 16)"
    finish 1
fi

# Meter 1: Bluetooth on, Modbus ID 1, on the bus with the Modbus TCP
# gateway. Meter 2: Bluetooth off (6.5), at the factory settings otherwise
# (Modbus ID 1), on a bus of its own with no endpoint: its menu screen 6.6.6
# "Id 001" is the SDL tests' "menu" state, so its glass is compared with the
# SDL window's reference (the same segments and icons, drawn by both).
# 230/231/229 V, 10/6.5/2 A, PF 0.95 inductive, L3 exporting: every A4.4 row
# has its own value, and the reverse energy counts. No noise: steady values.
U=230,231,229
I=10,6.5,2
PF=0.95
SERIAL=13070001
cat >"$tmp/scenario.json" <<EOF
{"buses": [
  {"name": "app", "modbus": "tcp:127.0.0.1:$MB_PORT",
   "meters": [{"name": "app", "model": "4PU", "serial": "$SERIAL", "settings": {"bluetooth": 1, "modbus_id": 1}}]},
  {"name": "bench",
   "meters": [{"name": "no-bt", "model": "4PU", "serial": "13070002", "settings": {"bluetooth": 0}}]}],
 "grid": {"voltage": [230, 231, 229], "frequency": 50},
 "load": {"pf": $PF, "L1": {"current": 10}, "L2": {"current": 6.5},
          "L3": {"current": 2, "direction": "export"}}}
EOF

mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/*.csv "$OUT"/*.json
T0=$(date +%s.%N)
"$BIN" --headless --scenario "$tmp/scenario.json" --until 120s \
    --http "127.0.0.1:$HTTP_PORT" \
    >"$tmp/twin.log" 2>"$tmp/twin.err" &
twin_pid=$!
i=0
until curl -sf "http://127.0.0.1:$HTTP_PORT/api/meters" >/dev/null 2>&1 &&
    ss -ltn | grep -q "127.0.0.1:$MB_PORT "; do
    i=$((i + 1))
    if [ $i -gt 250 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
        notok "the twin serves HTTP on $HTTP_PORT and Modbus TCP on $MB_PORT: $(cat "$tmp/twin.err")"
        finish 1
    fi
    sleep 0.02
done
ok "the twin serves HTTP on $HTTP_PORT and Modbus TCP on $MB_PORT"

# A second twin whose service wants a token (--http-token).
printf '%s\n' '{"meter": {"model": "4PU", "serial": "13070003"}, "load": {"current": 5}}' >"$tmp/token.json"
"$BIN" --headless --scenario "$tmp/token.json" --until 120s --http "127.0.0.1:$TOKEN_PORT" \
    --http-token "$TOKEN" >"$tmp/token.log" 2>"$tmp/token.err" &
token_pid=$!
i=0
until curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$TOKEN_PORT/api/meters" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 250 ] || ! kill -0 "$token_pid" 2>/dev/null; then
        notok "the twin with --http-token serves HTTP on $TOKEN_PORT: $(cat "$tmp/token.err")"
        finish 1
    fi
    sleep 0.02
done

T0=$T0 TOKEN_HTTP="http://127.0.0.1:$TOKEN_PORT" TOKEN=$TOKEN HTTP="http://127.0.0.1:$HTTP_PORT" MBPORT=$MB_PORT SHOTS=$OUT SERIAL=$SERIAL U=$U I=$I PF=$PF EXPORT=3 \
    NODE_PATH="$HERE/node_modules" timeout 60 node "$HERE/page_check.cjs" >"$tmp/node.out" 2>&1
status=$?
# The browser's results, renumbered after ours.
while IFS= read -r line; do
    case $line in
    "ok "*) ok "${line#ok [0-9]* - }" ;;
    "not ok "*) notok "${line#not ok [0-9]* - }" ;;
    "#"*) echo "$line" ;;
    *) echo "# $line" ;;
    esac
done <"$tmp/node.out"
[ $status -ne 0 ] && ! grep -q '^not ok' "$tmp/node.out" && notok "the browser run ended with status $status"

stop "$twin_pid"
stop "$token_pid"
twin_pid=""
token_pid=""

if [ "$rebaseline" -eq 1 ]; then
    mkdir -p "$REF"
    for s in $STATES bt-off; do
        if cp "$OUT/$s.png" "$REF/$s.png"; then ok "$s: reference $REF/$s.png rewritten"; else notok "$s: no picture to rewrite $REF/$s.png"; fi
    done
fi

compare() { # name, what, [--region R]
    s=$1
    what=$2
    shift 2
    if [ ! -f "$OUT/$s.png" ]; then
        notok "$s: no picture was taken"
        return
    fi
    if [ ! -f "$REF/$s.png" ]; then
        notok "$s: no reference $REF/$s.png (sh $0 --rebaseline)"
        return
    fi
    tag=""
    [ "$what" = glass ] && tag=glass-
    if msg=$($PY tests/sdl/imgdiff.py compare "$@" "$OUT/$s.png" "$REF/$s.png" "$OUT/$s-${tag}diff.png" 2>&1); then
        ok "$s: $what matches the reference ($msg)"
    else
        notok "$s: $what differs from the reference: $msg; see $OUT/$s-${tag}diff.png"
    fi
}
for s in $STATES; do
    compare "$s" "front"
    compare "$s" "glass" --region "$GLASS"
done
compare bt-off "app bar"

# The browser draws the glass as the SDL window does: meter 2's menu screen
# against the SDL tests' own "menu" reference (tests/sdl/reference/menu.png,
# the same state: 6.6.6 Id 001 SET, Bluetooth off, no bus traffic), and the
# dark glass against theirs. The glass only: the housing's edges are drawn
# by two different rasterisers.
for s in menu dark; do
    b=$s
    [ "$s" = menu ] && b=sdl-menu
    if [ ! -f "$OUT/$b.png" ]; then
        notok "$b: no picture was taken"
    elif msg=$($PY tests/sdl/imgdiff.py compare --region "$GLASS" "$OUT/$b.png" tests/sdl/reference/$s.png "$OUT/$b-sdl-diff.png" 2>&1); then
        ok "$b: the browser's glass matches the SDL window's $s reference ($msg)"
    else
        notok "$b: the browser's glass differs from the SDL window's $s reference: $msg; see $OUT/$b-sdl-diff.png"
    fi
done

# The tolerance is not so wide that another state would pass.
for pair in normal:menu menu:dark dark:normal; do
    a=${pair%%:*} b=${pair##*:}
    [ -f "$REF/$b.png" ] && [ -f "$OUT/$a.png" ] || continue
    if $PY tests/sdl/imgdiff.py compare --region "$GLASS" "$OUT/$a.png" "$REF/$b.png" >"$tmp/msg" 2>&1; then
        notok "the $a glass passes as the $b reference: tolerance too wide ($(cat "$tmp/msg"))"
    else
        ok "the $a glass is told apart from the $b reference"
    fi
done
finish 0
