"""Round-trip latency of a 2-register read (03, 8-byte request, 9-byte reply)
on a serial port, by a raw client: the wall time from just before write() to
the reply's last byte. Prints one latency in seconds per line.

    wire_latency.py PORT COUNT BAUD

The request is 01 03 5002 0002 + CRC (U L1). Each reply is checked (length,
CRC, function); a bad or missing reply exits 1.
"""
import os
import select
import sys
import termios
import time

port, count = sys.argv[1], int(sys.argv[2])
baud = int(sys.argv[3])
slave = 1


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


body = bytes([slave, 0x03, 0x50, 0x02, 0x00, 0x02])
c = crc16(body)
req = body + bytes([c & 0xFF, c >> 8])

fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
attr = termios.tcgetattr(fd)
# Raw 8 bits at BAUD (the twin reads it back); the parity bits are not set (a pty drops them and
# glibc then reports EINVAL; on a pty the twin does not look at parity).
attr[0] = 0
attr[1] = 0
attr[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
attr[3] = 0
attr[4] = attr[5] = getattr(termios, f"B{baud}")
attr[6][termios.VMIN] = 0
attr[6][termios.VTIME] = 0
termios.tcsetattr(fd, termios.TCSANOW, attr)
termios.tcflush(fd, termios.TCIOFLUSH)

for _ in range(count):
    t0 = time.perf_counter()
    os.write(fd, req)
    got = b""
    while len(got) < 9:
        r, _, _ = select.select([fd], [], [], 1.0)
        if not r:
            print(f"no reply ({got.hex()})", file=sys.stderr)
            sys.exit(1)
        got += os.read(fd, 64)
    t1 = time.perf_counter()
    if len(got) != 9 or got[1] != 0x03 or crc16(got[:7]) != got[7] | got[8] << 8:
        print(f"bad reply {got.hex()}", file=sys.stderr)
        sys.exit(1)
    print(f"{t1 - t0:.6f}", flush=True)
    time.sleep(0.005)  # the line is idle between polls, as with a SCADA master
os.close(fd)
