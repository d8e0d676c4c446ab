#!/usr/bin/env bash
# Cross-checks against references nobody here wrote: the onnx package's own schema and loader.
# Installs pinned onnx/onnxruntime/numpy from PyPI into .venv-tools (once), then runs each check.
#   Tools/crosscheck.sh path/to/modeltool
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:?usage: Tools/crosscheck.sh MODELTOOL}
venv=.venv-tools
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r Tools/requirements-crosscheck.txt
fi
py="$venv/bin/python"

"$py" Tools/check-schema.py
# Every model meant to load: the bundled models, the round-trip fixtures and ONNX files made from
# the Keras fixtures (tf2onnx). Fixtures/bad holds files that must be refused; tests cover those.
models=()
for d in Fixtures/models Fixtures/roundtrip Fixtures/keras; do [ -d "$d" ] && models+=("$d"); done
[ -d ../shared/onnx-backend-data ] && models+=(../shared/onnx-backend-data) || echo "crosscheck: ../shared/onnx-backend-data absent, checking Fixtures only"
"$py" Tools/roundtrip-check.py "$tool" "${models[@]}"
# paddle2onnx's -1 dimensions through info, convert and trim (a small model built on the fly).
"$py" Tools/dynamic-dims-check.py "$tool"
# Outputs (1e-4 relative) and eval top-1 counts of every bundled model against onnxruntime.
"$py" Tools/runtime-crosscheck.py "$tool"
# Image folders against Pillow (what torchvision's transforms run on): --preset torchvision within
# 0.005 mean absolute difference, PNG pixels bit-exact. Pillow, numpy and onnx go into .venv-images.
ivenv=.venv-images
if [ ! -x "$ivenv/bin/python" ] || ! "$ivenv/bin/python" -c "import PIL, numpy, onnx" 2>/dev/null; then
  python3 -m venv "$ivenv"
  "$ivenv/bin/pip" install -q --disable-pip-version-check -r Tools/requirements-images.txt
fi
"$ivenv/bin/python" Tools/image-crosscheck.py "$tool"
# Parameters and MACs of the bundled models against onnx-tool's profile (its own venv, .venv-macs).
# The full run adds Fixtures/roundtrip and torchvision models: Tools/macs-crosscheck.py --torchvision.
python3 Tools/macs-crosscheck.py "$tool" --smoke
# APoZ per channel against onnxruntime with the observed tensors exposed as outputs.
"$py" Tools/apoz-crosscheck.py "$tool"
# Keras -> ONNX conversions against the outputs Keras itself saved (no TensorFlow needed here).
bash Tools/keras-crosscheck.sh "$tool"
# One SGD and one Adam step of `finetune` on every bundled model against PyTorch (torch CPU,
# installed once into .venv-torch): same loss, same updated tensors and BN running statistics.
python3 Tools/training-crosscheck.py "$tool"
# Trimmed fixture models: onnx.checker (full check) accepts them and onnxruntime agrees with us.
mkdir -p .build/trim-out
TRIM_FIXTURE_OUT=$PWD/.build/trim-out swift test --disable-swift-testing --filter FixtureTrimTests > .build/trim-out/test.log 2>&1 \
  || { cat .build/trim-out/test.log; exit 1; }
"$py" Tools/trim-crosscheck.py "$tool" .build/trim-out
# Real models from PyPI (CPU torch + torchvision's model code, installed once into .venv-models):
# the smoke subset of Tools/real-models-check.py (the UNet-style graph with its detection-style
# head, SqueezeNet 1.1): info, run against onnxruntime, trim, planted dead channels. The full run
# is documented in README.md. Then the onnx package's node cases of the detection operators.
python3 Tools/real-models-check.py "$tool" --smoke
rm -rf .build/node-cases
python3 Tools/node-cases.py .build/node-cases
ONNX_NODE_DATA=$PWD/.build/node-cases swift test --disable-swift-testing --filter ConformanceTests > .build/node-cases/test.log 2>&1 \
  || { cat .build/node-cases/test.log; exit 1; }
grep -h "conformance:" .build/node-cases/test.log | head -1
# Keras writer: h5 -> onnx -> h5/.keras loads back in tf_keras and Keras 3 with the same outputs, and
# the PyTorch-made models convert to Keras with onnxruntime's outputs. Needs TensorFlow (about
# 1.2 GB from PyPI, installed once into .venv-keras).
kvenv=.venv-keras
if [ ! -x "$kvenv/bin/python" ] || ! "$kvenv/bin/python" -c "import tensorflow, tf_keras, keras" 2>/dev/null; then
  python3 -m venv "$kvenv"
  "$kvenv/bin/pip" install -q --disable-pip-version-check -r Tools/keras/requirements.txt
fi
TF_CPP_MIN_LOG_LEVEL=3 "$kvenv/bin/python" Tools/keras/writer_check.py "$(realpath "$tool")"
# Fine-tuned Keras files: one SGD step of `finetune` on each Keras classifier fixture; the written
# .h5/.keras loads in tf_keras and Keras 3 computing modeltool's outputs, keeps its layers, and
# matches the same step taken by Keras's own train_on_batch.
TF_CPP_MIN_LOG_LEVEL=3 "$kvenv/bin/python" Tools/keras/finetune_check.py "$(realpath "$tool")"
# keras.applications made here with weights=None (smoke: MobileNetV3Small at 32x32, saved by tf_keras
# as .h5 and by Keras 3 as .keras): info, convert and run equal Keras, and trim in place reloads in
# Keras equal to `modeltool run`. The full run over nine architectures is in README (Verified).
TF_CPP_MIN_LOG_LEVEL=3 "$kvenv/bin/python" Tools/keras-apps-check.py "$(realpath "$tool")" --smoke
