#!/usr/bin/env bash
# CI's fuzzing step: every libFuzzer harness for FUZZ_SECONDS (default 60) seconds; fails on the
# first finding (its input is kept in .build-fuzz/findings/NAME/). Prints executions per harness.
# libFuzzer runs with a fixed -seed (FUZZ_SEED, default 1): from a fresh clone's seed corpora the
# same mutations come in the same order, so a finding in CI can be replayed by running the same
# command (how far a run gets in its seconds still depends on the machine's speed).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}
bash Tools/fuzz.sh build || { echo "fuzz: the harnesses do not build"; exit 1; }
status=0
for name in onnx keras-config keras-zip npy npz idx idx-gz jpeg png apoz-stats; do
    log=.build-fuzz/smoke-$name.log
    if [ "$name" = keras-zip ]; then
        # The HDF5 import: libhdf5 faults on malformed files, and the CLI contains them in a child
        # process. Fork mode goes on past each one; every crashing input is then replayed alone and
        # classified (Tools/fuzz/forked.sh).
        if bash Tools/fuzz/forked.sh "$name" "$seconds" -seed="$seed" > "$log" 2>&1; then
            read -r runs rate contained unreproduced findings <<< "$(tail -1 "$log")"
            echo "fuzz $name: $runs executions in ${seconds} s (${rate}/s), 0 findings ($contained libhdf5 faults contained, $unreproduced not reproducible alone)"
        else
            echo "fuzz $name: FINDING (see $log and .build-fuzz/findings/$name/)"
            tail -8 "$log"
            status=1
        fi
        continue
    fi
    if ASAN_OPTIONS="detect_leaks=0" bash Tools/fuzz.sh "$name" "$seconds" -seed="$seed" > "$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "fuzz $name: ${runs:-?} executions in ${seconds} s (${rate:-?}/s), 0 findings"
    else
        echo "fuzz $name: FINDING (see $log and .build-fuzz/findings/$name/)"
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5
        [ -n "$(grep -E "ERROR|Fatal error|SUMMARY" "$log")" ] || tail -8 "$log"
        status=1
    fi
done
exit $status
