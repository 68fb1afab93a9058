"""Clients for bench_idle.sh (raw Modbus RTU on a pty, 8 data bits, no
flow control; the twin does not look at a pty's parity).

    idle_client.py check PORT BAUD
        reads U L1 (01 03 5002 0002): exits 0 when the reply is 230 V with a
        right CRC within 2 s (the scenario's grid, A3.2), else 1
    idle_client.py noread PORT BAUD SECONDS
        sends a 125-register read (01 03 6000 007D, a 255-byte reply) every
        30 ms for SECONDS and never reads
"""
import os
import select
import struct
import sys
import termios
import time


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "interop"))
from tcptest import crc16  # noqa: E402


def with_crc(body):
    c = crc16(body)
    return body + bytes([c & 0xFF, c >> 8])


def open_raw(path, bps):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    attr = termios.tcgetattr(fd)
    attr[0] = attr[1] = attr[3] = 0
    attr[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
    attr[4] = attr[5] = getattr(termios, f"B{bps}")
    attr[6][termios.VMIN] = 0
    attr[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attr)
    return fd


mode, port, baud = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = open_raw(port, baud)
if mode == "check":
    termios.tcflush(fd, termios.TCIFLUSH)
    t0 = time.monotonic()
    os.write(fd, with_crc(bytes([1, 0x03, 0x50, 0x02, 0x00, 0x02])))
    got = b""
    while len(got) < 9 and time.monotonic() - t0 < 2.0:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            got += os.read(fd, 64)
    ok = len(got) == 9 and got[:3] == bytes([1, 3, 4]) and crc16(got[:7]) == got[7] | got[8] << 8
    if not ok or abs(struct.unpack(">f", got[3:7])[0] - 230.0) >= 0.5:
        print(f"no right answer to a read of U L1: {got.hex()}")
        sys.exit(1)
else:
    big = with_crc(bytes([1, 0x03, 0x60, 0x00, 0x00, 0x7D]))
    end = time.monotonic() + float(sys.argv[4])
    while time.monotonic() < end:
        os.write(fd, big)
        time.sleep(0.03)
