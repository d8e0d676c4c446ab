#!/usr/bin/env bash
# A long libFuzzer run of one harness that goes on past faults inside libhdf5 (contained by the
# isolated reader, docs/RELIABILITY.md), and stops at the first finding in our own code:
#   Tools/fuzz-campaign.sh NAME RUNS SECONDS [extra libFuzzer options, e.g. -rss_limit_mb=4096]
# Runs `nice -n 19 Tools/fuzz.sh NAME` in segments until RUNS executions or SECONDS have passed.
# ASan reports raised in an interceptor (memcpy, …) called from libhdf5 are suppressed, so they
# do not end a segment; a signal or an absurd allocation inside libhdf5 ends the segment, is counted
# as contained (its input moved to .build-fuzz/findings/NAME/contained/), and the next segment
# resumes from the grown corpus. Prints one line per segment and the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: Tools/fuzz-campaign.sh NAME RUNS SECONDS}; runs=${2:?}; seconds=${3:?}
bash Tools/fuzz.sh build || exit 1
mkdir -p .build-fuzz/findings/"$name"/contained
suppressions=$PWD/Tools/fuzz/libhdf5.supp
start=$(date +%s); total=0; contained=0; segment=0
while [ "$total" -lt "$runs" ] && [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    segment=$((segment + 1)); log=.build-fuzz/campaign-$name-$segment.log
    left=$(( seconds - ($(date +%s) - start) ))
    ASAN_OPTIONS="detect_leaks=0:suppressions=$suppressions" nice -n 19 bash Tools/fuzz.sh "$name" "$left" \
        -runs=$((runs - total)) "${@:4}" > "$log" 2>&1
    status=$?
    done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log"); done_runs=${done_runs:-0}
    if [ "$done_runs" = 0 ]; then  # a crash prints no final stats: take the last progress line
        done_runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#'); done_runs=${done_runs:-0}
    fi
    total=$((total + done_runs))
    if [ $status = 0 ]; then
        echo "segment $segment: $done_runs executions, ended cleanly"
    elif grep -q "^SUMMARY: AddressSanitizer: .*libhdf5" "$log" ||
         { grep -q "libFuzzer: out-of-memory (malloc" "$log" && grep -A1 " in malloc " "$log" | grep -q "libhdf5"; } ||
         { grep -q "ERROR: libFuzzer: timeout" "$log" && grep -A10 "ERROR: libFuzzer: timeout" "$log" | grep -q "libhdf5"; } ||
         { grep -q "deadly signal" "$log" && grep -m1 -A3 "^==.*ERROR: libFuzzer: deadly signal" "$log" | grep -q "libhdf5"; }; then
        contained=$((contained + 1))
        mv .build-fuzz/findings/"$name"/crash-* .build-fuzz/findings/"$name"/oom-* .build-fuzz/findings/"$name"/contained/ 2>/dev/null
        echo "segment $segment: $done_runs executions, then a libhdf5 fault (contained): $(grep -m1 '^SUMMARY' "$log")"
    else
        echo "segment $segment: $done_runs executions, then a FINDING (see $log)"
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5
        echo "total: $total executions in $(( $(date +%s) - start )) s, $contained contained libhdf5 faults, 1 finding"
        exit 1
    fi
done
echo "total: $total executions in $(( $(date +%s) - start )) s, $contained contained libhdf5 faults, 0 findings"
