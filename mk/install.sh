#!/bin/sh
# make install / make uninstall (issue 17), from one list of files, so that
# uninstall removes exactly what install put there.
#
#   PREFIX/bin/metersim
#   PREFIX/share/metersim/scenarios/*          the scenario library
#   PREFIX/share/metersim/scenario.schema.json the scenario format
#   PREFIX/share/doc/metersim/                 README.md, docs/
#   PREFIX/share/man/man1/metersim.1
#   PREFIX/share/bash-completion/completions/metersim
#   LIBDIR/libmetercore.a, .so.MAJOR.MINOR, .so.MAJOR, .so; LIBDIR/pkgconfig/metercore.pc
#   PREFIX/include/metercore/meter.h and the headers it includes
#
# The binary finds share/metersim from its own place (sim/share/share.h), so
# nothing here is compiled in. Every path is quoted: a PREFIX or DESTDIR with
# spaces works. Install records the folders it had to create in
# share/metersim/.created-dirs (paths without DESTDIR; a package build drops
# that file, its package manager tracking folders itself); uninstall removes every file of the list,
# then those folders when they are empty, deepest first, and never a folder
# that was there before.
#
# Environment (the Makefile sets it): DESTDIR PREFIX LIBDIR BUILD CC
# CORE_SONAME CORE_SO MAN. Usage: mk/install.sh install|uninstall
set -eu
cd "$(dirname "$0")/.."
: "${PREFIX:=/usr/local}" "${DESTDIR:=}" "${BUILD:=build}" "${CC:=cc}"
: "${LIBDIR:=$PREFIX/lib}"
: "${CORE_SONAME:=libmetercore.so.1}" "${CORE_SO:=$BUILD/$CORE_SONAME.0}" "${MAN:=$BUILD/metersim.1}"
case "$PREFIX" in /*) ;; *)
    echo "install: PREFIX must be an absolute path, not \"$PREFIX\"" >&2
    exit 2
    ;;
esac
case "$LIBDIR" in /*) ;; *)
    echo "install: LIBDIR must be an absolute path, not \"$LIBDIR\"" >&2
    exit 2
    ;;
esac

root="$DESTDIR$PREFIX"
libroot="$DESTDIR$LIBDIR"
share="$root/share/metersim"
created="$share/.created-dirs"
so_file=$(basename "$CORE_SO")

# The public headers: core/meter.h and every header it includes, as the
# compiler finds them (never core/internal.h: the facade does not include it).
headers() {
    "$CC" -MM -Icore core/meter.h | tr ' \\' '\n\n' | grep '^core/.*\.h$' | sort -u
}

# Each file to install: "MODE SOURCE DEST" (DEST relative to PREFIX, or to
# LIBDIR with a leading "lib:"). A source path never has a space here.
files() {
    echo "755 $BUILD/metersim bin/metersim"
    for f in scenarios/*.json scenarios/*.csv; do
        [ -f "$f" ] && echo "644 $f share/metersim/$f"
    done
    echo "644 docs/scenario.schema.json share/metersim/scenario.schema.json"
    echo "644 README.md share/doc/metersim/README.md"
    for f in docs/*.md docs/*.json docs/images/*; do
        [ -f "$f" ] && echo "644 $f share/doc/metersim/$f"
    done
    echo "644 $MAN share/man/man1/metersim.1"
    echo "644 completions/metersim.bash share/bash-completion/completions/metersim"
    echo "644 $BUILD/libmetercore.a lib:libmetercore.a"
    echo "755 $CORE_SO lib:$so_file"
    for h in $(headers); do
        echo "644 $h include/metercore/$(basename "$h")"
    done
}

dest() { # a DEST of files(): its full path
    case "$1" in
    lib:*) printf '%s/%s\n' "$libroot" "${1#lib:}" ;;
    *) printf '%s/%s\n' "$root" "$1" ;;
    esac
}

# The folders install may create, shallow to deep.
dirs() {
    for d in "$root" "$root/bin" "$root/share" "$share" "$share/scenarios" \
        "$root/share/doc" "$root/share/doc/metersim" "$root/share/doc/metersim/docs" \
        "$root/share/doc/metersim/docs/images" "$root/share/man" "$root/share/man/man1" \
        "$root/share/bash-completion" "$root/share/bash-completion/completions" \
        "$root/include" "$root/include/metercore" "$libroot" "$libroot/pkgconfig"; do
        printf '%s\n' "$d"
    done
}

# metercore.pc: a space in a path is written "\ ", which pkg-config keeps in
# its output, so that a shell (make's recipes, eval) reads the path whole.
pc_file() {
    esc_prefix=$(printf '%s' "$PREFIX" | sed 's/ /\\ /g')
    case "$LIBDIR" in
    "$PREFIX"/*) esc_libdir="\${prefix}/${LIBDIR#"$PREFIX"/}" ;;
    *) esc_libdir=$(printf '%s' "$LIBDIR" | sed 's/ /\\ /g') ;;
    esac
    cat <<PC
prefix=$esc_prefix
libdir=$esc_libdir
includedir=\${prefix}/include

Name: metercore
Description: the WAGO 879-3000/3020 energy meter model of metersim, as a library
Version: $(tr -d ' \n' <VERSION)
Cflags: -I\${includedir}
Libs: -L\${libdir} -lmetercore
Libs.private: -lm
PC
}

do_install() {
    new=""
    for d in $(dirs | tr ' ' '\001'); do
        d=$(printf '%s' "$d" | tr '\001' ' ')
        # Every folder made, the parents mkdir -p makes too (not DESTDIR
        # itself, nor what lies above it).
        p=$d
        while [ ! -d "$p" ]; do
            case "$p" in "$DESTDIR"/*) new="$new${p#"$DESTDIR"}
" ;; esac
            p=$(dirname "$p")
        done
        mkdir -p "$d"
    done
    # A re-install keeps what the first install created.
    printf '%s' "$new" >>"$created"
    files | while read -r mode src to; do
        if [ ! -f "$src" ]; then
            echo "install: $src is missing (build it first: make)" >&2
            exit 1
        fi
        install -m "$mode" "$src" "$(dest "$to")"
    done
    ln -sf "$so_file" "$libroot/$CORE_SONAME"
    ln -sf "$CORE_SONAME" "$libroot/libmetercore.so"
    pc_file >"$libroot/pkgconfig/metercore.pc"
    chmod 644 "$libroot/pkgconfig/metercore.pc" "$created"
    echo "installed metersim in $root (uninstall: make uninstall PREFIX=... DESTDIR=...)"
}

do_uninstall() {
    files | while read -r mode src to; do
        rm -f "$(dest "$to")"
    done
    rm -f "$libroot/$CORE_SONAME" "$libroot/libmetercore.so" "$libroot/pkgconfig/metercore.pc"
    # Folders: those install created (recorded), deepest first; without the
    # record, metersim's own folders only.
    if [ -f "$created" ]; then
        list=$(sort -r -u "$created")
        rm -f "$created"
    else
        list=$(dirs | grep -E '/(share/metersim|doc/metersim|include/metercore)' | sort -r |
            while IFS= read -r d; do printf '%s\n' "${d#"$DESTDIR"}"; done)
    fi
    printf '%s\n' "$list" | while IFS= read -r d; do
        [ -n "$d" ] && [ -d "$DESTDIR$d" ] && rmdir "$DESTDIR$d" 2>/dev/null || true
    done
    echo "uninstalled metersim from $root"
}

case "${1:-}" in
install) do_install ;;
uninstall) do_uninstall ;;
*)
    echo "usage: mk/install.sh install|uninstall" >&2
    exit 2
    ;;
esac
