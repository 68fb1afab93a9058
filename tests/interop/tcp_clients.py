"""Three real Modbus TCP clients against the twin's gateway, each compared
with a Modbus RTU master on the same bus (test_tcp_clients.sh).

    tcp_clients.py MODBUS_RW

The twin serves one meter (3 x 230 V x 10 A at PF 1, 50 Hz) on a pty (RTU)
and on Modbus TCP at once (--modbus pty:PATH --modbus tcp:PORT; wire time
on: every TCP request goes over the virtual RS-485 line at 9600 8E1). Each
TCP client (mbpoll -m tcp, libmodbus's modbus_new_tcp through MODBUS_RW,
pymodbus's ModbusTcpClient) reads every block of the A3.2 map whole
(docs/modbus.md: 0x4000 x52, 0x5000 x56, 0x6000-0x6090 as 75 + 70), and the
RTU master (libmodbus's modbus_new_rtu through MODBUS_RW, on the pty) reads
the same block right after. They must agree: the identity and measurement
registers exactly (the reactive powers, physically 0 at PF 1, to 1e-9:
their float residue of ~1e-16 may change from one second's window to the
next), the energies within what the load adds in 1 s plus the time between
the two reads (P = 3 x 230 V x 10 A = 6.9 kW: 1.9167 Wh a second), the
tariff word exactly. The values are also checked against the physics and the
manual, not against either reader. Then each client writes the tariff
(0x6048) and the Modbus ID (0x4003, A3.3) and reads them back, over TCP and
over RTU.

Prints TAP (numbered, with the plan); exit status 0 when all passed.
"""
import logging
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcptest import SCENARIO_10A, Tap, Twin, python_check  # noqa: E402

MODBUS_RW = sys.argv[1]
P_KW = 3 * 230.0 * 10.0 / 1000.0  # 6.9 kW at PF 1
BLOCKS = [(0x4000, 52), (0x5000, 56), (0x6000, 75), (0x604B, 70)]
Q_REGS = range(0x501A, 0x5022)  # Q total, Q L1-L3 (2 words each)
# libmodbus's modbus_strerror() texts of the exceptions, as mbpoll prints them.
EXC_TEXT = {"Illegal function": 1, "Illegal data address": 2, "Illegal data value": 3,
            "Slave device or server failure": 4, "Gateway path unavailable": 0x0A,
            "Target device failed to respond": 0x0B}

tap = Tap()
python_check()
logging.disable(logging.CRITICAL)


def flt(words, i):
    return struct.unpack(">f", struct.pack(">HH", words[i], words[i + 1]))[0]


# ---- clients: each op -> list of words | True (write echoed) | ("exception", code) | ("error", text)
def parse_rw(line):
    _, _, rest = line.partition(": ")
    if rest == "ok":
        return True
    m = re.match(r"exception ([0-9A-F]{2})$", rest)
    if m:
        return ("exception", int(m.group(1), 16))
    if rest.startswith("error"):
        return ("error", rest)
    return [int(w, 16) for w in rest.split()]


def rw(args, ops):
    """MODBUS_RW with `ops` [("r", unit, addr, count) | ("w", unit, addr, value)]."""
    argv = [MODBUS_RW] + args
    for op in ops:
        argv += [op[0], str(op[1]), hex(op[2]), str(op[3])]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    out = [parse_rw(line) for line in p.stdout.splitlines()]
    if len(out) != len(ops):
        return [("error", f"modbus_rw: {p.stdout} {p.stderr}")] * len(ops)
    return out


class Rtu:
    name = "libmodbus RTU"

    def __init__(self, path):
        self.path = path

    def op(self, *op):
        return rw(["rtu", self.path], [op])[0]


class LibmodbusTcp:
    name = "libmodbus TCP (modbus_new_tcp)"

    def __init__(self, port):
        self.port = port

    def op(self, *op):
        return rw(["tcp", "127.0.0.1", str(self.port)], [op])[0]


class MbpollTcp:
    name = "mbpoll -m tcp"

    def __init__(self, port):
        self.port = port

    def op(self, kind, unit, addr, arg):
        argv = ["mbpoll", "-m", "tcp", "-p", str(self.port), "-a", str(unit), "-0", "-1", "-o", "1"]
        if kind == "r":
            argv += ["-t", "4:hex", "-r", str(addr), "-c", str(arg), "127.0.0.1"]
        else:
            argv += ["-t", "4", "-r", str(addr), "127.0.0.1", str(arg)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        m = re.search(r"failed: (.*)", p.stderr)
        if m:
            text = m.group(1).strip()
            return ("exception", EXC_TEXT[text]) if text in EXC_TEXT else ("error", text)
        if kind == "w":
            return True if "Written 1 references" in p.stdout else ("error", p.stdout + p.stderr)
        regs = {int(a): int(v, 16) for a, v in re.findall(r"^\[(\d+)\]:\s+0x([0-9A-Fa-f]+)", p.stdout, re.M)}
        if sorted(regs) != list(range(addr, addr + arg)):
            return ("error", f"mbpoll status {p.returncode}: {p.stdout[-300:]} {p.stderr}")
        return [regs[a] for a in range(addr, addr + arg)]


class PymodbusTcp:
    def __init__(self, port):
        import pymodbus
        from pymodbus.client import ModbusTcpClient
        self.name = f"pymodbus {pymodbus.__version__} ModbusTcpClient"
        self.c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
        self.c.connect()

    def op(self, kind, unit, addr, arg):
        try:
            if kind == "r":
                rr = self.c.read_holding_registers(addr, arg, slave=unit)
            else:
                rr = self.c.write_register(addr, arg, slave=unit)
        except Exception as e:  # pymodbus raises on time-outs and closed sockets
            return ("error", repr(e))
        if rr.isError():
            code = getattr(rr, "exception_code", None)
            return ("exception", code) if code is not None else ("error", str(rr))
        if kind == "w":
            return True if (rr.address, rr.value) == (addr, arg) else ("error", str(rr))
        return list(rr.registers)


# ---- comparison ---------------------------------------------------------------------
def compare(addr, count, tcp, rtu, dt):
    """Differences between a block read over TCP and over RTU `dt` s apart."""
    if not isinstance(tcp, list) or not isinstance(rtu, list):
        return [f"TCP {tcp!r}, RTU {rtu!r}"]
    if len(tcp) != count or len(rtu) != count:
        return [f"{len(tcp)} / {len(rtu)} registers"]
    bad = []
    if addr == 0x4000:
        bad = [f"0x{addr + i:04X}: {tcp[i]:04X} / {rtu[i]:04X}" for i in range(count) if tcp[i] != rtu[i]]
    elif addr == 0x5000:
        for i in range(0, count, 2):
            a = addr + i
            if a in Q_REGS:
                t, r = flt(tcp, i), flt(rtu, i)
                if not (abs(t) < 1e-9 and abs(r) < 1e-9):
                    bad.append(f"0x{a:04X} (Q): {t} / {r}")
            elif tcp[i:i + 2] != rtu[i:i + 2]:
                bad.append(f"0x{a:04X}: {flt(tcp, i)} / {flt(rtu, i)}")
    else:
        # Energies: what 6.9 kW adds in 1 s (one published step) plus the
        # time between the reads. The tariff word 0x6048 exactly.
        bound = P_KW * (1.0 + dt) / 3600.0
        i = 0
        while i < count:
            a = addr + i
            if a == 0x6048:
                if tcp[i] != rtu[i]:
                    bad.append(f"0x6048 tariff: {tcp[i]} / {rtu[i]}")
                i += 1
                continue
            t, r = flt(tcp, i), flt(rtu, i)
            if not abs(t - r) <= bound:
                bad.append(f"0x{a:04X}: {t:.7f} / {r:.7f} kWh, more than {bound:.7f} apart")
            i += 2
    return bad


def physics(client, blocks, t_before, t_after, twin):
    """The values against the scenario's physics and the manual (A3.1, A3.2)."""
    b4, b5, b6, b7 = (blocks[a] for a, _ in BLOCKS)
    bad = []

    def near(label, got, want, tol):
        if not abs(got - want) <= tol:
            bad.append(f"{label}: {got}, expected {want} +- {tol}")

    want4 = {0x4000: 0x1307, 0x4001: 0x0001, 0x4002: 0x1111, 0x4003: 1, 0x4004: 6, 0x400B: 65,
             0x4011: 1, 0x4012: ord("F"), 0x4013: ord("F"), 0x4014: ord("F")}
    for a, v in want4.items():
        if b4[a - 0x4000] != v:
            bad.append(f"0x{a:04X}: {b4[a - 0x4000]:04X}, expected {v:04X}")
    f5 = {0x5000 + i: flt(b5, i) for i in range(0, 56, 2)}
    for a in (0x5002, 0x5004, 0x5006):
        near(f"0x{a:04X} U", f5[a], 230.0, 0.01)
    near("0x5008 f", f5[0x5008], 50.0, 0.001)
    for a in (0x500C, 0x500E, 0x5010):
        near(f"0x{a:04X} I", f5[a], 10.0, 0.001)
    near("0x5012 P", f5[0x5012], P_KW, 0.0015)
    for a in (0x5014, 0x5016, 0x5018):
        near(f"0x{a:04X} P", f5[a], P_KW / 3, 0.0005)
    near("0x5022 S", f5[0x5022], P_KW, 0.0015)
    near("0x502A PF", f5[0x502A], 1.0, 0.001)
    for a in (0x5032, 0x5034, 0x5036):
        near(f"0x{a:04X} U line-line", f5[a], 230.0 * math.sqrt(3), 0.02)
    # Total active energy: 6.9 kW over the time the twin has run (its
    # start-up bounded by the wall clock), +- one mains cycle.
    cyc = P_KW * 0.02 / 3600
    lo = P_KW * max(t_before - twin.t_up - 0.05, 0) / 3600 - cyc
    hi = P_KW * (t_after - twin.t_spawn + 0.005) / 3600 + cyc
    e = flt(b6, 0)
    if not lo <= e <= hi:
        bad.append(f"0x6000 total active energy {e:.7f} kWh, expected {lo:.7f} to {hi:.7f}")
    phases = sum(flt(b6, k) for k in (6, 8, 10))
    near("L1 + L2 + L3 = total (0x6006-0x600A)", phases, e, 2e-6)
    if b6[0x48] != 1:
        bad.append(f"0x6048 tariff {b6[0x48]}, expected 1")
    return bad


def main():
    tmp = tempfile.mkdtemp(prefix="tcp_clients.")
    pty = os.path.join(tmp, "meter")
    try:
        twin = Twin(SCENARIO_10A, ["--modbus", f"pty:{pty}", "--modbus", "tcp:0"], quiet=False,
                    tmpdir=tmp)
    except RuntimeError as e:
        tap.check(False, "the twin serves one meter on a pty and on Modbus TCP", e)
        return tap.done()
    port = twin.tcp["Modbus TCP"][0]
    tap.check(twin.wait_published() and os.path.islink(pty),
              f"the twin serves one meter on a pty ({twin.ptys['Modbus RTU'][0]}) and on "
              f"Modbus TCP (127.0.0.1:{port}); its first readings are out", twin.stderr())
    rtu = Rtu(pty)
    clients = [MbpollTcp(port), LibmodbusTcp(port), PymodbusTcp(port)]
    for k, c in enumerate(clients):
        blocks, diffs, errors = {}, [], []
        t_first = time.time()
        for addr, count in BLOCKS:
            t0 = time.time()
            got = c.op("r", 1, addr, count)
            ref = rtu.op("r", 1, addr, count)
            dt = time.time() - t0
            blocks[addr] = got
            if not isinstance(got, list):
                errors.append(f"0x{addr:04X} x{count} over TCP: {got}")
            diffs += compare(addr, count, got, ref, dt)
        t_last = time.time()
        tap.check(not errors, f"{c.name}: reads every block whole (0x4000 x52, 0x5000 x56, "
                  f"0x6000 x75, 0x604B x70)", "\n".join(errors))
        tap.check(not diffs, f"{c.name}: every block equals the RTU master's read of it "
                  f"(energies within 6.9 kW x (1 s + the time between the reads))", "\n".join(diffs))
        if not errors:
            bad = physics(c, blocks, t_first, t_last, twin)
            tap.check(not bad, f"{c.name}: U 230 V, I 10 A, P 6.9 kW, S 6.9 kVA, PF 1, f 50 Hz, "
                      f"serial 13070001, ID 1, energy of 6.9 kW since the start", "\n".join(bad))

        # The tariff (A3.3: 06 6048 0002), read back over TCP and over RTU.
        w = c.op("w", 1, 0x6048, 2)
        back, ref = c.op("r", 1, 0x6048, 1), rtu.op("r", 1, 0x6048, 1)
        w1 = c.op("w", 1, 0x6048, 1)
        back1 = c.op("r", 1, 0x6048, 1)
        tap.check(w is True and back == [2] and ref == [2] and w1 is True and back1 == [1],
                  f"{c.name}: writes the tariff 0x6048 = 2 (read back 2 over TCP and over RTU), "
                  f"then 1", f"write {w}, TCP {back}, RTU {ref}, write 1 {w1}, then {back1}")

        # The Modbus ID (A3.3: 06 4003 000A): the reply comes from the old
        # ID; then the meter is at the new one on the line, and the gateway
        # finds nobody at 1 (exception 0x0B, gateway target failed to respond).
        new = 10 + k
        w = c.op("w", 1, 0x4003, new)
        back, ref = c.op("r", new, 0x4003, 1), rtu.op("r", new, 0x4003, 1)
        old = c.op("r", 1, 0x4003, 1)
        w1 = c.op("w", new, 0x4003, 1)
        back1 = c.op("r", 1, 0x4003, 1)
        tap.check(w is True and back == [new] and ref == [new] and old == ("exception", 0x0B) and
                  w1 is True and back1 == [1],
                  f"{c.name}: writes the Modbus ID 0x4003 = {new}: unit {new} reads {new} over TCP "
                  f"and ID {new} over RTU, unit 1 gets exception 0x0B; written back to 1",
                  f"write {w}, TCP {back}, RTU {ref}, unit 1 {old}, write back {w1}, then {back1}")
    st = twin.stop()
    tap.check(st == 0, f"the twin exits with status 0 after SIGTERM (status {st})", twin.stderr())
    return tap.done()


sys.exit(main())
