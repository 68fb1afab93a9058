"""Clients that misbehave, against the twin's Modbus TCP endpoint, on raw
sockets (test_tcp_abuse.sh). Each limit of sim/endpoints/tcp.h, with its
outcome, while a well-behaved client ("the probe") reads 0x4003 every 20 ms
in a thread of its own and must get every answer right:

  64 clients connect and are served; the 65th is accepted and closed at
  once (EOF before any data); the 64 are still served. Done twice: the
  second round must not grow the twin's memory (no leak per connection).
  A client sends half a header (3 bytes) and stalls: closed 10 s after its
  first byte (MODBUS_TCP_PARTIAL_TIMEOUT_DEFAULT_NS), not before.
  A length field of 300, a protocol id of 1: that connection closes.
  A client with a 4 KB receive buffer pipelines reads of 125 registers,
  4000 a second, and never reads: it is closed once its responses no longer
  fit; the probe's latency meanwhile stays low.
  A client pipelining 1000 reads and reading gets them all at once; a bad
  header behind 40 good requests in one segment closes the connection
  (both were bugs of sim/endpoints/tcp.c, fixed with these tests).
  --tcp-idle 2s (a second twin): a client with no request for 2 s is closed,
  not before; one that asks every 0.5 s is not.

Then: the twin's open descriptors (/proc/PID/fd) are as many as before the
clients; its RSS grew by less than a bound (the first round of 64 may keep
their freed buffers in the allocator; the second may add little); each
closure is logged once on standard error, with its reason; SIGTERM ends the
twin with status 0. Wire time is off (--fast) on the first twin: the flood
must fill buffers in seconds, not hours (at 9600 bit/s a 125-register reply
takes 0.3 s).

Prints TAP; exit status 0 when all passed.
"""
import os
import re
import socket
import statistics
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcptest import (SCENARIO_10A, Closed, MbapClient, Tap, Twin, python_check,  # noqa: E402
                     recv_until_closed, wait_for)

tap = Tap()
python_check()
STALL_S = 10.0
FLOOD_RATE = 4000  # requests a second
RSS_FIRST_KB = 4096   # 64 connections of ~21 KB of buffers each, kept by malloc: 1.3 MB, and slack
RSS_AGAIN_KB = 512    # the same 64 again: their memory is reused


class Probe(threading.Thread):
    """Reads 0x4003 at unit 1 every 20 ms; keeps (start, latency, right)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = MbapClient(port, timeout=2.0)
        self.samples = []
        self.errors = []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            try:
                r = self.c.read(1, 0x4003, 1)
                self.samples.append((t, time.monotonic() - t, r == [1]))
                if r != [1]:
                    self.errors.append(f"read {r}")
            except Exception as e:  # a time-out or a closed connection: both wrong
                self.samples.append((t, time.monotonic() - t, False))
                self.errors.append(repr(e))
                if isinstance(e, Closed):
                    return
            self.stop_flag.wait(0.02)

    def between(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]

    def finish(self):
        self.stop_flag.set()
        self.join()
        self.c.close()


class Watch(threading.Thread):
    """Waits in a thread for the server to close `sock`: .state, .data and
    .t (time.monotonic() when it closed)."""

    def __init__(self, sock, timeout):
        super().__init__(daemon=True)
        self.sock, self.timeout = sock, timeout
        self.state, self.data, self.t = None, b"", None

    def run(self):
        self.state, self.data = recv_until_closed(self.sock, self.timeout)
        self.t = time.monotonic()


def probe_report(samples):
    if not samples:
        return "no reads", False
    lat = [s[1] for s in samples]
    ok = all(s[2] for s in samples)
    return (f"{len(samples)} reads, {sum(1 for s in samples if s[2])} right, latency p50 "
            f"{statistics.median(lat) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms"), ok


def raw(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def log_lines(twin, local_port):
    """The twin's log lines about the client at 127.0.0.1:local_port, in the
    form of sim/endpoints/tcp.c: "metersim: modbus tcp:127.0.0.1:PORT:
    client ADDR: closed: WHY" or "... client ADDR refused: WHY"."""
    srv = twin.tcp["Modbus TCP"][0]
    pat = re.compile(rf"^metersim: modbus tcp:127\.0\.0\.1:{srv}: client 127\.0\.0\.1:{local_port}"
                     r"(: closed: | refused: )")
    return [l for l in twin.stderr().splitlines() if pat.match(l)]


def expect_logged(twin, name, local_port, pattern):
    lines = log_lines(twin, local_port)
    tap.check(len(lines) == 1 and re.search(pattern, lines[0]),
              f"{name}: logged once (\"{lines[0].split(': client ')[1] if len(lines) == 1 else '?'}\")",
              f"{len(lines)} lines for port {local_port}: {lines}")


def safe_read(c):
    try:
        return c.read(1, 0x4003, 1)
    except Exception as e:  # a time-out, a closed connection: reported as such
        return repr(e)


def limit_round(twin, port, rnd, notes):
    """64 clients served, the 65th closed at once, the 64 still served."""
    clients = [MbapClient(port) for _ in range(64)]
    answers = [safe_read(c) for c in clients]
    tap.check(all(a == [1] for a in answers), f"round {rnd}: 64 clients connect and each is answered",
              [a for a in answers if a != [1]][:5])
    extra = socket.create_connection(("127.0.0.1", port), timeout=2)
    extra_port = extra.getsockname()[1]
    t = time.monotonic()
    state, data = recv_until_closed(extra, 2.0)
    dt = time.monotonic() - t
    tap.check(state == "closed" and data == b"" and dt < 0.5,
              f"round {rnd}: the 65th is closed at once, before any data ({dt * 1000:.1f} ms)",
              f"{state}, {data!r} after {dt:.3f} s")
    extra.close()
    answers = [safe_read(c) for c in clients]
    tap.check(all(a == [1] for a in answers), f"round {rnd}: the 64 are still answered",
              [a for a in answers if a != [1]][:5])
    lines = log_lines(twin, extra_port)
    tap.check(len(lines) == 1 and "refused: 64 clients already" in lines[0],
              f"round {rnd}: the refusal is logged once", lines)
    notes["logged"] += 1
    for c in clients:
        c.close()


def main():
    try:
        twin = Twin(SCENARIO_10A, ["--fast", "--modbus", "tcp:0"])
    except RuntimeError as e:
        tap.check(False, "the twin serves Modbus TCP", e)
        return tap.done()
    port = twin.tcp["Modbus TCP"][0]
    fds0 = twin.fds()
    # One client first, so that what the first connection allocates once
    # (the loop's tables, the allocator's arenas) is in the baseline.
    w = MbapClient(port)
    served = w.read(1, 0x4003, 1) == [1]
    w.close()
    wait_for(lambda: twin.fds() == fds0, 5)
    rss0 = twin.rss_kb()
    tap.check(served, f"the twin serves Modbus TCP on 127.0.0.1:{port} (--fast); {fds0} descriptors "
              f"open, RSS {rss0} KB", twin.stderr())
    notes = {"logged": 0}

    # --- 64 + 1, twice --------------------------------------------------------
    limit_round(twin, port, 1, notes)
    wait_for(lambda: twin.fds() == fds0, 5)
    rss1 = twin.rss_kb()
    limit_round(twin, port, 2, notes)
    wait_for(lambda: twin.fds() == fds0, 5)
    rss2 = twin.rss_kb()

    # --- pipelining past the framer's queue of 16, reading -------------------
    # (alone on the endpoint, so that nothing else wakes the twin; with wire
    # time off all are answered at once; the twin once answered 48,
    # then 64 more per unrelated wake-up, ~100 ms apart)
    c = MbapClient(port)
    n_pipe = 1000
    t = time.monotonic()
    c.sock.sendall(b"".join(struct.pack(">HHHBBHH", i, 0, 6, 1, 3, 0x4003, 1) for i in range(n_pipe)))
    replies = []
    try:
        for _ in range(n_pipe):
            replies.append(c.recv(3.0))
    except Exception as e:
        replies.append(repr(e))
    dt = time.monotonic() - t
    c.close()
    tap.check(replies == [(i, 1, bytes([3, 2, 0, 1])) for i in range(n_pipe)] and dt < 0.5,
              f"{n_pipe} reads pipelined in one go are all answered, in order, in {dt * 1000:.0f} ms "
              f"(--fast: under 500)", f"{len(replies)} replies, last {replies[-1:]}, {dt:.3f} s")

    probe = Probe(port)
    probe.start()

    # --- half a header, then silence: closed after 10 s ----------------------------
    stall = raw(port)
    stall_port = stall.getsockname()[1]
    t_stall = time.monotonic()
    stall.sendall(bytes([0x00, 0x01, 0x00]))  # transaction id, half the protocol id
    t_stall_probe = time.monotonic()
    stall_watch = Watch(stall, STALL_S + 5)
    stall_watch.start()

    # --- meanwhile: bad headers ------------------------------------------------------
    for name, hdr in (("a length field of 300", struct.pack(">HHHB", 7, 0, 300, 1)),
                      ("a protocol id of 1", struct.pack(">HHHBBHH", 8, 1, 6, 1, 3, 0x4003, 1))):
        s = raw(port)
        lp = s.getsockname()[1]
        s.sendall(hdr)
        state, data = recv_until_closed(s, 2.0)
        s.close()
        tap.check(state == "closed" and data == b"", f"{name}: the connection is closed, unanswered",
                  f"{state}, {data!r}")
        wait_for(lambda: log_lines(twin, lp), 2)
        expect_logged(twin, name, lp, "length field outside 2..254" if "length" in name
                      else "protocol id is not 0")
        notes["logged"] += 1

    # --- meanwhile: a bad header behind 40 good requests in one segment ------------------
    # (the twin once found it only after the first batch, and then left the
    # connection open until the idle time-out)
    s = raw(port)
    lp = s.getsockname()[1]
    s.sendall(b"".join(struct.pack(">HHHBBHH", i, 0, 6, 1, 3, 0x4003, 1) for i in range(40)) +
              struct.pack(">HHHBBHH", 40, 1, 6, 1, 3, 0x4003, 1))
    t = time.monotonic()
    state, data = recv_until_closed(s, 3.0)
    dt = time.monotonic() - t
    s.close()
    tap.check(state == "closed" and dt < 1.0,
              f"a protocol id of 1 behind 40 good requests in one segment: the connection is closed "
              f"({dt * 1000:.0f} ms; {len(data) // 11} of the 40 answered before)", f"{state} after {dt:.2f} s")
    wait_for(lambda: log_lines(twin, lp), 2)
    expect_logged(twin, "the bad header behind good requests", lp, "protocol id is not 0")
    notes["logged"] += 1

    # --- meanwhile: a client that pipelines and never reads ------------------------------
    # 4000 requests a second (125 registers each: 1 MB/s of responses), so
    # that the twin's send buffer (autotuned up to 4 MB) takes seconds to
    # fill and the probe's latency is sampled under the load meanwhile.
    flood = raw(port, rcvbuf=4096)
    flood_port = flood.getsockname()[1]
    flood.setblocking(False)
    n_flood, queued, t_flood = 0, b"", time.monotonic()
    closed_at = None
    while time.monotonic() - t_flood < 20:
        due = int((time.monotonic() - t_flood) * FLOOD_RATE)
        queued += b"".join(struct.pack(">HHHBBHH", i & 0xFFFF, 0, 6, 1, 3, 0x6000, 125)
                           for i in range(n_flood, due))
        n_flood = max(n_flood, due)
        try:
            if queued:
                queued = queued[flood.send(queued):]
        except BlockingIOError:
            pass
        except OSError:
            pass  # reset: the log says so below
        if log_lines(twin, flood_port):
            closed_at = time.monotonic()
            break
        time.sleep(0.01)
    flood.close()
    t_flood_end = closed_at or time.monotonic()
    tap.check(closed_at is not None,
              f"a client that pipelines reads of 125 registers ({FLOOD_RATE}/s, {n_flood} sent) and never "
              f"reads is closed "
              f"({(t_flood_end - t_flood):.1f} s after it began)", twin.stderr())
    expect_logged(twin, "the client that stopped reading", flood_port, "stopped reading its responses")
    notes["logged"] += 1
    rep, good = probe_report(probe.between(t_flood, t_flood_end))
    lat = [s[1] for s in probe.between(t_flood, t_flood_end)]
    tap.check(good and lat and statistics.median(lat) < 0.02 and max(lat) < 0.2,
              f"meanwhile another client gets every answer right, with low latency ({rep}; "
              f"p50 under 20 ms, max under 200 ms)", probe.errors[:5])

    # --- the stalled client's end ------------------------------------------------------
    stall_watch.join()
    state, data = stall_watch.state, stall_watch.data
    dt = stall_watch.t - t_stall
    stall.close()
    tap.check(state == "closed" and data == b"" and STALL_S - 0.05 <= dt < STALL_S + 1.0,
              f"half a header, then silence: closed {dt:.2f} s after its first byte (10 s; "
              f"accepted 9.95-11)", f"{state} after {dt:.2f} s")
    expect_logged(twin, "the stalled client", stall_port, "sent part of a request and stopped")
    notes["logged"] += 1
    rep, good = probe_report(probe.between(t_stall_probe, time.monotonic()))
    tap.check(good, f"while it stalled, another client got every answer ({rep})", probe.errors[:5])
    probe.finish()

    # --- afterwards ----------------------------------------------------------------------
    wait_for(lambda: twin.fds() == fds0, 5)
    fds = twin.fds()
    tap.check(fds == fds0, f"the twin's descriptors are as before the clients ({fds0}, now {fds})",
              os.popen(f"ls -l /proc/{twin.pid}/fd").read())
    rss3 = twin.rss_kb()
    tap.check(rss1 - rss0 < RSS_FIRST_KB and rss3 - rss1 < RSS_AGAIN_KB,
              f"the twin's RSS: {rss0} KB before, {rss1} after 64 + 1 clients (grew under "
              f"{RSS_FIRST_KB} KB), {rss2} after 64 + 1 again, {rss3} after the rest (under "
              f"{RSS_AGAIN_KB} KB more than after the first round)")
    closures = len(re.findall(r": client \S+: closed: |: client \S+ refused: ", twin.stderr()))
    tap.check(closures == notes["logged"],
              f"no other closure logged ({closures} lines for {notes['logged']} events; the clients "
              f"that hung up themselves are not logged)", twin.stderr())
    st = twin.stop()
    tap.check(st == 0, f"the twin exits with status 0 after SIGTERM (status {st})", twin.stderr())

    # --- --tcp-idle 2s ----------------------------------------------------------------------
    try:
        idle = Twin(SCENARIO_10A, ["--fast", "--modbus", "tcp:0", "--tcp-idle", "2s"])
    except RuntimeError as e:
        tap.check(False, "the twin serves Modbus TCP with --tcp-idle 2s", e)
        return tap.done()
    port = idle.tcp["Modbus TCP"][0]
    quiet = MbapClient(port)
    busy = MbapClient(port)
    t_req = time.monotonic()
    first = quiet.read(1, 0x4003, 1)
    busy_answers = []
    state = "open"
    while time.monotonic() - t_req < 3.5:
        state, _ = recv_until_closed(quiet.sock, 0.5)  # returns at once when it closes
        if state == "closed":
            break
        busy_answers.append(busy.read(1, 0x4003, 1))  # a request every 0.5 s
    dt = time.monotonic() - t_req
    tap.check(first == [1] and state == "closed" and 2.0 <= dt < 2.6,
              f"--tcp-idle 2s: a client silent after one request is closed {dt:.2f} s after it "
              f"(not before 2 s; accepted 2.0-2.6)", f"{first}, {state} after {dt:.2f} s")
    expect_logged(idle, "the idle client", quiet.local_port, r"closed: idle$")
    more = [busy.read(1, 0x4003, 1) for _ in range(2)]
    tap.check(all(a == [1] for a in busy_answers + more) and not log_lines(idle, busy.local_port),
              f"--tcp-idle 2s: a client that asks every 0.5 s stays open "
              f"({len(busy_answers) + len(more)} answers)", busy_answers + more)
    quiet.close()
    busy.close()
    st = idle.stop()
    tap.check(st == 0, f"the --tcp-idle twin exits with status 0 after SIGTERM (status {st})",
              idle.stderr())
    return tap.done()


sys.exit(main())
