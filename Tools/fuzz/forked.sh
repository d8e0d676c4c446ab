#!/usr/bin/env bash
# Runs one harness in libFuzzer's fork mode, which goes on past crashes, then replays every input
# that crashed, alone in a fresh process, and classifies it by its own report:
#   Tools/fuzz/forked.sh NAME SECONDS [extra libFuzzer options]
# A fault inside libhdf5 (an ASan report, an absurd allocation or a timeout whose stack lies in
# libhdf5) is contained: the CLI parses HDF5 in an isolated child process (docs/RELIABILITY.md).
# Anything else is a finding. Inputs go to .build-fuzz/findings/NAME/ (contained ones to
# contained/, those that run cleanly alone to unreproduced/). Prints "executions rate contained
# unreproduced findings" on its last line; exits 1 on a finding.
# (ASan reports in libhdf5 are not suppressed: a suppressed out-of-bounds write let a run go on with
# a corrupted heap and crash later in our code, a false finding.)
set -uo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: Tools/fuzz/forked.sh NAME SECONDS}; seconds=${2:?}; shift 2
out=.build-fuzz
artifacts=$(mktemp -d "$out/artifacts-$name.XXXXXX")
log=$out/forked-$name.log
ASAN_OPTIONS=detect_leaks=0 bash Tools/fuzz.sh "$name" "$seconds" -fork=1 -ignore_crashes=1 -ignore_ooms=1 \
    -ignore_timeouts=1 -artifact_prefix="$artifacts/" "$@" > "$log" 2>&1
status=$?
progress=$(grep -E '^#[0-9]+: ' "$log" | tail -1)
runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<< "$progress"); runs=${runs:-0}
rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<< "$progress"); rate=${rate:-?}
contained=0; findings=0; unreproduced=0
# The fork-mode parent exits with the code of the last failure it ignored (70 after a timeout,
# say) once its time is up: that is not a finding, the replays below decide. Only a parent that
# did not reach its own exit ("INFO: exiting") failed.
if [ $status != 0 ] && ! grep -q "^INFO: exiting: " "$log"; then
    echo "fuzz $name: libFuzzer exited with status $status"; tail -5 "$log"; findings=1
fi
mkdir -p "$out/findings/$name/contained"
for input in "$artifacts"/*; do
    [ -e "$input" ] || continue
    replay=$out/replay-$name.log
    if ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no timeout 120 "$out/modeltool-fuzz" "$name" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 "$input" > "$replay" 2>&1; then
        # Alone it runs cleanly (e.g. an RSS limit reached only by a long run's allocator quarantine).
        unreproduced=$((unreproduced + 1)); mkdir -p "$out/findings/$name/unreproduced"; mv "$input" "$out/findings/$name/unreproduced/"
        echo "fuzz $name: $(basename "$input") does not reproduce alone (kept in .build-fuzz/findings/$name/unreproduced/)"
    elif bash Tools/fuzz/in-libhdf5.sh "$replay"; then
        contained=$((contained + 1)); mv "$input" "$out/findings/$name/contained/"
    else
        findings=$((findings + 1)); mv "$input" "$out/findings/$name/"
        echo "fuzz $name: FINDING $(basename "$input") (replay: $replay)"
        grep -E "ERROR|Fatal error|SUMMARY" "$replay" | head -5
    fi
done
rmdir "$artifacts" 2>/dev/null
echo "$runs $rate $contained $unreproduced $findings"
[ $findings = 0 ]
