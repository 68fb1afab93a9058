#!/bin/sh
# Builds the M-Bus fuzz target with clang (libFuzzer + ASan + UBSan) into
# $BUILD/fuzz/ and runs it for FUZZ_SECONDS (20) on a seed corpus written
# here: the manual's requests (A2.2 REQ_UD2, A2.3 writes and selection).
# Prints TAP; exits 0 when the build and the run found nothing.
set -u
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$BUILD/fuzz"
mkdir -p "$out/corpus_mbus"
echo "1..1"

if ! command -v clang >/dev/null 2>&1; then
    echo "ok 1 - fuzz_mbus # SKIP clang not installed"
    exit 0
fi

if ! clang -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$here/core" "$here/tests/fuzz/fuzz_mbus.c" "$here/core/mbus.c" \
    "$here/core/mbus_records.c" "$here/core/settings.c" "$here/core/variant.c" "$here/core/meter_assert.c" -lm -o "$out/fuzz_mbus" >"$out/build_mbus.log" 2>&1; then
    cat "$out/build_mbus.log"
    echo "not ok 1 - fuzz_mbus: build failed"
    exit 1
fi

# Seeds: option byte 00, then frames separated by F0 00 (200 ms idle).
seed() { printf "$2" >"$out/corpus_mbus/$1"; }
seed req_ud2   '\000\020\133\000\133\026\360\000\020\173\000\173\026'
seed nke       '\000\020\100\001\101\026\360\000\020\100\376\076\026'
seed baud      '\000\150\003\003\150\123\000\275\020\026\360\000\020\133\000\133\026'
seed primary   '\000\150\006\006\150\123\000\121\001\172\001\040\026'
seed secondary '\000\150\011\011\150\123\000\121\014\171\025\001\043\105\247\026'
seed tariff    '\000\150\010\010\150\123\000\121\011\174\001\124\002\200\026'
seed s0        '\000\150\012\012\150\123\000\121\014\375\072\000\000\001\000\350\026'
seed select    '\000\150\013\013\150\123\375\122\001\000\007\023\315\045\001\002\262\026\360\000\020\173\375\170\026'
seed fcb       '\001\020\173\000\173\026\360\000\020\173\000\173\026\360\000\020\133\000\133\026'

log="$out/fuzz_mbus.log"
"$out/fuzz_mbus" -max_total_time="$SECS" -max_len=600 -timeout=10 \
    -artifact_prefix="$out/" "$out/corpus_mbus" >"$log" 2>&1
status=$?
tail -n 3 "$log"
if [ "$status" -eq 0 ]; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1)
    echo "ok 1 - fuzz_mbus ${SECS}s: ${runs:-done}"
    exit 0
fi
grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 10
echo "not ok 1 - fuzz_mbus found a crash (see $log)"
exit 1
