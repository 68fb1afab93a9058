#!/usr/bin/python3
"""gen_year.py: the 1-year household scenario, and cuts of it, with every
expected value worked out from physics (issue 14, point 4).

    python3 tools/gen_year.py --write         write the committed files (OUTPUTS)
    python3 tools/gen_year.py --check         exit 1, naming the file, when a
                                              committed file is not this output
    python3 tools/gen_year.py --start-day D --days N [-o FILE]
                                              one cut: simulated days D..D+N

The household (a compact description, HOUSE below) lives by the local clock
(CET/CEST): its daily current profile per phase and the utility's night-tariff
signal (22:00-06:00 local, T2 on the meter's tariff input, manual A1.1) follow
local time. The meter has no clock (the manual has no clock-based tariffs), so
the simulation runs in monotonic time, 00:00 = 1 March 2025 00:00 CET, and
summer time (EU rule: last Sunday of March 02:00 CET to last Sunday of October
03:00 CEST) shifts every local-clock event one hour earlier in simulated time:
the tariff's switching times and the load's daily profile (rewritten one hour
earlier by a load event at each change; the profile is flat at night, so the
rewrite changes no current). Month by month the profile's level changes (a
factor per month, applied at local midnight of the 1st).

Expected values: over each stretch where the month's factor, the shift and the
tariff are fixed, phase p draws I(t) = k * base_p(t + shift) (straight lines
between the points), so its active energy is U * pf_p * k * integral(base_p),
its reactive energy U * sin(phi_p) * k * integral(base_p); the integral of a
piecewise-linear profile is exact (trapezoids), computed here in rational
arithmetic (fractions.Fraction) from the decimal values written in the file.
Python 3 standard library only.
"""

import argparse
import bisect
import calendar
import datetime
import json
import math
import os
import sys
from fractions import Fraction as F

DAY = 86400
HOUR = 3600

# The compact description. Currents in A (fundamental, RMS), local time.
HOUSE = {
    "name": "household, one year",
    "seed": 2025,
    "meter": {"name": "home", "serial": "13070365", "connection": "3P4W"},
    "voltage": "230",
    "grid_noise": 0.05,
    "load_noise": 0.005,
    "harmonics": [{"order": 3, "percent": 10}, {"order": 5, "percent": 4}],
    # year start: 1 March 2025 00:00 CET; 365 days to 1 March 2026 00:00 CET
    "start": datetime.date(2025, 3, 1),
    "days": 365,
    "tariff_night": ("22:00", "06:00"),  # T2 on the input, local time
    "phases": {
        # lighting, kitchen small appliances, TV: PF 0.95
        "L1": {
            "pf": "0.95",
            "daily": [("00:00", "0.3"), ("06:00", "0.3"), ("07:00", "1.5"), ("08:00", "0.5"),
                      ("17:00", "0.5"), ("18:30", "2.5"), ("21:30", "2.5"), ("23:00", "0.3")],
        },
        # fridge and freezer all day, washing machine late morning, dishwasher
        # in the evening: motors, PF 0.85
        "L2": {
            "pf": "0.85",
            "daily": [("00:00", "0.4"), ("06:00", "0.4"), ("09:30", "0.4"), ("10:00", "4.0"),
                      ("11:30", "4.0"), ("12:00", "0.6"), ("19:30", "0.6"), ("20:00", "3.0"),
                      ("21:30", "3.0"), ("22:00", "0.4")],
        },
        # the electric cooker and kettle: nearly resistive, PF 0.99
        "L3": {
            "pf": "0.99",
            "daily": [("00:00", "0.2"), ("06:30", "0.2"), ("07:00", "2.0"), ("07:30", "0.2"),
                      ("12:00", "0.2"), ("12:15", "6.0"), ("13:00", "6.0"), ("13:15", "0.2"),
                      ("18:00", "0.2"), ("18:15", "8.0"), ("19:00", "8.0"), ("19:15", "0.2")],
        },
    },
    # level of the profile, month by month (lighting and heating season)
    "month_factor": {3: "1.05", 4: "0.95", 5: "0.85", 6: "0.8", 7: "0.75", 8: "0.8",
                     9: "0.9", 10: "1.0", 11: "1.15", 12: "1.3", 1: "1.3", 2: "1.2"},
}

# The committed files: path, first simulated day, number of days.
OUTPUTS = [
    ("scenarios/year-household.json", 0, 365),
    # the first month, for make test once --fidelity auto makes it fast
    ("tests/scenarios/year/year-month.json", 0, 31),
    # 30-31 March: the night of the summer-time change and the March read,
    # from registers as the year left them (make test at sample level)
    ("tests/scenarios/year/year-dst-2d.json", 29, 2),
]

PHASES = ("L1", "L2", "L3")

# A month-end read: FC03 requests to the meter (ID 1, A3.2), one a second.
READS = [
    ("01 03 60 00 00 18", "active"),  # 0x6000-0x6017: total and forward x (total, T1, T2, L1-L3)
    ("01 03 60 18 00 0C", "reverse"),  # 0x6018-0x6023: reverse active: 0
    ("01 03 60 24 00 18", "reactive"),  # 0x6024-0x603B: reactive total and forward
    ("01 03 60 63 00 06", "q1"),  # 0x6063-0x6068: Q1 total, T1, T2
    ("01 03 60 48 00 01", "tariff"),  # 0x6048: the tariff in force
]


def tod(s):
    h, m = s.split(":")
    return int(h) * HOUR + int(m) * 60


def hhmm(sec):
    sec %= DAY
    return "%02d:%02d" % (sec // HOUR, sec % HOUR // 60)


def last_sunday(year, month):
    d = datetime.date(year, month, calendar.monthrange(year, month)[1])
    return d - datetime.timedelta(days=(d.weekday() - 6) % 7)


def dur(sec):
    """Seconds as the scenario's duration text: 30d23h, 2h, 0s."""
    if sec == 0:
        return "0s"
    out = ""
    for unit, n in (("d", DAY), ("h", HOUR), ("m", 60), ("s", 1)):
        if sec >= n:
            out += "%d%s" % (sec // n, unit)
            sec %= n
    return out


def num(fr):
    """A Fraction as the JSON number the file holds (shortest repr)."""
    v = float(fr)
    return int(v) if v == int(v) and abs(v) < 1e15 else v


class Year:
    def __init__(self, h):
        self.h = h
        self.U = F(h["voltage"])
        start = h["start"]
        self.t0_date = start
        y = start.year
        # summer time in simulated (CET) seconds: starts 02:00 CET, ends 03:00
        # CEST = 02:00 CET; the year covers one summer
        self.dst_on = self.sim(last_sunday(y, 3), 2 * HOUR, 0)
        self.dst_off = self.sim(last_sunday(y, 10), 2 * HOUR, 0)
        self.end = h["days"] * DAY
        self.base = {p: [(tod(t), F(v)) for t, v in h["phases"][p]["daily"]] for p in PHASES}
        self.pf = {p: F(h["phases"][p]["pf"]) for p in PHASES}

    def sim(self, date, seconds, offset):
        """Simulated seconds of a date and clock time with `offset` (0 CET, 3600 CEST)."""
        return (date - self.t0_date).days * DAY + seconds - offset

    def offset_at(self, t):
        return HOUR if self.dst_on <= t < self.dst_off else 0

    def local(self, date, clock):
        """Simulated time of a local clock time (never in the skipped or repeated hour)."""
        t = self.sim(date, clock, 0)
        return t - HOUR if self.dst_on <= t - HOUR < self.dst_off else t

    def dates(self):
        d = self.t0_date
        while (d - self.t0_date).days <= self.h["days"]:
            yield d
            d += datetime.timedelta(days=1)

    # -- the timeline of the year, in simulated seconds ----------------------
    def regimes(self):
        """[(t, factor, shift)]: from t on, I = factor * base(t + shift)."""
        cuts = {0, self.dst_on, self.dst_off}
        for d in self.dates():
            if d.day == 1:
                cuts.add(self.local(d, 0))
        out = []
        for t in sorted(c for c in cuts if 0 <= c < self.end):
            month = self.month_of(t)
            out.append((t, F(self.h["month_factor"][month]), self.offset_at(t)))
        return out

    def month_of(self, t):
        """The calendar month (local) at simulated time t."""
        local = t + self.offset_at(t)
        return (self.t0_date + datetime.timedelta(days=local // DAY)).month

    def tariff(self):
        """[(t, on)] changes of the tariff input (True: T2)."""
        on_s, off_s = (tod(x) for x in self.h["tariff_night"])
        ev = []
        for d in self.dates():
            ev.append((self.local(d, off_s), False))
            ev.append((self.local(d, on_s), True))
        return sorted(e for e in ev if 0 <= e[0] < self.end)

    def tariff_at(self, t):
        if not hasattr(self, "_tariff"):
            self._tariff = self.tariff()
            self._tariff_t = [te for te, _ in self._tariff]
        i = bisect.bisect_right(self._tariff_t, t)
        # the year starts at local midnight: night, T2
        return self._tariff[i - 1][1] if i else True

    def reads(self):
        """Local midnight of each 1st after the start: the monthly reads."""
        return [self.local(d, 0) for d in self.dates() if d.day == 1 and d != self.t0_date]

    # -- exact integrals ------------------------------------------------------
    def cum(self, p, x):
        """Integral of base_p over [0, x) of its (local) day, x in [0, DAY], exact."""
        pts = self.base[p]
        # the profile over one day, closed: wrap the last point to the first + DAY
        ext = [(pts[-1][0] - DAY, pts[-1][1])] + pts + [(pts[0][0] + DAY, pts[0][1])]
        total = F(0)
        for (ta, va), (tb, vb) in zip(ext, ext[1:]):
            a, b = max(ta, 0), min(tb, x)
            if b <= a:
                continue
            fa = va + (vb - va) * F(a - ta, tb - ta)
            fb = va + (vb - va) * F(b - ta, tb - ta)
            total += (fa + fb) * (b - a) / 2
        return total

    def integral(self, p, a, b):
        """A*s of base_p(t) over t in [a, b), any reals (periodic)."""
        def g(x):
            return (x // DAY) * self.cum(p, DAY) + self.cum(p, x % DAY)
        return g(b) - g(a)

    def value(self, p, x):
        """base_p at x seconds (periodic), a Fraction."""
        x %= DAY
        pts = self.base[p]
        ext = [(pts[-1][0] - DAY, pts[-1][1])] + pts + [(pts[0][0] + DAY, pts[0][1])]
        for (ta, va), (tb, vb) in zip(ext, ext[1:]):
            if ta <= x < tb:
                return va + (vb - va) * F(x - ta, tb - ta)
        raise AssertionError(x)

    def held(self, p, a, b):
        """The sum over the whole seconds a..b-1 of base_p, each second's value
        held for that second (the host samples profiles once a simulated
        second, docs/scenario.md): on a straight piece with its ends on whole
        seconds the sum is the integral minus (f(b) - f(a))/2 x 1 s, and so over
        any run of pieces (every point of the file lies on a whole minute)."""
        return self.integral(p, a, b) - (self.value(p, b) - self.value(p, a)) / 2

    def cumulative(self, times):
        """Exact A*s x factor per phase and tariff over [0, t) for each t of
        `times`: {t: {(phase, tariff): Fraction}}, in one sweep."""
        regs = self.regimes()
        marks = {0} | set(times) | {t for t, _, _ in regs} | {t for t, _ in self.tariff()}
        marks = sorted(m for m in marks if 0 <= m <= max(times))
        acc = {(p, tr): F(0) for p in PHASES for tr in (1, 2)}
        out = {0: dict(acc)}
        i = 0
        for a, b in zip(marks, marks[1:]):
            while i + 1 < len(regs) and regs[i + 1][0] <= a:
                i += 1
            _, k, shift = regs[i]
            tr = 2 if self.tariff_at(a) else 1
            for p in PHASES:
                # the host holds each second's value (see held())
                acc[(p, tr)] += k * self.held(p, a + shift, b + shift)
            out[b] = dict(acc)
        return {t: out[t] for t in times}

    def registers(self, acc):
        """The meter's registers (kWh, kvarh, floats) from cumulative()'s A*s."""
        r = {}
        for kind in ("active", "reactive"):
            per = {}
            for p in PHASES:
                for tr in (1, 2):
                    a_s = acc[(p, tr)]
                    if kind == "active":
                        e = float(self.U * self.pf[p] * a_s / 3600000)
                    else:
                        sin = math.sqrt(1 - float(self.pf[p]) ** 2)
                        e = float(self.U * a_s / 3600000) * sin
                    per[(p, tr)] = e
            r[kind + ".T1"] = sum(per[(p, 1)] for p in PHASES)
            r[kind + ".T2"] = sum(per[(p, 2)] for p in PHASES)
            r[kind + ".total"] = r[kind + ".T1"] + r[kind + ".T2"]
            for p in PHASES:
                r[kind + "." + p] = per[(p, 1)] + per[(p, 2)]
        return r

    # -- the daily profile as the file writes it --------------------------------
    def daily(self, p, k, shift):
        pts = sorted(((t - shift) % DAY, v * k) for t, v in self.base[p])
        return {"daily": [[hhmm(t), num(v)] for t, v in pts]}


SLOTS = ("total", "T1", "T2", "L1", "L2", "L3")


def tolerance(vals):
    """Per read: 0.0015 kWh (the cycle in flight and at each tariff switch,
    the request's own wire time, noise: well below that; see the description)
    + 1e-6 of the largest value (metrology, about 1e-7, with a margin of 10)
    + half a float32 step at the largest value."""
    big = max(abs(v) for v in vals)
    half_ulp = 0.0 if big == 0 else 2.0 ** (math.floor(math.log2(big)) - 24)
    return math.ceil((0.0015 + 1e-6 * big + half_ulp) * 1000) / 1000


def build(h, start_day, days):
    y = Year(h)
    if start_day < 0 or days < 1 or start_day + days > h["days"]:
        raise SystemExit("gen_year: the cut must lie within the year's %d days" % h["days"])
    a, b = start_day * DAY, (start_day + days) * DAY
    full = (start_day, days) == (0, h["days"])
    read_times = [t for t in y.reads() if a < t <= b]
    if b not in read_times:
        read_times.append(b)
    # one request a second from each read time on: on one line, a request
    # waits for the previous reply; each expects the registers at its own second
    cum = y.cumulative([a] + [t + i for t in read_times for i in range(len(READS))])
    pre = y.registers(cum[a]) if a > 0 else None
    # a preset register holds what the file says: 3 decimals (6.2)
    pre = {k: round(v, 3) for k, v in pre.items()} if pre else None

    def expected(t):
        r = y.registers({key: cum[t][key] - cum[a][key] for key in cum[t]})
        return {k: r[k] + (pre[k] if pre else 0.0) for k in r}

    regs = y.regimes()
    k0, s0 = [(f, s) for t, f, s in regs if t <= a][-1]
    load = {"noise": h["load_noise"], "reactive": "inductive", "harmonics": h["harmonics"]}
    for p in PHASES:
        load[p] = {"current": y.daily(p, k0, s0), "pf": num(y.pf[p])}
    meter = dict(h["meter"])
    if pre:
        meter["registers"] = {}
        for kind in ("active", "reactive"):
            for what in ("total", "forward"):
                for s in SLOTS:
                    meter["registers"]["%s_%s.%s" % (kind, what, s)] = pre[kind + "." + s]
        for s in ("total", "T1", "T2"):
            meter["registers"]["reactive_q1." + s] = pre["reactive." + s]

    events = []  # (t, order, event)
    events.append((a, 0, {"tariff_input": y.tariff_at(a)}))
    for t, v in y.tariff():
        if a < t <= b:
            events.append((t, 2, {"tariff_input": v}))
    for t, k, s in regs:
        if a < t < b:
            events.append((t, 1, {"load": {p: {"current": y.daily(p, k, s)} for p in PHASES}}))
    for t in read_times:
        for i, (request, what) in enumerate(READS):
            e = expected(t + i)
            if what == "tariff":  # Signed, 2: T2 (at local midnight)
                mb = {"request": request,
                      "expect": "01 03 02 00 %02X" % (2 if y.tariff_at(t + i) else 1)}
            else:
                if what == "active":  # total = forward (C-03, no export)
                    vals = [e["active." + s] for s in SLOTS] * 2
                elif what == "reverse":
                    vals = [0.0] * 6
                elif what == "reactive":
                    vals = [e["reactive." + s] for s in SLOTS] * 2
                else:  # Q1: all the reactive energy (import, inductive)
                    vals = [e["reactive." + s] for s in ("total", "T1", "T2")]
                mb = {"request": request, "expect_floats": [round(x, 4) for x in vals],
                      "tolerance": tolerance(vals) if what != "reverse" else 0}
            events.append((t + i, 0, {"modbus": mb}))
    events.sort(key=lambda e: (e[0], e[1]))
    timeline = []
    for t, _, ev in events:
        ev = dict(ev)
        timeline.append(dict([("at", dur(t - a))] + list(ev.items())))

    desc = describe(y, h, start_day, days, a, b, pre, read_times, expected)
    scen = {
        "name": h["name"] if full else "%s: days %d-%d" % (h["name"], start_day, start_day + days),
        "description": desc,
        "seed": h["seed"],
        # the last read's reply has come
        "duration": dur(b - a + len(READS) + 1),
        "meter": meter,
        "grid": {"voltage": num(y.U), "frequency": 50, "noise": h["grid_noise"]},
        "load": load,
        "timeline": timeline,
    }
    return json.dumps(scen, indent=1, ensure_ascii=False) + "\n"


def describe(y, h, start_day, days, a, b, pre, read_times, expected):
    d0 = h["start"]
    t0 = datetime.datetime(d0.year, d0.month, d0.day)
    dd = lambda t: (t0 + datetime.timedelta(seconds=t)).strftime("%d %b %Y %H:%M CET")
    lines = []
    lines.append(
        "A household on a 3P4W supply (230 V, 50 Hz, a little noise, 10 %% 3rd and 4 %% 5th harmonic "
        "currents) over a year of local (CET/CEST) life; simulated time 0 = %s 00:00 CET, %d days. "
        "Generated by tools/gen_year.py (edit that, not this file); this file covers simulated days "
        "%d to %d." % (d0.isoformat(), h["days"], start_day, start_day + days))
    for p in PHASES:
        pts = ", ".join("%s %s A" % (t, v) for t, v in h["phases"][p]["daily"])
        day = y.cum(p, DAY)
        lines.append("%s (PF %s inductive), local time, straight lines between points: %s; one day: "
                     "%s A h." % (p, h["phases"][p]["pf"], pts, fmt(day / 3600)))
    lines.append("Level factor k by month (applied at local midnight of the 1st, a load event): " +
                 ", ".join("%s %s" % (calendar.month_abbr[m], h["month_factor"][m])
                           for m in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2)) + ".")
    lines.append(
        "The tariff input (T2, manual A1.1) is on 22:00-06:00 local time, switched by the utility's "
        "signal, outside the meter, which has no clock. Summer time (EU: last Sunday of March 02:00 "
        "CET to last Sunday of October 03:00 CEST) moves every local-clock event one hour earlier "
        "in simulated time: the tariff switches (21:00 and 05:00 in simulated time) and the daily "
        "profile (rewritten an hour earlier at %s and back at %s; both fall in the flat night "
        "load, so no current jumps). The night of the change in March has 7 h of T2 and loses "
        "the local hour 02:00-03:00 of night load; the October night has 9 h of T2 and lives "
        "01:00-02:00 twice." % (dd(y.dst_on), dd(y.dst_off)))
    lines.append(
        "Expected values: with k, the shift and the tariff fixed, phase p draws k x base_p(t + "
        "shift), so its active energy is U x pf_p x k x (the integral of base_p, the trapezoids "
        "of its points) and its reactive energy U x sin(phi_p) x k x the same integral (a "
        "quarter-period product: the harmonic currents meet a pure-sine voltage, so they add "
        "neither); summed over every such stretch, in rational arithmetic. C-03 (factory) makes "
        "total = forward; nothing is exported, so the reverse registers stay 0 and reactive Q1 = "
        "reactive forward.")
    if pre:
        lines.append("The meter starts from the registers the year had reached at %s (its analytic "
                     "values, rounded to the register's 0.001 kWh); each read expects them plus "
                     "this stretch's energy." % dd(a))
    lines.append(
        "The host samples each profile once a simulated second and holds it: over a stretch a..b "
        "of one straight-lined profile f (points and changes on whole seconds) the held sum is "
        "the integral minus (f(b) - f(a))/2 x 1 s, which is added to each stretch: it cancels over "
        "whole days, but moves about 0.05 W h a day from T1 to T2 at 22:00, where L1 and L2 are "
        "still ramping down (16 W h in a year; tests/scenarios/year/integrate.py sums the held "
        "seconds of this file independently).")
    lines.append(
        "Tolerances (per read): the cycle in flight and the read's own "
        "wire time (under 0.1 s at 9600 baud, at most 12 kW) below 0.4 W h; the noise (0.05 V, "
        "0.005 A, uncorrelated) a random walk of about 0.02 W h over a year; the metrology errs by "
        "about 1e-7. So each read allows 1.5 W h + 1e-6 of its largest value + half a float32 "
        "step there (the register is a Float ABCD), rounded to 0.001 kWh.")
    reads = []
    for t in read_times:
        e = expected(t)
        reads.append("%s (%s): total %s kWh, T1 %s, T2 %s, L1 %s, L2 %s, L3 %s; reactive %s kvarh"
                     % (dd(t), dur(t - a), *(fmt(e["active." + s]) for s in SLOTS),
                        fmt(e["reactive.total"])))
    lines.append("Reads over Modbus at local midnight of each 1st (and at the end), one request a "
                 "second (a master waits for each reply), each expecting the registers at its own "
                 "second: 0x6000-0x6017 (total and forward: total, T1, T2, L1-L3), 0x6018-0x6023 "
                 "(reverse: 0), 0x6024-0x603B (reactive), 0x6063-0x6068 (Q1 total, T1, T2), 0x6048 "
                 "(tariff: 2, night). At the first request: "
                 + "; ".join(reads) + ".")
    return " ".join(lines)


def fmt(v):
    return "%.3f" % float(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="write the committed files")
    ap.add_argument("--check", action="store_true", help="compare the committed files")
    ap.add_argument("--start-day", type=int, default=0)
    ap.add_argument("--days", type=int, default=HOUSE["days"])
    ap.add_argument("-o", "--output", help="the cut's file (default: standard output)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.write or args.check:
        bad = 0
        for path, start, days in OUTPUTS:
            text = build(HOUSE, start, days)
            full = os.path.join(root, path)
            if args.write:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w", encoding="utf-8") as f:
                    f.write(text)
            else:
                try:
                    with open(full, encoding="utf-8") as f:
                        same = f.read() == text
                except OSError as e:
                    print("gen_year: %s: %s" % (path, e.strerror), file=sys.stderr)
                    same = False
                if not same:
                    print("gen_year: %s is not tools/gen_year.py's output (run --write)" % path,
                          file=sys.stderr)
                    bad += 1
        return 1 if bad else 0
    text = build(HOUSE, args.start_day, args.days)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
