#!/bin/sh
# A bus of 247 meters (IDs 1-247, distinct serials; the scenario is made by the
# test) on a pty and on Modbus TCP at once: every unit answers over TCP with
# its own identity (--fast, then with wire time on), a sample over the pty;
# then two meters at one ID collide on the line: no sound reply over the pty,
# exception 0x0B over TCP, the others unaffected (tests/interop/fleet_bus.py,
# ~12 s). Speaks TAP.
set -u
BUILD=${BUILD:-build}
export BUILD
exec /usr/bin/python3 "$(dirname "$0")/fleet_bus.py"
