#!/bin/sh
# Three real Modbus TCP clients (mbpoll -m tcp, libmodbus's modbus_new_tcp,
# pymodbus's ModbusTcpClient) against the twin's gateway, while a libmodbus
# RTU master reads the same meter on a pty: every block of the A3.2 map read
# whole over TCP equals the RTU read of it (energies within what 6.9 kW adds
# in 1 s), the values match the physics (230 V, 10 A, 6.9 kW, 50 Hz), and the
# tariff and the Modbus ID written over TCP read back over TCP and RTU
# (tests/interop/tcp_clients.py, tests/interop/modbus_rw.c). Speaks TAP.
set -u
BUILD=${BUILD:-build}
export BUILD
PY=/usr/bin/python3 # Debian's python: it has pymodbus (the pyenv one on PATH does not)
DIR=$(dirname "$0")
if ! command -v mbpoll >/dev/null; then
    echo "not ok 1 - mbpoll is installed (make deps)"
    echo "1..1"
    exit 1
fi
mkdir -p "$BUILD/interop"
out=$(mktemp)
# shellcheck disable=SC2046
if ! cc -std=c11 -O2 -Wall -Wextra -Werror "$DIR/modbus_rw.c" -o "$BUILD/interop/modbus_rw" \
    $(pkg-config --cflags --libs libmodbus) >"$out" 2>&1; then
    echo "not ok 1 - modbus_rw.c builds against libmodbus (make deps)"
    sed 's/^/# /' "$out"
    echo "1..1"
    rm -f "$out"
    exit 1
fi
rm -f "$out"
exec $PY "$DIR/tcp_clients.py" "$BUILD/interop/modbus_rw"
