"""The twin's Modbus TCP gateway and its two transparent TCP endpoints, with
frames built here from the specifications (test_tcp_gateway.sh).

One meter (3 x 230 V x 10 A at PF 1, Modbus ID 1, M-Bus address 1 at 9600
bit/s) behind --modbus tcp, --modbus rtu-over-tcp and --mbus tcp, wire time
on (9600 8E1), --gateway-timeout 300ms:

  unit 0     a broadcast write (06 6048 0002) is carried out (unit 1 then
             reads tariff 2) and never answered; a broadcast read neither
  unit 255, 248   exception 0x0A (gateway path unavailable) at once
  unit 9     (no meter) exception 0x0B (gateway target device failed to
             respond) once the gateway's time-out has run from the end of
             the RTU request on the line: 300 ms + 8 characters of 11 bits
             at 9600 (9.2 ms); accepted from 300 ms to 450 ms after sending
  --fast     (a second twin) 0x0B within 50 ms; RTU over TCP answered
             within 50 ms
  RTU over TCP   01 03 5002 0002 + CRC -> 01 03 04 43660000 + CRC (230.0 V,
             Float ABCD), no sooner than the request's and the reply's frame
             times plus the 10 ms turnaround; a frame for ID 9 unanswered
  M-Bus over TCP   SND_NKE 10 40 01 41 16 -> E5; REQ_UD2 10 5B 01 5C 16 ->
             RSP_UD 68 L L 68 08 01 72, checksum and stop byte right, the
             identification number 13070001 in BCD (EN 13757-3, A2.2)

Prints TAP; exit status 0 when all passed.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcptest import (MbapClient, Tap, Twin, mbus_long_ok, mbus_short, pdu_read,  # noqa: E402
                     pdu_write1, python_check, rtu_frame)

SCENARIO = {"meter": {"model": "4PU", "serial": "13070001",
                      "settings": {"mbus_id": 1, "mbus_baud": 9600}},
            "grid": {"voltage": 230, "frequency": 50},
            "load": {"current": 10, "pf": 1}}
CHAR_S = 11 / 9600  # one 8E1 character at 9600 bit/s
tap = Tap()
python_check()


def timed(c, unit, pdu, timeout=2.0):
    t = time.monotonic()
    tid = c.send(unit, pdu)
    rtid, runit, rpdu = c.recv(timeout)
    return time.monotonic() - t, (rtid == tid and runit == unit), rpdu


def recv_n(sock, n, timeout):
    """Up to n bytes, until n came or `timeout` s passed."""
    got = b""
    end = time.monotonic() + timeout
    while len(got) < n:
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            d = sock.recv(n - len(got))
        except socket.timeout:
            break
        if not d:
            break
        got += d
    return got


def gateway(twin):
    port = twin.tcp["Modbus TCP"][0]
    c = MbapClient(port)

    # Broadcast (Serial Line 2.1): carried out, no reply. The gateway keeps
    # the line 100 ms for the meters to do it; the read after it waits.
    c.send(0, pdu_write1(0x6048, 2))
    try:
        reply = c.recv(0.6)
    except socket.timeout:
        reply = None
    back = c.read(1, 0x6048, 1)
    tap.check(reply is None and back == [2],
              "unit 0: a broadcast write of the tariff (06 6048 0002) gets no reply in 0.6 s "
              "and is carried out (unit 1 reads 0x6048 = 2)", f"reply {reply}, 0x6048 {back}")
    c.send(0, pdu_read(0x6048, 1))
    try:
        reply = c.recv(0.5)
    except socket.timeout:
        reply = None
    ok = c.read(1, 0x4003, 1)
    tap.check(reply is None and ok == [1], "unit 0: a broadcast read gets no reply either; the "
              "connection still serves unit 1", f"reply {reply}, then {ok}")
    c.write1(1, 0x6048, 1)

    for unit in (255, 248):
        dt, match, pdu = timed(c, unit, pdu_read(0x4003, 1))
        tap.check(match and pdu == bytes([0x83, 0x0A]) and dt < 0.05,
                  f"unit {unit}: exception 0x0A (gateway path unavailable) at once "
                  f"({dt * 1000:.1f} ms, under 50)", f"{pdu.hex()} after {dt * 1000:.1f} ms")

    # Unit 9: nobody answers on the line; 0x0B after the gateway time-out
    # (300 ms, from the end of the 8-byte request on the line).
    times = []
    for _ in range(3):
        dt, match, pdu = timed(c, 9, pdu_read(0x4003, 1))
        times.append(dt)
        if not (match and pdu == bytes([0x83, 0x0B])):
            break
    tap.check(match and pdu == bytes([0x83, 0x0B]) and all(0.300 <= t < 0.450 for t in times),
              "unit 9 (no such meter): exception 0x0B after the gateway time-out of 300 ms "
              f"(+ {8 * CHAR_S * 1000:.1f} ms of request on the line): "
              f"{', '.join(f'{t * 1000:.1f}' for t in times)} ms, each in 300-450",
              f"last reply {pdu.hex()}")
    dt, match, pdu = timed(c, 1, pdu_read(0x5002, 2))
    tap.check(match and pdu == bytes([3, 4]) + struct.pack(">f", 230.0),
              f"after the time-outs unit 1 answers: 0x5002 = 230.0 V ({dt * 1000:.1f} ms)", pdu.hex())
    c.close()


def rtu_over_tcp(twin):
    port = twin.tcp["Modbus RTU over TCP"][0]
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = rtu_frame(1, pdu_read(0x5002, 2))
    want = rtu_frame(1, bytes([3, 4]) + struct.pack(">f", 230.0))
    t = time.monotonic()
    s.sendall(req)
    got = recv_n(s, len(want), 2.0)
    dt = time.monotonic() - t
    floor = (len(req) + len(want)) * CHAR_S + 0.010
    tap.check(got == want and dt >= floor - 0.001,
              f"RTU over TCP: {req.hex(' ')} -> {want.hex(' ')} (U L1 = 230.0 V, CRC computed here) "
              f"in {dt * 1000:.1f} ms, not before the frame times + turnaround ({floor * 1000:.1f} ms)",
              f"got {got.hex(' ')}")
    s.sendall(rtu_frame(9, pdu_read(0x5002, 2)))
    got = recv_n(s, 1, 0.4)
    tap.check(got == b"", "RTU over TCP: a frame for ID 9 (no meter) is not answered in 0.4 s",
              f"got {got.hex(' ')}")
    s.close()


def mbus_over_tcp(twin):
    port = twin.tcp["M-Bus over TCP"][0]
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(mbus_short(0x40, 1))  # SND_NKE
    got = recv_n(s, 1, 1.0)
    tap.check(got == b"\xe5", "M-Bus over TCP: SND_NKE 10 40 01 41 16 -> E5", got.hex(" "))
    req = mbus_short(0x5B, 1)  # REQ_UD2, FCB 0
    s.sendall(req)
    head = recv_n(s, 4, 2.0)
    frame = head
    if len(head) == 4 and head[0] == 0x68:
        frame += recv_n(s, head[1] + 2, 2.0)
    why = mbus_long_ok(frame)
    tap.check(not why and frame[4:7] == bytes([0x08, 0x01, 0x72]),
              f"M-Bus over TCP: REQ_UD2 {req.hex(' ')} -> RSP_UD 68 L L 68 08 01 72 "
              f"(L = {frame[1] if len(frame) > 1 else '?'}), checksum and stop byte right",
              why or frame[:16].hex(" "))
    tap.check(frame[7:11] == bytes([0x01, 0x00, 0x07, 0x13]),
              "M-Bus over TCP: the identification number is the serial 13070001 (BCD, low byte "
              "first)", frame[7:15].hex(" "))
    s.close()


def main():
    try:
        twin = Twin(SCENARIO, ["--modbus", "tcp:0", "--modbus", "rtu-over-tcp:0", "--mbus", "tcp:0",
                               "--gateway-timeout", "300ms"], quiet=False)
    except RuntimeError as e:
        tap.check(False, "the twin serves Modbus TCP, RTU over TCP and M-Bus over TCP", e)
        return tap.done()
    tap.check(twin.wait_published(), f"the twin serves Modbus TCP, RTU over TCP and M-Bus over "
              f"TCP on 127.0.0.1 (ports {twin.tcp}), wire time on; its first readings are out",
              twin.stderr())
    gateway(twin)
    rtu_over_tcp(twin)
    mbus_over_tcp(twin)
    st = twin.stop()
    tap.check(st == 0, f"the twin exits with status 0 after SIGTERM (status {st})", twin.stderr())

    # Wire time off: nobody's silence is waited for.
    try:
        fast = Twin(SCENARIO, ["--fast", "--modbus", "tcp:0", "--modbus", "rtu-over-tcp:0",
                               "--gateway-timeout", "300ms"])
    except RuntimeError as e:
        tap.check(False, "the twin serves Modbus TCP with --fast", e)
        return tap.done()
    c = MbapClient(fast.tcp["Modbus TCP"][0])
    c.read(1, 0x4003, 1)  # the connection is set up
    times, pdus = [], set()
    for _ in range(3):
        dt, match, pdu = timed(c, 9, pdu_read(0x4003, 1))
        times.append(dt)
        pdus.add(pdu if match else b"mismatch")
    tap.check(pdus == {bytes([0x83, 0x0B])} and max(times) < 0.05,
              f"--fast: unit 9 gets exception 0x0B at once "
              f"({', '.join(f'{t * 1000:.1f}' for t in times)} ms, each under 50)", pdus)
    c.close()
    # RTU over TCP with wire time off: the reply at once (the twin once
    # never collected it: a reply due the instant its request ended).
    s = socket.create_connection(("127.0.0.1", fast.tcp["Modbus RTU over TCP"][0]), timeout=2)
    want = rtu_frame(1, bytes([3, 2, 0, 1]))
    t = time.monotonic()
    s.sendall(rtu_frame(1, pdu_read(0x4003, 1)))
    got = recv_n(s, len(want), 1.0)
    dt = time.monotonic() - t
    s.close()
    tap.check(got == want and dt < 0.05, f"--fast: RTU over TCP answers at once: {want.hex(' ')} "
              f"({dt * 1000:.1f} ms, under 50)", f"got {got.hex(' ')} after {dt * 1000:.1f} ms")
    st = fast.stop()
    tap.check(st == 0, f"the --fast twin exits with status 0 after SIGTERM (status {st})", fast.stderr())
    return tap.done()


sys.exit(main())
