#!/bin/sh
# libmetercore as a user's harness links it (issue 17, point 2; README.md,
# Install): installed into a temporary DESTDIR under a PREFIX with a space,
# found through pkg-config (PKG_CONFIG_PATH at the installed metercore.pc,
# PKG_CONFIG_SYSROOT_DIR at DESTDIR), examples/energy.c built with
# `pkg-config --cflags --libs metercore` and run:
#   - the shared library has its soname and the example loads it from the
#     install (not from the build folder);
#   - it registers the energy the twin registers for the same constant load
#     (tests/install/constant-load.json: 230 V, 10 A, PF 1, 60 s), to the
#     6 decimals the twin's log prints;
#   - and the physics: P*t = 3 x 230 V x 10 A x 60 s = 0.115 kWh, less at
#     most the mains cycle in progress and the tick that shows its end
#     (20.125 ms at 6.9 kW = 38.57 mWh), since a meter adds a cycle's energy
#     when it sees the cycle close;
#   - linked statically (libmetercore.a, pkg-config --static), the same.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

DEST="$tmp/dest"
PREFIX="/opt/meter core"
LIB="$DEST$PREFIX/lib"
SECONDS_RUN=60
VOLTS=230
AMPS=10
export PKG_CONFIG_PATH="$LIB/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$DEST"

if make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" \
    >"$tmp/install.log" 2>&1; then
    ok "make install DESTDIR=$DEST PREFIX='$PREFIX'"
else
    notok "make install: $(tail -5 "$tmp/install.log" | tr '\n' ' ')"
fi

v=$(pkg-config --modversion metercore 2>&1)
flags=$(pkg-config --cflags --libs metercore 2>&1)
if [ "$v" = "$(tr -d ' \n' <VERSION)" ] && pkg-config --static --libs metercore | grep -q -- '-lm'; then
    ok "pkg-config finds metercore $v: $flags"
else
    notok "pkg-config: '$v' '$flags'"
fi

# The flags are shell words (a space in a path is written "\ "): eval reads
# them as make's recipes do.
if eval "cc -std=c11 -Wall -Wextra -Werror -o '$tmp/energy' examples/energy.c $flags -lm" \
    2>"$tmp/cc"; then
    ok "examples/energy.c builds with pkg-config --cflags --libs metercore"
else
    notok "examples/energy.c: $(head -5 "$tmp/cc" | tr '\n' ' ')"
fi

soname=$(readelf -d "$LIB/libmetercore.so.1.0" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
loaded=$(LD_LIBRARY_PATH="$LIB" ldd "$tmp/energy" 2>/dev/null | sed -n 's/.*libmetercore[^ ]* => \(.*\) (.*/\1/p')
if [ "$soname" = "libmetercore.so.1" ] && [ "$loaded" = "$LIB/libmetercore.so.1" ]; then
    ok "the example loads the installed libmetercore.so.1 (soname $soname)"
else
    notok "soname '$soname', loaded '$loaded'"
fi

LD_LIBRARY_PATH="$LIB" "$tmp/energy" "$SECONDS_RUN" "$VOLTS" "$AMPS" >"$tmp/example" 2>&1 ||
    notok "the example failed: $(cat "$tmp/example")"
sed 's/^/# example: /' "$tmp/example"
"$BUILD/metersim" --headless --fidelity sample --every 60s tests/install/constant-load.json \
    >"$tmp/twin" 2>"$tmp/twin.err" || notok "the twin failed: $(cat "$tmp/twin.err")"

"$PY" - "$tmp/example" "$tmp/twin" "$SECONDS_RUN" "$VOLTS" "$AMPS" >"$tmp/cmp" 2>&1 <<'PY'
import json, sys
ex, twin, t, u, i = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
e_ex = float(open(ex).read().split()[4])
last = [json.loads(l) for l in open(twin) if l.startswith('{"t"')][-1]
assert last["t"] == t, last
e_twin = last["E_total_kWh"]
# The twin prints 6 decimals: equal within its rounding.
same = abs(e_ex - e_twin) <= 0.5e-6 + 1e-12
p_kw = 3 * u * i / 1000
e_phys = p_kw * t / 3600
# The cycle in progress, and the tick after its closing zero crossing that
# the detector needs to see it (125 us).
cycle = p_kw * (0.020 + 125e-6) / 3600
phys = e_phys - cycle - 1e-12 <= e_ex <= e_phys + 1e-12
print(f"example {e_ex:.9f} kWh, twin {e_twin:.6f} kWh, P*t {e_phys:.9f} kWh, "
      f"short by {(e_phys - e_ex) * 1e6:.3f} mWh (a cycle and a tick: {cycle * 1e6:.3f} mWh)")
print("same" if same else "DIFFERENT")
print("physics" if phys else "NOT PHYSICS")
PY
sed 's/^/# /' "$tmp/cmp"
if grep -qx same "$tmp/cmp"; then
    ok "the example's energy is the twin's for the same scenario ($(head -1 "$tmp/cmp" | cut -d, -f1-2))"
else
    notok "the example and the twin differ"
fi
if grep -qx physics "$tmp/cmp"; then
    ok "the example's energy is P*t less at most the cycle in progress"
else
    notok "the example's energy is not P*t"
fi

# Static: the archive, with pkg-config --static for its private libraries.
static=$(pkg-config --static --libs-only-l metercore | sed 's/-lmetercore//')
if eval "cc -std=c11 -o '$tmp/energy-static' examples/energy.c $(pkg-config --cflags metercore) \
    '$LIB/libmetercore.a' $static -lm" 2>"$tmp/cc" &&
    ! ldd "$tmp/energy-static" | grep -q libmetercore &&
    [ "$("$tmp/energy-static" "$SECONDS_RUN" "$VOLTS" "$AMPS")" = "$(cat "$tmp/example")" ]; then
    ok "linked statically against libmetercore.a: the same output"
else
    notok "static link: $(head -3 "$tmp/cc" | tr '\n' ' ')"
fi

make -s --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null 2>&1
echo "1..$n"
