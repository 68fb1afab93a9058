#!/bin/sh
# The 1-year household scenario (scenarios/year-household.json, issue 14
# point 4) in make test. Speaks TAP.
#
#   1. the committed files are tools/gen_year.py's output (the year and its cuts)
#   2. each file's expected reads agree with a second, independent sum of its
#      profiles as the host samples them (tests/scenarios/year/integrate.py),
#      and that sum finds a value 3 Wh off
#   3. a cut of the year runs in the twin and every read holds: YEAR_CUT, the
#      first month (the summer-time change, the March read), with
#      --fidelity auto, the headless default (at sample level a month takes
#      about 13 min here; year-dst-2d.json, the change's two days, is the cut
#      to run at sample level by hand: YEAR_CUT=... with --fidelity sample)
#
# SCENARIOS_SKIP (as in test_scenarios.sh) may name the cut: not run then.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
YEAR_CUT=${YEAR_CUT:-tests/scenarios/year/year-month.json}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

if "$PY" tools/gen_year.py --check 2>"$tmp/gen"; then
    ok "tools/gen_year.py --check: the year and its cuts are the generator's output"
else
    notok "tools/gen_year.py --check: $(head -c 600 "$tmp/gen")"
fi

for f in scenarios/year-household.json tests/scenarios/year/*.json; do
    if "$PY" tests/scenarios/year/integrate.py "$f" >"$tmp/int" 2>&1; then
        ok "$f: $(grep -c '^ok' "$tmp/int") reads agree with the held-second sum"
    else
        notok "$f: $(grep -v '^ok' "$tmp/int" | head -c 600)"
    fi
done

# The second sum can fail: one expected value 3 Wh off (the T2 register of
# the cut's first read) is found.
"$PY" - "$YEAR_CUT" "$tmp/off.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ev = next(e for e in s["timeline"] if "expect_floats" in e.get("modbus", {}) and e["modbus"]["tolerance"])
ev["modbus"]["expect_floats"][2] += 0.003
json.dump(s, open(sys.argv[2], "w"))
PY
if "$PY" tests/scenarios/year/integrate.py "$tmp/off.json" >"$tmp/int" 2>&1; then
    notok "integrate.py passed a read 3 Wh off"
else
    ok "integrate.py finds a read 3 Wh off ($(grep -c DISAGREES "$tmp/int") read)"
fi

case " ${SCENARIOS_SKIP:-} " in
*" $YEAR_CUT "*) ok "$YEAR_CUT # SKIP in SCENARIOS_SKIP" ;;
*)
    want=$(grep -c '"request"' "$YEAR_CUT")
    "$BIN" --headless --quiet --scenario "$YEAR_CUT" >"$tmp/log" 2>"$tmp/err"
    st=$?
    held=$(grep -c '"event":"modbus".*"ok":true' "$tmp/log")
    if [ "$st" -eq 0 ] && [ "$held" -eq "$want" ] && ! grep -q '"ok":false' "$tmp/log"; then
        ok "$YEAR_CUT: all $held Modbus reads held"
    else
        notok "$YEAR_CUT: status $st, $held of $want reads held: $(grep '"ok":false' "$tmp/log" | head -c 800) $(head -c 400 "$tmp/err")"
    fi
    ;;
esac
echo "1..$n"
