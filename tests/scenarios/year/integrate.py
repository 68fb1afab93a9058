#!/usr/bin/python3
"""integrate.py FILE: a second, independent derivation of a year scenario's
expected register values (tools/gen_year.py's files), from the file itself as
the twin reads it rather than from the generator's description.

The generator integrates the piecewise-linear profiles exactly (trapezoids).
Here each phase's current is instead sampled once a simulated second and held
for that second, as the host does (docs/scenario.md: "Profiles are sampled once
a simulated second"), the daily profiles taken from the file's points with
their wrap at midnight, the tariff input and the load events applied at their
times, the file's starting registers added. Every float a Modbus read expects
from 0x6000 (active total and forward), 0x6024 (reactive) and 0x6063 (Q1) must
match this sum within half the read's tolerance: that shows the generator's
arithmetic and the tolerance's first term (the sampled profile) at once.
Prints one line per read; exit 1 when one is off. Python 3 stdlib only.
"""

import json
import math
import sys

DAY = 86400
PH = ("L1", "L2", "L3")


def seconds(text):
    if isinstance(text, (int, float)):
        return int(text)
    total, num = 0, ""
    for ch in text:
        if ch.isdigit():
            num += ch
        else:
            total += int(num) * {"d": DAY, "h": 3600, "m": 60, "s": 1}[ch]
            num = ""
    return total


def prefix_of(points):
    """Prefix sums of the profile held per second over one day: pre[k] = sum
    of value(0..k-1)."""
    t = [int(h) * 3600 + int(m) * 60 for h, m in (p[0].split(":") for p in points)]
    v = [float(p[1]) for p in points]
    pre = [0.0] * (DAY + 1)
    acc = 0.0
    for k in range(DAY):
        if k < t[0] or k >= t[-1]:
            t0, t1 = t[-1], t[0] + DAY
            x = k + DAY if k < t[0] else k
            val = v[-1] + (v[0] - v[-1]) * (x - t0) / (t1 - t0)
        else:
            i = 0
            while t[i + 1] <= k:
                i += 1
            val = v[i] + (v[i + 1] - v[i]) * (k - t[i]) / (t[i + 1] - t[i])
        acc += val
        pre[k + 1] = acc
    return pre


def held_sum(pre, a, b):
    """Sum of the held profile over seconds a..b-1 (time since the run began)."""
    def g(x):
        return (x // DAY) * pre[DAY] + pre[x % DAY]
    return g(b) - g(a)


def main(path):
    s = json.load(open(path))
    U = float(s["grid"]["voltage"])
    pf = {p: float(s["load"][p]["pf"]) for p in PH}
    cache = {}

    def prof(daily):
        key = json.dumps(daily)
        if key not in cache:
            cache[key] = prefix_of(daily)
        return cache[key]

    cur = {p: prof(s["load"][p]["current"]["daily"]) for p in PH}
    regs = s["meter"].get("registers", {})
    amp_s = {(p, tr): 0.0 for p in PH for tr in (1, 2)}
    tariff, now, bad, reads = 1, 0, 0, 0
    for ev in s["timeline"]:
        t = seconds(ev["at"])
        for p in PH:
            amp_s[(p, tariff)] += held_sum(cur[p], now, t)
        now = t
        if "tariff_input" in ev:
            tariff = 2 if ev["tariff_input"] else 1
        if "load" in ev:
            for p in PH:
                if p in ev["load"]:
                    cur[p] = prof(ev["load"][p]["current"]["daily"])
        mb = ev.get("modbus")
        if not mb or "expect_floats" not in mb:
            continue
        addr = int(mb["request"].split()[2] + mb["request"].split()[3], 16)
        if addr not in (0x6000, 0x6024, 0x6063):
            continue
        kind = "active" if addr == 0x6000 else "reactive"

        def e(p, tr):
            w = pf[p] if kind == "active" else math.sqrt(1 - pf[p] ** 2)
            return U * w * amp_s[(p, tr)] / 3.6e6

        t1 = sum(e(p, 1) for p in PH)
        t2 = sum(e(p, 2) for p in PH)
        slots = {"total": t1 + t2, "T1": t1, "T2": t2}
        for p in PH:
            slots[p] = e(p, 1) + e(p, 2)
        names = ["total", "T1", "T2", "L1", "L2", "L3"] * 2 if addr != 0x6063 else ["total", "T1", "T2"]
        prefix = {0x6000: "active_forward.", 0x6024: "reactive_forward.", 0x6063: "reactive_q1."}[addr]
        worst = 0.0
        for name, want in zip(names, mb["expect_floats"]):
            got = slots[name] + regs.get(prefix + name, 0.0)
            worst = max(worst, abs(got - want))
        ok = worst <= mb["tolerance"] / 2
        reads += 1
        bad += not ok
        print("%s read 0x%04X at %s: largest difference %.6f (half the tolerance %.4f): %s"
              % ("ok" if ok else "OFF", addr, ev["at"], worst, mb["tolerance"] / 2,
                 "agrees" if ok else "DISAGREES"))
    if reads == 0:
        print("no read to check")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
