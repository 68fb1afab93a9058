#!/bin/sh
# What --state costs (docs/state.md): the default scenario for 2 simulated
# hours, headless at full speed, without and with a state file (mapped, the
# image copied whenever it changed before each log line, msync every 60 s),
# and with a log line at every 100 ms step (so a copy at every step, the most
# a run can ask). Figures: CPU seconds (user + system) of the twin, the least
# of 3 runs each (the machine may be shared), and their ratios; beside the
# check that the state file changes nothing the meter computed (the last
# readings line with and without is the same). A failed run prints no figure
# and fails the benchmark.
set -u
BUILD=${BUILD:-build}
UNTIL=${UNTIL:-2h}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$BUILD/metersim" "$UNTIL" "$tmp" <<'PY'
import os, resource, subprocess, sys

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
        last = r.stdout.splitlines()[-1]
    return best, last


plain, a = cpu("plain", "--every", "1h")
state, b = cpu("state", "--every", "1h")
plain_step, c = cpu("plain_step", "--every", "100ms")
state_step, d = cpu("state_step", "--every", "100ms")
if a != b or c != d:
    print("bench_state: the state file changed the results: no figure")
    sys.exit(1)
print("%s headless, CPU (least of 3): without --state %.2f s, with %.2f s (x%.2f); a copy at "
      "every 100 ms step: %.2f s against %.2f s (x%.2f); check: the same last readings with "
      "and without" % (UNTIL, plain, state, state / plain, state_step, plain_step,
                       state_step / plain_step))
PY
