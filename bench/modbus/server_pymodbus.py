"""pymodbus's serial RTU server (Debian's python3-pymodbus, /usr/bin/python3)
serving the twin's measurement block 0x5000-0x5037 (Float ABCD, 3 x 230 V x
10 A at PF 1) at ID 1, on a serial device (one end of a socat pty pair).

    server_pymodbus.py DEVICE BAUD
"""
import logging
import math
import struct
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartSerialServer
from pymodbus.transaction import ModbusRtuFramer

logging.disable(logging.CRITICAL)
dev, baud = sys.argv[1], int(sys.argv[2])
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
StartSerialServer(context=context, framer=ModbusRtuFramer, port=dev, baudrate=baud,
                  bytesize=8, parity="N", stopbits=1, timeout=0.005)
