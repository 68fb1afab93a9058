"""pymodbus sends the issue 12 bad input to a direct meter (4PU, factory
settings, ID 1), each refused as docs/modbus.md says, nothing changed:

  - a CT ratio on a direct meter (decision 6: only 5/5 is taken): the
    manual's own 01 10 401F 0002 04 9995 0005 and 0010 0005 are exception 03;
    0x401F still reads 0005 0005, 0x400C 0001;
  - a combination code after C-05 (6.6.15, line 682: "cannot be set to
    another calculation mode"): 01 06 400F 0005 is taken, then 0003 (06) and
    0001 (16) are exception 03; 0x400F still reads 5.

    pymodbus_bad.py PORT        prints "ok - ..." / "not ok - ..." lines
"""
import logging
import sys

from pymodbus.client import ModbusSerialClient

logging.disable(logging.CRITICAL)
client = ModbusSerialClient(port=sys.argv[1], baudrate=9600, bytesize=8, parity="N", stopbits=1,
                            timeout=1, retries=0)


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)


def exc(rr):
    return getattr(rr, "exception_code", None)


def regs(a, n):
    rr = client.read_holding_registers(a, n, slave=1)
    return None if rr.isError() else rr.registers


client.connect()
codes = [exc(client.write_registers(0x401F, v, slave=1)) for v in ([0x9995, 5], [0x0010, 5])]
check(codes == [3, 3] and regs(0x401F, 2) == [5, 5] and regs(0x400C, 1) == [1],
      f"4PU: CT 9995/5 and 10/5 refused with exception 03 ({codes}); 0x401F 0005 0005, 0x400C 1 unchanged")
rr = client.write_register(0x400F, 5, slave=1)
codes = [exc(client.write_register(0x400F, 3, slave=1)), exc(client.write_registers(0x400F, [1], slave=1))]
check(not rr.isError() and codes == [3, 3] and regs(0x400F, 1) == [5],
      f"after C-05, C-03 (06) and C-01 (16) refused with exception 03 ({codes}); 0x400F still 5")
client.close()
