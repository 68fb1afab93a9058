"""pymodbus against the CT-operated variant through an outage (issue 12;
tests/interop/lib.sh, SCENARIO_CT), one stage per run:

    pymodbus_ct.py PORT OP SECONDARY PRIMARY U

    write   the manual's A3.3 command 01 10 401F 0002 04 9995 0005
            (write_registers, FC 16), then 0x4002 (1113: 2PCT), 0x400C
            (primary/5 as BCD) and 0x401F read back;
    values  U, I, P, S, PF as Float ABCD (A3.2): primary values,
            I = SECONDARY x PRIMARY / 5, P = S = U x I at PF 1;
    down    during the outage: no answer within the time-out;
    up      after the boot: the first read answers, 0x4016 = 1 power-down.

Prints "ok - ..." / "not ok - ..." lines.
"""
import logging
import struct
import sys

from pymodbus.client import ModbusSerialClient

logging.disable(logging.CRITICAL)
port, op = sys.argv[1], sys.argv[2]
i2, primary, u = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)


def bcd(v):
    """Decimal digits as BCD nibbles: A3.3's "9995" is the word 0x9995."""
    return int(str(v), 16)


# Parity N: pyserial cannot set PARENB on a Linux pty (see pymodbus_energy.py).
# A 1 s time-out: with 0.5 s this pymodbus (3.0.0rc1) reports no response even
# to a reply that comes 10 ms after the request (seen with the twin at 0x4016).
client = ModbusSerialClient(port=port, baudrate=9600, bytesize=8, parity="N", stopbits=1,
                            timeout=1, retries=0)
if not client.connect():
    check(False, f"pymodbus opens {port}")
    sys.exit(0)
if op == "write":
    ratio = [bcd(primary), 5]
    rr = client.write_registers(0x401F, ratio, slave=1)
    check(not rr.isError(), f"pymodbus writes 0x401F = {ratio[0]:04X} {ratio[1]:04X} "
          f"(A3.3: 01 10 401F 0002 04 9995 0005): {rr}")
    got = []
    for a, n in ((0x4002, 1), (0x400C, 1), (0x401F, 2)):
        rr = client.read_holding_registers(a, n, slave=1)
        got += [None] * n if rr.isError() else rr.registers
    check(got == [0x1113, bcd(primary // 5), bcd(primary), 5],
          "read back: 0x4002, 0x400C, 0x401F = " + " ".join("-" if g is None else f"{g:04X}" for g in got) +
          f" (1113: 2PCT, {primary // 5}, {primary} 0005)")
elif op == "values":
    rr = client.read_holding_registers(0x5000, 0x2C, slave=1)
    if rr.isError():
        check(False, f"pymodbus reads 0x5000 x44: {rr}")
    else:
        r = rr.registers

        def f(a):  # Float ABCD: big-endian, high word first
            k = a - 0x5000
            return struct.unpack(">f", struct.pack(">HH", r[k], r[k + 1]))[0]

        I = i2 * primary / 5
        P = u * I / 1000  # kW per phase at PF 1
        want = {0x5002: (u, .01), 0x5004: (u, .01), 0x5008: (50, .001), 0x500C: (I, I * 1e-5),
                0x500E: (I, I * 1e-5), 0x5010: (I, I * 1e-5), 0x5012: (3 * P, 3 * P * 1e-5),
                0x5016: (P, P * 1e-5), 0x5022: (3 * P, 3 * P * 1e-5), 0x502A: (1, .001)}
        bad = [f"0x{a:04X} {f(a)} vs {v}" for a, (v, t) in want.items() if abs(f(a) - v) > t]
        check(not bad, f"pymodbus reads primary values: I {f(0x500C):.3f} A (= {i2:g} A x {primary}/5), "
              f"P {f(0x5012):.3f} kW (= 3 x {u:g} V x {I:g} A), S = P, PF 1, U {f(0x5002):.2f} V" +
              (" (" + "; ".join(bad) + ")" if bad else ""))
elif op == "down":
    rr = client.read_holding_registers(0x4016, 1, slave=1)
    check(rr.isError() and not hasattr(rr, "exception_code"),
          f"a read during the outage gets no answer within 1 s ({rr})")
elif op == "up":
    rr = client.read_holding_registers(0x4016, 1, slave=1)
    check(not rr.isError() and rr.registers == [1],
          f"the first read after the boot answers: 0x4016 = 1 power-down ({rr})")
client.close()
