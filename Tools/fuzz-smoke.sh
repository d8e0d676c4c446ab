#!/usr/bin/env bash
# CI's fuzzing step: every libFuzzer harness for FUZZ_SECONDS (default 15) seconds; fails on the
# first finding (its input is kept in .build-fuzz/findings/NAME/). Prints executions per harness.
# libFuzzer runs with a fixed -seed (FUZZ_SEED, default 1): from a fresh clone's seed corpora the
# same mutations come in the same order, so a finding in CI can be replayed by running the same
# command (how far a run gets in its seconds still depends on the machine's speed).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-15}
seed=${FUZZ_SEED:-1}
bash Tools/fuzz.sh build || { echo "fuzz: the harnesses do not build"; exit 1; }
status=0
for name in onnx keras-config keras-zip npy npz idx idx-gz jpeg png apoz-stats; do
    log=.build-fuzz/smoke-$name.log
    # Reports from interceptors called by libhdf5 are suppressed (Tools/fuzz/libhdf5.supp): they
    # are contained, and ending the harness at the first one left keras-zip a few seconds of its 15.
    if ASAN_OPTIONS="detect_leaks=0:suppressions=$PWD/Tools/fuzz/libhdf5.supp" \
        bash Tools/fuzz.sh "$name" "$seconds" -seed="$seed" > "$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "fuzz $name: ${runs:-?} executions in ${seconds} s (${rate:-?}/s), 0 findings"
    elif grep -q "^SUMMARY: AddressSanitizer: .*libhdf5" "$log" ||
         { grep -q "libFuzzer: out-of-memory (malloc" "$log" && grep -A1 " in malloc " "$log" | grep -q "libhdf5"; } ||
         { grep -q "ERROR: libFuzzer: timeout" "$log" && grep -A10 "ERROR: libFuzzer: timeout" "$log" | grep -q "libhdf5"; }; then
        # (An absurd allocation requested by libhdf5 itself counts too: in the child process it
        # fails or is refused there, and the parent reports one line. So does a timeout inside
        # libhdf5: the child's CPU-time budget stops it, and the parent reports one line.)
        # A fault inside libhdf5 itself: modeltool cannot fix the library, and the CLI parses HDF5
        # in a child process, where such a fault becomes a one-line error (docs/RELIABILITY.md).
        echo "fuzz $name: libhdf5 fault (contained by the isolated reader; input in .build-fuzz/findings/$name/)"
        grep "^SUMMARY" "$log" | head -1
    else
        echo "fuzz $name: FINDING (see $log and .build-fuzz/findings/$name/)"
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5
        status=1
    fi
done
exit $status
