#!/bin/sh
# The facade is the only door (issue 18): no file outside core/ writes a field
# of meter_t or includes core/internal.h or core/{metrology,metrology_steady,meter}_internal.h. Writes
# are found by the compiler: every file is compiled with METER_HOST_VIEW, which
# makes meter_t's fields const (core/meter.h). Usage: facade.sh [FILE...] (default: the whole tree);
# prints each offence and exits 1 if there is one.
set -u
cd "$(dirname "$0")/../.."
INC="-Icore -Isim -Ifrontends $(for d in sim/*/; do printf -- '-I%s ' "${d%/}"; done)"
PKG=$(pkg-config --cflags sdl2 libcjson cmocka libmicrohttpd 2>/dev/null)
if [ $# -eq 0 ]; then
    # The files that see meter_t: the host, the frontends, tools, benches and
    # the tests (the interop clients and fuzzers use no meter_t).
    set -- sim/main.c sim/*/*.c frontends/*/*.c tools/*.c bench/*.c tests/unit/*.c tests/sdl/*.c
fi
bad=0
for f in "$@"; do
    if grep -nE '#include *[<"](core/)?(metrology_steady_|metrology_|meter_)?internal\.h[>"]' "$f"; then
        echo "$f: includes a core/*internal.h, which is for core/ alone"
        bad=1
    fi
    # shellcheck disable=SC2086
    if ! out=$(${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -DMETER_HOST_VIEW -fsyntax-only -Werror \
        -Wall $INC $PKG "$f" 2>&1); then
        printf '%s\n' "$out" | grep -E 'error' | head -5
        echo "$f: writes a field of meter_t (use the meter_* calls of core/meter.h)"
        bad=1
    fi
done
exit $bad
