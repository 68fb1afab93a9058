"""A flood, then a valid request (docs/decisions.md, receiver overrun).

    flood.py PORT modbus|mbus SECONDS BAUD TWIN_STDERR

Writes random bytes to PORT as fast as the pty takes them for SECONDS, then
keeps the silence a master keeps between frames (at least 100 ms, far more
than Modbus's t3.5 or M-Bus's 33 bit times, and until the twin has told the
burst's end in TWIN_STDERR: then it has read what the pty still held, which a
starved machine may take long to do), sends one valid request and times its
answer:

  modbus  01 03 5002 0002 + CRC (U L1): a 9-byte reply, function 03, CRC
          right, the float 230 V of the scenario's grid (manual A3.2)
  mbus    REQ_UD2 10 5B 00 5B 16 to primary address 0 (the default, A2.3):
          an RSP_UD 68 L L 68 08 00 72 ..., its checksum right, the meter's
          serial number (BCD) in the fixed header (A2.2)

"Within its normal timing": the reply's last byte is in within 2 s of the
request (the frames take tens to hundreds of milliseconds; the bound only
tells a deaf meter from one that answers, speed is not asserted). Prints
"ok - ..." / "not ok - ..." lines, and the bytes written.
"""
import os
import select
import struct
import sys
import termios
import time

port, kind, secs, baud = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
twin_err = sys.argv[5]
told = f"metersim: {kind} {os.path.realpath(port)}: receiver overrun:"


def bursts_told():
    with open(twin_err, errors="replace") as f:
        return sum(1 for line in f if line.startswith(told))
SERIAL = 13070001  # the scenario's meter


from tcptest import crc16  # beside this file


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)


fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
attr = termios.tcgetattr(fd)
attr[0] = attr[1] = attr[3] = 0
attr[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
attr[4] = attr[5] = getattr(termios, f"B{baud}")
attr[6][termios.VMIN] = 0
attr[6][termios.VTIME] = 0
termios.tcsetattr(fd, termios.TCSANOW, attr)

# The flood: random bytes, written as fast as the pty takes them.
written = 0
chunk = os.urandom(1 << 16)
end = time.monotonic() + secs
while time.monotonic() < end:
    r, w, _ = select.select([fd], [fd], [], 0.1)
    if r:
        os.read(fd, 4096)  # whatever the twin made of the garbage: not looked at
    if w:
        o = written % 60000
        written += os.write(fd, chunk[o:o + 4096])
print(f"# {kind}: {written} random bytes in {secs:g} s ({written / secs / 1e6:.1f} MB/s)")

before = bursts_told()
time.sleep(0.1)
t_wait = time.monotonic()
while bursts_told() == before and time.monotonic() - t_wait < 5:  # told already: go on after 5 s
    time.sleep(0.02)
termios.tcflush(fd, termios.TCIFLUSH)
if kind == "modbus":
    body = bytes([1, 0x03, 0x50, 0x02, 0x00, 0x02])
    c = crc16(body)
    req = body + bytes([c & 0xFF, c >> 8])
else:
    req = bytes([0x10, 0x5B, 0x00, 0x5B, 0x16])


def complete(b):
    if kind == "modbus":
        return len(b) >= 9
    return len(b) >= 4 and b[0] == 0x68 and len(b) >= b[1] + 6


t0 = time.monotonic()
os.write(fd, req)
got = b""
while not complete(got) and time.monotonic() - t0 < 2.0:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        got += os.read(fd, 512)
dt = time.monotonic() - t0
# On copper: the request's and the reply's characters (11 bits, 8E1) and the
# meter's delay (Modbus: the 10 ms turnaround, A3.1; M-Bus: 33 bit times,
# EN 13757-2), for a meter alone on its line.
if kind == "modbus":
    want = (8 + 9) * 11 / baud + 0.010
else:
    want = (5 + len(got)) * 11 / baud + 33 / baud
check(complete(got), f"{kind}: after the flood, a valid request is answered within 2 s "
      f"({dt * 1000:.0f} ms, {len(got)} bytes; {want * 1000:.0f} ms on copper)")
if kind == "modbus":
    ok = (len(got) == 9 and got[:3] == bytes([1, 3, 4]) and crc16(got[:7]) == got[7] | got[8] << 8)
    u = struct.unpack(">f", got[3:7])[0] if ok else float("nan")
    check(ok and abs(u - 230.0) < 0.5, f"modbus: the reply is U L1 = 230 V with a right CRC "
          f"({got.hex()})")
else:
    n = got[1] if len(got) > 1 else 0
    ok = (len(got) == n + 6 and got[:4] == bytes([0x68, n, n, 0x68]) and got[-1] == 0x16
          and sum(got[4:4 + n]) & 0xFF == got[4 + n] and got[4:7] == bytes([0x08, 0x00, 0x72]))
    bcd = int(f"{got[10]:02x}{got[9]:02x}{got[8]:02x}{got[7]:02x}") if ok else -1
    check(ok and bcd == SERIAL, f"mbus: the reply is an RSP_UD of meter {SERIAL} with a right "
          f"checksum ({got[:12].hex()}...)")
