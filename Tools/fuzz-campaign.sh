#!/usr/bin/env bash
# A long libFuzzer run of one harness that goes on past faults inside libhdf5 (contained by the
# CLI's isolated reader, docs/RELIABILITY.md):
#   Tools/fuzz-campaign.sh NAME SECONDS [extra libFuzzer options, e.g. -rss_limit_mb=4096]
# Runs Tools/fuzz/forked.sh at nice 19: libFuzzer's fork mode, then every crashing input replayed
# alone and classified (contained in libhdf5, not reproducible alone, or a finding in our code).
# The corpus in .build-fuzz/corpus/NAME grows from run to run. Prints the totals; exits 1 on a finding.
set -uo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: Tools/fuzz-campaign.sh NAME SECONDS}; seconds=${2:?usage: Tools/fuzz-campaign.sh NAME SECONDS}; shift 2
bash Tools/fuzz.sh build || exit 1
start=$(date +%s)
nice -n 19 bash Tools/fuzz/forked.sh "$name" "$seconds" "$@" > .build-fuzz/campaign-$name.log 2>&1
status=$?
grep -v '^[0-9]* ' .build-fuzz/campaign-$name.log | grep "^fuzz" 
read -r runs rate contained unreproduced findings <<< "$(tail -1 .build-fuzz/campaign-$name.log)"
echo "total: $runs executions in $(( $(date +%s) - start )) s (${rate}/s), $contained libhdf5 faults contained, $unreproduced not reproducible alone, $findings findings"
exit $status
