#!/bin/sh
# Interop with a real M-Bus master: node-mbus (libmbus) reads three meters of
# the twin on a pty by primary address, finds them by a secondary-address
# scan and reads them by secondary address; the values it decodes must match
# the physics of tests/interop/mbus/three.json. The bytes libmbus drops (the
# phase VIFEs FC 01..03, the backward-flow VIFE 3C, signs) are checked by a
# small decoder of the test's own (mbus/raw_telegram.py). Speaks TAP.
#
# The twin runs with --copper, so it answers only a client whose pty is set to
# its meters' 9600 8E1, and in wire-time mode: each character reaches the pty
# as its stop bit ends, so libmbus's 0.2 s first-byte timeout is met although
# the 244-byte telegram takes 280 ms at 9600.
#
# Needs: node, and node-mbus in tests/interop/mbus/node_modules (`make deps`).
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
DIR=$(dirname "$0")/mbus
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
# Numbers the unnumbered "ok - ..." / "not ok - ..." lines of a helper.
number() { # file
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        *) echo "# $line" ;;
        esac
    done <"$1"
}

tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v node >/dev/null 2>&1 || [ ! -d "$DIR/node_modules/node-mbus" ]; then
    notok "node and node-mbus are installed (run: make deps)"
    echo "1..$n"
    exit 1
fi

# The twin, serving its three meters on a pty reached through a symlink.
spawn_ms=$(date +%s%3N)
"$BIN" --headless --quiet --copper --mbus "pty:$tmp/mbus" \
    --scenario "$DIR/three.json" --until 300s >"$tmp/log" 2>"$tmp/err" &
pid=$!
i=0
while [ ! -e "$tmp/mbus" ] && [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
if [ -e "$tmp/mbus" ] && grep -q '^metersim: M-Bus on /dev/pts/' "$tmp/err"; then
    ok "the twin serves M-Bus on $(sed -n 's/^metersim: M-Bus on //p' "$tmp/err")"
else
    notok "the twin did not open its M-Bus pty: $(cat "$tmp/err")"
    echo "1..$n"
    exit 1
fi

# node-mbus: scan, primary and secondary reads.
node "$DIR/node_mbus_check.js" "$tmp/mbus" "$spawn_ms" >"$tmp/node" 2>"$tmp/node.err"
st=$?
number "$tmp/node"
sed 's/^/# /' "$tmp/node.err"
[ $st -eq 0 ] || notok "node-mbus check exited with status $st"

# The test's own decoder on the raw telegrams.
/usr/bin/python3 "$DIR/raw_telegram.py" "$tmp/mbus" >"$tmp/raw" 2>"$tmp/raw.err"
st=$?
number "$tmp/raw"
sed 's/^/# /' "$tmp/raw.err"
[ $st -eq 0 ] || notok "raw telegram decoder exited with status $st"

# Stopped by its PID, the twin ends with status 0 (docs/cli.md).
kill "$pid"
wait "$pid"
st=$?
pid=""
if [ $st -eq 0 ]; then ok "the twin stops on SIGTERM with status 0"; else notok "the twin exited with status $st: $(cat "$tmp/err")"; fi


# Issue 12: the CT variant, an outage, the boot (tests/interop/lib.sh's
# SCENARIO_CT with the ratio 9995/5 as a scenario setting: A2.3 has no CT
# write; tests/interop/mbus/node_mbus_ct.js, one stage per run). The log is
# the clock: the stages run when it reaches t = 0, 2, 5 (the outage, 4-7 s)
# and 8 s (after the 0.5 s boot). A node-mbus read sends its REQ_UD2 about
# 0.8 s after it starts (its SND_NKE first, then a wait) and takes 1.1 s in
# all, so the values are read at 2 s: at 3 s the outage cut the reply.
CT_SECONDARY=4 CT_PRIMARY=9995 CT_U=230
cat >"$tmp/ct.json" <<'EOF2'
{"meter": {"model": "2PCT", "serial": "13070001",
           "settings": {"mbus_id": 1, "mbus_baud": 9600, "ct_primary": 9995}},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 4, "pf": 1},
 "timeline": [{"at": "4s", "grid": {"voltage": 0}}, {"at": "7s", "grid": {"voltage": 230}}]}
EOF2
"$BIN" --headless --mbus "pty:$tmp/ctbus" --scenario "$tmp/ct.json" --until 300s \
    >"$tmp/ct.log" 2>"$tmp/ct.err" &
pid=$!
i=0
while [ ! -e "$tmp/ctbus" ] && [ $i -lt 250 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.02
    i=$((i + 1))
done
[ -e "$tmp/ctbus" ] && ok "the twin serves a 2PCT on an M-Bus pty" ||
    notok "the twin serves a 2PCT on an M-Bus pty: $(cat "$tmp/ct.err")"
for stage in write:0 values:2 down:5 up:8; do
    op=${stage%:*} at=${stage#*:}
    i=0
    while [ "$at" -gt 0 ] && ! grep -q "\"t\":$at[,}]" "$tmp/ct.log" && [ $i -lt 1000 ]; do
        sleep 0.02
        i=$((i + 1))
    done
    node "$DIR/node_mbus_ct.js" "$tmp/ctbus" "$op" "$CT_SECONDARY" "$CT_PRIMARY" "$CT_U" \
        >"$tmp/ct.out" 2>&1
    number "$tmp/ct.out"
done
kill "$pid"
wait "$pid"
pid=""

echo "1..$n"
