#!/bin/sh
# A client that does not read its replies (docs/network.md): a Modbus client
# on the twin's pty sends 125-register reads every 30 ms at 115200 bit/s and
# never reads. The twin stays responsive: the same meter answers on its M-Bus
# port meanwhile, and a new Modbus client afterwards (unread.py: values from
# the scenario's physics and serial number). The dropped replies are told
# once, naming the port, and counted in --stats. The CPU it costs is a
# benchmark's figure (bench/bench_idle.sh), not asserted here. Speaks TAP.
. "$(dirname "$0")/lib.sh"
SECS=${UNREAD_SECONDS:-8}

cat >"$tmp/scenario.json" <<'J'
{"meter": {"model": "4PU", "serial": "13070001", "settings": {"modbus_baud": 10}},
 "grid": {"voltage": 230, "frequency": 50},
 "load": {"current": 10, "pf": 1}}
J
MB=$tmp/mbus
"$BIN" --headless --quiet --modbus "pty:$PORT" --mbus "pty:$MB" --scenario "$tmp/scenario.json" \
    --until 300s --stats >"$tmp/twin.log" 2>"$tmp/twin.err" &
twin_pid=$!
i=0
while [ ! -L "$PORT" ] || [ ! -L "$MB" ]; do
    i=$((i + 1))
    if [ $i -gt 250 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
        echo "# the twin did not open its ports: $(cat "$tmp/twin.err")"
        echo "not ok 1 - the twin starts"
        echo "1..1"
        exit 1
    fi
    sleep 0.02
done

$PY "$(dirname "$0")/unread.py" "$PORT" "$MB" "$SECS" 115200 >"$tmp/unread.out" 2>&1
grep '^#' "$tmp/unread.out"
grep -qE '^(not )?ok - ' "$tmp/unread.out" || notok "unread.py failed: $(tail -3 "$tmp/unread.out")"
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) notok "${line#not ok - }" ;;
    esac
done <"$tmp/unread.out"

kill -0 "$twin_pid" 2>/dev/null && ok "the twin runs on" || notok "the twin died: $(tail -3 "$tmp/twin.err")"
stop_twin
dev=$(sed -n 's|^metersim: Modbus RTU on \(/dev/pts/[0-9]*\) .*|\1|p' "$tmp/twin.err")
told=$(grep -c "^metersim: modbus $dev: the client does not read its replies" "$tmp/twin.err")
if [ -n "$dev" ] && [ "$told" -ge 1 ]; then
    ok "the stall is told on $dev ($told time(s))"
else
    notok "no stall told for ${dev:-the Modbus port}"
    sed 's/^/# /' "$tmp/twin.err"
fi
dropped=$(sed -n 's/.*"serial_unread_dropped":\([0-9]*\).*/\1/p' "$tmp/twin.err")
if [ -n "$dropped" ] && [ "$dropped" -gt 0 ]; then
    ok "--stats counts the reply bytes dropped ($dropped)"
else
    notok "--stats: serial_unread_dropped is ${dropped:-missing}"
fi
echo "1..$n"
