#!/bin/sh
# What --state costs (docs/state.md): the default scenario for 2 simulated
# hours, headless at full speed, without and with a state file (mapped, the
# image copied whenever it changed before each log line, msync every 60 s),
# and with a log line at every 100 ms step (so a copy at every step, the most
# a run can ask). Figures: CPU seconds (user + system) of the twin, the least
# of 3 runs each (the machine may be shared), and their ratios; beside the
# checks that the state file changes nothing the meter computed (the last
# readings line with and without is the same) and that the run computed the
# right thing: it reached UNTIL, and the energy registered is the power it
# measured (constant in the default scenario) x the time, within 0.1 %. A
# failed run prints no figure and fails the benchmark.
set -u
BUILD=${BUILD:-build}
UNTIL=${UNTIL:-2h}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$BUILD/metersim" "$UNTIL" "$tmp" <<'PY'
import json, os, resource, subprocess, sys

BIN, UNTIL, TMP = sys.argv[1:4]


def cpu(name, *args):
    best, last = None, None
    for i in range(3):
        state = ["--state", "%s/%s%d.state" % (TMP, name, i)] if "state" in name else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([BIN, "--headless", "--speed", "max", "--until", UNTIL, *args, *state],
                           capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            print("bench_state: the run %s failed: %s" % (name, r.stderr.strip()))
            sys.exit(1)
        t = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        best = t if best is None else min(best, t)
        lines = r.stdout.splitlines()
        if not lines:
            print("bench_state: the run %s printed no readings: no figure" % name)
            sys.exit(1)
        last = lines[-1]
    return best, last


plain, a = cpu("plain", "--every", "1h")
state, b = cpu("state", "--every", "1h")
plain_step, c = cpu("plain_step", "--every", "100ms")
state_step, d = cpu("state_step", "--every", "100ms")
if a != b or c != d:
    print("bench_state: the state file changed the results: no figure")
    sys.exit(1)
try:
    last = json.loads(a)
    want = last["P_total_kW"] * last["t"] / 3600.0
    got = last["E_total_kWh"]
    hours = last["t"] / 3600.0
except (ValueError, KeyError) as e:
    print("bench_state: the last line is not a readings line (%s): no figure" % e)
    sys.exit(1)
if last["t"] <= 0 or last["error"] != 0 or abs(got - want) > 1e-3 * want:
    print("bench_state: t %s s, error %s, energy %.6f kWh against P x t %.6f kWh: no figure"
          % (last["t"], last["error"], got, want))
    sys.exit(1)
print("%s headless, CPU (least of 3): without --state %.2f s, with %.2f s (x%.2f); a copy at "
      "every 100 ms step: %.2f s against %.2f s (x%.2f); check: the same last readings with "
      "and without, and %.4f kWh registered = %.4f kW x %g h within 0.1 %%"
      % (UNTIL, plain, state, state / plain, state_step, plain_step, state_step / plain_step,
         got, last["P_total_kW"], hours))
PY
