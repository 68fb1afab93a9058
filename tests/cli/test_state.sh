#!/bin/sh
# The state file (docs/state.md): 50 SIGKILLs at random moments (fixed seed)
# never lose energy that was shown, never move it backwards across restarts,
# never leave an unreadable file; a slot cut short is survived through the
# other; a damaged main copy is survived through the backup; both damaged
# stop the meter with the 7.1 error byte and the file is kept; a file that is
# not ours is refused (status 2) and left unchanged; a version 1 file is read
# and converted; a power-down is saved at once. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # description, then a command; ok when it succeeds
    desc=$1
    shift
    if "$@"; then ok "$desc"; else notok "$desc"; fi
}

F=$tmp/meter.state
INTERVAL=5 # --save-interval, simulated seconds
SPEED=100  # paced, so every line is flushed before the next second is simulated

# An independent reader of the format (zlib's CRC-32, not the program's):
# exits 0 when the file is what docs/state.md says a kill can leave: empty (a
# run killed before its first write: a new meter), or a sound version-2 file
# whose slots are sound, save at most one (a kill cuts at most one slot's
# write), and a sound slot's image has both copies good. With "both": no
# slot torn.
cat >"$tmp/verify.py" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
if not b:
    sys.exit(0)
assert b[:16] == b"MeterSimState\r\n\x1a", "magic"
ver, hlen, slen = struct.unpack_from("<HHI", b, 16)
assert (ver, hlen) == (2, 64), (ver, hlen)
assert struct.unpack_from("<I", b, 60)[0] == zlib.crc32(b[:60]), "header crc"
assert len(b) == 64 + 2 * slen, "length"
good = 0
for s in (64, 64 + slen):
    seq, ilen = struct.unpack_from("<QI", b, s)
    if ilen > slen - 16 or struct.unpack_from("<I", b, s + 12 + ilen)[0] != zlib.crc32(b[s:s + 12 + ilen]):
        print("slot at", s, "torn (cut by the kill)", file=sys.stderr)
        continue
    img = b[s + 12:s + 12 + ilen]
    iver, _, L, M = struct.unpack_from("<HHII", img, 0)
    assert iver == 2  # the nvm image version (core/nvm.h: 2 holds the CT ratio)
    for off, size in ((12, L), (16 + L, L), (20 + 2 * L, M)):
        assert struct.unpack_from("<I", img, off + size)[0] == zlib.crc32(img[off:off + size]), off
    good += 1
need = 2 if sys.argv[2:] == ["both"] else 1  # "both": no slot may be torn
assert good >= need, "%d sound slot(s), %d needed" % (good, need)
PY

# The energy of the first simulated second of the default scenario, to tell
# what a restarted run loaded from what it added.
"$BIN" --headless --until 1s >"$tmp/ref"

# ---- 50 crashes --------------------------------------------------------
delays=$(awk 'BEGIN { srand(42); for (i = 0; i < 50; i++) printf "%.2f\n", 0.15 + rand() * 0.6 }')
i=0
bad_files=0
for d in $delays; do
    # A run killed before its first write leaves the file empty (docs/state.md:
    # an empty file is a new meter, and the next run says so).
    [ -e "$F" ] && [ ! -s "$F" ] && : >"$tmp/empty$i"
    "$BIN" --headless --state "$F" --speed $SPEED --save-interval ${INTERVAL}s --until 24h \
        >"$tmp/run$i" 2>"$tmp/err$i" &
    pid=$!
    sleep "$d"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -e "$F" ] && ! $PY "$tmp/verify.py" "$F" 2>>"$tmp/verify.log"; then
        bad_files=$((bad_files + 1))
    fi
    i=$((i + 1))
done
"$BIN" --headless --state "$F" --until 3s >"$tmp/run$i" 2>"$tmp/err$i"
final_status=$?
check "50 SIGKILLs: the state file is always sound ($bad_files bad)" [ "$bad_files" -eq 0 ]
check "after the crashes, a clean run loads it (status $final_status)" [ "$final_status" -eq 0 ]

$PY - "$tmp" "$INTERVAL" >"$tmp/crash.out" 2>&1 <<'PY'
import json, os, sys
tmp, interval = sys.argv[1], float(sys.argv[2])
TOL = 2.5e-6  # two roundings of the printed kWh (6 decimals)

def lines(path):
    rows = []
    for l in open(path):
        try:
            rows.append(json.loads(l))
        except ValueError:
            pass  # a line cut by the kill
    return rows

e1 = lines(tmp + "/ref")[0]["E_total_kWh"]
runs = [lines("%s/run%d" % (tmp, i)) for i in range(51)]
errs = [open("%s/err%d" % (tmp, i)).read() for i in range(51)]
fails = {"silent": [], "backwards": [], "loss": [], "ahead": []}
# The file is written at every step (100 ms), before a line is shown: it may
# be ahead of the last line by less than a line's second, never behind it.
if "does not exist" not in errs[0]:
    fails["silent"].append(0)
prev_loaded, last = None, None  # energy loaded by the previous run, last line shown
compared, worst = 0, float("-inf")  # crashes compared, largest loss in seconds of load
for i in range(1, 51):
    said = errs[i].strip()
    if said and not (os.path.exists("%s/empty%d" % (tmp, i)) and "\n" not in said and
                     "is empty: starting a new meter" in said):
        fails["silent"].append((i, said))
    if not runs[i]:
        continue  # killed before its first second: nothing to compare
    loaded = runs[i][0]["E_total_kWh"] - e1
    if prev_loaded is not None and loaded < prev_loaded - TOL:
        fails["backwards"].append((i, prev_loaded, loaded))
    if last is not None:
        ahead = 1.1 * last["P_total_kW"] / 3600.0  # one line's second + a 100 ms step
        compared += 1
        # A run killed after its first line may show no power yet (slow
        # builds, ASan): no seconds of load to express a loss in.
        if last["P_total_kW"] > 0:
            worst = max(worst, (last["E_total_kWh"] - loaded) / last["P_total_kW"] * 3600.0)
        if loaded < last["E_total_kWh"] - TOL:
            fails["loss"].append((i, last["E_total_kWh"], loaded))
        if loaded > last["E_total_kWh"] + ahead + TOL:
            fails["ahead"].append((i, last["E_total_kWh"], loaded, ahead))
    prev_loaded = loaded
    last = runs[i][-1]
    if any(r["error"] != 0 for r in runs[i]):
        fails["silent"].append((i, "error byte shown"))
shown = sum(len(r) for r in runs)
assert shown > 500, "too few lines (%d): the runs did not get far enough to test" % shown
print("# %d crashes compared, %d lines shown, largest loss %.2f s of load (negative: ahead)" % (compared, shown, worst))
for k, v in fails.items():
    print(k, "FAIL" if v else "ok", v[:3])
PY
grep '^#' "$tmp/crash.out"
grep -q '^silent ok' "$tmp/crash.out" &&
    ok "every restart loaded the file without a complaint" ||
    notok "restarts complained: $(cat "$tmp/crash.out")"
grep -q '^backwards ok' "$tmp/crash.out" &&
    ok "energy never went backwards from one restart to the next" ||
    notok "energy went backwards: $(cat "$tmp/crash.out")"
grep -q '^loss ok' "$tmp/crash.out" &&
    ok "no crash lost energy that had been shown (save interval ${INTERVAL} s)" ||
    notok "a crash lost energy: $(cat "$tmp/crash.out")"
grep -q '^ahead ok' "$tmp/crash.out" &&
    ok "the file was never more than one line's second ahead of the output" ||
    notok "file ahead of the output: $(cat "$tmp/crash.out")"

# ---- damage inside the image (offsets: docs/state.md) -------------------
# Slot A at 64, slot B at 1452 (1388 bytes each); in a slot the image starts
# at 12, its main integer area at 24, its backup at 638 (610 bytes + CRC).
flip() { # file, offset
    $PY -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0x5A; open(p, "wb").write(bytes(b))' "$1" "$2"
}
last_e() { $PY -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])[sys.argv[2]])' "$1" "$2"; }
first_e() { $PY -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"; }
newest() { # offset of the slot with the higher sequence number
    $PY -c 'import struct, sys
b = open(sys.argv[1], "rb").read(); s = struct.unpack_from("<I", b, 20)[0]
print(64 if struct.unpack_from("<Q", b, 64)[0] > struct.unpack_from("<Q", b, 64 + s)[0] else 64 + s)' "$1"
}
older() { n=$(newest "$1"); [ "$n" = 64 ] && echo 1452 || echo 64; }

# A write cut short by a kill: the newest slot broken, the older one used,
# nothing said (the meter lost nothing it had shown but that last step).
before=$(last_e "$tmp/run50" E_total_kWh)
flip "$F" $(($(newest "$F") + 100))
"$BIN" --headless --state "$F" --until 2s >"$tmp/torn" 2>"$tmp/torn.err"
st=$?
after=$(first_e "$tmp/torn" E_total_kWh)
if [ "$st" -eq 0 ] && [ ! -s "$tmp/torn.err" ] && $PY -c "import sys; sys.exit(not $after >= $before - 0.0001)"; then
    ok "one slot broken: the other is loaded, silently ($before -> $after kWh)"
else
    notok "one slot broken (status $st, $before -> $after, $(cat "$tmp/torn.err"))"
fi
check "the next saves rewrote both slots" $PY "$tmp/verify.py" "$F" both

# Both slots' main copies damaged: the meter's own rules (7.1).
before=$(last_e "$tmp/torn" E_total_kWh)
flip "$F" $((64 + 24 + 40))
flip "$F" $((1452 + 24 + 40))
"$BIN" --headless --state "$F" --until 2s >"$tmp/main" 2>"$tmp/main.err"
st=$?
after=$(first_e "$tmp/main" E_total_kWh)
if [ "$st" -eq 0 ] && grep -q 'main copy damaged, continuing from the backup copy (error byte 40' \
    "$tmp/main.err" && $PY -c "import sys; sys.exit(not $after >= $before)" &&
    [ "$(last_e "$tmp/main" error)" = 0 ]; then
    ok "main copy damaged: the run continues from the backup ($before -> $after kWh)"
else
    notok "main copy damaged (status $st, $before -> $after, $(cat "$tmp/main.err"))"
fi
check "the next save repaired both copies" $PY "$tmp/verify.py" "$F" both

for o in 64 1452; do
    flip "$F" $((o + 24 + 40))
    flip "$F" $((o + 638 + 40))
done
cp "$F" "$tmp/damaged"
"$BIN" --headless --state "$F" --until 3s >"$tmp/both" 2>"$tmp/both.err"
st=$?
if [ "$st" -eq 0 ] && grep -q 'both damaged: the meter stops and shows error 61' "$tmp/both.err" &&
    $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all(r["error"] == 0x61 for r in rows)
assert rows[0]["E_total_kWh"] == rows[-1]["E_total_kWh"] == 0  # counts nothing, resets nothing
' "$tmp/both"; then
    ok "both copies damaged: the meter stops and shows error 61 (7.1 bits 0, 5, 6)"
else
    notok "both copies damaged (status $st, $(cat "$tmp/both.err"))"
fi
check "a stopped meter's damaged file is kept byte for byte" cmp -s "$F" "$tmp/damaged"

# ---- files that are not ours: status 2, no output, never overwritten ------
refused() { # description, expected message, file, extra args...
    desc=$1 want=$2 file=$3
    shift 3
    cp "$file" "$tmp/orig"
    sum_before=$(cksum <"$file")
    "$BIN" --headless --state "$file" --until 2s "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" -eq 2 ] && grep -qF -- "$want" "$tmp/err" && [ ! -s "$tmp/out" ] &&
        [ "$(cksum <"$file")" = "$sum_before" ] && [ ! -e "$file.tmp" ]; then
        ok "refused and unchanged: $desc"
    else
        notok "refused: $desc (status $st, $(cat "$tmp/err"))"
    fi
}
"$BIN" --headless --state "$tmp/good" --until 2s >/dev/null 2>&1
printf 'energy = 12.5 kWh\n' >"$tmp/text"
refused "a text file" 'is not a metersim state file' "$tmp/text"
cp "$tmp/good" "$tmp/v9" && $PY -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[16] = 9; open(p, "wb").write(bytes(b))' "$tmp/v9"
refused "an unknown version" 'has format version 9; this metersim reads versions 1 and 2' "$tmp/v9"
head -c 30 "$tmp/good" >"$tmp/cut"
refused "a file cut inside its header" 'is truncated: 30 bytes' "$tmp/cut"
cp "$tmp/good" "$tmp/hdr" && flip "$tmp/hdr" 30
refused "a damaged header" 'its header is damaged' "$tmp/hdr"
printf '{"meter": {"serial": "99999999"}}' >"$tmp/other.json"
cp "$tmp/good" "$tmp/other"
refused "another meter's file" 'belongs to meter 13070001, not to meter 99999999' \
    "$tmp/other" --scenario "$tmp/other.json"

# ---- a version 1 file (docs/state.md), written here from a sound file ------
# (v1 as file format; with IMAGE=1 its image is of nvm version 1 too: 27
# bytes of settings, without the CT primary, L = 608)
v1file() { # from, to
    IMAGE=${IMAGE:-2} $PY - "$1" "$2" <<'PY'
import os, struct, sys, zlib
b = open(sys.argv[1], "rb").read()
s = struct.unpack_from("<I", b, 20)[0]
slots = [struct.unpack_from("<QI", b, o) + (o,) for o in (64, 64 + s)]
seq, n, o = max(slots)
img = b[o + 12:o + 12 + n]
if os.environ["IMAGE"] == "1":
    L, M = struct.unpack_from("<II", img, 4)
    area = img[12:12 + L]
    area = area[:32] + area[34:]  # the CT primary, the last 2 bytes of the settings
    crc = struct.pack("<I", zlib.crc32(area))
    mant = img[20 + 2 * L:20 + 2 * L + M + 4]
    img = struct.pack("<HHII", 1, 0, L - 2, M) + area + crc + area + crc + mant
h = bytearray(48)
h[:16] = b[:16]
struct.pack_into("<HHI", h, 16, 1, 48, len(img))
h[24:44] = b[24:44]
struct.pack_into("<I", h, 44, zlib.crc32(bytes(h[:44])))
open(sys.argv[2], "wb").write(bytes(h) + img)
PY
}
for image in 2 1; do
    IMAGE=$image v1file "$tmp/good" "$tmp/v1"
    "$BIN" --headless --state "$tmp/v1" --until 1s >"$tmp/v1.out" 2>"$tmp/v1.err"
    st=$?
    if [ "$st" -eq 0 ] && [ ! -s "$tmp/v1.err" ] && $PY "$tmp/verify.py" "$tmp/v1" both &&
        $PY -c 'import json, sys
a = json.loads(open(sys.argv[1]).readline())
e1 = json.loads(open(sys.argv[2]).readline())["E_total_kWh"]
# the 2 s of the first run, then its own second; one power-down (its exit)
assert abs(a["E_total_kWh"] - 3 * e1) < 1e-4 and a["power_down_count"] == 1, (a, e1)' \
            "$tmp/v1.out" "$tmp/ref"; then
        ok "a version 1 file (nvm image version $image) is read and rewritten as version 2"
    else
        notok "version 1 file, image $image (status $st, $(cat "$tmp/v1.err"))"
    fi
done

# ---- power-down: counted, and saved at once ------------------------------
cat >"$tmp/outage.json" <<'J'
{"meter": {"serial": "13070005"},
 "grid": {"voltage": 230, "frequency": 50}, "load": {"current": 10, "pf": 1},
 "timeline": [{"at": "2s", "grid": {"voltage": 0}}, {"at": "6s", "grid": {"voltage": 230}}]}
J
# Interval far beyond the run: only the power-down can have saved the file.
# --speed 4: the kill (after t=4 is seen) comes well before the supply
# returns at 6 s (0.5 s of wall time), even on a loaded machine.
"$BIN" --headless --scenario "$tmp/outage.json" --state "$tmp/pd" --save-interval 100h \
    --speed 4 --until 1h >"$tmp/pd.out" 2>/dev/null &
pid=$!
waited=0
while ! grep -q '"t":4,' "$tmp/pd.out" 2>/dev/null && [ $waited -lt 200 ]; do
    sleep 0.05
    waited=$((waited + 1))
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$BIN" --headless --scenario "$tmp/outage.json" --state "$tmp/pd" --until 8s >"$tmp/pd2.out" 2>&1
if $PY -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
b = [json.loads(l) for l in open(sys.argv[2])]
e2 = a[1]["E_total_kWh"]          # the line at t=2: the outage begins there
assert a[3]["power_down_count"] == 1 and a[0]["power_down_count"] == 0, a[3]
assert a[3]["E_total_kWh"] == e2  # no supply, no energy
# The restart loaded what the power-down saved (plus its own first second),
# and counted no second loss: the file said the supply was already off.
assert b[0]["power_down_count"] == 1, b[0]
assert abs(b[1]["E_total_kWh"] - 2 * e2) < 2.5e-6, (b[1]["E_total_kWh"], e2)
# The outage of the second run is counted too.
assert b[4]["power_down_count"] == 2 and b[-1]["power_down_count"] == 2
' "$tmp/pd.out" "$tmp/pd2.out"; then
    ok "a power-down is counted and saved at once (0x4016)"
else
    notok "power-down: $(head -c 400 "$tmp/pd.out" | tail -c 200)"
fi

# ---- SIGTERM: saved on the way out ---------------------------------------
"$BIN" --headless --state "$tmp/term" --save-interval 100h --speed 20 --until 1h \
    >"$tmp/term.out" 2>/dev/null &
pid=$!
waited=0
while ! grep -q '"t":3,' "$tmp/term.out" 2>/dev/null && [ $waited -lt 200 ]; do
    sleep 0.05
    waited=$((waited + 1))
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
st=$?
"$BIN" --headless --state "$tmp/term" --until 1s >"$tmp/term2.out" 2>&1
if [ "$st" -eq 0 ] && $PY "$tmp/verify.py" "$tmp/term" both && $PY -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert b[0]["E_total_kWh"] > a[-1]["E_total_kWh"], (a[-1], b[0])
assert b[0]["power_down_count"] == 1  # the exit was one loss of supply, counted once
' "$tmp/term.out" "$tmp/term2.out"; then
    ok "SIGTERM: status 0, the state saved on exit, one power-down"
else
    notok "SIGTERM (status $st)"
fi

echo "1..$n"
