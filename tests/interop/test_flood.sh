#!/bin/sh
# A flood on each line (docs/decisions.md, receiver overrun): 10 s of random
# bytes at full pty speed on the Modbus port and on the M-Bus port at once,
# then on each a valid request, answered (flood.py: the reply's content from
# the scenario's physics and serial number; "within 2 s" tells a deaf meter
# from one that answers, speed is not asserted). The twin counts the bytes it
# dropped as receiver overruns and tells each burst once, naming the port.
# Speaks TAP.
. "$(dirname "$0")/lib.sh"
SECS=${FLOOD_SECONDS:-10}

printf '%s\n' "$SCENARIO_10A" >"$tmp/scenario.json"
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

# Both floods at once, each client stopped by its PID.
$PY "$(dirname "$0")/flood.py" "$PORT" modbus "$SECS" 9600 "$tmp/twin.err" >"$tmp/modbus.out" 2>&1 &
p1=$!
$PY "$(dirname "$0")/flood.py" "$MB" mbus "$SECS" 2400 "$tmp/twin.err" >"$tmp/mbus.out" 2>&1 &
p2=$!
wait $p1
wait $p2
for k in modbus mbus; do
    grep '^#' "$tmp/$k.out"
    grep -qE '^(not )?ok - ' "$tmp/$k.out" || notok "$k: flood.py failed: $(tail -3 "$tmp/$k.out")"
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        esac
    done <"$tmp/$k.out"
done

# The overruns, counted and told per port; the run's --stats total.
kill -0 "$twin_pid" 2>/dev/null && ok "the twin runs on after both floods" ||
    notok "the twin died: $(tail -3 "$tmp/twin.err")"
stop_twin
for k in "Modbus RTU:modbus" "M-Bus:mbus"; do
    label=${k%%:*} line=${k#*:}
    dev=$(sed -n "s|^metersim: $label on \\(/dev/pts/[0-9]*\\) .*|\\1|p" "$tmp/twin.err")
    dropped=$(sed -n "s|^metersim: $line $dev: receiver overrun: \\([0-9]*\\) bytes dropped .*|\\1|p" \
        "$tmp/twin.err" | awk '{ s += $1 } END { print s + 0 }')
    if [ -n "$dev" ] && [ "$dropped" -gt 0 ]; then
        ok "$line: the overrun is counted and told on $dev ($dropped bytes dropped)"
    else
        notok "$line: no overrun told for ${dev:-its port}"
        sed 's/^/# /' "$tmp/twin.err"
    fi
done
total=$(sed -n 's/.*"serial_overruns":\([0-9]*\).*/\1/p' "$tmp/twin.err")
if [ -n "$total" ] && [ "$total" -gt 0 ]; then
    ok "--stats counts the bytes dropped ($total)"
else
    notok "--stats has no serial_overruns: $(grep stats "$tmp/twin.err")"
fi
echo "1..$n"
