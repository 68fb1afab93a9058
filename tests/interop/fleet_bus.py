"""A full RS-485 bus, and a bus with two meters at one ID, served on a pty and
on Modbus TCP at once (test_fleet_bus.sh).

1. 247 meters (the whole RTU address space, Serial Line 2.2: 1..247), meter
   k with Modbus ID k and serial 1307kkkk (the scenario is made here), on
   one bus behind --modbus pty:PATH and --modbus tcp:PORT, wire time off
   (--fast): every unit 1..247 answers over TCP with its own serial number,
   meter code and ID (0x4000 x4: serial BCD, 0x4002 meter code 1111 (4PU),
   0x4003 ID; A3.2), and a sample of IDs answers over the pty with the RTU
   frame computed here, byte for byte.
2. The same bus with wire time on (9600 8E1): every unit over TCP (~9 s),
   a handful of IDs over the pty.
3. Five meters, two of them at ID 3 (serials differ, so their replies do),
   wire time on: the two replies overlap on the line and collide. A read of
   ID 3 gets no sound reply over the pty (nothing, garbage or a bad CRC) and
   exception 0x0B over TCP (the gateway treats a garbled reply as none);
   IDs 1, 2 and 5 answer right, before and after.

Prints TAP; exit status 0 when all passed.
"""
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcptest import (MbapClient, PtyRtu, Tap, Twin, pdu_read, python_check,  # noqa: E402
                     rtu_frame, rtu_reply_ok)

tap = Tap()
python_check()
N = 247


def bcd(n):
    return int(f"{n:04d}", 16)


def scenario(ids):
    """One meter per entry of `ids` (its Modbus ID); meter i has serial
    1307iiii. 230 V, 10 A, PF 1: the load does not matter here."""
    meters = [{"name": f"m{i}", "serial": f"1307{i:04d}", "settings": {"modbus_id": mid}}
              for i, mid in enumerate(ids, 1)]
    return {"grid": {"voltage": 230, "frequency": 50}, "load": {"current": 10, "pf": 1},
            "meters": meters}


def identity(i, mid):
    """0x4000 x4 of meter i at ID mid: serial 1307 iiii (BCD), 4PU, ID."""
    return [0x1307, bcd(i), 0x1111, mid]


def rtu_identity(pty, mid):
    return pty.request(rtu_frame(mid, pdu_read(0x4000, 4)), 13)


def want_rtu(i, mid):
    return rtu_frame(mid, bytes([3, 8]) + struct.pack(">4H", *identity(i, mid)))


def start(sc, args, what):
    tmp = tempfile.mkdtemp(prefix="fleet_bus.")
    path = os.path.join(tmp, "meter")
    try:
        twin = Twin(sc, args + ["--modbus", f"pty:{path}", "--modbus", "tcp:0"], tmpdir=tmp)
    except RuntimeError as e:
        tap.check(False, what, e)
        return None, None, None
    tap.check(os.path.islink(path), f"{what}: on {twin.ptys['Modbus RTU'][0]} and on Modbus TCP "
              f"127.0.0.1:{twin.tcp['Modbus TCP'][0]}", twin.stderr())
    return twin, PtyRtu(path), MbapClient(twin.tcp["Modbus TCP"][0], timeout=3.0)


def stop(twin, pty, c, what):
    c.close()
    pty.close()
    st = twin.stop()
    tap.check(st == 0, f"{what}: the twin exits with status 0 after SIGTERM (status {st})", twin.stderr())


def main():
    sc = scenario(range(1, N + 1))
    sample = [1, 2, 3, 17, 64, 100, 128, 173, 200, 239, 245, 246, 247]

    # --- 1. 247 meters, wire time off ------------------------------------------
    what = f"{N} meters, IDs 1-{N}, --fast"
    t = time.monotonic()
    twin, pty, c = start(sc, ["--fast"], what)
    if twin:
        bad = []
        for k in range(1, N + 1):
            got = c.read(k, 0x4000, 4)
            if got != identity(k, k):
                bad.append(f"unit {k}: {got}, expected {[hex(w) for w in identity(k, k)]}")
        tap.check(not bad, f"{what}: every unit 1-{N} answers over TCP with its own serial "
                  f"(1307kkkk), meter code 1111 and ID", "\n".join(bad[:10]))
        bad = []
        for k in sample:
            got = rtu_identity(pty, k)
            if got != want_rtu(k, k):
                bad.append(f"ID {k}: {got.hex(' ')}, expected {want_rtu(k, k).hex(' ')}")
        tap.check(not bad, f"{what}: IDs {', '.join(map(str, sample))} answer over the pty, "
                  f"each with the RTU frame computed here", "\n".join(bad))
        stop(twin, pty, c, what)
    tap.note(f"part 1: {time.monotonic() - t:.1f} s")

    # --- 2. the same bus, wire time on -----------------------------------------
    what = f"{N} meters, wire time on"
    t = time.monotonic()
    twin, pty, c = start(sc, [], what)
    if twin:
        few = [1, 2, 124, 246, 247]
        bad, slowest = [], 0.0
        # request 8 + reply 13 characters at 9600 8E1 + 10 ms turnaround
        floor = (8 + 13) * 11 / 9600 + 0.010
        for k in range(1, N + 1):
            t0 = time.monotonic()
            got = c.read(k, 0x4000, 4)
            dt = time.monotonic() - t0
            slowest = max(slowest, dt)
            if got != identity(k, k) or dt < floor - 0.001:
                bad.append(f"unit {k}: {got} in {dt * 1000:.1f} ms (at least {floor * 1000:.1f})")
        tap.check(not bad, f"{what}: every unit 1-{N} answers over TCP with its identity, each "
                  f"no sooner than its frame times and turnaround ({floor * 1000:.1f} ms; slowest "
                  f"{slowest * 1000:.1f} ms)", "\n".join(bad[:10]))
        bad = []
        for k in few:
            got = rtu_identity(pty, k)
            if got != want_rtu(k, k):
                bad.append(f"ID {k}: {got.hex(' ')}, expected {want_rtu(k, k).hex(' ')}")
        tap.check(not bad, f"{what}: IDs {', '.join(map(str, few))} answer over the pty",
                  "\n".join(bad))
        stop(twin, pty, c, what)
    tap.note(f"part 2: {time.monotonic() - t:.1f} s")

    # --- 3. two meters at ID 3: a collision ------------------------------------
    ids = [1, 2, 3, 3, 5]
    what = "five meters at IDs 1, 2, 3, 3, 5, wire time on"
    t = time.monotonic()
    twin, pty, c = start(scenario(ids), [], what)
    if twin:
        good = [(i, mid) for i, mid in enumerate(ids, 1) if mid != 3]

        def others(when):
            bad = []
            for i, mid in good:
                got = c.read(mid, 0x4000, 4)
                if got != identity(i, mid):
                    bad.append(f"TCP unit {mid}: {got}")
                got = rtu_identity(pty, mid)
                if got != want_rtu(i, mid):
                    bad.append(f"pty ID {mid}: {got.hex(' ')}")
            tap.check(not bad, f"{what}: IDs 1, 2 and 5 answer right over TCP and over the pty "
                      f"({when})", "\n".join(bad))

        others("before")
        replies = [rtu_identity(pty, 3) for _ in range(3)]
        tap.check(not any(rtu_reply_ok(r, 3, 3, 8) for r in replies),
                  f"{what}: ID 3 over the pty, 3 tries: no sound reply ("
                  + "; ".join(f"{len(r)} bytes" + (f" {r[:6].hex(' ')}..." if r else "") for r in replies)
                  + ")", "\n".join(r.hex(" ") for r in replies))
        res = []
        for _ in range(3):
            t0 = time.monotonic()
            got = c.read(3, 0x4000, 4)
            res.append((got, time.monotonic() - t0))
        tap.check(all(g == ("exception", 0x0B) and dt >= 0.2 for g, dt in res),
                  f"{what}: unit 3 over TCP, 3 tries: exception 0x0B after the gateway time-out "
                  f"({', '.join(f'{dt * 1000:.0f} ms' for _, dt in res)}; at least 200)", res)
        others("after")
        stop(twin, pty, c, what)
    tap.note(f"part 3: {time.monotonic() - t:.1f} s")
    return tap.done()


sys.exit(main())
