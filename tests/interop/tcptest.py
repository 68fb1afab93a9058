"""Shared by the TCP interop tests (imported, not run): TAP output, the twin
started on TCP endpoints (and ptys) and stopped by its PID, raw Modbus TCP,
Modbus RTU and M-Bus frames built here from the specifications, and the
twin's descriptors and memory from /proc.

    from tcptest import Tap, Twin, MbapClient, rtu_frame, crc16
    tap = Tap()
    twin = Twin(scenario_dict, ["--fast", "--modbus", "tcp:0"])
    port = twin.tcp["Modbus TCP"][0]          # the port the system gave it
    c = MbapClient(port)
    tap.check(c.read(1, 0x4003, 1) == [1], "ID 1 reads 1")
    tap.check(twin.stop() == 0, "exit status 0 after SIGTERM")
    sys.exit(tap.done())

Nothing sleeps a fixed time to wait for the twin: waits poll a file or
/proc with short steps and a deadline. Every endpoint listens on 127.0.0.1
(the twin's default host); a port of 0 lets the system pick a free one, which
the twin prints ("metersim: Modbus TCP on tcp:127.0.0.1:PORT (bus1)") and
which is read back from its standard error.

Run with Debian's /usr/bin/python3 (it has pymodbus 3.0).
"""
import atexit
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BUILD", "build")
BIN = os.path.join(BUILD, "metersim")


# ---- TAP --------------------------------------------------------------------
class Tap:
    """Numbered TAP lines; done() prints the plan and returns the exit status."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, desc, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {desc}", flush=True)
        if not cond and diag:
            for line in str(diag).splitlines():
                print(f"# {line}", flush=True)
        return bool(cond)

    def note(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def wait_for(pred, timeout, step=0.02):
    """Polls pred() every `step` s until it is true (returns its value) or
    `timeout` s have gone (returns the last false value)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


# ---- the twin -----------------------------------------------------------------
# The scenario of docs/interop.md: 3 x 230 V x 10 A at PF 1, 50 Hz, no noise:
# 2.3 kW per phase, 6.9 kW in all.
SCENARIO_10A = {"meter": {"model": "4PU", "serial": "13070001"},
                "grid": {"voltage": 230, "frequency": 50},
                "load": {"current": 10, "pf": 1}}


class Twin:
    """build/metersim started with `args` on `scenario` (a dict, or JSON text),
    in its own temporary directory. Waits until every endpoint it was given
    is open (one "metersim: ... on ..." line each); then
      self.tcp   {"Modbus TCP": [port, ...], "Modbus RTU over TCP": [...],
                  "M-Bus over TCP": [...]}
      self.ptys  {"Modbus RTU": [/dev/pts/N, ...], "M-Bus": [...]}
    Raises RuntimeError (with its standard error) if it does not come up in
    `timeout` s. `nofile`: (soft, hard) limit of its descriptors."""

    def __init__(self, scenario, args, until="300s", timeout=10.0, quiet=True, tmpdir=None,
                 nofile=None):
        self.dir = tmpdir or tempfile.mkdtemp(prefix="tcptest.")
        self.proc = None
        atexit.register(self._cleanup)  # no twin outlives its test, even one that crashed
        self.scenario_path = os.path.join(self.dir, "scenario.json")
        with open(self.scenario_path, "w") as f:
            f.write(scenario if isinstance(scenario, str) else json.dumps(scenario))
        self.log_path = os.path.join(self.dir, "twin.log")
        self.err_path = os.path.join(self.dir, "twin.err")
        self.args = args
        cmd = [BIN, "--headless", "--scenario", self.scenario_path, "--until", until]
        if quiet:
            cmd.append("--quiet")
        cmd += args
        n_endpoints = sum(1 for a in args if a in ("--modbus", "--mbus"))
        self.t_spawn = time.time()
        with open(self.log_path, "w") as out, open(self.err_path, "w") as err:
            limit = None
            if nofile is not None:  # (soft, hard) RLIMIT_NOFILE of the twin
                def limit():
                    resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         preexec_fn=limit)
        self.pid = self.proc.pid
        self.status = None
        opened = wait_for(lambda: self.proc.poll() is not None or
                          len(self._endpoint_lines()) >= n_endpoints, timeout)
        if not opened or self.proc.poll() is not None:
            err = self.stderr()
            self.stop()
            raise RuntimeError(f"the twin did not open its endpoints: {' '.join(cmd)}\n{err}")
        self.t_up = time.time()
        self.tcp, self.ptys = {}, {}
        for kind, where in self._endpoint_lines():
            m = re.match(r"(?:rtu-over-)?tcp:(?:\[.*\]|[^:]*):(\d+)$", where)
            if m:
                self.tcp.setdefault(kind, []).append(int(m.group(1)))
            else:
                self.ptys.setdefault(kind, []).append(where)

    def _cleanup(self):
        if self.proc is not None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _endpoint_lines(self):
        return re.findall(r"^metersim: (Modbus TCP|Modbus RTU over TCP|M-Bus over TCP|Modbus RTU|M-Bus)"
                          r" on (\S+) \(", self.stderr(), re.M)

    def stderr(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def running(self):
        return self.proc.poll() is None

    def wait_published(self, timeout=10.0):
        """The first whole-cycle window is out (t = 1 s of simulated time);
        the periodic log (without --quiet) says so at t = 2. The log is a
        clock here, never a source of values."""
        return wait_for(lambda: re.search(r'"t":2[,}]', self.log()), timeout)

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def stop(self, timeout=5.0):
        """SIGTERM by PID; its exit status (or "killed" when it had to be
        killed after `timeout` s). Idempotent."""
        if self.status is not None:
            return self.status
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.status = "killed"
                return self.status
        self.status = self.proc.returncode
        return self.status


def listening(pid, port):
    """True when process `pid` itself has a listening TCP socket on `port`
    (from /proc, without connecting: a probe would be a client)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            t = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].split(":")[1], 16) == port and f[9] in inodes:
                return True
    return False


# ---- Modbus -------------------------------------------------------------------
def crc16(data):
    """CRC-16/MODBUS (Modbus over Serial Line V1.02, 6.2.2): polynomial 0xA001
    reflected, initial 0xFFFF; sent low byte first."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(address, pdu):
    """An RTU ADU: address, PDU, CRC low byte first (Serial Line 2.5.1)."""
    body = bytes([address]) + bytes(pdu)
    return body + struct.pack("<H", crc16(body))


def pdu_read(addr, count, fc=3):
    return struct.pack(">BHH", fc, addr, count)


def pdu_write1(addr, value):
    return struct.pack(">BHH", 6, addr, value)


def words_of(pdu):
    """The registers of an FC03/04 reply PDU."""
    n = pdu[1]
    return list(struct.unpack(f">{n // 2}H", pdu[2:2 + n]))


def f32(words, i=0):
    """Float ABCD (A3.2): high word first, big-endian."""
    return struct.unpack(">f", struct.pack(">HH", words[i], words[i + 1]))[0]


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class MbapClient:
    """A Modbus TCP client on a raw socket (Messaging on TCP/IP
    Implementation Guide V1.0b, 3.1.3): the MBAP header is built and checked
    here, not by a library."""

    def __init__(self, port, host="127.0.0.1", timeout=2.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.tid = 0
        self.local_port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def send(self, unit, pdu, tid=None):
        if tid is None:
            self.tid = (self.tid + 1) & 0xFFFF
            tid = self.tid
        self.sock.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + bytes(pdu))
        return tid

    def _recv_exact(self, n, deadline):
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(n - len(buf))
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e))
            if not d:
                raise Closed("EOF")
            buf += d
        return buf

    def recv(self, timeout=None):
        """One response: (tid, unit, pdu). socket.timeout if none comes in
        `timeout` s, Closed if the server closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        h = self._recv_exact(7, deadline)
        tid, proto, length, unit = struct.unpack(">HHHB", h)
        if proto != 0 or not 2 <= length <= 254:
            raise ValueError(f"bad MBAP header {h.hex()}")
        return tid, unit, self._recv_exact(length - 1, deadline)

    def request(self, unit, pdu, timeout=None):
        tid = self.send(unit, pdu)
        rtid, runit, rpdu = self.recv(timeout)
        if rtid != tid or runit != unit:
            raise ValueError(f"reply tid {rtid} unit {runit} to request tid {tid} unit {unit}")
        return rpdu

    def read(self, unit, addr, count, fc=3, timeout=None):
        """The registers, or ("exception", code)."""
        pdu = self.request(unit, pdu_read(addr, count, fc), timeout)
        if pdu[0] == fc | 0x80:
            return ("exception", pdu[1])
        if pdu[0] != fc or len(pdu) != 2 + 2 * count or pdu[1] != 2 * count:
            raise ValueError(f"malformed reply {pdu.hex()}")
        return words_of(pdu)

    def write1(self, unit, addr, value, timeout=None):
        """True when echoed, else ("exception", code)."""
        pdu = self.request(unit, pdu_write1(addr, value), timeout)
        if pdu[0] == 0x86:
            return ("exception", pdu[1])
        return pdu == pdu_write1(addr, value)


class PtyRtu:
    """A Modbus RTU master on the twin's pty, with termios directly (raw
    8-bit; a Linux pty carries no parity, docs/interop.md). The input is
    flushed before each request: on the twin's bus every master hears every
    reply, the TCP gateway's included."""

    def __init__(self, path):
        import termios
        import tty
        self.termios = termios
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def close(self):
        os.close(self.fd)

    def request(self, frame, want, first_timeout=0.5, silence=0.05):
        """Sends `frame`; returns the bytes that came back: up to `want`,
        or what came before `first_timeout` s without a first byte or
        `silence` s without another."""
        self.termios.tcflush(self.fd, self.termios.TCIFLUSH)
        os.write(self.fd, frame)
        got = b""
        end = time.monotonic() + first_timeout
        while len(got) < want:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            got += os.read(self.fd, 512)
            end = time.monotonic() + silence
        return got


def rtu_reply_ok(reply, address, fc, data_len):
    """True when `reply` is a sound RTU reply: address, function, byte
    count, data_len data bytes, the right CRC."""
    return (len(reply) == 5 + data_len and reply[0] == address and reply[1] == fc and
            reply[2] == data_len and struct.unpack("<H", reply[-2:])[0] == crc16(reply[:-2]))


def recv_until_closed(sock, timeout):
    """Reads until the peer closes: ("closed", bytes) on EOF or reset,
    ("open", bytes) if it is still open after `timeout` s."""
    got = b""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "open", got
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        try:
            d = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return "closed", got
        if not d:
            return "closed", got
        got += d


# ---- M-Bus ----------------------------------------------------------------------
def mbus_short(c, a):
    """A short frame (EN 60870-5-2 FT1.2 / EN 13757-2): 10 C A CS 16, CS =
    C + A mod 256."""
    return bytes([0x10, c, a, (c + a) & 0xFF, 0x16])


def mbus_long_ok(frame):
    """Checks a long frame 68 L L 68 C A CI ... CS 16: both L equal, the
    length L + 6, CS the sum of C .. last data byte mod 256. Returns a
    reason, or "" when sound."""
    if len(frame) < 9 or frame[0] != 0x68 or frame[3] != 0x68:
        return f"not a long frame: {frame[:8].hex()}"
    if frame[1] != frame[2]:
        return f"L fields differ: {frame[1]} {frame[2]}"
    L = frame[1]
    if len(frame) != L + 6:
        return f"{len(frame)} bytes, L = {L} wants {L + 6}"
    if frame[-1] != 0x16:
        return f"stop byte {frame[-1]:02x}"
    cs = sum(frame[4:4 + L]) & 0xFF
    if frame[4 + L] != cs:
        return f"checksum {frame[4 + L]:02x}, computed {cs:02x}"
    return ""


def python_check():
    if not sys.executable.startswith("/usr/bin/python3"):
        print(f"# note: running under {sys.executable}, not Debian's /usr/bin/python3", flush=True)
