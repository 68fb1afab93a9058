"""The twin out of descriptors (test_tcp_fd_limit.sh). A Modbus TCP client
takes a descriptor; when the process has none left (EMFILE), a connection
waiting to be accepted keeps the listener readable. The twin must not spin
on it, nor leave the client hanging: the client is accepted and closed at
once, the refusal is logged with the limit, and the clients it already has
are still served. Then, with a soft limit below the hard one, the twin
raises its own soft limit (as servers do): 64 clients (TCP_MAX_CLIENTS), more
than a soft limit of 32 allows, are all served. Last, the same flood on the
web service (--http): no spin, logged, and it answers afterwards.

Expected values: U L1 = 230 V from the scenario (3 x 230 V, 10 A, PF 1);
0x4003 is the Modbus ID (1, A3.3). Prints TAP; exit status 0 when all passed.
"""
import json
import os
import re
import resource
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcptest import SCENARIO_10A, Closed, MbapClient, Tap, Twin, f32, python_check, wait_for  # noqa: E402

tap = Tap()
python_check()
LIMIT = 32     # descriptors the first twin may open
CLIENTS = 60   # more than it can take


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def u_l1(c):
    w = c.read(1, 0x5002, 2)
    return f32(w) if isinstance(w, list) else None


twin = Twin(SCENARIO_10A, ["--fast", "--modbus", "tcp:0"], nofile=(LIMIT, LIMIT))
port = twin.tcp["Modbus TCP"][0]
base = fds(twin.pid)
first = MbapClient(port)
# the registers hold the first one-second window's values from 1 s on
u = wait_for(lambda: u_l1(first), 3.0)
tap.check(abs(u - 230) < 0.5, f"a client reads U L1 = 230 V (the twin may open {LIMIT} descriptors)", u)

# More clients than descriptors: each either is served or sees its
# connection closed; none waits without an answer.
clients = [MbapClient(port, timeout=3.0) for _ in range(CLIENTS)]
served, closed, hung = 0, 0, 0
for c in clients:
    try:
        served += abs(u_l1(c) - 230) < 0.5
    except Closed:
        closed += 1
    except socket.timeout:
        hung += 1
tap.check(served > 0 and closed > 0 and hung == 0 and served + closed == CLIENTS,
          f"{CLIENTS} more clients: {served} served, {closed} closed at once for want of a "
          f"descriptor, none left hanging", f"served {served} closed {closed} hung {hung}")
err = twin.stderr()
tap.check(f"refused: Too many open files (this process may open {LIMIT};" in err,
          "the refusal is logged with its reason and the limit", err[-600:])

# No spin: with the closed clients' connections gone, the twin sleeps.
t0 = cpu_s(twin.pid)
time.sleep(2.0)
busy = cpu_s(twin.pid) - t0
tap.check(busy < 0.5, f"the twin does not spin out of descriptors ({busy:.2f} s of CPU in 2 s)")
tap.check(abs(u_l1(first) - 230) < 0.5, "the first client is still served")

for c in clients:
    c.close()
first.close()
back = wait_for(lambda: fds(twin.pid) == base, 5.0)
tap.check(back, f"its descriptors are as many as before the clients ({base})",
          f"now {fds(twin.pid)}")
again = MbapClient(port)
tap.check(again.read(1, 0x4003, 1) == [1], "a new client is served: 0x4003 reads the ID 1 (A3.3)")
again.close()
st = twin.stop()
tap.check(st == 0, f"SIGTERM ends the twin with status 0 (status {st})")

# A soft limit under the hard one: raised by the twin itself.
# A hard limit this process may give (not above its own: only root may raise it).
SOFT, HARD = 32, min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
twin = Twin(SCENARIO_10A, ["--fast", "--modbus", "tcp:0"], nofile=(SOFT, HARD))
with open(f"/proc/{twin.pid}/limits") as f:
    line = next(l for l in f if l.startswith("Max open files"))
tap.check(line.split()[3:5] == [str(HARD), str(HARD)],
          f"the twin raises its soft limit of {SOFT} descriptors to the hard limit {HARD}", line)
port = twin.tcp["Modbus TCP"][0]
first = MbapClient(port)
wait_for(lambda: u_l1(first), 3.0)
first.close()
many = [MbapClient(port, timeout=3.0) for _ in range(64)]
ok = 0
for c in many:
    try:
        ok += abs(u_l1(c) - 230) < 0.5
    except (Closed, socket.timeout):
        pass
tap.check(ok == 64, f"64 clients at once, more than {SOFT} descriptors, are all served ({ok})")
for c in many:
    c.close()
twin.stop()

# The web service (--http) out of descriptors: the same, for its clients.
twin = Twin(SCENARIO_10A, ["--fast", "--modbus", "tcp:0", "--http", "127.0.0.1:0"],
            nofile=(LIMIT, LIMIT))
hport = int(re.search(r"http: serving on port (\d+)", twin.stderr()).group(1))
socks = [socket.create_connection(("127.0.0.1", hport)) for _ in range(CLIENTS)]
time.sleep(0.5)
t0 = cpu_s(twin.pid)
time.sleep(2.0)
busy = cpu_s(twin.pid) - t0
tap.check(busy < 0.5, f"--http: {CLIENTS} clients past the limit, the twin does not spin "
          f"({busy:.2f} s of CPU in 2 s)")
tap.check("http: a client refused: Too many open files" in twin.stderr(),
          "--http: the refusal is logged with its reason", twin.stderr()[-400:])
for so in socks:
    so.close()


def meters():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hport}/api/meters", timeout=2) as r:
            return json.load(r)["meters"]
    except OSError:
        return None


got = wait_for(meters, 5.0)
tap.check(got and got[0]["modbus_id"] == 1, "--http: afterwards GET /api/meters answers", got)
twin.stop()
sys.exit(tap.done())
