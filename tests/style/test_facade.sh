#!/bin/sh
# `make check-facade` holds the tree, and would catch an offence: a fixture
# that writes a meter_t field and one that includes core/internal.h must both
# be refused. Speaks TAP.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
check() { # DESCRIPTION EXPECTED_STATUS COMMAND...
    d=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>&1
    got=$?
    n=$((n + 1))
    if [ "$got" -eq "$want" ]; then
        echo "ok $n - $d"
    else
        echo "not ok $n - $d (status $got)"
        sed 's/^/# /' "$tmp/out"
    fi
}
check "no file outside core/ writes a meter_t field or includes internal.h" 0 sh tests/style/facade.sh
cat >"$tmp/writes.c" <<'C'
#include "meter.h"
void poke(meter_t *m) { m->power_down_count = 0; }
C
check "a host file writing meter_t.power_down_count is refused" 1 sh tests/style/facade.sh "$tmp/writes.c"
cat >"$tmp/nested.c" <<'C'
#include "meter.h"
void poke(meter_t *m) { m->modbus.stats.frames = 0; }
C
check "a host file writing inside a part (meter_t.modbus) is refused" 1 sh tests/style/facade.sh "$tmp/nested.c"
cat >"$tmp/internal.c" <<'C'
#include "meter.h"
#include "internal.h"
int f(const meter_t *m) { return (int)m->tick; }
C
check "a host file including core/internal.h is refused" 1 sh tests/style/facade.sh "$tmp/internal.c"
cat >"$tmp/reads.c" <<'C'
#include "meter.h"
int f(const meter_t *m) { return (int)m->power_down_count; }
C
check "a host file reading a field is accepted" 0 sh tests/style/facade.sh "$tmp/reads.c"
echo "1..$n"
