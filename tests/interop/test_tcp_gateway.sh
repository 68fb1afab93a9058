#!/bin/sh
# The Modbus TCP gateway in front of the twin's bus, and its RTU-over-TCP and
# M-Bus-over-TCP endpoints, with frames built by the test: a broadcast (unit
# 0) carried out and not answered, units 248 and 255 -> exception 0x0A, an
# absent unit -> 0x0B after --gateway-timeout 300ms (at once with --fast), a
# raw RTU request and a raw REQ_UD2 answered correctly
# (tests/interop/tcp_gateway.py). Speaks TAP.
set -u
BUILD=${BUILD:-build}
export BUILD
exec /usr/bin/python3 "$(dirname "$0")/tcp_gateway.py"
