#!/usr/bin/env bash
# The README's main job on the bundled example: inspect the bundled LeNet, measure its accuracy
# on the bundled Fashion-MNIST slice, then rewrite it losslessly.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:-.build/release/modeltool}
model=Fixtures/models/lenet.onnx
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== modeltool info $model"
"$tool" info "$model"
echo
echo "== modeltool eval $model on 1000 Fashion-MNIST test images"
"$tool" eval "$model" --data Fixtures/fashion-mnist/images-idx3-ubyte.gz \
  --labels Fixtures/fashion-mnist/labels-idx1-ubyte.gz --scale 0.00392156862745098
echo
echo "== modeltool convert $model (lossless round trip)"
"$tool" convert "$model" "$out/lenet.onnx"
if cmp -s "$model" "$out/lenet.onnx"; then
  echo "round trip: byte-identical ($(stat -c %s "$model") bytes)"
else
  echo "round trip: the copy differs from the original" >&2
  exit 1
fi
"$tool" convert --external-data "$model" "$out/lenet-ext.onnx"
echo "external data: $(stat -c %s "$out/lenet-ext.onnx") bytes of graph + $(stat -c %s "$out/lenet-ext.onnx.data") bytes in lenet-ext.onnx.data"
