#!/bin/sh
# --trace-vcd (issue 15, docs/trace.md): sigrok-cli's uart and modbus decoders
# read the VCD of tests/cli/trace/trace-modbus.json and find exactly its
# requests and replies, the odd-parity request as parity errors, and the S0
# pulses and widths the energy and the settings give (check_vcd.py); the
# window; a trace file that cannot be written. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
DIR=tests/cli/trace
SC=$DIR/trace-modbus.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
for tool in sigrok-cli "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "not ok 1 - $tool is missing (make deps installs it)"
        exit 1
    }
done

"$BIN" --headless --quiet --scenario "$SC" --trace-vcd "$tmp/t.vcd" >"$tmp/log" 2>"$tmp/err"
st=$?
if [ "$st" -eq 0 ] && [ -s "$tmp/t.vcd" ] && [ ! -s "$tmp/err" ]; then
    ok "the scenario runs with --trace-vcd (status 0)"
else
    notok "the scenario runs with --trace-vcd (status $st: $(cat "$tmp/err"))"
fi
"$PY" "$DIR/check_vcd.py" "$SC" "$tmp/t.vcd" "$tmp/log" $((n + 1)) >"$tmp/tap"
cat "$tmp/tap"
n=$((n + $(grep -c '^\(not \)\{0,1\}ok ' "$tmp/tap")))

# The window: 3 s to 5 s holds the requests at 3 s, 4 s and 4.5 s and their
# replies, nothing else; the levels at 3 s open it.
"$BIN" --headless --quiet --scenario "$SC" --trace-vcd "$tmp/w.vcd" --trace-from 3s \
    --trace-until 5s >/dev/null 2>"$tmp/err"
"$PY" - "$tmp/w.vcd" "$SC" >"$tmp/win" <<'PYEOF'
import json, subprocess, sys
vcd, sc = sys.argv[1], json.load(open(sys.argv[2]))
times = [int(l[1:]) for l in open(vcd) if l.startswith("#")]
dump = open(vcd).read().split("$dumpvars")[0].endswith("#3000000000\n")
inside = all(3 * 10**9 <= t <= 5 * 10**9 for t in times) and times[-1] == 5 * 10**9
out = subprocess.run(["sigrok-cli", "-i", vcd, "-I", "vcd:downsample=1000", "-P",
                      "uart:rx=bus1_modbus_to_meter:baudrate=9600:parity=even,modbus",
                      "-A", "modbus"], capture_output=True, text=True).stdout
ids = out.count("Slave ID: 1")
want = sum(1 for e in sc["timeline"] if "modbus" in e and 3 <= float(e["at"].rstrip("ms")) /
           (1000 if e["at"].endswith("ms") else 1) < 5)
print("%d %d %d %d" % (dump, inside, ids, want))
PYEOF
read -r dump inside ids want <"$tmp/win"
if [ "$dump" = 1 ] && [ "$inside" = 1 ] && [ "$ids" = "$want" ]; then
    ok "--trace-from 3s --trace-until 5s: starts with the levels at 3 s, ends at 5 s, holds the $want requests sent before 5 s"
else
    notok "the window: dumpvars at 3 s $dump, times inside $inside, requests $ids of $want"
fi

# A trace file that cannot be written: status 3 before anything ran, the
# message names the file.
for flag in --trace-vcd --trace-pcap --trace-jsonl; do
    bad=$tmp/no-such-dir/trace
    "$BIN" --headless --scenario "$SC" "$flag" "$bad" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq 3 ] && grep -qF -- "$flag $bad" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        ok "$flag into a missing folder: status 3, nothing ran, the file named"
    else
        notok "$flag into a missing folder: status $st, $(cat "$tmp/err")"
    fi
done
"$BIN" --headless --scenario "$SC" --trace-vcd "$tmp/x.vcd" --trace-from 5s --trace-until 2s \
    >/dev/null 2>"$tmp/err"
st=$?
if [ "$st" -eq 2 ] && grep -q "trace-from" "$tmp/err"; then
    ok "--trace-from after --trace-until: status 2"
else
    notok "--trace-from after --trace-until: status $st"
fi
