"""pymodbus (Debian's python3-pymodbus, run with /usr/bin/python3) reads the
twin's energy block as floats: 75 registers from 0x6000 (the six active and
reactive energies by total / T1 / T2 / L1-L3, the tariff word 0x6048, the day
counter 0x6049), decoded as Float ABCD (A3.2: high word first, big-endian).

    pymodbus_energy.py PORT T0 TL

PORT: the twin's pty at the factory settings (9600 8E1, ID 1). T0: wall time
before the twin started, TL: when its port appeared (they bound the energy).
Scenario: 3 x 230 V x 10 A at PF 1. Prints "ok - ..." / "not ok - ..." lines.
"""
import logging
import sys
import time

from pymodbus.client import ModbusSerialClient
from pymodbus.constants import Endian
from pymodbus.payload import BinaryPayloadDecoder

logging.disable(logging.CRITICAL)  # pymodbus logs retries on stderr
port, T0, TL = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
P = 3 * 230.0 * 10.0 / 1000.0  # kW, PF 1
CYCLE = P * 0.02 / 3600  # one mains cycle of energy
REACTIVE_START = 0.0  # kvarh: none at PF 1, not even in the first cycle
results = []


def check(cond, what):
    results.append(cond)
    print(("ok - " if cond else "not ok - ") + what, flush=True)


# Parity "N", not the meter's "E": a Linux pty drops PARENB, and glibc's
# tcsetattr() then reports EINVAL (it reads the flags back), which pyserial
# raises when it opens the port. On a pty parity is not carried anyway and the
# twin does not look at it (docs/interop.md); on copper use "E".
client = ModbusSerialClient(port=port, baudrate=9600, bytesize=8, parity="N", stopbits=1,
                            timeout=1, retries=0)
check(client.connect(), f"pymodbus {__import__('pymodbus').__version__} opens {port}")

tb = time.time()
rr = client.read_holding_registers(0x6000, 75, slave=1)
ta = time.time() - (5 + 2 * 75) * 11 / 9600  # the values were taken before the reply left
ok = not rr.isError() and len(rr.registers) == 75
check(ok, f"read_holding_registers(0x6000, 75): {rr}")
if ok:
    regs = rr.registers
    # Float ABCD: big-endian bytes, high word first.
    def flt(a):
        dec = BinaryPayloadDecoder.fromRegisters(regs[a - 0x6000:a - 0x6000 + 2],
                                                 byteorder=Endian.Big, wordorder=Endian.Big)
        return dec.decode_32bit_float()

    lo = P * (tb - TL - 0.05) / 3600 - CYCLE
    hi = P * (ta - T0 + 0.005) / 3600 + CYCLE
    e = {a: flt(a) for a in range(0x6000, 0x6048, 2)}
    total = e[0x6000]
    check(lo <= total <= hi, f"0x6000 total active {total:.7f} kWh in [{lo:.7f}, {hi:.7f}] (6.9 kW x time)")
    check(e[0x6002] == total and e[0x6004] == 0.0, "T1 = total, T2 = 0")
    phases = [e[0x6006], e[0x6008], e[0x600A]]
    check(all(lo / 3 <= x <= hi / 3 for x in phases) and abs(sum(phases) - total) <= 2e-6,
          "L1, L2, L3 a third each: " + ", ".join(f"{x:.7f}" for x in phases))
    check(all(e[a] == e[a - 0x000C] for a in range(0x600C, 0x6018, 2)),
          "forward = total, register by register (nothing exported)")
    check(all(e[a] == 0.0 for a in range(0x6018, 0x6024, 2)), "reverse active 0x6018-0x6023 = 0")
    check(all(abs(e[a]) <= REACTIVE_START for a in range(0x6024, 0x6048, 2)),
          "reactive 0x6024-0x6047 = 0 at PF 1")
    check(regs[0x48] == 1, f"0x6048 tariff word {regs[0x48]} (1), between the floats")
    day = flt(0x6049)
    check(lo <= day <= hi, f"0x6049 day counter {day:.7f} kWh = total")
# The per-phase day counters close the block: 0x608B-0x6090.
rr = client.read_holding_registers(0x608B, 6, slave=1)
ok = not rr.isError() and len(rr.registers) == 6
if ok:
    dec = BinaryPayloadDecoder.fromRegisters(rr.registers, byteorder=Endian.Big, wordorder=Endian.Big)
    days = [dec.decode_32bit_float() for _ in range(3)]
    ok = all(abs(d - days[0]) <= 1e-6 and d > 0 for d in days)
check(ok, f"0x608B-0x6090 day counters L1-L3 equal and counting: {rr}")
# Out of the block: exception 02 (decision 2).
rr = client.read_holding_registers(0x608F, 4, slave=1)
check(rr.isError() and getattr(rr, "exception_code", None) == 2, f"0x608F x4 crosses 0x6090: exception 02 ({rr})")
client.close()
sys.exit(0)
