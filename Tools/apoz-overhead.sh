#!/usr/bin/env bash
# The cost of APoZ collection over plain inference: the same `modeltool apoz` batch loop, once with
# the counting observer and once without (hidden --benchmark-without-counting flag), best of
# REPEAT runs each, per model. Use a release build:
#   swift build -c release && Tools/apoz-overhead.sh .build/release/modeltool [REPEAT] [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:?usage: Tools/apoz-overhead.sh MODELTOOL [REPEAT] [LIMIT]}
repeat=${2:-5}
limit=${3:-1000}
data=Fixtures/fashion-mnist/images.npy
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

seconds() { grep -oE '[0-9]+\.[0-9]+ s' | head -1 | cut -d' ' -f1; }
best() { sort -g | head -1; }

printf '%-22s %10s %10s %9s\n' model plain_s apoz_s overhead
for model in Fixtures/models/*.onnx; do
  plain=() counted=()
  for _ in $(seq "$repeat"); do
    plain+=("$("$tool" apoz "$model" --data "$data" --scale 0.00392156862745098 --limit "$limit" \
      --benchmark-without-counting | seconds)")
    counted+=("$("$tool" apoz "$model" --data "$data" --scale 0.00392156862745098 --limit "$limit" \
      -o "$out/stats.json" | seconds)")
  done
  p=$(printf '%s\n' "${plain[@]}" | best)
  c=$(printf '%s\n' "${counted[@]}" | best)
  printf '%-22s %10s %10s %8.1f%%\n' "$(basename "$model")" "$p" "$c" "$(echo "($c - $p) * 100 / $p" | bc -l)"
done
