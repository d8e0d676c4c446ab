#!/usr/bin/env bash
# The README's main job on the bundled example: the paper's loop on the bundled LeNet (conv 20 /
# conv 50 / dense 500 / dense 10). APoZ and accuracy are measured on the bundled slice of the
# Fashion-MNIST test set; after each trim of conv2 and the 500-unit dense layer by the paper's
# criterion (APoZ > mean + 1 std), the model is fine-tuned for one epoch on the bundled slice of the
# training set; up to four iterations, stopping at the first that ends more than 1 point below the
# original accuracy (the last model within that budget is kept). Then the trimmed file is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:-.build/release/modeltool}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp Fixtures/models/lenet.onnx "$work/lenet.onnx"
fm=Fixtures/fashion-mnist
data=(--data $fm/images-idx3-ubyte.gz --labels $fm/labels-idx1-ubyte.gz --scale 0.00392156862745098)
train=(--train-data $fm/train6k-images-idx3-ubyte.gz --train-labels $fm/train6k-labels-idx1-ubyte.gz
       --optimizer sgd --lr 0.01 --momentum 0.9 --seed 1)

echo "== modeltool trim lenet.onnx: up to 4 iterations of trim (conv2, fc1) → fine-tune 1 epoch on 6,000 training images"
"$tool" trim "$work/lenet.onnx" "${data[@]}" --layers /conv2/Conv,/fc1/Gemm "${train[@]}" --iterations 4 --finetune-epochs 1 \
  --max-accuracy-drop 1
echo
echo "== modeltool info lenet.onnx (trimmed and retrained in place)"
"$tool" info "$work/lenet.onnx" | tail -8
echo
echo "== one trim without retraining, for comparison (the paper's plain removal)"
cp Fixtures/models/lenet.onnx "$work/plain.onnx"
"$tool" trim "$work/plain.onnx" "${data[@]}" --layers /conv2/Conv,/fc1/Gemm --no-compensate | tail -5
