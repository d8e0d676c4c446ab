#!/usr/bin/env bash
# CI's fuzzing step: every libFuzzer harness for FUZZ_SECONDS (default 15) seconds; fails on the
# first finding (its input is kept in .build-fuzz/findings/NAME/). Prints executions per harness.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-15}
bash Tools/fuzz.sh build || { echo "fuzz: the harnesses do not build"; exit 1; }
status=0
for name in onnx keras-config keras-zip npy npz idx idx-gz; do
    log=.build-fuzz/smoke-$name.log
    if bash Tools/fuzz.sh "$name" "$seconds" > "$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "fuzz $name: ${runs:-?} executions in ${seconds} s (${rate:-?}/s), 0 findings"
    else
        echo "fuzz $name: FINDING (see $log and .build-fuzz/findings/$name/)"
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5
        status=1
    fi
done
exit $status
