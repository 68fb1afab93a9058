#!/bin/sh
# The twin out of descriptors: clients past the limit closed at once with a
# logged reason, no spin, the others still served, descriptors back to
# where they were; and a soft limit raised to the hard one
# (tests/interop/tcp_fd_limit.py, ~5 s). Speaks TAP.
set -u
BUILD=${BUILD:-build}
export BUILD
exec /usr/bin/python3 "$(dirname "$0")/tcp_fd_limit.py"
