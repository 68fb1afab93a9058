#!/bin/sh
# 100 SIGKILLs of a twin under load with --state, read by a real Modbus
# master (mbpoll) on its pty before each kill and after each restart
# (docs/state.md, "Nothing lost on a crash"):
#   - the total active energy (0x6000) a master reads never goes backwards,
#     not even across a kill: what the meter showed was in its memory;
#   - the power-down counter (0x4016, A3.2) rises by exactly one per kill:
#     the meter lost its supply once each time (6.6.12);
#   - the settings written over Modbus before the first kill (ID 0x4003,
#     baud-rate code 0x4004, S0 rate 0x400D, combination code 0x400F) are
#     read back after every restart (A3.3: "kept in the non-volatile memory").
# Waits poll for the port and the first answer; nothing sleeps a fixed time
# but the short random delays that spread the kills. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v mbpoll >/dev/null; then
    echo "1..0 # SKIP mbpoll is not installed (make deps)"
    exit 0
fi
cat >"$tmp/load.json" <<'J'
{"meter": {"serial": "13070001"},
 "grid": {"voltage": 230, "frequency": 50}, "load": {"current": 20, "pf": 1}}
J
KILLS=${KILLS:-100} $PY - "$BIN" "$tmp" <<'PY'
import os, random, re, signal, struct, subprocess, sys, time

BIN, TMP = sys.argv[1], sys.argv[2]
KILLS = int(os.environ["KILLS"])
PORT, STATE = TMP + "/meter", TMP + "/meter.state"
random.seed(13)
n = 0
baud = 9600


def tap(cond, what):
    global n
    n += 1
    print(("ok %d - " if cond else "not ok %d - ") % n + what, flush=True)
    return cond


def start():
    """The twin on a pty (its link at PORT), in real time; returns it once
    the link is there (at most 5 s)."""
    if os.path.islink(PORT):
        os.unlink(PORT)  # left by the last kill: nobody removed it
    p = subprocess.Popen([BIN, "--headless", "--quiet", "--state", STATE, "--modbus",
                          "pty:" + PORT, "--scenario", TMP + "/load.json", "--until", "1h"],
                         stdout=subprocess.DEVNULL, stderr=open(TMP + "/err", "ab"))
    end = time.time() + 5
    while not os.path.islink(PORT):
        if time.time() > end or p.poll() is not None:
            raise SystemExit("the twin did not open its port: " + open(TMP + "/err").read())
        time.sleep(0.002)
    return p


# Parity "none": a Linux pty refuses PARENB (docs/interop.md); a pty carries
# no parity and the twin does not look at it. Addresses 0-based (-0), floats
# with the high word first (-B, A3.2 Float ABCD).
def mbpoll(unit, addr, kind, *values, count=1):
    cmd = ["mbpoll", "-m", "rtu", "-b", str(baud), "-P", "none", "-a", str(unit), "-0",
           "-r", str(addr), "-t", kind, "-B", "-o", "0.5", "-1", "-q"]
    if not values:
        cmd += ["-c", str(count)]
    out = subprocess.run(cmd + [PORT] + [str(v) for v in values], capture_output=True,
                         text=True)
    if out.returncode != 0:
        return None
    return [float(v) for v in re.findall(r"^\[\d+\]:\s+(\S+)", out.stdout, re.M)] or True


def read(unit):
    """(energy kWh, power-down count, settings) in two requests; the first
    answer after a start is polled for (3 s at most)."""
    end = time.time() + 3
    while True:
        r = mbpoll(unit, 0x4000, "4", count=0x17)
        e = mbpoll(unit, 0x6000, "4:float") if r else None
        if r and e:
            s0 = mbpoll(unit, 0x400D, "4:float")
            settings = {"id": int(r[3]), "baud": int(r[4]), "s0": s0 and s0[0], "code": int(r[0xF])}
            return e[0], int(r[0x16]), settings
        if time.time() > end:
            raise SystemExit("no answer from unit %d" % unit)


def kill(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


# ---- the first run: the settings are written over Modbus -----------------
p = start()
e0, pd0, s = read(1)
writes = [mbpoll(1, 0x400D, "4:float", 100.0),  # S0 rate 100 imp/kWh (6.6.4)
          mbpoll(1, 0x400F, "4", 5),  # combination code C-05 (6.6.9)
          mbpoll(1, 0x4004, "4", 7)]  # 19200 bit/s (A3.2 code 7)
baud = 19200
writes.append(mbpoll(1, 0x4003, "4", 7))  # then Modbus ID 7
tap(all(writes), "settings written over Modbus: %s" % writes)
WANT = {"id": 7, "baud": 7, "s0": 100.0, "code": 5}
e, pd, s = read(7)
tap(s == WANT and pd == pd0 == 0, "read back before the first kill: %s, power-down %d" % (s, pd))

# ---- the kills -------------------------------------------------------------
backwards, counts, lost, reads = [], [], [], [e]
last_e, last_pd = e, pd
for k in range(KILLS):
    time.sleep(random.uniform(0, 0.03))  # spread the kill over the meter's steps
    e_before, pd_before, s = read(7)
    if e_before < last_e:
        backwards.append((k, "before kill", last_e, e_before))
    kill(p)
    p = start()
    e_after, pd_after, s = read(7)
    if e_after < e_before:
        backwards.append((k, "after restart", e_before, e_after))
    if pd_after != pd_before + 1:
        counts.append((k, pd_before, pd_after))
    if s != WANT:
        lost.append((k, s))
    last_e, last_pd = e_after, pd_after
    reads += [e_before, e_after]
p.send_signal(signal.SIGTERM)
rc = p.wait()

tap(not backwards, "%d kills: the energy a master read never went backwards (%.6f -> %.6f kWh, "
    "%d reads) %s" % (KILLS, reads[0], reads[-1], len(reads), backwards[:3]))
tap(reads[-1] > reads[0], "the energy grew under load across the kills")
tap(not counts and last_pd == KILLS,
    "the power-down counter (0x4016) rose by exactly one per kill: %d after %d kills %s"
    % (last_pd, KILLS, counts[:3]))
tap(not lost, "every setting survived every kill (ID 7, 19200 bit/s, S0 100 imp/kWh, C-05) %s"
    % lost[:3])
tap(rc == 0, "the last run ended on SIGTERM with status %d" % rc)
print("1..%d" % n)
PY
