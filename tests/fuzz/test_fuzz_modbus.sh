#!/bin/sh
# Builds the Modbus frame-machine fuzzer with clang (libFuzzer + ASan + UBSan)
# into $BUILD/fuzz/ and runs it for 20 s on a seed corpus of valid requests
# made here. TAP: one test. Long runs: see docs/modbus.md.
set -u
BUILD=${BUILD:-build}
out="$BUILD/fuzz"
name="fuzz_modbus - 20 s of libFuzzer on the Modbus RTU slave, no crash"
echo "1..1"
if ! command -v clang >/dev/null 2>&1; then
    echo "not ok 1 - $name # clang not found"
    exit 1
fi
mkdir -p "$out/corpus_modbus" || exit 1
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Icore tests/fuzz/fuzz_modbus.c core/crc.c core/modbus.c core/modbus_pdu.c core/modbus_map.c core/variant.c core/meter_assert.c \
    core/settings.c -lm -o "$out/fuzz_modbus" >"$out/build.log" 2>&1; then
    cat "$out/build.log"
    echo "not ok 1 - $name # build failed"
    exit 1
fi

# Seeds: mode byte, then (ctl, byte) pairs; ctl 0 = back to back, 0x9C =
# advance to the deadline and leave 3.5 characters of silence first.
seed() { # file, mode byte, hex bytes of a frame (CRC included)
    f=$1; mode=$2; shift 2
    {
        printf "\\$(printf '%03o' "$mode")"
        for b in "$@"; do printf '\000'; printf "\\$(printf '%03o' "0x$b")"; done
        printf '\234\001'
    } >"$out/corpus_modbus/$f"
}
seed read_5002 0x0A 01 03 50 02 00 02 74 CB
seed read_5002_fast 0x0B 01 03 50 02 00 02 74 CB
seed read_6000_75 0x0A 01 03 60 00 00 4B 1B FD
seed write_id 0x0A 01 06 40 03 00 0A EC 0D
seed write_s0 0x0A 01 10 40 0D 00 02 04 41 20 00 00 16 03
seed write_s0_fast 0x0B 01 10 40 0D 00 02 04 41 20 00 00 16 03
seed broadcast_id 0x0A 00 06 40 03 00 0A ED DC
seed read_4000_52 0x0A 01 03 40 00 00 34 51 DD
seed write_4021_2 0x0A 01 10 40 21 00 02 04 00 25 00 02 91 B2
seed write_lcd 0x0A 01 06 40 10 00 25 5C 14
seed write_datatype 0x0B 01 06 40 26 00 02 FC 00
seed reset_day 0x0A 01 10 60 49 00 02 04 00 00 00 00 9F F7
seed fc2b 0x0B 01 2B 0E 01 00 70 77
seed baud_fast 0x0B 01 06 40 04 00 0A 5D CC
seed read_04 0x0A 01 04 60 00 00 7D 2E 2B

timeout 120 "$out/fuzz_modbus" -max_total_time=20 -rss_limit_mb=1024 \
    "$out/corpus_modbus" >"$out/run.log" 2>&1
status=$?
tail -n 3 "$out/run.log"
if [ "$status" -eq 0 ]; then
    echo "ok 1 - $name"
    exit 0
fi
echo "not ok 1 - $name # exit $status, see $out/run.log"
exit 1
