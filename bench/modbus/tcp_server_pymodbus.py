"""pymodbus's Modbus TCP server (Debian's python3-pymodbus 3.0, run with
/usr/bin/python3) serving the twin's measurement block 0x5000-0x5037 (Float
ABCD, 3 x 230 V x 10 A at PF 1, the same words as server_pymodbus.py) at
unit 1 on 127.0.0.1:PORT. SIGTERM or SIGINT stops it with status 0.

    tcp_server_pymodbus.py PORT
"""
import asyncio
import logging
import math
import signal
import struct
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

logging.disable(logging.CRITICAL)
port = int(sys.argv[1])
ll = 230 * math.sqrt(3)
values = [230, 230, 230, 230, 50, 30, 10, 10, 10, 6.9, 2.3, 2.3, 2.3, 0, 0, 0, 0,
          6.9, 2.3, 2.3, 2.3, 1, 1, 1, 1, ll, ll, ll]
words = []
for v in values:
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    words += [hi, lo]
# pymodbus's sequential block is addressed from 1 above the PDU address in
# 3.0 (zero_mode off): start at 0x5001 so that PDU 0x5002 is words[2].
block = ModbusSequentialDataBlock(0x5001, words)
store = ModbusSlaveContext(hr=block, ir=block, zero_mode=False)
context = ModbusServerContext(slaves={1: store}, single=False)


async def main():
    server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", port),
                             allow_reuse_address=True)
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
