#!/bin/sh
# metersim(1), generated from docs/cli.md by pandoc and mk/man.lua (issue 17,
# point 3):
#   - every option `metersim --help` prints is in the man page, as an entry
#     of its own (a .TP line), and in docs/cli.md;
#   - man -l renders it without a warning at 80 columns (man --warnings), and
#     groff -ww finds nothing either;
#   - it has the sections a man page has (NAME with "metersim \-", SYNOPSIS,
#     DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES);
#   - it is what docs/cli.md gives now (regenerated, it is identical: no
#     hand edits, one source);
#   - the bash completion offers the --help options and the library.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
MAN=$BUILD/metersim.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

if make -s --no-print-directory BUILD="$BUILD" "$MAN" "$BIN" >"$tmp/make" 2>&1 && [ -s "$MAN" ]; then
    ok "make $MAN from docs/cli.md"
else
    notok "make $MAN: $(tail -3 "$tmp/make" | tr '\n' ' ')"
fi

"$BIN" --help | grep -oE -- '(^|[[:space:]])--[a-z][a-z-]*' | tr -d ' \t' | LC_ALL=C sort -u >"$tmp/opts"
LC_ALL=C MANWIDTH=80 man -l "$MAN" >"$tmp/page" 2>/dev/null
# The option entries: the lines after each .TP (their first word).
awk 'p { print; p = 0 } /^\.TP/ { p = 1 }' "$MAN" | sed 's/\\-/-/g; s/\\f\[[A-Z]*\]//g' >"$tmp/tp"
missing=""
for o in $(cat "$tmp/opts"); do
    grep -qE -- "(^|[ ,])$o([ ,=]|\$)" "$tmp/tp" || missing="$missing $o"
done
if [ -z "$missing" ] && [ -s "$tmp/opts" ]; then
    ok "every one of the $(wc -l <"$tmp/opts") options of --help has its entry in the man page"
else
    notok "options of --help without an entry in the man page:$missing"
fi
missing=""
for o in $(cat "$tmp/opts"); do
    grep -qF -- "\`$o" docs/cli.md || missing="$missing $o"
done
[ -z "$missing" ] && ok "and in docs/cli.md" || notok "options of --help not in docs/cli.md:$missing"
missing=""
for o in $(cat "$tmp/opts"); do
    grep -qF -- "$o" "$tmp/page" || missing="$missing $o"
done
[ -z "$missing" ] && ok "and in the page man renders" || notok "not in the rendered page:$missing"

warn=$(MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)
[ -z "$warn" ] && ok "man --warnings -l at 80 columns: no warning" ||
    notok "man --warnings: $(printf '%s' "$warn" | head -5 | tr '\n' ' ')"
warn=$(groff -ww -z -man "$MAN" 2>&1)
[ -z "$warn" ] && ok "groff -ww -z -man: no warning" ||
    notok "groff -ww: $(printf '%s' "$warn" | head -5 | tr '\n' ' ')"
wide=$(awk 'length > 80' "$tmp/page" | head -3)
[ -z "$wide" ] && ok "no rendered line wider than 80 columns" || notok "wider than 80: $wide"

missing=""
for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS" ENVIRONMENT FILES; do
    grep -qx "$s" "$tmp/page" || missing="$missing $s"
done
if [ -z "$missing" ] && grep -q '^\.TH "METERSIM" "1"' "$MAN" &&
    grep -qE '^ +metersim +- a digital twin' "$tmp/page"; then
    ok "sections NAME (metersim - ...), SYNOPSIS, DESCRIPTION, OPTIONS, OUTPUT, EXIT STATUS, ENVIRONMENT, FILES; .TH METERSIM 1"
else
    notok "sections missing:$missing"
fi

# One source: the page is docs/cli.md through the Makefile's rule, nothing
# else: made afresh in another build folder, it is the same.
if make -s --no-print-directory BUILD="$tmp/b" "$tmp/b/metersim.1" >"$tmp/make2" 2>&1 &&
    cmp -s "$tmp/b/metersim.1" "$MAN"; then
    ok "the page is docs/cli.md as it is now (made afresh: identical)"
else
    notok "the page differs from docs/cli.md made afresh: $(tail -2 "$tmp/make2" | tr '\n' ' ')"
fi

# The bash completion: the options from --help, the library's names.
comp=completions/metersim.bash
if [ -f /usr/share/bash-completion/bash_completion ]; then
    out=$(PATH="$(pwd)/$BUILD:$PATH" bash -c '
        . /usr/share/bash-completion/bash_completion
        . "$1"
        COMP_WORDS=(metersim --trace-j); COMP_CWORD=1; COMP_LINE="metersim --trace-j"; COMP_POINT=${#COMP_LINE}
        _metersim metersim --trace-j metersim; echo "${COMPREPLY[*]}"
        COMP_WORDS=(metersim --scenario office-d); COMP_CWORD=2; COMP_LINE="metersim --scenario office-d"; COMP_POINT=${#COMP_LINE}
        _metersim metersim office-d --scenario; echo "${COMPREPLY[*]}"
    ' _ "$comp" 2>&1)
    if [ "$(printf '%s\n' "$out" | sed -n 1p)" = "--trace-jsonl" ] &&
        printf '%s\n' "$out" | sed -n 2p | grep -qw office-day; then
        ok "bash completion: --trace-j gives --trace-jsonl, --scenario office-d gives office-day"
    else
        notok "bash completion: $(printf '%s' "$out" | tr '\n' '|')"
    fi
else
    bash -n "$comp" && ok "bash completion parses (bash-completion not installed: # SKIP)" ||
        notok "bash completion does not parse"
fi

echo "1..$n"
