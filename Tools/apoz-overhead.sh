#!/usr/bin/env bash
# The cost of APoZ collection over plain inference: the same `modeltool apoz` batch loop over the
# 10,000 Fashion-MNIST test images, once counting (-o stats.json) and once without (hidden
# --benchmark-without-counting flag), REPEAT times each, alternating so that a change of load on
# the machine hits both alike. Prints best and median seconds (the loop time modeltool reports),
# the overhead of the best and of the median runs, and the median of the REPEAT paired overheads
# (each counting run against the plain run just before it: the figure least moved by other work on
# a shared machine), per model, with the load average before and after. Use a release build:
#   swift build -c release --product modeltool && Tools/apoz-overhead.sh .build/release/modeltool [REPEAT] [DATA]
# DATA defaults to the Debian package dataset-fashion-mnist's test images (Tools/setup.sh installs
# it); MODELS (space-separated names in Fixtures/models) and THREADS (--threads) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:?usage: Tools/apoz-overhead.sh MODELTOOL [REPEAT] [DATA]}
repeat=${2:-5}
data=${3:-/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz}
models=${MODELS:-lenet vgg_style resnet_style mobilenet_style inception_style}
[ -f "$data" ] || { echo "apoz-overhead: $data is missing (install dataset-fashion-mnist or pass DATA)" >&2; exit 1; }
extra=()
[ -n "${THREADS:-}" ] && extra=(--threads "$THREADS")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

seconds() { grep -oE '[0-9]+\.[0-9]+ s' | head -1 | cut -d' ' -f1; }
best() { sort -g | head -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", (a - b) * 100 / b }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "data: $data, $repeat alternating runs each, $(nproc) cores, load average before: $(load)"
printf '%-16s %17s %17s %17s %7s\n' model 'plain best/median' 'count best/median' 'overhead b/m' 'paired'
within=0 total=0
for name in $models; do
  model=Fixtures/models/$name.onnx
  plain=() counted=()
  for _ in $(seq "$repeat"); do
    plain+=("$("$tool" apoz "$model" --data "$data" --scale 0.00392156862745098 "${extra[@]}" \
      --benchmark-without-counting | seconds)")
    counted+=("$("$tool" apoz "$model" --data "$data" --scale 0.00392156862745098 "${extra[@]}" \
      -o "$out/stats.json" | seconds)")
  done
  pb=$(printf '%s\n' "${plain[@]}" | best) pm=$(printf '%s\n' "${plain[@]}" | median)
  cb=$(printf '%s\n' "${counted[@]}" | best) cm=$(printf '%s\n' "${counted[@]}" | median)
  pairs=$(for k in "${!plain[@]}"; do awk -v c="${counted[$k]}" -v p="${plain[$k]}" 'BEGIN { print c / p }'; done | median)
  printf '%-16s %8s/%-8s %8s/%-8s %8s/%-8s %6s\n' "$name" "$pb" "$pm" "$cb" "$cm" "$(percent "$cb" "$pb")" \
    "$(percent "$cm" "$pm")" "$(percent "$pairs" 1)"
  total=$((total + 1))
  if awk -v r="$pairs" 'BEGIN { exit !(r <= 1.1) }'; then within=$((within + 1)); fi
done
echo "load average after: $(load); paired median overhead within 10%: $within of $total models"
