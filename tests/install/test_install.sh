#!/bin/sh
# make install / make uninstall (issue 17, points 1 and 4; README.md, Install;
# docs/cli.md, Files):
#   - make install DESTDIR=... with a PREFIX that has a space puts every file
#     in place (binary, scenario library, schema, docs, man page, bash
#     completion, libmetercore, headers without core/internal.h, pkg-config);
#   - no build-folder path is compiled into the binary's data;
#   - the installed binary runs a library scenario by name and by path, from
#     another folder, and finds its schema (which validates the library);
#     moved elsewhere or reached through a symlink, it still does;
#   - the shared folder missing: status 2 and every path searched named, no
#     crash; a scenario given by path still runs; METERSIM_SHARE_DIR;
#   - --version: "metersim VERSION (git DESCRIBE)";
#   - make uninstall leaves the tree as it was before install (file lists
#     compared), a file and an empty folder that were there before included,
#     after one install and after two.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # name, then a command: ok when it succeeds
    name=$1
    shift
    if "$@"; then ok "$name"; else notok "$name"; fi
}

DEST="$tmp/dest dir"
PREFIX="/opt/meter sim"
ROOT="$DEST$PREFIX"
BIN="$ROOT/bin/metersim"
SHARE="$ROOT/share/metersim"
listing() { (cd "$DEST" && find . | LC_ALL=C sort); }

# Something of someone else's in the prefix before the install: a program in
# bin/ and an empty lib/. Both must be there after the uninstall.
mkdir -p "$ROOT/bin" "$ROOT/lib"
echo '#!/bin/sh' >"$ROOT/bin/other-tool"
listing >"$tmp/before"

if make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" \
    >"$tmp/install.log" 2>&1; then
    ok "make install DESTDIR='$DEST' PREFIX='$PREFIX'"
else
    notok "make install failed: $(tail -5 "$tmp/install.log" | tr '\n' ' ')"
fi

# Every file in its place.
missing=""
for f in bin/metersim share/metersim/scenario.schema.json share/man/man1/metersim.1 \
    share/bash-completion/completions/metersim share/doc/metersim/README.md \
    share/doc/metersim/docs/cli.md share/doc/metersim/docs/scenario.md \
    lib/libmetercore.a lib/libmetercore.so.1.0 lib/libmetercore.so.1 lib/libmetercore.so \
    lib/pkgconfig/metercore.pc include/metercore/meter.h include/metercore/readings.h; do
    [ -e "$ROOT/$f" ] || missing="$missing $f"
done
for f in scenarios/*.json; do
    cmp -s "$f" "$SHARE/$f" || missing="$missing share/metersim/$f"
done
cmp -s docs/scenario.schema.json "$SHARE/scenario.schema.json" || missing="$missing (schema differs)"
[ -x "$BIN" ] || missing="$missing (bin/metersim not executable)"
if [ -z "$missing" ]; then
    ok "every file installed: binary, $(ls scenarios/*.json | wc -l) library scenarios, schema, docs, man page, completion, library, headers, metercore.pc"
else
    notok "missing or different after install:$missing"
fi

# man finds the installed page under the prefix.
page=$(MANPATH="$ROOT/share/man" man -w metersim 2>&1)
if [ "$page" = "$ROOT/share/man/man1/metersim.1" ]; then
    ok "man -w metersim with MANPATH=PREFIX/share/man: the installed page"
else
    notok "man -w metersim: $page"
fi

# The public headers: meter.h and what it includes, whole on their own; never
# the core's internal ones.
if [ ! -e "$ROOT/include/metercore/internal.h" ] &&
    [ ! -e "$ROOT/include/metercore/metrology_internal.h" ] &&
    [ ! -e "$ROOT/include/metercore/meter_internal.h" ] &&
    [ ! -e "$ROOT/include/metercore/metrology_steady_internal.h" ] &&
    printf '#include <metercore/meter.h>\nint main(void) { return sizeof(meter_t) > 0 ? 0 : 1; }\n' |
    cc -std=c11 -Wall -Werror -fsyntax-only -I"$ROOT/include" -x c - 2>"$tmp/hdr"; then
    ok "include/metercore/: meter.h compiles alone, no internal.h ($(ls "$ROOT/include/metercore" | wc -l) headers)"
else
    notok "public headers: $(head -3 "$tmp/hdr" | tr '\n' ' ')"
fi

# No build-folder path in what the binary reads at run time (its data; the
# debug info may name the sources, which is what it is for).
objcopy -O binary --only-section=.rodata "$BIN" "$tmp/rodata" 2>/dev/null
src=$(pwd -P)
if [ -s "$tmp/rodata" ] && ! grep -aqF "$src" "$tmp/rodata" && ! grep -aqF "$BUILD/" "$tmp/rodata"; then
    ok "no build-folder path compiled in (.rodata has no $src)"
else
    notok "the binary's data names the build folder $src"
fi

# The installed binary runs a scenario of its library by name, from another
# folder, and by path; it finds its schema.
if (cd "$tmp" && "$BIN" --headless --quiet --until 10s office-day >"$tmp/byname" 2>"$tmp/err"); then
    ok "installed binary runs the library scenario office-day by name, from another folder"
else
    notok "by name: status $? $(head -3 "$tmp/err" | tr '\n' ' ')"
fi
if "$BIN" --headless --until 5s "$SHARE/scenarios/tariff-t1-t2.json" >"$tmp/bypath" 2>"$tmp/err" &&
    [ "$(wc -l <"$tmp/bypath")" -ge 5 ]; then
    ok "installed binary runs a library scenario by its path"
else
    notok "by path: $(head -3 "$tmp/err" | tr '\n' ' ')"
fi
"$BIN" --list-scenarios >"$tmp/list" 2>&1
ls scenarios/*.json | sed 's|scenarios/||; s|\.json$||' | LC_ALL=C sort >"$tmp/list.want"
check "--list-scenarios: the $(wc -l <"$tmp/list.want") scenarios of scenarios/" cmp -s "$tmp/list" "$tmp/list.want"
schema=$("$BIN" --schema 2>&1)
if [ "$schema" = "$SHARE/scenario.schema.json" ] &&
    "$PY" - "$schema" "$SHARE"/scenarios/*.json >"$tmp/val" 2>&1 <<'EOF'; then
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
for f in sys.argv[2:]:
    jsonschema.validate(json.load(open(f)), schema)
EOF
    ok "--schema names the installed schema, and every library scenario validates against it"
else
    notok "--schema: '$schema' $(tail -2 "$tmp/val" 2>/dev/null | tr '\n' ' ')"
fi
if "$BIN" --headless --quiet --until 1s no-such-scenario 2>"$tmp/err"; then
    notok "an unknown library name ran"
else
    st=$?
    if [ "$st" -eq 2 ] && grep -qF "$SHARE/scenarios" "$tmp/err"; then
        ok "unknown library name: status 2, the library folder named"
    else
        notok "unknown library name: status $st: $(cat "$tmp/err")"
    fi
fi

# Relocated: the tree copied elsewhere, and the binary reached by a symlink.
cp -a "$ROOT" "$tmp/moved"
mkdir "$tmp/links" && ln -s "$tmp/moved/bin/metersim" "$tmp/links/metersim"
if [ "$("$tmp/moved/bin/metersim" --schema)" = "$tmp/moved/share/metersim/scenario.schema.json" ] &&
    [ "$("$tmp/links/metersim" --schema)" = "$tmp/moved/share/metersim/scenario.schema.json" ]; then
    ok "a copy of the prefix elsewhere, and a symlink to its binary, find their own share/metersim"
else
    notok "relocated: $("$tmp/moved/bin/metersim" --schema 2>&1)"
fi

# The shared folder missing: status 2, every path named, no crash.
mv "$SHARE" "$tmp/share-away"
for args in "--headless --quiet office-day" "--schema" "--list-scenarios"; do
    # shellcheck disable=SC2086
    "$BIN" $args >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq 2 ] && grep -qF "$ROOT/share/metersim (no such folder)" "$tmp/err" &&
        grep -qF "  $ROOT (" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        ok "share/metersim missing, metersim $args: status 2, both paths searched named"
    else
        notok "share/metersim missing, metersim $args: status $st: $(cat "$tmp/err")"
    fi
done
sed 's/^/# /' "$tmp/err"
if "$BIN" --headless --quiet --until 2s "$tmp/share-away/scenarios/office-day.json" >/dev/null 2>"$tmp/err"; then
    ok "share/metersim missing: a scenario given by path still runs"
else
    notok "a scenario by path needs the shared folder: $(cat "$tmp/err")"
fi
if [ "$(METERSIM_SHARE_DIR="$tmp/share-away" "$BIN" --schema)" = "$tmp/share-away/scenario.schema.json" ] &&
    METERSIM_SHARE_DIR="$tmp/share-away" "$BIN" --headless --quiet --until 1s office-day >/dev/null; then
    ok "METERSIM_SHARE_DIR names the shared folder"
else
    notok "METERSIM_SHARE_DIR not used"
fi
METERSIM_SHARE_DIR="$tmp/nowhere" "$BIN" --schema >/dev/null 2>"$tmp/err"
st=$?
if [ "$st" -eq 2 ] && grep -qF "$tmp/nowhere (no such folder)" "$tmp/err"; then
    ok "METERSIM_SHARE_DIR wrong: status 2, that folder named"
else
    notok "METERSIM_SHARE_DIR wrong: status $st: $(cat "$tmp/err")"
fi
mv "$tmp/share-away" "$SHARE"

# --version: VERSION, and the commit where the source is a git checkout.
v=$("$BIN" --version)
want="metersim $(tr -d ' \n' <VERSION)"
if d=$(git describe --always --dirty 2>/dev/null) && [ "$(git rev-parse --show-toplevel)" = "$src" ]; then
    want="$want (git $d)"
fi
check "--version prints '$v'" [ "$v" = "$want" ]

# Uninstall: the tree as it was before, after one install and after two.
make -s --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null 2>&1
listing >"$tmp/after"
if cmp -s "$tmp/before" "$tmp/after"; then
    ok "make uninstall: the file list is the one before install ($(wc -l <"$tmp/before") entries, other-tool and the empty lib/ kept)"
else
    notok "make uninstall left or removed: $(diff "$tmp/before" "$tmp/after" | grep '^[<>]' | head -10 | tr '\n' ' ')"
fi
make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null 2>&1
make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null 2>&1
make -s --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >/dev/null 2>&1
listing >"$tmp/after2"
if cmp -s "$tmp/before" "$tmp/after2"; then
    ok "installed twice, uninstalled once: the file list is the one before install"
else
    notok "after two installs: $(diff "$tmp/before" "$tmp/after2" | grep '^[<>]' | head -10 | tr '\n' ' ')"
fi

# Into an empty DESTDIR: uninstall removes every folder install made, up to
# DESTDIR itself, which stays.
make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$tmp/empty" PREFIX="$PREFIX" >/dev/null 2>&1
make -s --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$tmp/empty" PREFIX="$PREFIX" >/dev/null 2>&1
left=$(find "$tmp/empty" -mindepth 1 | head -5 | tr '\n' ' ')
if [ -d "$tmp/empty" ] && [ -z "$left" ]; then
    ok "into an empty DESTDIR: every folder install made is gone after uninstall, DESTDIR stays"
else
    notok "into an empty DESTDIR, left after uninstall: $left"
fi

echo "1..$n"
