#!/usr/bin/env bash
# Prints one closing line for a `swift test` log: "tests: N passed, N failed, N skipped".
# XCTest's own summary counts skipped tests among the executed ones; this line separates them.
set -euo pipefail
log=${1:?usage: Tools/test-summary.sh TEST_LOG}
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with" "$log" | tail -1 || true)
if [ -z "$summary" ]; then
  echo "tests: 0 passed, 1 failed (no XCTest summary in $log: the test run did not finish)"
  exit 0
fi
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=$( (grep -E "^Test Case '.*' skipped" "$log" || true) | wc -l)
echo "tests: $((executed - failed - skipped)) passed, $failed failed, $skipped skipped"
