#!/bin/sh
# A window closed mid-run saves the meter's memory like any other exit
# (docs/state.md): build/metersim with its SDL window on Xvfb and --state,
# closed with the ICCCM WM_DELETE_WINDOW message a window manager's close
# button sends (tests/sdl/xclose.c; Xvfb has no window manager). A restart
# from the file goes on from the energy reached. Speaks TAP.
#
# Needs Xvfb (Debian xvfb) and the X11 headers (libx11-dev, with SDL2's);
# without them the tests are skipped, saying why.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
XCLOSE=$BUILD/tests/xclose
TITLE="metersim: WAGO"
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
trap "exit 1" HUP INT TERM PIPE # so that cleanup runs (an X server left behind otherwise)

# Polls (a real-time run and an X server take wall time) until `cond` holds
# or about `secs` seconds passed.
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

if ! command -v Xvfb >/dev/null 2>&1; then
    skip "Xvfb is not installed (Debian xvfb)"
    finish
fi
mkdir -p "$BUILD/tests"
if ! ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror tests/sdl/xclose.c \
    $(pkg-config --cflags --libs x11) -o "$XCLOSE" 2>"$tmp/cc"; then
    cat "$tmp/cc" >&2
    skip "no X11 headers to build tests/sdl/xclose.c (Debian libx11-dev)"
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

# The default scenario, forever (no --until), 20 times real time; no periodic
# msync within the run (--save-interval 1h): the exit makes the file durable
# (the mapped file holds every change anyway, docs/state.md).
state=$tmp/meter.state
"$BIN" --state "$state" --save-interval 1h --speed 20 >"$tmp/log" 2>"$tmp/err" &
mpid=$!
at_least() { # the log has reached simulated second $1
    [ "$(grep -c E_fwd_kWh "$tmp/log" 2>/dev/null)" -ge "$1" ]
}
if wait_for 20 at_least 20 && ! grep -q "showing the LCD as text" "$tmp/err"; then
    ok "metersim runs with its window on Xvfb"
else
    notok "metersim with a window: $(head -n 2 "$tmp/err")"
    finish
fi
if [ -e "$state" ]; then
    before=$(wc -c <"$state")
else
    before=none
fi

if "$XCLOSE" "$TITLE" 10 >"$tmp/xclose" 2>&1; then
    ok "the window got WM_DELETE_WINDOW"
else
    notok "closing the window: $(cat "$tmp/xclose")"
    finish
fi
gone() { ! kill -0 "$mpid" 2>/dev/null; }
if wait_for 10 gone; then
    wait "$mpid"
    status=$?
    mpid=""
    if [ "$status" -eq 0 ]; then ok "closing the window ends the run, status 0"; else notok "closing the window: exit status $status"; fi
else
    notok "metersim still runs 10 s after its window was closed"
    finish
fi

if [ -s "$state" ]; then
    ok "the state file was written on exit (before the close: $before)"
else
    notok "no state file after closing the window"
    finish
fi

# Restart without a window from the file: the energy goes on from where the
# closed run was. The close came after the last logged second and within the
# next one, and the restart adds one more second: its first line lies above
# the last logged value, by less than 3 s at the highest power seen.
"$BIN" --headless --state "$state" --until 1s >"$tmp/log2" 2>"$tmp/err2"
if $PY - "$tmp/log" "$tmp/log2" <<'P' >"$tmp/msg" 2>&1; then
import json, sys
run = [json.loads(l) for l in open(sys.argv[1]) if 'E_fwd_kWh' in l]
again = [json.loads(l) for l in open(sys.argv[2]) if 'E_fwd_kWh' in l]
last, first = run[-1], again[0]
p_max = max(max(r['P_total_kW'] for r in run), max(r['P_total_kW'] for r in again))
assert last['E_fwd_kWh'] > 0, 'no energy before the close'
assert first['E_fwd_kWh'] > last['E_fwd_kWh'], \
    'restart %.6f kWh, not above the %.6f kWh logged at t=%d' % (first['E_fwd_kWh'], last['E_fwd_kWh'], last['t'])
assert first['E_fwd_kWh'] - last['E_fwd_kWh'] < 3 * p_max / 3600 + 1e-6, \
    'restart %.6f kWh, too far above %.6f kWh' % (first['E_fwd_kWh'], last['E_fwd_kWh'])
print('closed after t=%d at %.6f kWh; restart at t=1: %.6f kWh' % (last['t'], last['E_fwd_kWh'], first['E_fwd_kWh']))
P
    ok "restart from the file goes on from the energy reached: $(cat "$tmp/msg")"
else
    notok "restart from the state file: $(tail -n 1 "$tmp/msg") $(head -n 1 "$tmp/err2")"
fi
finish
