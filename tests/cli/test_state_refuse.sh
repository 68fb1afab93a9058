#!/bin/sh
# State file discipline (docs/state.md): what is refused at start, and a save
# that fails during a run.
#   - a second process on a file in use: status 2, the message names the
#     holder's pid, the holder runs on, the file is not touched;
#   - a file of another variant (4PU / 4PS / 2PCT) or of another connection:
#     status 2 with the message of docs/state.md, the file not touched;
#   - the file replaced by a directory, or its directory by a file, during a
#     run: the save is retried for the grace (5 s), then status 3 with what
#     was not saved; nothing is written at the path;
#   - the file removed during a run: put back at the next save, the run ends
#     normally with the meter's whole memory in it.
# Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
sum() { cksum <"$1"; }
# wait_line FILE PATTERN: polls (at most 10 s) until FILE has a line with PATTERN.
wait_line() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 500 ] && return 1
        sleep 0.02
    done
}
scenario() { # file, model, connection
    printf '{"meter": {"serial": "13070001", "model": "%s", "connection": "%s"},\n' "$2" "$3" >"$1"
    printf ' "grid": {"voltage": 230}, "load": {"current": 5, "pf": 1}}\n' >>"$1"
}
scenario "$tmp/4pu.json" 4PU 3P4W
scenario "$tmp/4ps.json" 4PS 3P4W
scenario "$tmp/2pct.json" 2PCT 3P4W
scenario "$tmp/1p2w.json" 4PU 1P2W

# refused DESCRIPTION MESSAGE FILE ARGS...: status 2, MESSAGE on stderr,
# nothing on stdout, FILE byte for byte as before, no FILE.tmp.
refused() {
    desc=$1 want=$2 file=$3
    shift 3
    before=$(sum "$file")
    "$BIN" --headless --state "$file" --until 2s "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq 2 ] && grep -qF -- "$want" "$tmp/err" && [ ! -s "$tmp/out" ] &&
        [ "$(sum "$file")" = "$before" ] && [ ! -e "$file.tmp" ]; then
        ok "refused, file unchanged: $desc"
    else
        notok "refused: $desc (status $st, $(cat "$tmp/err"))"
    fi
}

# ---- a second process on a file in use --------------------------------------
F=$tmp/busy.state
"$BIN" --headless --speed 10 --state "$F" --scenario "$tmp/4pu.json" --until 1h \
    >"$tmp/holder.log" 2>"$tmp/holder.err" &
pid=$!
wait_line "$tmp/holder.log" '"t":2,'
# The holder is paused so the file it keeps writing holds still while the
# second process tries it; its lock stays.
kill -STOP "$pid"
refused "a second process on a file in use (message names pid $pid)" \
    "state file $F is in use by process $pid" "$F" --scenario "$tmp/4pu.json"
kill -CONT "$pid"
lines=$(wc -l <"$tmp/holder.log")
wait_line "$tmp/holder.log" "\"t\":$((lines + 2)),"
if kill -0 "$pid" 2>/dev/null && [ "$(wc -l <"$tmp/holder.log")" -gt "$lines" ]; then
    ok "the holder runs on"
else
    notok "the holder stopped: $(cat "$tmp/holder.err")"
fi
kill -TERM "$pid"
wait "$pid"
st=$?
pid=""
[ "$st" -eq 0 ] && ok "the holder ends normally (status $st)" || notok "holder status $st"

# ---- another variant's, another connection's file ----------------------------
G=$tmp/4pu.state
"$BIN" --headless --state "$G" --scenario "$tmp/4pu.json" --until 2s >/dev/null 2>&1
refused "a 4PU's file for a 4PS" \
    "state file $G belongs to a 4PU (879-3000) meter, not to this 4PS (879-3020)" \
    "$G" --scenario "$tmp/4ps.json"
refused "a 4PU's file for a 2PCT" "belongs to a 4PU (879-3000) meter, not to this 2PCT" \
    "$G" --scenario "$tmp/2pct.json"
H=$tmp/4ps.state
"$BIN" --headless --state "$H" --scenario "$tmp/4ps.json" --until 2s >/dev/null 2>&1
refused "a 4PS's file for a 4PU" "belongs to a 4PS (879-3020) meter, not to this 4PU (879-3000)" \
    "$H" --scenario "$tmp/4pu.json"
refused "a 3P4W meter's file for a 1P2W one" \
    "state file $G belongs to a meter connected as 3P4W, not as 1P2W" \
    "$G" --scenario "$tmp/1p2w.json"
if "$BIN" --headless --state "$G" --scenario "$tmp/4pu.json" --until 1s >/dev/null 2>"$tmp/err" &&
    [ ! -s "$tmp/err" ]; then
    ok "the right meter still loads it"
else
    notok "the right meter: $(cat "$tmp/err")"
fi

# ---- a save that fails during a run ------------------------------------------
# run_and_break NAME ACTION: a run with a save every simulated second (0.1 s
# of wall time at --speed 10); once it is under way, ACTION breaks its path.
run_and_break() {
    d=$tmp/$1
    mkdir -p "$d"
    "$BIN" --headless --speed 10 --state "$d/meter.state" --save-interval 1s \
        --scenario "$tmp/4pu.json" --until 1h >"$tmp/$1.log" 2>"$tmp/$1.err" &
    pid=$!
    wait_line "$tmp/$1.log" '"t":2,'
    eval "$2"
    wait "$pid"
    st=$?
    pid=""
}
failed_run() { # description, name, expected reason
    e=$tmp/$2.err
    if [ "$st" -eq 3 ] && grep -qF "$3; retrying for 5 s" "$e" && [ "$(grep -cF "$3" "$e")" -eq 2 ] &&
        grep -qF "$3; stopping after" "$e" &&
        grep -qE "stopping after ([2-9]|[1-9][0-9]+) tries in 5 s. Not saved: the meter's memory since" "$e" &&
        grep -q 'kWh of total active energy' "$e"; then
        ok "$1: retried, then status 3 and what was not saved"
    else
        notok "$1 (status $st, $(cat "$e"))"
    fi
}

run_and_break replaced 'rm "$d/meter.state"; mkdir "$d/meter.state"'
failed_run "the file replaced by a directory" replaced \
    "state file $d/meter.state has been replaced by another directory"
if [ -z "$(ls -A "$d/meter.state")" ] && [ ! -e "$d/meter.state.tmp" ]; then
    ok "nothing written in its place"
else
    notok "written in its place: $(ls -la "$d")"
fi

run_and_break moved 'mv "$d" "$d.old"; printf x >"$d"'
failed_run "the directory replaced by a file" moved \
    "state file $d/meter.state is gone (Not a directory)"
[ "$(cat "$d")" = x ] && ok "nothing written over it" || notok "written over: $(od -c "$d" | head -3)"

run_and_break removed 'rm "$d/meter.state"; wait_line "$tmp/removed.err" "was gone"; kill -TERM $pid'
if [ "$st" -eq 0 ] && grep -qF "state file $d/meter.state was gone: put back, whole" "$tmp/removed.err" &&
    "$BIN" --headless --state "$d/meter.state" --scenario "$tmp/4pu.json" --until 1s \
        >"$d/after" 2>"$d/after.err" &&
    $PY -c 'import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = json.loads(open(sys.argv[2]).readline())
assert b["E_total_kWh"] > a[-1]["E_total_kWh"] and b["power_down_count"] == 1, (a[-1], b)' \
        "$tmp/removed.log" "$d/after"; then
    ok "the file removed during a run is put back, whole, and the run ends normally"
else
    notok "file removed (status $st, $(cat "$tmp/removed.err" "$d/after.err" 2>/dev/null))"
fi

echo "1..$n"
