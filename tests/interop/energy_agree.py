"""Every energy quantity reads the same over Modbus, over M-Bus and in the JSON
log, under each combination code (issue 12 point 2; docs/decisions.md,
"Combination codes act at the moment energy is added").

    energy_agree.py MODBUS_PTY MBUS_PTY LOG

The twin runs tests/interop/test_energy_agree.sh's scenario: five meters, the
combination code k on Modbus ID k and M-Bus address k (k = 1..5), a load that
imports on L1 and L2 and exports on L3 at PF < 1, in T1, T2, T3 and T4 in turn,
stopped before the reads (the registers stand still). The log holds, at 6 s,
one "assert" line per energy field and meter: those values are the run's own
record. This script reads, with real masters,

  - Modbus (pymodbus): every energy register of A3.2, 0x6000-0x6090 (Float
    ABCD, kWh / kvarh), the tariff word 0x6048 left out;
  - M-Bus (a raw REQ_UD2 over pyserial, decoded here from EN 13757-3): the 13
    energy records of A2.2 (Wh, and reactive in 0.001 kvarh as the manual's
    example "15 CD 5B 07 = 123456,789 kVARh" shows);
  - the log: the assert lines, and the periodic E_*_kWh readings,

and checks that they agree (Modbus to the log within float32's rounding,
M-Bus within half its unit), and that each total follows its code as manual
6.6.15 (lines 664-680) tabulates it. Prints "ok - ..." / "not ok - ...".
"""
import json
import logging
import struct
import sys
import time

import serial
from pymodbus.client import ModbusSerialClient

logging.disable(logging.CRITICAL)
MB_PORT, MBUS_PORT, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
CODES = [1, 2, 3, 4, 5]
failures = 0


def check(cond, what):
    global failures
    failures += 0 if cond else 1
    print(("ok - " if cond else "not ok - ") + what, flush=True)


# A3.2: energy register -> the log's field name (docs/scenario.md "Fields").
REG = {}
for base, q in ((0x6000, "active_total"), (0x600C, "active_forward"), (0x6018, "active_reverse"),
                (0x6024, "reactive_total"), (0x6030, "reactive_forward"),
                (0x603C, "reactive_reverse")):
    for k, part in enumerate(("total", "T1", "T2", "L1", "L2", "L3")):
        REG[base + 2 * k] = f"{q}.{part}"
REG[0x6049] = "resettable.total"
for k, q in enumerate(("active_total", "active_forward", "active_reverse", "reactive_total",
                       "reactive_forward", "reactive_reverse")):
    REG[0x604B + 4 * k] = f"{q}.T3"
    REG[0x604D + 4 * k] = f"{q}.T4"
for k, q in enumerate(("reactive_q1", "reactive_q2", "reactive_q3", "reactive_q4")):
    for j, part in enumerate(("total", "T1", "T2", "T3", "T4")):
        REG[0x6063 + 10 * k + 2 * j] = f"{q}.{part}"
for k in range(3):
    REG[0x608B + 2 * k] = f"resettable.L{k + 1}"

# A2.2: the energy records in telegram order, the field and the record's unit in kWh.
MBUS = [("Total forward active energy", "active_forward.total"),
        ("Forward active energy T1", "active_forward.T1"),
        ("Forward active energy T2", "active_forward.T2"),
        ("Forward active energy T3", "active_forward.T3"),
        ("Forward active energy T4", "active_forward.T4"),
        ("Total reverse active energy", "active_reverse.total"),
        ("Reverse active energy T1", "active_reverse.T1"),
        ("Reverse active energy T2", "active_reverse.T2"),
        ("Reverse active energy T3", "active_reverse.T3"),
        ("Reverse active energy T4", "active_reverse.T4"),
        ("Total kWh (resettable)", "resettable.total"),
        ("Forward reactive energy", "reactive_forward.total"),
        ("Reverse reactive energy", "reactive_reverse.total")]

# The log: the probe values at 6 s, per meter, and the last periodic reading.
probe = {}
periodic = {}
for line in open(LOG):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") == "assert" and "field" in e:
        probe.setdefault(e["meter"], {})[e["field"]] = e["value"]
    elif "E_total_kWh" in e and e.get("t", 0) >= 6:
        periodic[e.get("meter")] = e
names = {k: f"c{k}" for k in CODES}
check(all(len(probe.get(names[k], {})) == len(REG) for k in CODES),
      f"the log holds {len(REG)} energy fields for each of the 5 meters at 6 s")


def flt(regs, i):
    return struct.unpack(">f", struct.pack(">HH", regs[i], regs[i + 1]))[0]


def modbus_read(client, unit):
    """0x6000-0x6090 in two reads (at most 125 registers, A3.2 blocks)."""
    out = {}
    for start, count in ((0x6000, 0x48), (0x6049, 0x6091 - 0x6049)):
        rr = client.read_holding_registers(start, count, slave=unit)
        if rr.isError() or len(rr.registers) != count:
            return None
        for a in REG:
            if start <= a and a + 1 < start + count:
                out[a] = flt(rr.registers, a - start)
    return out


def read_frame(port, deadline=3.0):
    buf = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        need = 1 if not buf else (buf[1] + 6 if buf[0] == 0x68 and len(buf) >= 2 else 2) - len(buf)
        if buf[:1] == b"\xE5":
            break
        buf += port.read(max(1, need))
        if buf[:1] == b"\x68" and len(buf) >= 2 and len(buf) >= buf[1] + 6:
            break
    return buf


def mbus_energy(port, addr):
    """REQ_UD2 (A2.2: 10 5B xx), then the first 13 records' 32-bit data."""
    port.reset_input_buffer()
    port.write(bytes([0x10, 0x5B, addr, (0x5B + addr) & 0xFF, 0x16]))
    f = read_frame(port)
    if not (len(f) > 21 and f[0] == 0x68 and len(f) == f[1] + 6 and f[-1] == 0x16 and
            f[-2] == sum(f[4:-2]) & 0xFF and f[6] == 0x72):
        return None, f
    body, p, vals = f[19:-2], 0, []
    while len(vals) < len(MBUS):
        dif = body[p]
        p += 1
        while body[p - 1] & 0x80:  # DIFEs
            p += 1
        p += 1
        while body[p - 1] & 0x80:  # VIF, VIFEs
            p += 1
        if dif & 0x0F != 4:  # A2.2: every energy record is 32-bit binary
            return None, f
        vals.append(int.from_bytes(body[p:p + 4], "little", signed=True))
        p += 4
    return vals, f


client = ModbusSerialClient(port=MB_PORT, baudrate=9600, bytesize=8, parity="N", stopbits=1,
                            timeout=1, retries=1)
check(client.connect(), f"pymodbus opens {MB_PORT}")
mport = serial.Serial(MBUS_PORT, 9600, bytesize=8, parity=serial.PARITY_NONE, stopbits=1,
                      timeout=0.5)

for k in CODES:
    log = probe.get(names[k], {})
    tag = f"C-0{k}"
    mb = modbus_read(client, k)
    check(mb is not None, f"{tag}: Modbus ID {k} answers 0x6000-0x6090")
    if mb is None or len(log) != len(REG):
        continue
    # Modbus = log: a Float ABCD holds the value rounded to 24 bits.
    bad = [f"0x{a:04X} {REG[a]} {mb[a]!r} vs log {log[REG[a]]!r}" for a in sorted(REG)
           if abs(mb[a] - log[REG[a]]) > 6e-8 * abs(log[REG[a]]) + 2e-9]
    check(not bad, f"{tag}: {len(REG)} Modbus energy registers = the log" +
          (" (" + "; ".join(bad[:4]) + ")" if bad else ""))
    # Reverse registers are magnitudes under every code (decisions.md).
    neg = [REG[a] for a in REG if "reverse" in REG[a] and mb[a] < 0]
    check(not neg, f"{tag}: every reverse register reads >= 0 over Modbus ({neg})")
    # The periodic log line: E_total/E_fwd/E_rev (kWh), Eq_fwd/Eq_rev (kvarh), 6 decimals.
    per = periodic.get(names[k], {})
    pairs = [("E_total_kWh", "active_total.total"), ("E_fwd_kWh", "active_forward.total"),
             ("E_rev_kWh", "active_reverse.total"), ("Eq_fwd_kvarh", "reactive_forward.total"),
             ("Eq_rev_kvarh", "reactive_reverse.total")]
    bad = [f"{p} {per.get(p)} vs {f} {log[f]}" for p, f in pairs
           if per.get(p) is None or abs(per[p] - log[f]) > 5.01e-7]
    check(not bad, f"{tag}: the log's periodic E_total/E_fwd/E_rev/Eq_fwd/Eq_rev = its fields" +
          (" (" + "; ".join(bad) + ")" if bad else ""))
    # M-Bus = Modbus = log: whole Wh (varh), rounded half away from zero.
    vals, frame = mbus_energy(mport, k)
    check(vals is not None, f"{tag}: M-Bus address {k} answers a sound RSP_UD ({len(frame)} bytes)")
    if vals is not None:
        bad = [f"{n} {v} vs {log[f] * 1000:.4f}" for (n, f), v in zip(MBUS, vals)
               if abs(v - log[f] * 1000) > 0.5 + 1e-6]
        check(not bad, f"{tag}: 13 M-Bus energy records = the log (1 Wh / 1 varh)" +
              (" (" + "; ".join(bad) + ")" if bad else ""))
        check(all(vals[i] >= 0 for i in (5, 6, 7, 8, 9, 12)),
              f"{tag}: the M-Bus backward-flow records are magnitudes")
    # Manual 6.6.15 table: Total by code from Forward and Reverse (magnitudes):
    # C-01 F, C-02 -R (table: -12), C-03 F + R, C-04 F - R (table: 10 - 12 = -2);
    # C-05 nets the phases, its totals are F - R of its netted F and R; per
    # phase C-05 is C-04 (docs/decisions.md). The day counter counts the total
    # (6.6.13, line 619); reactive total is forward + reverse (decisions.md).
    rule = {1: lambda f, r: f, 2: lambda f, r: -r, 3: lambda f, r: f + r,
            4: lambda f, r: f - r, 5: lambda f, r: f - r}[k]
    bad = []
    for part in ("total", "T1", "T2", "T3", "T4", "L1", "L2", "L3"):
        want = rule(log[f"active_forward.{part}"], log[f"active_reverse.{part}"])
        if abs(log[f"active_total.{part}"] - want) > 2e-9:
            bad.append(f"active_total.{part} {log[f'active_total.{part}']} vs {want}")
        want = log[f"reactive_forward.{part}"] + log[f"reactive_reverse.{part}"]
        if abs(log[f"reactive_total.{part}"] - want) > 2e-9:
            bad.append(f"reactive_total.{part}")
    for part in ("total", "L1", "L2", "L3"):
        if abs(log[f"resettable.{part}"] - log[f"active_total.{part}"]) > 2e-9:
            bad.append(f"resettable.{part} {log[f'resettable.{part}']} vs total")
    check(not bad, f"{tag}: totals follow the code (6.6.15), day counter = total (6.6.13)" +
          (" (" + "; ".join(bad) + ")" if bad else ""))
    # Something to compare: every tariff and phase saw energy both ways.
    moved = all(log[f"active_forward.{p}"] + log[f"active_reverse.{p}"] > 0
                for p in ("T1", "T2", "T3", "T4")) and \
        log["active_reverse.L3"] > 0 and log["active_forward.L1"] > 0
    check(moved and log["reactive_forward.total"] > 0 and log["reactive_reverse.total"] > 0,
          f"{tag}: energy in T1-T4, forward and reverse, active and reactive")
client.close()
mport.close()
sys.exit(1 if failures else 0)
