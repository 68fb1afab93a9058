"""A Modbus client that sends and never reads, and probes of the twin's
responsiveness meanwhile and after (docs/network.md, a client that does not
read).

    unread.py MODBUS_PORT MBUS_PORT SECONDS BAUD

For SECONDS, on MODBUS_PORT: a 125-register read (01 03 6000 007D, a
255-byte reply, A3.2) every 30 ms, never reading; the replies fill the
pty's buffer, then the twin drops them. Halfway, on MBUS_PORT (the same
meter's other line): REQ_UD2 10 5B 00 5B 16 must get its RSP_UD (checksum,
serial number) within 2 s. Then the non-reading client closes; a new client
on MODBUS_PORT discards what the pty kept (TCIFLUSH), reads U L1 (01 03 5002
0002) and must get 230 V within 2 s. Prints "ok - ..." / "not ok - ...".
Speed is not asserted: the bounds tell a responsive twin from a stuck one.
"""
import os
import select
import struct
import sys
import termios
import time

mb_port, mbus_port, secs, baud = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
SERIAL = 13070001


from tcptest import crc16  # beside this file


def with_crc(body):
    c = crc16(body)
    return body + bytes([c & 0xFF, c >> 8])


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)


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


def ask(fd, req, complete, limit=2.0):
    termios.tcflush(fd, termios.TCIFLUSH)
    t0 = time.monotonic()
    os.write(fd, req)
    got = b""
    while not complete(got) and time.monotonic() - t0 < limit:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            got += os.read(fd, 512)
    return got, time.monotonic() - t0


def mbus_complete(b):
    return len(b) >= 4 and b[0] == 0x68 and len(b) >= b[1] + 6


def probe_mbus():
    fd = open_raw(mbus_port, 2400)
    got, dt = ask(fd, bytes([0x10, 0x5B, 0x00, 0x5B, 0x16]), mbus_complete)
    os.close(fd)
    n = got[1] if len(got) > 1 else 0
    ok = (len(got) == n + 6 and got[:4] == bytes([0x68, n, n, 0x68])
          and sum(got[4:4 + n]) & 0xFF == got[4 + n])
    bcd = int(f"{got[10]:02x}{got[9]:02x}{got[8]:02x}{got[7]:02x}") if ok else -1
    check(ok and bcd == SERIAL, f"while a Modbus client does not read, M-Bus REQ_UD2 gets the "
          f"RSP_UD of meter {SERIAL} ({dt * 1000:.0f} ms, {len(got)} bytes)")


stall = open_raw(mb_port, baud)
big = with_crc(bytes([1, 0x03, 0x60, 0x00, 0x00, 0x7D]))
sent = 0
probed = False
t_end = time.monotonic() + secs
while time.monotonic() < t_end:
    os.write(stall, big)
    sent += 1
    if not probed and time.monotonic() > t_end - secs / 2:
        probe_mbus()
        probed = True
    time.sleep(0.03)
print(f"# {sent} requests sent, no reply read")
os.close(stall)
time.sleep(0.1)  # a master's pause: the last reply (22 ms at 115200) is over

fd = open_raw(mb_port, baud)
got, dt = ask(fd, with_crc(bytes([1, 0x03, 0x50, 0x02, 0x00, 0x02])), lambda b: len(b) >= 9)
ok = len(got) == 9 and got[:3] == bytes([1, 3, 4]) and crc16(got[:7]) == got[7] | got[8] << 8
u = struct.unpack(">f", got[3:7])[0] if ok else float("nan")
check(ok and abs(u - 230.0) < 0.5, f"after it, a new Modbus client reads U L1 = 230 V "
      f"({dt * 1000:.0f} ms, {got.hex()})")
