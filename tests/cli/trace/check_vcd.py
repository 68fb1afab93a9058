#!/usr/bin/python3
"""Checks a --trace-vcd file of tests/cli/trace/trace-modbus.json with
sigrok-cli's uart and modbus decoders and by reading the VCD itself (issue
15, docs/trace.md). Expected values come from the scenario (requests, CRCs
and M-Bus checksums computed here), from the Modbus spec (echoes, exception
replies), from physics (energy x rate) and from the scenario's settings
(pulse width); the replies' bytes are also compared with the run's log.

Usage: check_vcd.py SCENARIO VCD LOG FIRST_TEST_NUMBER
Prints TAP lines "ok N - ..." / "not ok N - ...".
"""
import json
import math
import struct
import subprocess
import sys

scenario_path, vcd_path, log_path, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n = first - 1


def tap(ok, what, detail=""):
    global n
    n += 1
    print(("ok %d - %s" if ok else "not ok %d - %s") % (n, what) + ("" if ok or not detail else ": " + detail))


def crc16(b):
    """Modbus CRC-16 (Modbus over Serial Line 6.2.2), low byte first."""
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return bytes([c & 0xFF, c >> 8])


sc = json.load(open(scenario_path))
log = [json.loads(l) for l in open(log_path) if l.strip()]

# ---- what the scenario sends -------------------------------------------------
modbus_req, mbus_req, odd_at = [], [], None
for ev in sc["timeline"]:
    if "modbus" in ev:
        b = bytes.fromhex(ev["modbus"]["request"])
        modbus_req.append(b + crc16(b))
        if ev["modbus"].get("parity") == "odd":
            odd_at = len(modbus_req) - 1
    if "mbus" in ev:
        c, a = bytes.fromhex(ev["mbus"]["short"])
        mbus_req.append(bytes([0x10, c, a, (c + a) & 0xFF, 0x16]))  # EN 13757-2 short frame

# ---- sigrok: each wire on its own (its text output does not tell RX from TX) --
DOWNSAMPLE = 1000  # 1 us samples from the 1 ns timescale


def decode(wire, baud, modbus):
    # The modbus decoder reads RX as the server's side unless told: the wire
    # to the meter is the client's.
    roles = ":scchannel=TX:cschannel=RX" if wire.endswith("_to_meter") else ""
    pd = "uart:rx=%s:baudrate=%d:parity=even" % (wire, baud) + (",modbus" + roles if modbus else "")
    ann = "uart=rx-data:rx-parity-err:rx-warnings" + (",modbus" if modbus else "")
    out = subprocess.run(
        ["sigrok-cli", "-i", vcd_path, "-I", "vcd:downsample=%d" % DOWNSAMPLE, "-P", pd, "-A", ann,
         "--protocol-decoder-samplenum"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    data, errors, notes = [], [], []
    for line in out.stdout.splitlines():
        span, _, rest = line.partition(" ")
        start = int(span.split("-")[0])
        who, _, text = rest.partition(": ")
        if who.startswith("uart") and len(text) == 2:
            data.append((start, int(text, 16)))
        elif who.startswith("uart") and "arity" in text:
            errors.append(start)
        elif who.startswith("modbus"):
            notes.append(text)
    return data, errors, notes


def frames(data, baud):
    """Bytes grouped into frames: a new frame after more than two characters of silence."""
    char_us = 11 * 1e6 / baud
    out, last = [], None
    for start, byte in data:
        if last is None or start - last > 2 * char_us:
            out.append([start, bytearray()])
        out[-1][1].append(byte)
        last = start
    return [(s, bytes(b)) for s, b in out]


m2s = decode("bus1_modbus_to_meter", 9600, True)
s2m = decode("bus1_modbus_to_master", 9600, True)
tap(m2s is not None and s2m is not None, "sigrok-cli decodes the Modbus wires of the VCD")
if m2s is None or s2m is None:
    sys.exit(0)
req_frames = frames(m2s[0], 9600)
rep_frames = frames(s2m[0], 9600)
tap([b for _, b in req_frames] == modbus_req,
    "sigrok finds exactly the scenario's %d Modbus requests, CRC as on the wire" % len(modbus_req),
    repr([b.hex() for _, b in req_frames]))

# The replies: as the master's UART received them (the log), and as the spec says.
log_replies = [bytes.fromhex(e["reply"]) for e in log if e.get("event") == "modbus" and e["reply"]]
tap([b for _, b in rep_frames] == log_replies,
    "sigrok finds exactly the %d Modbus replies the master received" % len(log_replies),
    repr([b.hex() for _, b in rep_frames]))
tap(all(crc16(b[:-2]) == b[-2:] for _, b in rep_frames) and len(rep_frames) > 0,
    "every reply's CRC is right")
by_req = {}
for _, r in rep_frames:
    by_req.setdefault(r[1] & 0x7F, []).append(r)
rd = rep_frames[0][1]
floats = struct.unpack(">3f", rd[3:15]) if len(rd) >= 17 else ()
tap(len(floats) == 3 and all(abs(f - 230) <= 0.05 for f in floats),
    "0x5002 reads 230 V on L1-L3 (the grid of the scenario)", repr(floats))
w06 = [r for _, r in rep_frames if r[1] == 0x06]
w16 = [r for _, r in rep_frames if r[1] == 0x10]
q06 = [q for q in modbus_req if q[1] == 0x06]
q16 = [q for q in modbus_req if q[1] == 0x10]
tap(w06 == q06, "06: the reply echoes the request (MODBUS Application Protocol 6.6)")
tap(len(w16) == 1 and w16[0][:6] == q16[0][:6], "16: the reply is address, quantity (6.12)")
exc = [r for _, r in rep_frames if r[1] & 0x80]
tap(len(exc) == 1 and exc[0][1] == 0x83 and exc[0][2] == 2, "a read of 0x0001: exception 02")
fq = [r for _, r in rep_frames if r[1] == 0x04]
tap(len(fq) == 1 and abs(struct.unpack(">f", fq[0][3:7])[0] - 50) < 0.01, "0x5008 reads 50 Hz")
funcs = [int(t.split()[1].rstrip(":")) for t in m2s[2] if t.startswith("Function")]
tap(funcs == [q[1] for q in modbus_req], "the modbus decoder reads the requests' functions",
    repr(funcs))
bad_crc = [t for t in m2s[2] + s2m[2] if "CRC incorrect" in t]
# Both wires at once, as a logic analyser on a master's UART sees them: RX
# from the meters, TX to them.
both = subprocess.run(
    ["sigrok-cli", "-i", vcd_path, "-I", "vcd:downsample=%d" % DOWNSAMPLE, "-P",
     "uart:rx=bus1_modbus_to_master:tx=bus1_modbus_to_meter:baudrate=9600:parity=even,modbus",
     "-A", "modbus=cs-function:sc-function"], capture_output=True, text=True).stdout.splitlines()
errs = [t for t in both if "Error for function" in t]
tap(len(both) == len(modbus_req) + len(rep_frames) and len(errs) == 1,
    "decoded together (rx=to_master, tx=to_meter): a function per request and per reply, "
    "the exception as one", "%d annotations" % len(both))
tap(not bad_crc, "the modbus decoder finds no wrong CRC", repr(bad_crc))

# The request sent with odd parity to a meter at even: each of its characters
# is a parity error, and nothing else is.
odd_start = req_frames[odd_at][0] if odd_at is not None and odd_at < len(req_frames) else None
odd_len = len(modbus_req[odd_at]) if odd_at is not None else 0
frame_us = odd_len * 11 * 1e6 / 9600
in_odd = [e for e in m2s[1] if odd_start is not None and odd_start <= e < odd_start + frame_us]
tap(len(m2s[1]) == odd_len and len(in_odd) == odd_len and not s2m[1],
    "the odd-parity request shows %d parity errors, the rest none" % odd_len,
    "%d errors, %d in the frame" % (len(m2s[1]), len(in_odd)))

# M-Bus at 2400 8E1 (A2).
mm = decode("bus1_mbus_to_meter", 2400, False)
ms = decode("bus1_mbus_to_master", 2400, False)
mreq = [b for _, b in frames(mm[0], 2400)] if mm else []
mrep = [b for _, b in frames(ms[0], 2400)] if ms else []
tap(mreq == mbus_req, "sigrok finds the M-Bus requests (short frames)", repr([b.hex() for b in mreq]))
long_ok = (len(mrep) == 2 and mrep[0] == b"\xe5" and mrep[1][0] == 0x68 and mrep[1][3] == 0x68
           and mrep[1][1] == mrep[1][2] == len(mrep[1]) - 6 and mrep[1][-1] == 0x16
           and sum(mrep[1][4:-2]) & 0xFF == mrep[1][-2])
tap(long_ok, "the M-Bus replies: E5, then an RSP_UD long frame with its length and checksum")
log_mbus = [bytes.fromhex(e["reply"]) for e in log if e.get("event") == "mbus" and e["reply"]]
tap(mrep == log_mbus, "the M-Bus replies are the bytes the master received")

# ---- the VCD read directly ----------------------------------------------------
names, changes, init, t = {}, {}, {}, None
in_dump = False
for line in open(vcd_path):
    line = line.strip()
    if line.startswith("$var"):
        p = line.split()
        names[p[3]] = p[4]
        changes[p[4]] = []
    elif line.startswith("#"):
        t = int(line[1:])
    elif line == "$dumpvars":
        in_dump = True
    elif line == "$end" and in_dump:
        in_dump = False
    elif line and line[0] in "01" and line[1:] in names:
        if in_dump:
            init[names[line[1:]]] = int(line[0])
        else:
            changes[names[line[1:]]].append((t, int(line[0])))


def pulses(sig):
    ev, rise, out = changes[sig], None, []
    for tt, v in ev:
        if v == 1:
            rise = tt
        elif rise is not None:
            out.append((rise, tt - rise))
            rise = None
    return out


m = sc["meter"]
rate = m["settings"]["s0_rate"] / 100.0  # imp/kWh
width_ns = m["settings"]["pulse_width"] * 1000000
seconds = 31.0
p_kw = 3 * sc["grid"]["voltage"] * sc["load"]["current"] * sc["load"]["pf"] / 1000.0
e_kwh = p_kw * seconds / 3600.0
# The meter counts energy by whole mains cycles (docs/metrology.md): by the end
# it has counted between P x (end - one cycle) and P x end.
e_lo = p_kw * (seconds - 1.0 / 50) / 3600.0


def count_ok(count, per_kwh):
    return math.floor(e_lo * per_kwh) <= count <= math.floor(e_kwh * per_kwh)


s0 = pulses("m1_S0_1")
tap(count_ok(len(s0), rate),
    "S0-1: %d pulses = E x rate = %.4f kWh x %g imp/kWh" % (math.floor(e_kwh * rate), e_kwh, rate),
    "%d pulses" % len(s0))
tap(len(s0) > 0 and all(w == width_ns for _, w in s0), "S0-1: every pulse %d ms wide" %
    (width_ns // 1000000), repr(sorted(set(w for _, w in s0))))
led = pulses("m1_LED")
tap(count_ok(len(led), 10000) and all(w == 2000000 for _, w in led),
    "LED: E x 10000 imp/kWh flashes (manual 4), 2 ms each (docs/pulse.md)", "%d flashes" % len(led))
tap(pulses("m1_S0_2") == [], "S0-2 (reactive, pulse type 1): no pulse at PF 1")
tariff_at = [e["at"] for e in sc["timeline"] if "tariff_input" in e][0]
tap(changes["m1_tariff_input"] == [(int(tariff_at.rstrip("s")) * 10**9, 1)],
    "the tariff input rises at %s" % tariff_at, repr(changes["m1_tariff_input"]))
tap(all(init.get("m1_supply_L%d" % p) == 1 and not changes["m1_supply_L%d" % p] for p in (1, 2, 3)),
    "each phase's supply is on throughout")
tap(all(init.get("bus1_%s" % w) == 1 for w in ("modbus_to_meter", "modbus_to_master", "mbus_to_meter",
                                                "mbus_to_master")), "the wires idle high")


# Bit edges on exact multiples of the bit time from the frame's start (1 ns timescale).
def wire_frames(sig, baud):
    char_ns = 11 * 10**9 / baud
    out, last = [], None
    for tt, v in changes[sig]:
        if last is None or (v == 0 and tt - last > 2 * char_ns):
            out.append([])
        out[-1].append((tt, v))
        last = tt
    return out


bit = 10**9 / 9600
exact = True
for fr in wire_frames("bus1_modbus_to_meter", 9600) + wire_frames("bus1_modbus_to_master", 9600):
    t0 = fr[0][0]
    for tt, _ in fr:
        k = round((tt - t0) / bit)
        exact = exact and tt - t0 == math.floor(k * bit + 0.5)
tap(exact, "every Modbus bit edge lies on a multiple of the bit time (1e9/9600 ns, rounded)")
gaps_ok = True
reqs = wire_frames("bus1_modbus_to_meter", 9600)
reps = wire_frames("bus1_modbus_to_master", 9600)
for fr in reps:
    before = [q for q in reqs if q[0][0] < fr[0][0]]
    q = before[-1]
    end = q[0][0] + len(modbus_req[reqs.index(q)]) * 11 * bit
    gaps_ok = gaps_ok and fr[0][0] - end >= 3.5 * 11 * bit
tap(len(reps) == len(log_replies) and gaps_ok,
    "each reply starts at least 3.5 characters after its request ended (Serial Line 2.5.1.1)")
