#!/bin/sh
# Misbehaving clients on raw sockets against the twin's Modbus TCP endpoint:
# the 65th client closed at once (twice, without growing the twin's memory),
# half a header closed after 10 s, a bad length or protocol id closed, a
# client that pipelines and never reads closed, --tcp-idle; meanwhile a
# well-behaved client always answered with low latency; afterwards the same
# descriptors open as before, each closure logged once, exit status 0 on
# SIGTERM (tests/interop/tcp_abuse.py, ~13 s). Speaks TAP.
set -u
BUILD=${BUILD:-build}
export BUILD
exec /usr/bin/python3 "$(dirname "$0")/tcp_abuse.py"
