#!/bin/sh
# Scenario input a user may get wrong or an attacker may craft (issue 13,
# docs/scenario.md "Files, and what JSON itself would let pass"), one test per
# refused input. Each refusal must:
#   - end with status 2 within 20 s (a FIFO must not hang the start),
#   - print nothing on standard output and one message on standard error that
#     names the file and the place (FILE:LINE:COL and the JSON path) or the
#     path refused, and never a line of another file's content,
#   - write nothing: the --state file of an earlier run is byte for byte the
#     same, and no --junit report appears.
# The scenarios live in a folder of their own (sc/); "outside" files live
# beside it. KEEP_TMP=1 keeps the files. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] && echo "# temporary files in $tmp" || trap 'rm -rf "$tmp"' EXIT
sc=$tmp/sc
mkdir -p "$sc/sub"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

# A secret that must never appear in a message: the content of files that a
# scenario points at.
secret="SECRET-$$-do-not-show"
printf 'time,L1\n0,%s\n60,%s\n' "$secret" "$secret" >"$tmp/outside.csv"
printf 'time,L1\n0,5\n60,5\n' >"$tmp/good-outside.csv"
printf 'time,L1\n0,5\n60,5\n' >"$sc/good.csv"

# A state file written by a run that was accepted: refused runs must leave it
# as it is.
state=$tmp/meter.state
printf '{"duration": "2s", "meter": {"serial": "13070042"}}\n' >"$sc/ok.json"
if "$BIN" --headless --quiet --scenario "$sc/ok.json" --state "$state" >/dev/null 2>"$tmp/err" &&
    [ -s "$state" ]; then
    ok "an accepted run writes the state file the refused runs must not touch"
else
    notok "an accepted run writes the state file ($(head -c 300 "$tmp/err"))"
fi
sum0=$(cksum <"$state" 2>/dev/null)

# refused DESCRIPTION WANT... -- ARGS: the checks above, each WANT a fixed
# string that must appear on standard error.
refused() {
    desc=$1
    shift
    wants=""
    while [ "$1" != "--" ]; do
        wants="$wants$1
"
        shift
    done
    shift
    rm -f "$tmp/junit.xml"
    timeout 20 "$BIN" --headless --quiet --state "$state" --junit "$tmp/junit.xml" "$@" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
    why=""
    [ "$st" -eq 2 ] || why="status $st"
    [ -s "$tmp/out" ] && why="$why; output on stdout"
    [ "$(wc -l <"$tmp/err")" -le 1 ] || why="$why; more than one message"
    printf '%s' "$wants" >"$tmp/wants"
    while IFS= read -r w; do
        grep -qF -- "$w" "$tmp/err" || why="$why; missing: $w"
    done <"$tmp/wants"
    grep -qF -- "$secret" "$tmp/err" && why="$why; a file's content in the message"
    grep -q '^root:' "$tmp/err" && why="$why; /etc/passwd in the message"
    grep -q 'root:x:0' "$tmp/err" && why="$why; /etc/passwd in the message"
    [ "$(cksum <"$state")" = "$sum0" ] || why="$why; the state file changed"
    [ -e "$tmp/junit.xml" ] && why="$why; a junit report was written"
    if [ -z "$why" ]; then
        ok "refused: $desc"
    else
        notok "refused: $desc ($why; stderr: $(head -c 400 "$tmp/err"))"
    fi
}

# scen NAME: the scenario on standard input, written to sc/NAME.json.
scen() { cat >"$sc/$1.json"; }

# --- files that are not regular files: refused at once ----------------------
mkfifo "$sc/fifo.json"
refused "a FIFO as the scenario (no writer: must not wait for one)" \
    "$sc/fifo.json: a FIFO (named pipe), not a regular file: refused" -- --scenario "$sc/fifo.json"
refused "a directory as the scenario" "$sc/sub: a directory, not a regular file" -- \
    --scenario "$sc/sub"
refused "a character device as the scenario" "/dev/null: a character device, not a regular file" \
    -- --scenario /dev/null
mkfifo "$sc/fifo.csv"
scen csv-fifo <<'J'
{
  "load": {"current": {"csv": "fifo.csv", "column": "L1"}}
}
J
refused "a FIFO as a CSV profile" "$sc/csv-fifo.json:2:31: \$.load.current.csv:" \
    "fifo.csv: a FIFO (named pipe), not a regular file" -- --scenario "$sc/csv-fifo.json"
scen csv-dev <<'J'
{
  "load": {"current": {"csv": "/dev/zero", "column": "L1"}}
}
J
refused "a device as a CSV profile (allowed outside: still not a file)" \
    "/dev/zero: a character device, not a regular file" -- \
    --scenario "$sc/csv-dev.json" --allow-outside-paths

# --- CSV files outside the scenario's folder ---------------------------------
scen passwd <<'J'
{
  "load": {"current": {"csv": "../../../../../../../../etc/passwd", "column": 1}}
}
J
refused "a CSV path that climbs to /etc/passwd" \
    "$sc/passwd.json:2:31: \$.load.current.csv:" "resolves to /etc/passwd, outside the scenario's folder" \
    "--allow-outside-paths" -- --scenario "$sc/passwd.json"
# Allowed outside, /etc/passwd is read, and its first cell is no number: the
# message names the line and the column, and shows nothing of the file
# (its first line is taken for the header).
refused "/etc/passwd allowed outside: the message shows none of it" \
    "etc/passwd:2: column 1 is not a number" -- \
    --scenario "$sc/passwd.json" --allow-outside-paths
scen climb <<'J'
{
  "load": {"current": {"csv": "sub/../../outside.csv", "column": "L1"}}
}
J
refused "a CSV path that leaves the folder with .." \
    "$sc/climb.json:2:31: \$.load.current.csv:" "resolves to $tmp/outside.csv, outside" -- \
    --scenario "$sc/climb.json"
scen absolute <<J
{
  "load": {"current": {"csv": "$tmp/outside.csv", "column": "L1"}}
}
J
refused "an absolute CSV path outside the folder" "$sc/absolute.json:2:31:" \
    "resolves to $tmp/outside.csv, outside" -- --scenario "$sc/absolute.json"
ln -s ../outside.csv "$sc/link.csv"
scen link <<'J'
{
  "load": {"current": {"csv": "link.csv", "column": "L1"}}
}
J
refused "a symlink in the folder that points out of it" "$sc/link.json:2:31:" \
    "resolves to $tmp/outside.csv, outside" -- --scenario "$sc/link.json"
refused "allowed outside, a CSV's bad cell is not shown" "$sc/link.json:2:31:" \
    "link.csv:2: column 2 is not a number" -- --scenario "$sc/link.json" --allow-outside-paths

# The same files are accepted where they belong, or with the flag.
scen inside <<'J'
{
  "duration": "1m",
  "load": {"current": {"csv": "good.csv", "column": "L1"}}
}
J
if "$BIN" --headless --quiet --scenario "$sc/inside.json" >/dev/null 2>"$tmp/err"; then
    ok "a CSV beside the scenario is read"
else
    notok "a CSV beside the scenario is read ($(head -c 300 "$tmp/err"))"
fi
scen allowed <<J
{
  "duration": "1m",
  "load": {"current": {"csv": "../good-outside.csv", "column": "L1"}}
}
J
if "$BIN" --headless --quiet --scenario "$sc/allowed.json" >/dev/null 2>"$tmp/err"; then
    notok "a CSV outside is refused without --allow-outside-paths"
elif "$BIN" --headless --quiet --scenario "$sc/allowed.json" --allow-outside-paths >/dev/null \
    2>"$tmp/err"; then
    ok "a CSV outside is read with --allow-outside-paths, refused without"
else
    notok "a CSV outside is read with --allow-outside-paths ($(head -c 300 "$tmp/err"))"
fi

# --- what JSON lets pass ------------------------------------------------------
scen dup-top <<'J'
{
  "seed": 7,
  "duration": "1m",
  "seed": 8
}
J
refused "a top-level key twice" "$sc/dup-top.json:4:3: \$.seed: the key \"seed\" is given twice" \
    "first at line 2, column 3" -- --scenario "$sc/dup-top.json"
scen dup-deep <<'J'
{
  "meter": {
    "settings": { "modbus_id": 5, "baud_rate": 4,
                  "modbus_id": 6 }
  }
}
J
refused "a key twice in a meter's settings" \
    "$sc/dup-deep.json:4:19: \$.meter.settings.modbus_id: the key \"modbus_id\" is given twice" \
    -- --scenario "$sc/dup-deep.json"
scen dup-escaped <<'J'
{
  "seed": 7,
  "se\u0065d": 8
}
J
refused "a key twice, once written with an escape" \
    "$sc/dup-escaped.json:3:3: \$.seed: the key \"seed\" is given twice" -- \
    --scenario "$sc/dup-escaped.json"
printf '{\n  "name": "a\000b",\n  "seed": 7\n}\n' >"$sc/nul.json"
refused "a NUL byte in a string" "$sc/nul.json:2:13: a NUL byte" -- --scenario "$sc/nul.json"
printf '{\n  "seed": 7\n}\n\000\n' >"$sc/nul-after.json"
refused "a NUL byte after the object" "$sc/nul-after.json:4:1: a NUL byte" -- \
    --scenario "$sc/nul-after.json"
# Control bytes are white space to cJSON: the place of a mistake after one is
# still found (the position scanner once stalled on a NUL byte: the fuzzer's
# first finding).
printf '{\n  "name":\001\002"x",\n  "seed":\001\037 2.5\n}\n' >"$sc/ctl.json"
refused "seed 2.5 after control bytes" "$sc/ctl.json:3:13: \$.seed: expected an integer" -- \
    --scenario "$sc/ctl.json"
scen escaped-nul <<'J'
{
  "meter": { "name": "main\u0000hidden" }
}
J
refused "a \\u0000 escape in a string" \
    "$sc/escaped-nul.json:2:22: \$.meter.name: a NUL character (\\u0000) in a string" -- \
    --scenario "$sc/escaped-nul.json"
for v in 2.5 1e3 1.0 -0.0E0; do
    f=seed-$(printf '%s' "$v" | tr -c 'a-zA-Z0-9' '_')
    printf '{\n  "name": "s",\n  "seed":   %s\n}\n' "$v" >"$sc/$f.json"
    refused "seed $v" "$sc/$f.json:3:13: \$.seed: expected an integer, written as digits alone" -- \
        --scenario "$sc/$f.json"
done
scen count <<'J'
{
  "meters": [ { "count": 2.0, "serial": "13070001" } ]
}
J
refused "a template's count 2.0" "$sc/count.json:2:26: \$.meters[0].count: expected an integer" -- \
    --scenario "$sc/count.json"
scen setting <<'J'
{
  "meter": { "settings": { "modbus_id": 1e1 } }
}
J
refused "a setting 1e1" "$sc/setting.json:2:41: \$.meter.settings.modbus_id: expected an integer" \
    -- --scenario "$sc/setting.json"
scen set <<'J'
{
  "timeline": [ { "at": "1s", "set": { "modbus_id": 3.0 } } ]
}
J
refused "a timeline set 3.0" "$sc/set.json:2:53: \$.timeline[0].set.modbus_id: expected an integer" \
    -- --scenario "$sc/set.json"
scen pdc <<'J'
{
  "meter": { "power_down_count": 4.5 }
}
J
refused "power_down_count 4.5" "$sc/pdc.json:2:34: \$.meter.power_down_count: expected an integer" \
    -- --scenario "$sc/pdc.json"
scen column <<'J'
{
  "load": {"current": {"csv": "good.csv", "column": 2.0}}
}
J
refused "a CSV column 2.0" "$sc/column.json:2:53: \$.load.current.column: expected an integer" \
    -- --scenario "$sc/column.json"
# Integers written as digits still pass, a negative zero among them.
printf '{\n  "seed": 12345678901234,\n  "duration": "1s",\n  "meter": {"settings": {"modbus_id": 7}}\n}\n' \
    >"$sc/ints.json"
if "$BIN" --headless --quiet --scenario "$sc/ints.json" >/dev/null 2>"$tmp/err"; then
    ok "integers written as digits are accepted"
else
    notok "integers written as digits are accepted ($(head -c 300 "$tmp/err"))"
fi
echo "1..$n"
