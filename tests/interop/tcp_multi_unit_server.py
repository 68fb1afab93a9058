"""A Modbus TCP gateway stand-in on pymodbus (Debian's python3-pymodbus 3.0,
run with /usr/bin/python3): one unit per meter id, each with the registers
that identify it as the twin's meter k would (docs/modbus.md, A3.2) and the
measurement block of 3 x 230 V x 10 A at PF 1. A baseline for
tests/interop/tcp_load.c and the script hook TCP_LOAD_SERVER_CMD of
test_modbus_tcp_load.sh. A unit id with no meter gets no reply (pymodbus's
framer drops it; a real gateway would answer exception 0x0B).

    tcp_multi_unit_server.py [--fault KIND] PORT [UNIT...]   (units 1-8 by default)

Unit k serves, as the twin does for a meter with serial "0000000k" (k as 8
decimal digits) and Modbus ID k:
    0x4000-0x4001  serial number, BCD: 0000 then k in BCD (k = 12 -> 0x0012)
    0x4002         meter code 0x1111 (4PU)
    0x4003         Modbus ID: k
    0x4004-0x4033  the factory settings of A3.1/A3.2 that tcp_load does not
                   check are left 0
    0x5000-0x5037  the measurement block (Float ABCD)
Listens on 127.0.0.1:PORT; SIGTERM or SIGINT stops it with status 0.

--fault spoils every 50th reply, to show that tcp_load sees it: `tid` (the
transaction id with its top bit flipped: another connection's), `unit` (the
next unit's id), `value` (every register word inverted), `drop` (no reply).
"""
import argparse
import asyncio
import itertools
import logging
import math
import signal
import struct
import sys

from pymodbus.datastore import (ModbusServerContext, ModbusSlaveContext,
                                ModbusSparseDataBlock)
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

logging.disable(logging.CRITICAL)
ap = argparse.ArgumentParser()
ap.add_argument("--fault", choices=["tid", "unit", "value", "drop"])
ap.add_argument("port", type=int)
ap.add_argument("units", type=int, nargs="*")
args = ap.parse_args()
port = args.port
units = args.units or list(range(1, 9))
for u in units:
    if not 1 <= u <= 247:
        sys.exit(f"tcp_multi_unit_server: unit {u}: Modbus IDs are 1-247")

ll = 230 * math.sqrt(3)
values = [230, 230, 230, 230, 50, 30, 10, 10, 10, 6.9, 2.3, 2.3, 2.3, 0, 0, 0, 0,
          6.9, 2.3, 2.3, 2.3, 1, 1, 1, 1, ll, ll, ll]
measurements = []
for v in values:
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    measurements += [hi, lo]


def bcd(n):
    """Decimal digits as nibbles: 12 -> 0x0012."""
    return int(str(n), 16)


def unit_store(k):
    words = {}
    ident = [0x0000, bcd(k), 0x1111, k] + [0] * (0x34 - 4)
    for i, w in enumerate(ident):
        words[0x4000 + i] = w
    for i, w in enumerate(measurements):
        words[0x5000 + i] = w
    # pymodbus 3.0 addresses a block 1 above the PDU address (zero_mode off).
    block = ModbusSparseDataBlock({a + 1: w for a, w in words.items()})
    return ModbusSlaveContext(hr=block, ir=block, zero_mode=False)


context = ModbusServerContext(slaves={k: unit_store(k) for k in units}, single=False)


replies = itertools.count(1)


def spoil(response):
    """pymodbus's response_manipulator: every 50th reply spoiled (--fault)."""
    if next(replies) % 50 == 0:
        if args.fault == "tid":
            response.transaction_id ^= 0x8000
        elif args.fault == "unit":
            response.unit_id = units[(units.index(response.unit_id) + 1) % len(units)] \
                if len(units) > 1 else response.unit_id ^ 0x80
        elif args.fault == "value" and hasattr(response, "registers"):
            response.registers = [w ^ 0xFFFF for w in response.registers]
        elif args.fault == "drop":
            response.should_respond = False
    return response, False


async def main():
    server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", port),
                             allow_reuse_address=True, backlog=64,
                             response_manipulator=spoil if args.fault else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    serving = asyncio.create_task(server.serve_forever())
    waiting = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done:  # it could not listen: say why
        serving.result()
        return 1
    await server.shutdown()
    serving.cancel()
    return 0


sys.exit(asyncio.run(main()))
