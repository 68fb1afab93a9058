#!/bin/sh
# --trace-jsonl (issue 15, docs/trace.md): every line of the trace of
# tests/cli/trace/trace-modbus.json parses as JSON; the frames are the
# scenario's requests (CRC and M-Bus checksum computed here) at their times,
# each character 11 bit times at 9600 or 2400 bit/s; the pulse edges count
# E x rate at the set width; a window a second with the grid's values
# (P = 3 x 230 V x 10 A); LCD changes; the tariff input; the window of
# --trace-from/--trace-until. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
SC=tests/cli/trace/trace-modbus.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BIN" --headless --quiet --scenario "$SC" --trace-jsonl "$tmp/t.jsonl" >/dev/null 2>"$tmp/err"
st=$?
"$BIN" --headless --quiet --scenario "$SC" --trace-jsonl "$tmp/w.jsonl" --trace-from 5s \
    --trace-until 8s >/dev/null 2>>"$tmp/err"
st2=$?
# Every scenario of tests/scenarios/pass (outages, restarts, faults, buses):
# no record written out of order.
for f in tests/scenarios/pass/*.json; do
    "$BIN" --headless --quiet --scenario "$f" --trace-jsonl "$tmp/o.jsonl" >/dev/null 2>"$tmp/o.err"
    printf '%s %s %s\n' "$f" "$?" "$(grep -c 'out of order' "$tmp/o.err")" >>"$tmp/order.txt"
    "$PY" -c 'import json, sys
t = [json.loads(l)["t_ns"] for l in open(sys.argv[1])]
sys.exit(any(b < a for a, b in zip(t, t[1:])))' "$tmp/o.jsonl" || echo "$f lines out of order" >>"$tmp/order.txt"
done
"$PY" - "$SC" "$tmp/t.jsonl" "$tmp/w.jsonl" "$st" "$st2" "$tmp/order.txt" <<'PYEOF'
import json, math, sys
sc = json.load(open(sys.argv[1]))
n = 0
def tap(ok, what, detail=""):
    global n
    n += 1
    print(("ok %d - %s" if ok else "not ok %d - %s") % (n, what) + ("" if ok or not detail else ": " + detail))
def crc16(b):
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return bytes([c & 0xFF, c >> 8])
def secs(at):
    return float(at[:-2]) / 1000 if at.endswith("ms") else float(at.rstrip("s"))
tap(sys.argv[4] == "0" and sys.argv[5] == "0", "the runs with --trace-jsonl end with status 0")
recs, parsed = [], True
for line in open(sys.argv[2]):
    try:
        recs.append(json.loads(line))
    except ValueError:
        parsed = False
tap(parsed and len(recs) > 0, "every line is one JSON object (%d lines)" % len(recs))
tap(all(isinstance(r.get("t_ns"), int) and r.get("type") in ("frame", "edge", "lcd", "window", "cut", "mbtcp")
        for r in recs), "each has a type and an integer t_ns")
frames = [r for r in recs if r["type"] == "frame"]
want = []
for e in sc["timeline"]:
    if "modbus" in e:
        b = bytes.fromhex(e["modbus"]["request"])
        want.append(("modbus", round(secs(e["at"]) * 1e9), (b + crc16(b)).hex(" ")))
    if "mbus" in e:
        c, a = bytes.fromhex(e["mbus"]["short"])
        want.append(("mbus", round(secs(e["at"]) * 1e9), bytes([0x10, c, a, (c + a) & 0xFF, 0x16]).hex(" ")))
got = [(f["line"], f["t_ns"], f["bytes"]) for f in frames if f["dir"] == "to_meter"]
tap(got == want, "the master's frames: the scenario's requests at their times", repr(got[:3]))
def char_ns(bps):
    return (11 * 10**9 + bps // 2) // bps
tap(all(f["t_end_ns"] - f["t_ns"] == len(f["bytes"].split()) * char_ns(f["bps"]) for f in frames),
    "each frame lasts its characters x 11 bit times (8E1)")
replies = [f for f in frames if f["dir"] == "to_master"]
tap(len(replies) == sum(1 for e in sc["timeline"] if ("modbus" in e or "mbus" in e)
                        and not e.get("modbus", {}).get("expect_none")) and all(r.get("meter") == "m1" for r in replies),
    "a reply for every request but the odd-parity one, each from meter m1")
m = sc["meter"]
rate = m["settings"]["s0_rate"] / 100.0
p_w = 3 * sc["grid"]["voltage"] * sc["load"]["current"] * sc["load"]["pf"]
e_hi, e_lo = p_w * 31 / 3.6e6, p_w * (31 - 0.02) / 3.6e6
edges = [r for r in recs if r["type"] == "edge" and r["signal"] == "S0-1"]
rises = [r["t_ns"] for r in edges if r["level"] == 1]
falls = [r["t_ns"] for r in edges if r["level"] == 0]
tap(math.floor(e_lo * rate) <= len(rises) <= math.floor(e_hi * rate),
    "S0-1: E x rate rising edges (%d)" % len(rises))
tap(len(falls) == len(rises) and all(f - r == m["settings"]["pulse_width"] * 10**6 for r, f in zip(rises, falls)),
    "S0-1: each falling edge the set width after its rise")
tin = [r for r in recs if r["type"] == "edge" and r["signal"] == "tariff_input"]
tap([(r["t_ns"], r["level"]) for r in tin] == [(0, 0), (20 * 10**9, 1)], "the tariff input: off at 0, on at 20 s",
    repr(tin))
wins = [r for r in recs if r["type"] == "window"]
tap(len(wins) >= 29 and all(b["seq"] == a["seq"] + 1 for a, b in zip(wins, wins[1:])),
    "a published window about every second, seq counting up (%d)" % len(wins))
tap(all(abs(w["p_total"] - p_w) < 0.01 * p_w and all(abs(u - 230) < 0.5 for u in w["u"]) for w in wins),
    "each window: P total = 3 x 230 V x 10 A, U = 230 V")
lcd = [r for r in recs if r["type"] == "lcd"]
tap(len(lcd) >= 2 and all(r["text"] for r in lcd) and all(a["text"] != b["text"] for a, b in zip(lcd, lcd[1:])),
    "LCD records: each one a change of the text (%d)" % len(lcd))
w = [json.loads(l) for l in open(sys.argv[3])]
tap(len(w) > 0 and all(5 * 10**9 <= r["t_ns"] <= 8 * 10**9 for r in w)
    and sum(1 for r in w if r["type"] == "frame" and r["dir"] == "to_meter") == sum(1 for x in want if 5e9 <= x[1] <= 8e9),
    "--trace-from 5s --trace-until 8s: only what happened from 5 s to 8 s")
rows = [l.split() for l in open(sys.argv[6])]
bad = [r for r in rows if len(r) != 3 or r[2] != "0"]
tap(len(rows) >= 15 and not bad,
    "every scenario of tests/scenarios/pass: its JSONL in order of t_ns, no record late (%d)" % len(rows),
    repr(bad))
PYEOF
