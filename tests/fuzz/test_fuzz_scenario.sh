#!/bin/sh
# Builds the scenario-loader fuzzer with clang (libFuzzer + ASan + UBSan) into
# $BUILD/fuzz/ and runs it for FUZZ_SECONDS (20) on a seed corpus of the
# library's and the tests' scenarios, with a dictionary of the format's keys.
# The loader is linked from its sources (sim/scenario/, the endpoint spec, the
# waveform, core/) and the system cJSON. Long runs: docs/fuzzing.md.
# Prints TAP; exits 0 when the build and the run found nothing.
set -u
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$BUILD/fuzz"
corpus="$out/corpus_scenario"
name="fuzz_scenario - ${SECS} s of libFuzzer on the scenario loader, no crash"
echo "1..1"
if ! command -v clang >/dev/null 2>&1; then
    echo "not ok 1 - $name # clang not found"
    exit 1
fi
mkdir -p "$corpus" || exit 1
incs=""
for d in "$here"/sim/*/; do incs="$incs -I$d"; done
# shellcheck disable=SC2086
if ! clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$here/core" -I"$here/sim" $incs \
    "$here/tests/fuzz/fuzz_scenario.c" "$here"/sim/scenario/*.c "$here/sim/wave/waveform.c" \
    "$here/sim/endpoints/endpoint_spec.c" "$here"/core/*.c -lcjson -lm \
    -o "$out/fuzz_scenario" >"$out/build_scenario.log" 2>&1; then
    cat "$out/build_scenario.log"
    echo "not ok 1 - $name # build failed"
    exit 1
fi

# Seeds: every scenario of the library and the tests; a CSV path becomes the
# harness's own p.csv (its columns: time, L1, L2).
for f in "$here"/scenarios/*.json "$here"/tests/scenarios/*/*.json; do
    sed 's/"csv": *"[^"]*"/"csv": "p.csv"/' "$f" >"$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# The format's keys and words, so that mutations build objects the loader knows.
grep -ohE '"[a-z_0-9.]+"' "$here"/scenarios/*.json "$here"/tests/scenarios/*/*.json \
    "$here/docs/scenario.schema.json" | sort -u | sed 's/.*/&/' |
    awk '{ gsub(/"/, "\\\""); print "\"" $0 "\"" }' >"$out/scenario.dict"

log="$out/fuzz_scenario.log"
timeout $((SECS + 120)) "$out/fuzz_scenario" -max_total_time="$SECS" -max_len=16384 -timeout=60 \
    -rss_limit_mb=2048 -dict="$out/scenario.dict" -artifact_prefix="$out/scenario-" \
    "$corpus" >"$log" 2>&1
status=$?
tail -n 3 "$log"
if [ "$status" -eq 0 ]; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1)
    echo "ok 1 - $name: ${runs:-done}"
    exit 0
fi
grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 10
echo "not ok 1 - $name # exit $status, see $log"
exit 1
