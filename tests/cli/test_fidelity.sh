#!/bin/sh
# --fidelity sample|auto (issue 14, point 3; docs/metrology.md, docs/cli.md).
#   - agreement: tests/scenarios/pass/fidelity-steps.json (load steps inside
#     a mains cycle, 3rd and 5th harmonics, an outage with its boot, a change
#     to 49.5 Hz, noise) through both paths (bench/fidelity_agree.c, the
#     core and waveform at full precision, every second): every energy
#     register within 1e-6 relative and every published value within 1e-5,
#     plus the noise's own draw on the sample path (6 sigma of it, a formula
#     from the noise's RMS); the same scenario without noise within 1e-5
#     and 1e-6 with nothing added;
#   - the same through the runner: the logs of --fidelity sample and auto
#     agree to the digits they print;
#   - determinism: each mode gives the same bytes at full speed and paced
#     (--speed 40), where the host cuts its calls at wall-clock moments;
#     and the year's load ramps (a new description of the currents every
#     second, the closed form's kept voltage side) give the same readings at
#     every second whether the runner stops each second or each 100 ms;
#   - the defaults (auto headless) and a bad value (status 2, a message);
#   - --record keeps the fidelity and --replay takes it.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
AGREE=$BUILD/bench/fidelity_agree
PY=/usr/bin/python3
SC=tests/scenarios/pass/fidelity-steps.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

if "$AGREE" "$SC" >"$tmp/agree" 2>&1; then
    ok "sample and auto agree on $SC: $(grep -c sigma "$tmp/agree") quantities"
else
    notok "sample and auto differ on $SC: $(tr '\n' ' ' <"$tmp/agree")"
fi
sed 's/#.*//' "$tmp/agree" | sed 's/^/# /'

"$PY" - "$SC" "$tmp/quiet.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k != "noise"}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
json.dump(strip(d), open(sys.argv[2], "w"))
EOF
if "$AGREE" "$tmp/quiet.json" --sigmas 0 >"$tmp/agree0" 2>&1; then
    ok "without noise: within 1e-6 (registers) and 1e-5 (values), nothing added"
else
    notok "without noise they differ: $(tr '\n' ' ' <"$tmp/agree0")"
fi

# Through the runner: the logs, number by number, to their printed digits.
"$BIN" --headless --scenario "$SC" --fidelity sample >"$tmp/ls" 2>"$tmp/es"
s1=$?
"$BIN" --headless --scenario "$SC" --fidelity auto >"$tmp/la" 2>"$tmp/ea"
s2=$?
why=$("$PY" - "$tmp/ls" "$tmp/la" <<'EOF'
import json, sys
def nums(path):
    out = []
    for line in open(path):
        d = json.loads(line)
        if "U" not in d:
            continue
        for k, v in d.items():
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, (int, float)) and not isinstance(x, bool):
                    out.append((d["t"], k, x, line))
    return out
a, b = nums(sys.argv[1]), nums(sys.argv[2])
if len(a) != len(b) or len(a) < 1000:
    print("%d and %d numbers" % (len(a), len(b)))
    sys.exit()
for (t, k, x, la), (_, _, y, lb) in zip(a, b):
    # The last printed digit (3 to 6 decimals) may round either way.
    digits = max(len(s.split(".")[1]) if "." in s else 0
                 for s in (json.dumps(x), json.dumps(y)))
    if abs(x - y) > 1e-5 * abs(x) + 1.01 * 10 ** -max(digits, 3):
        print("t=%s %s: %r vs %r" % (t, k, x, y))
        break
EOF
)
if [ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] && [ -z "$why" ]; then
    ok "the runner's logs in both modes agree to their printed digits"
else
    notok "runner logs: status $s1/$s2: $why"
fi

for mode in sample auto; do
    "$BIN" --headless --scenario "$SC" --until 120s --fidelity $mode >"$tmp/max" 2>/dev/null
    st1=$?
    "$BIN" --headless --scenario "$SC" --until 120s --fidelity $mode --speed 40 >"$tmp/s40" \
        2>/dev/null
    st2=$?
    lines=$(grep -c '"t":' "$tmp/max")
    if [ "$st1" -eq "$st2" ] && [ "$lines" -ge 120 ] && cmp -s "$tmp/max" "$tmp/s40"; then
        ok "--fidelity $mode: the same bytes at full speed and at --speed 40 ($lines lines)"
    else
        notok "--fidelity $mode: full speed and --speed 40 differ (status $st1/$st2, $lines lines)"
    fi
done

# The load ramps of the year (06:00 - 10:00 of its first day: every second
# a new description of the currents) in auto: the runner stops once a second
# with --every 1s, every 100 ms with --every 0.1s; the readings at each whole
# second (the first line of each second in the second log) are the same bytes.
YD=tests/scenarios/year/year-dst-2d.json
"$BIN" --headless --scenario "$YD" --until 36000 --every 1s --fidelity auto \
    --speed max >"$tmp/r1" 2>/dev/null
st1=$?
"$BIN" --headless --scenario "$YD" --until 36000 --every 0.1s --fidelity auto \
    --speed max 2>/dev/null |
    awk -F'[:,]' '/^\{"t":[0-9]+,"f"/ { if ($2 != last) { print; last = $2 } next } { print }' \
        >"$tmp/r01"
lines=$(grep -c '"f":' "$tmp/r1")
moved=$(grep -o '"I":\[[^]]*\]' "$tmp/r1" | sort -u | wc -l)
if [ "$st1" -eq 0 ] && [ "$lines" -ge 36000 ] && [ "$moved" -ge 1000 ] && cmp -s "$tmp/r1" "$tmp/r01"; then
    ok "the year's ramps in auto: the same readings at every second, stops each second or each 100 ms ($lines lines, $moved distinct currents)"
else
    notok "the year's ramps in auto: stops each second and each 100 ms differ (status $st1, $lines lines, $moved distinct currents)"
fi

# Headless defaults to auto: the same bytes as --fidelity auto.
"$BIN" --headless --scenario "$SC" --until 20s >"$tmp/def" 2>/dev/null
"$BIN" --headless --scenario "$SC" --until 20s --fidelity auto >"$tmp/auto" 2>/dev/null
"$BIN" --headless --scenario "$SC" --until 20s --fidelity sample >"$tmp/smp" 2>/dev/null
if cmp -s "$tmp/def" "$tmp/auto" && ! cmp -s "$tmp/def" "$tmp/smp"; then
    ok "--headless runs --fidelity auto by default"
else
    notok "--headless is not --fidelity auto by default"
fi

"$BIN" --headless --scenario "$SC" --fidelity exact >/dev/null 2>"$tmp/err"
st=$?
if [ "$st" -eq 2 ] && grep -q -- "--fidelity exact: expected sample or auto" "$tmp/err"; then
    ok "--fidelity exact: status 2 and a message"
else
    notok "--fidelity exact: status $st, $(cat "$tmp/err")"
fi
# A recording keeps the run's fidelity (its default included) and a replay
# takes it: the replay's log is the live run's, and the same recording
# replayed at the other fidelity is not.
"$BIN" --headless --scenario "$SC" --until 5s --record "$tmp/rec.jsonl" >"$tmp/live" 2>/dev/null
"$BIN" --replay "$tmp/rec.jsonl" >"$tmp/rep" 2>/dev/null
sed 's/"fidelity":"auto"/"fidelity":"sample"/' "$tmp/rec.jsonl" >"$tmp/rec2.jsonl"
"$BIN" --replay "$tmp/rec2.jsonl" >"$tmp/rep2" 2>/dev/null
if head -1 "$tmp/rec.jsonl" | grep -q '"fidelity":"auto"' && cmp -s "$tmp/live" "$tmp/rep" &&
    ! cmp -s "$tmp/live" "$tmp/rep2"; then
    ok "a recording keeps its fidelity (auto headless) and the replay takes it"
else
    notok "the recording's fidelity: $(head -1 "$tmp/rec.jsonl" | grep -o '"fidelity":"[a-z]*"')"
fi
"$BIN" --replay "$tmp/rec.jsonl" --fidelity sample >/dev/null 2>"$tmp/err"
st=$?
if [ "$st" -eq 2 ] && grep -q -- "--fidelity" "$tmp/err"; then
    ok "--replay with --fidelity: refused, status 2 (the recording's flags hold)"
else
    notok "--replay with --fidelity: status $st"
fi

if "$BIN" --help | grep -q -- "--fidelity sample|auto"; then
    ok "--help tells --fidelity"
else
    notok "--help does not tell --fidelity"
fi
echo "1..$n"
