#!/bin/sh
# mbpoll (Debian's mbpoll) against the twin on a pty: every block of the A3.2
# map read, the Modbus ID and the tariff written (A3.3). Expected values are
# computed here from the scenario's physics (3 x 230 V x 10 A, PF 1, 50 Hz)
# and the manual's factory settings, never taken from the twin. Speaks TAP.
. "$(dirname "$0")/lib.sh"

if ! command -v mbpoll >/dev/null; then
    echo "not ok 1 - mbpoll is not installed (make deps)"
    exit 1
fi

# mbpoll at the factory settings (A3.1: 9600 8E1); -0: PDU addresses (0x4000
# is register 0x4000, not 0x3FFF); -B: high word first (Float ABCD); -1: once.
mb() { # ID, mbpoll args... (a read)
    id=$1
    shift
    mbpoll -m rtu -a "$id" -b 9600 -P even -0 -B -1 -o 1 "$@" "$PORT"
}
mbw() { # ID REGISTER VALUE: one 16-bit holding register (the values follow the port)
    mbpoll -m rtu -a "$1" -b 9600 -P even -0 -B -1 -o 1 -t 4 -r "$2" "$PORT" "$3"
}
# read NAME ID args...: $tmp/NAME.out, with the wall times around it in $tmp/NAME.t
read_block() {
    name=$1
    shift
    tb=$(now)
    mb "$@" >"$tmp/$name.out" 2>&1
    st=$?
    echo "$tb $(now)" >"$tmp/$name.t"
    return $st
}

if ! start_twin "$SCENARIO_10A" || ! wait_published; then
    notok "the twin serves Modbus on a pty"
    echo "1..$n"
    exit 1
fi
ok "the twin serves Modbus on a pty"

read_block b4000 1 -t 4:hex -r 0x4000 -c 52
st1=$?
read_block b5000 1 -t 4:float -r 0x5000 -c 28
st2=$?
read_block b6000 1 -t 4:hex -r 0x6000 -c 75
st3=$?
read_block b604b 1 -t 4:float -r 0x604B -c 35
st4=$?
[ $st1 -eq 0 ] && [ $st2 -eq 0 ] && [ $st3 -eq 0 ] && [ $st4 -eq 0 ] &&
    ok "mbpoll reads 0x4000 x52, 0x5000 x28 floats, 0x6000 x75, 0x604B x35 floats" ||
    notok "mbpoll reads every block (status $st1 $st2 $st3 $st4)"

# The checks, in Python: parse mbpoll's "[ref]: value" lines.
cat >"$tmp/check.py" <<'EOF'
import math, re, struct, sys

tmp, T0, TL, what = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

def parse(name):
    out = {}
    for line in open(f"{tmp}/{name}.out"):
        m = re.match(r"\[(\d+)\]:\s+(\S+)", line)
        if m:
            v = m.group(2)
            out[int(m.group(1))] = int(v, 16) if v.startswith("0x") else float(v)
    return out

def times(name):
    tb, ta = open(f"{tmp}/{name}.t").read().split()
    return float(tb), float(ta)

def flt(words, a):  # Float ABCD: high word first (A3.2)
    return struct.unpack(">f", struct.pack(">HH", words[a], words[a + 1]))[0]

errors = []
# At PF 1 no reactive energy may count, not even in the first mains cycle (cut
# short by the start, it makes no reactive energy: docs/decisions.md).
REACTIVE_START = 0.0
def near(label, got, want, tol):
    if got is None or not abs(got - want) <= tol:
        errors.append(f"{label}: read {got}, expected {want} +- {tol}")

def energy_bounds(name, nregs):
    """Energy (kWh) of 3 x 2.3 kW since the start, bounded by the wall clock:
    at most the time since before the twin started up to the end of the read
    less the reply's frame time (5 + 2n bytes of 11 bits at 9600 bit/s: the
    values are taken before the reply leaves), at least the time since its
    port appeared (minus 50 ms of start-up); +- one mains cycle (20 ms)."""
    tb, ta = times(name)
    p = 3 * 230.0 * 10.0 / 1000.0  # kW
    cyc = p * 0.02 / 3600
    reply = (5 + 2 * nregs) * 11 / 9600
    return p * max(tb - TL - 0.05, 0) / 3600 - cyc, p * (ta - reply - T0 + 0.005) / 3600 + cyc

def in_bounds(label, got, lo, hi):
    if "-v" in sys.argv:
        print(f"{label}: {lo:.7f} <= {got:.7f} <= {hi:.7f}")
    if not lo <= got <= hi:
        errors.append(f"{label}: read {got:.7f} kWh, expected {lo:.7f} to {hi:.7f}")

if what == "4000":
    w = parse("b4000")
    if len(w) != 52:
        errors.append(f"{len(w)} registers read")
    one = 0x3F800000  # 1.0 as Float ABCD
    s0 = struct.unpack(">I", struct.pack(">f", 1000.0))[0]  # 1000 imp/kWh
    want = {
        0x4000: 0x1307, 0x4001: 0x0001,  # serial 13070001, BCD
        0x4002: 0x1111,                  # meter code 4PU
        0x4003: 1, 0x4004: 6,            # A3.1: ID 1, 9600 (code 6)
        0x4005: one >> 16, 0x4006: one & 0xFFFF,  # versions 1.0
        0x4007: one >> 16, 0x4008: one & 0xFFFF,
        0x4009: one >> 16, 0x400A: one & 0xFFFF,
        0x400B: 65,                      # meter amps (Imax 65 A)
        0x400C: 0x0001,                  # CT ratio 1 (direct meter)
        0x400D: s0 >> 16, 0x400E: s0 & 0xFFFF,
        0x400F: 3,                       # C-03
        0x4010: 0x0010,                  # LCD cycle 10 s, decimal digits
        0x4011: 1,                       # even parity
        0x4012: ord("F"), 0x4013: ord("F"), 0x4014: ord("F"),  # importing
        0x4015: 0, 0x4016: 0,            # power-down counter of a new meter
        0x4017: 1, 0x4018: 1, 0x4019: 1, 0x401A: 1,  # PF 1 import: Q1
        0x401F: 0x0005, 0x4020: 0x0005,  # CT 5/5
        0x4021: 0x0030,                  # pulse width 30 ms, decimal digits
        0x4022: 1, 0x4025: 0, 0x4026: 1, 0x4032: 0, 0x4033: 0,
    }
    for a in range(0x4027, 0x4032):
        want[a] = 0
    for a, v in sorted(want.items()):
        if w.get(a) != v:
            errors.append(f"0x{a:04X}: read {w.get(a)!r}, expected 0x{v:04X}")
elif what == "5000":
    f = parse("b5000")
    U, I, f50 = 230.0, 10.0, 50.0
    P = U * I / 1000  # kW per phase at PF 1
    # "Voltage*" 0x5000 and "Current*" 0x500A read 0 on a three-phase meter
    # (the manual's A4.4 screenshot; docs/decisions.md).
    want = [("Voltage*", 0.0, 0.0)] + [(f"U L{k}", U, .01) for k in (1, 2, 3)] + [("f", f50, .001)]
    want += [("Current*", 0.0, 0.0)] + [(f"I L{k}", I, .001) for k in (1, 2, 3)]
    want += [("P", 3 * P, .0015)] + [(f"P L{k}", P, .0005) for k in (1, 2, 3)]
    want += [("Q", 0.0, .0015)] + [(f"Q L{k}", 0.0, .0005) for k in (1, 2, 3)]
    want += [("S", 3 * P, .0015)] + [(f"S L{k}", P, .0005) for k in (1, 2, 3)]
    want += [("PF", 1.0, .001)] + [(f"PF L{k}", 1.0, .001) for k in (1, 2, 3)]
    want += [(n, U * math.sqrt(3), .02) for n in ("U L1-L2", "U L1-L3", "U L2-L3")]
    for i, (label, v, tol) in enumerate(want):
        near(f"0x{0x5000 + 2 * i:04X} {label}", f.get(0x5000 + 2 * i), v, tol)
elif what == "6000":
    w = parse("b6000")
    if len(w) != 75:
        errors.append(f"{len(w)} registers read")
    lo, hi = energy_bounds("b6000", 75)
    e = {a: flt(w, a) for a in range(0x6000, 0x6048, 2)}
    active = {0x6000: "total", 0x600C: "forward"}
    for base, name in active.items():
        in_bounds(f"0x{base:04X} {name}", e[base], lo, hi)
        in_bounds(f"0x{base + 2:04X} {name} T1", e[base + 2], lo, hi)
        near(f"0x{base + 4:04X} {name} T2", e[base + 4], 0.0, 0.0)
        for k in range(3):
            in_bounds(f"0x{base + 6 + 2 * k:04X} {name} L{k + 1}", e[base + 6 + 2 * k], lo / 3, hi / 3)
        near(f"{name}: L1+L2+L3 = total", sum(e[base + 6 + 2 * k] for k in range(3)), e[base], 2e-6)
    for a in range(0x6018, 0x6024, 2):  # reverse active: nothing exported
        near(f"0x{a:04X} reverse", e[a], 0.0, 0.0)
    for a in range(0x6024, 0x6048, 2):  # reactive: PF 1 (see REACTIVE_START)
        near(f"0x{a:04X} reactive", e[a], 0.0, REACTIVE_START)
    if w[0x6048] != 1:
        errors.append(f"0x6048 tariff: read {w[0x6048]}, expected 1")
    in_bounds("0x6049 day counter", flt(w, 0x6049), lo, hi)
elif what == "604b":
    f = parse("b604b")
    lo, hi = energy_bounds("b604b", 70)
    for a in range(0x604B, 0x6063, 2):  # T3, T4: never selected
        near(f"0x{a:04X} T3/T4", f.get(a), 0.0, 0.0)
    for a in range(0x6063, 0x608B, 2):  # reactive by quadrant: PF 1
        near(f"0x{a:04X} Q1-Q4", f.get(a), 0.0, REACTIVE_START)
    for k, a in enumerate((0x608B, 0x608D, 0x608F)):
        g = f.get(a)
        if g is None:
            errors.append(f"0x{a:04X} missing")
        else:
            in_bounds(f"0x{a:04X} day counter L{k + 1}", g, lo / 3, hi / 3)
elif what == "t2":  # after the tariff write: T2 counts, T1 stands still
    a, b = parse("t2a"), parse("t2b")
    t1a, t2a = a[0x6002], a[0x6004]
    t1b, t2b = b[0x6002], b[0x6004]
    if not (t2b > t2a > 0 and t1b == t1a):
        errors.append(f"T1 {t1a} -> {t1b}, T2 {t2a} -> {t2b}: expected T2 growing, T1 constant")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF
chk() { $PY "$tmp/check.py" "$tmp" "$T0" "$TL" "$@"; }
[ -n "${VERBOSE:-}" ] && chk 6000 -v

check "0x4000-0x4033: identity and factory settings (A3.1, A3.2)" chk 4000
check "0x5000-0x5037 as floats: 230 V, 10 A, 2.3 kW, 0 kvar, 2.3 kVA, PF 1, 50 Hz, 398.37 V" chk 5000
check "0x6000 x75: energies of 6.9 kW since the start, T1 only, tariff word 1, day counter" chk 6000
check "0x604B-0x6090 as floats: T3/T4 and Q1-Q4 zero, day counters per phase" chk 604b

# A3.3: 01 06 4003 000A sets ID 10; the reply still comes from ID 1, then the
# meter answers at 10 and no longer at 1.
mbw 1 0x4003 10 >"$tmp/w_id.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "Written 1 references" "$tmp/w_id.out" &&
    ok "mbpoll writes the Modbus ID (0x4003 = 10)" || notok "write ID: $(cat "$tmp/w_id.out")"
mb 10 -r 0x4003 >"$tmp/id10.out" 2>&1
grep -qE '^\[16387\]:[[:space:]]+10$' "$tmp/id10.out" && ok "read at ID 10: 0x4003 = 10" ||
    notok "read at ID 10: $(tail -2 "$tmp/id10.out")"
if mb 1 -r 0x4003 -o 0.3 >"$tmp/id1.out" 2>&1 && grep -qE '^\[16387\]:' "$tmp/id1.out"; then
    notok "ID 1 still answers after the change"
else
    ok "ID 1 no longer answers"
fi

# A3.3: 01 06 6048 0002 selects T2; from then on T2 counts and T1 stands.
mbw 10 0x6048 2 >"$tmp/w_t.out" 2>&1
grep -q "Written 1 references" "$tmp/w_t.out" && ok "mbpoll writes the tariff (0x6048 = 2)" ||
    notok "write tariff: $(cat "$tmp/w_t.out")"
mb 10 -r 0x6048 >"$tmp/t.out" 2>&1
grep -qE '^\[24648\]:[[:space:]]+2$' "$tmp/t.out" && ok "0x6048 reads 2" ||
    notok "0x6048: $(tail -2 "$tmp/t.out")"
# Two reads of T1/T2 at least two mains cycles apart.
i=0
while :; do
    mb 10 -t 4:float -r 0x6002 -c 2 >"$tmp/t2a.out" 2>&1
    grep -qE '^\[24580\]:[[:space:]]+0$' "$tmp/t2a.out" || break
    i=$((i + 1))
    [ $i -gt 20 ] && break
done
for _ in 1 2 3 4 5; do
    mb 10 -t 4:float -r 0x6002 -c 2 >"$tmp/t2b.out" 2>&1
done
check "after the write, T2 energy grows and T1 stands still" chk t2

# Bad input (issue 12): the manual's CT command to this direct meter (4PU,
# 65 A, no transformer) is exception 03 (docs/modbus.md decision 6); the
# ratio still reads 0005 0005.
mbpoll -m rtu -a 10 -b 9600 -P even -0 -B -1 -o 1 -t 4:hex -r 0x401F "$PORT" 0x9995 0x0005 >"$tmp/ct4pu.out" 2>&1
st=$?
mb 10 -t 4:hex -r 0x401F -c 2 >"$tmp/ct4pu_r.out" 2>&1
if [ $st -ne 0 ] && grep -qi "illegal data value" "$tmp/ct4pu.out" &&
    grep -qE '^\[16415\]:[[:space:]]+0x0005' "$tmp/ct4pu_r.out" && grep -qE '^\[16416\]:[[:space:]]+0x0005' "$tmp/ct4pu_r.out"; then
    ok "4PU: mbpoll's 0x401F = 9995 0005 is refused (illegal data value), 0x401F still 0005 0005"
else
    notok "4PU CT write: $(tr '\n' ' ' <"$tmp/ct4pu.out") / $(tr '\n' ' ' <"$tmp/ct4pu_r.out")"
fi

stop_twin

# Issue 12: the CT variant, an outage, the boot (lib.sh, SCENARIO_CT).
# mbpoll writes the ratio with FC 16 (two values after the port), reads it
# back, and reads the primary values; the values are checked against the
# scenario's numbers: I = CT_SECONDARY x CT_PRIMARY / 5, P = S = U x I.
mb_ct() { # OP
    case $1 in
    write)
        mbpoll -m rtu -a 1 -b 9600 -P even -0 -B -1 -o 1 -t 4:hex -r 0x401F "$PORT" 0x9995 0x0005 \
            >"$tmp/ctw.out" 2>&1 && grep -q "Written 2 references" "$tmp/ctw.out" &&
            echo "ok - mbpoll writes 0x401F = 9995 0005 (A3.3: 01 10 401F 0002 04 9995 0005)" ||
            echo "not ok - mbpoll writes the CT ratio: $(tail -2 "$tmp/ctw.out")"
        mb 1 -t 4:hex -r 0x400B -c 2 >"$tmp/ctr.out" 2>&1
        mb 1 -t 4:hex -r 0x401F -c 2 >>"$tmp/ctr.out" 2>&1
        mb 1 -t 4:hex -r 0x4002 -c 1 >>"$tmp/ctr.out" 2>&1
        for want in '\[16386\]:[[:space:]]+0x1113' '\[16395\]:[[:space:]]+0x0006' '\[16396\]:[[:space:]]+0x1999' \
            '\[16415\]:[[:space:]]+0x9995' '\[16416\]:[[:space:]]+0x0005'; do
            grep -qE "$want" "$tmp/ctr.out" || { echo "not ok - read-back: no $want in $(tr '\n' ' ' <"$tmp/ctr.out")"; return; }
        done
        echo "ok - 0x4002 = 1113 (2PCT), 0x400B = 6 A, 0x400C = 1999 (9995/5), 0x401F = 9995 0005"
        ;;
    values)
        mb 1 -t 4:float -r 0x5000 -c 28 >"$tmp/ctv.out" 2>&1
        $PY - "$tmp/ctv.out" "$CT_SECONDARY" "$CT_PRIMARY" "$CT_U" <<'PYEOF'
import re, sys
f = {}
for line in open(sys.argv[1]):
    m = re.match(r"\[(\d+)\]:\s+(\S+)", line)
    if m:
        f[int(m.group(1))] = float(m.group(2))
i2, prim, u = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
I = i2 * prim / 5
P = u * I / 1000  # kW per phase at PF 1
want = {0x5002: (u, .01), 0x5008: (50, .001), 0x500C: (I, I * 1e-5), 0x5012: (3 * P, 3 * P * 1e-5),
        0x5014: (P, P * 1e-5), 0x5022: (3 * P, 3 * P * 1e-5), 0x502A: (1, .001)}
bad = [f"0x{a:04X} {f.get(a)} vs {v}" for a, (v, t) in want.items() if f.get(a) is None or abs(f[a] - v) > t]
print(("not ok - " if bad else "ok - ") +
      f"mbpoll reads primary values: U {u:g} V, I {I:g} A, P {P:.2f} kW per phase, {3 * P:.2f} kW, S = P, PF 1" +
      (" (" + "; ".join(bad) + ")" if bad else ""))
PYEOF
        ;;
    down)
        if mb 1 -r 0x4016 -o 0.5 >"$tmp/ctd.out" 2>&1 || ! grep -qi "timed out" "$tmp/ctd.out"; then
            echo "not ok - a read during the outage: $(tail -2 "$tmp/ctd.out")"
        else
            echo "ok - a read during the outage times out ($(grep -i -m1 "timed out" "$tmp/ctd.out"))"
        fi
        ;;
    up)
        if mb 1 -r 0x4016 >"$tmp/ctu.out" 2>&1 && grep -qE '^\[16406\]:[[:space:]]+1$' "$tmp/ctu.out" &&
            mb 1 -t 4:hex -r 0x401F -c 2 >>"$tmp/ctu.out" 2>&1 && grep -qE '^\[16415\]:[[:space:]]+0x9995' "$tmp/ctu.out"; then
            echo "ok - the first read after the boot answers: 0x4016 = 1 power-down, 0x401F still 9995 0005"
        else
            echo "not ok - the first read after the boot: $(tr '\n' ' ' <"$tmp/ctu.out")"
        fi
        ;;
    esac
}
if start_twin "$SCENARIO_CT"; then
    ok "the twin serves a 2PCT on a pty"
    ct_outage_stages mb_ct
else
    notok "the twin serves a 2PCT on a pty"
fi
stop_twin
echo "1..$n"
