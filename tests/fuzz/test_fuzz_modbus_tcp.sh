#!/bin/sh
# Builds the Modbus TCP (MBAP) framer fuzzer with clang (libFuzzer + ASan +
# UBSan) into $BUILD/fuzz/ and runs it for 20 s on a seed corpus of host
# sessions made here. TAP: one test. Long runs: by hand, with
# -max_total_time=600 (not in `make test`).
set -u
BUILD=${BUILD:-build}
out="$BUILD/fuzz"
corpus="$out/corpus_modbus_tcp"
name="fuzz_modbus_tcp - 20 s of libFuzzer on the Modbus TCP framer, no crash"
echo "1..1"
if ! command -v clang >/dev/null 2>&1; then
    echo "not ok 1 - $name # clang not found"
    exit 1
fi
mkdir -p "$corpus" || exit 1
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Icore tests/fuzz/fuzz_modbus_tcp.c core/crc.c core/modbus_tcp.c \
    -o "$out/fuzz_modbus_tcp" >"$out/build_tcp.log" 2>&1; then
    cat "$out/build_tcp.log"
    echo "not ok 1 - $name # build failed"
    exit 1
fi

# Seeds, in the op language of fuzz_modbus_tcp.c: a config byte (bits 0-2:
# partial timeout, 0 = 10 s, 3 = 1 ms), then ops: 0x00+n-1 receive n bytes,
# 0x60 dt step (time), 0x80+k-1 take k requests (each followed by how to
# answer: 01 echo, 2E exception 0x0B, 2A exception 0x0A, 03 + length: a PDU),
# 0xA0+cap drain (0xBF: everything), 0xC0/0xC1 advance, 0xE0 stall check.
seed() { # file, hex bytes
    f=$1
    shift
    for b in "$@"; do printf "\\$(printf '%03o' "0x$b")"; done >"$corpus/$f"
}
# Application Protocol 6.3: read registers 108-110 of unit 0x11.
READ="12 34 00 00 00 06 11 03 00 6B 00 03"
seed read 00 0B $READ 80 01 BF
seed read_exception 00 0B $READ 80 2E BF
seed read_gateway 00 0B $READ 80 2A A5 A5 BF
seed read_long_reply 00 0B $READ 80 03 FC A1 A3 BF
seed split_header 00 02 12 34 00 60 45 03 01 00 06 11 03 00 6B 00 03 80 01 BF
seed pipelined 00 17 $READ 56 78 00 00 00 06 01 04 00 00 00 02 81 01 01 A7 BF
seed stall 03 02 00 01 00 E0 80 00
seed stall_default 00 60 00 01 04 00 01 00 00 00 C1 00 80 00
seed bad_protocol 00 0B 00 01 00 01 00 06 11 03 00 6B 00 03 80 01 BF
seed bad_length 00 0B 00 01 00 00 00 FF 11 03 00 6B 00 03 80 01 BF
seed short_pdu 00 07 00 09 00 00 00 02 05 07 80 01 BF
# Seventeen 8-byte requests: the 17th waits until one is taken.
P=""
for i in 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11; do
    P="$P 00 $i 00 00 00 02 01 07"
done
seed backpressure 00 1F $(echo $P | cut -d' ' -f1-32) 1F $(echo $P | cut -d' ' -f33-64) \
    1F $(echo $P | cut -d' ' -f65-96) 1F $(echo $P | cut -d' ' -f97-128) \
    07 $(echo $P | cut -d' ' -f129-136) 9F 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 \
    00 00 80 01 A3 A3 BF

timeout 120 "$out/fuzz_modbus_tcp" -max_total_time=20 -rss_limit_mb=1024 \
    "$corpus" >"$out/run_tcp.log" 2>&1
status=$?
tail -n 3 "$out/run_tcp.log"
if [ "$status" -eq 0 ]; then
    echo "ok 1 - $name"
    exit 0
fi
echo "not ok 1 - $name # exit $status, see $out/run_tcp.log"
exit 1
