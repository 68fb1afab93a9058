#!/bin/sh
# A libmodbus master (tests/interop/modbus_client.c, Debian's libmodbus-dev)
# against the twin on a pty: reads, 06, 16, the exceptions 01/02/03,
# broadcast, an ID change and a read at the new ID. Speaks TAP.
. "$(dirname "$0")/lib.sh"

mkdir -p "$BUILD/interop"
CLIENT=$BUILD/interop/modbus_client
# shellcheck disable=SC2046
if ! cc -std=c11 -O2 -Wall -Wextra -Werror tests/interop/modbus_client.c -o "$CLIENT" \
    $(pkg-config --cflags --libs libmodbus) -lm >"$tmp/cc.out" 2>&1; then
    echo "not ok 1 - modbus_client.c builds against libmodbus (make deps)"
    sed 's/^/# /' "$tmp/cc.out"
    echo "1..1"
    exit 1
fi
ok "modbus_client.c builds against libmodbus $(pkg-config --modversion libmodbus)"

if ! start_twin "$SCENARIO_10A" || ! wait_published; then
    notok "the twin serves Modbus on a pty"
    echo "1..$n"
    exit 1
fi
ok "the twin serves Modbus on a pty"

"$CLIENT" "$PORT" "$T0" "$TL" >"$tmp/client.out" 2>&1
st=$?
# The client prints "ok - ..." / "not ok - ...": number them here.
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) notok "${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
done <"$tmp/client.out"
[ $st -eq 0 ] && ok "the client ran to its end" || notok "the client exited with status $st"

stop_twin

# Issue 12: the CT variant, an outage, the boot (lib.sh, SCENARIO_CT;
# tests/interop/modbus_ct.c, one stage per run).
CT=$BUILD/interop/modbus_ct
# shellcheck disable=SC2046
if cc -std=c11 -O2 -Wall -Wextra -Werror tests/interop/modbus_ct.c -o "$CT" \
    $(pkg-config --cflags --libs libmodbus) -lm >"$tmp/cc.out" 2>&1; then
    ok "modbus_ct.c builds against libmodbus"
else
    notok "modbus_ct.c builds against libmodbus"
    sed 's/^/# /' "$tmp/cc.out"
fi
if [ -x "$CT" ] && start_twin "$SCENARIO_CT"; then
    ok "the twin serves a 2PCT on a pty"
    ct_stage() { "$CT" "$PORT" "$1" "$CT_SECONDARY" "$CT_PRIMARY" "$CT_U"; }
    ct_outage_stages ct_stage
else
    notok "the twin serves a 2PCT on a pty"
fi
stop_twin
echo "1..$n"
