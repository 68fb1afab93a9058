#!/bin/sh
# pymodbus (Debian's python3-pymodbus) reads the twin's energy block as
# floats (tests/interop/pymodbus_energy.py, run by /usr/bin/python3: the
# pyenv python on PATH has no pymodbus). Speaks TAP.
. "$(dirname "$0")/lib.sh"

if ! $PY -c 'import pymodbus.client, serial' 2>/dev/null; then
    echo "not ok 1 - $PY has pymodbus and pyserial (make deps: python3-pymodbus)"
    echo "1..1"
    exit 1
fi
if ! start_twin "$SCENARIO_10A" || ! wait_published; then
    notok "the twin serves Modbus on a pty"
    echo "1..$n"
    exit 1
fi
ok "the twin serves Modbus on a pty"

$PY "$(dirname "$0")/pymodbus_energy.py" "$PORT" "$T0" "$TL" >"$tmp/py.out" 2>&1
st=$?
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) notok "${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
done <"$tmp/py.out"
[ $st -eq 0 ] && ok "the pymodbus client ran to its end" || notok "the pymodbus client exited with status $st"
# Bad input (issue 12): a CT write to this direct meter, a code write after C-05.
$PY "$(dirname "$0")/pymodbus_bad.py" "$PORT" >"$tmp/bad.out" 2>&1
number "$tmp/bad.out"

stop_twin

# Issue 12: the CT variant, an outage, the boot (lib.sh, SCENARIO_CT;
# tests/interop/pymodbus_ct.py, one stage per run).
if start_twin "$SCENARIO_CT"; then
    ok "the twin serves a 2PCT on a pty"
    ct_stage() { $PY "$(dirname "$0")/pymodbus_ct.py" "$PORT" "$1" "$CT_SECONDARY" "$CT_PRIMARY" "$CT_U"; }
    ct_outage_stages ct_stage
else
    notok "the twin serves a 2PCT on a pty"
fi
stop_twin
echo "1..$n"
