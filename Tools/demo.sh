#!/usr/bin/env bash
# The README's main job on the bundled example: trim the bundled LeNet (the paper's conv 20 / conv 50
# / dense 500 / dense 10) by the paper's criterion on conv2 and the 500-unit dense layer, using the
# bundled slice of the Fashion-MNIST test set, then show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:-.build/release/modeltool}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp Fixtures/models/lenet.onnx "$work/lenet.onnx"
data=(--data Fixtures/fashion-mnist/images-idx3-ubyte.gz --labels Fixtures/fashion-mnist/labels-idx1-ubyte.gz
      --scale 0.00392156862745098)

echo "== modeltool trim lenet.onnx (APoZ > mean + 1 std on conv2 and fc1, with compensation)"
"$tool" trim "$work/lenet.onnx" "${data[@]}" --layers /conv2/Conv,/fc1/Gemm
echo
echo "== modeltool info lenet.onnx (trimmed in place)"
"$tool" info "$work/lenet.onnx"
echo
echo "== the same without compensation (the paper's plain removal)"
cp Fixtures/models/lenet.onnx "$work/plain.onnx"
"$tool" trim "$work/plain.onnx" "${data[@]}" --layers /conv2/Conv,/fc1/Gemm --no-compensate | tail -5
