#!/usr/bin/env bash
# Throughput of modeltool's runtime against onnxruntime on the Fixtures models (batch 1 and 64,
# 1 and 2 threads), plus the VGG-style model's GFLOP/s against the measured sgemm peak.
#   Tools/benchmark.sh [benchmark.py options, e.g. --repeat 7 --models Fixtures/models/vgg_style.onnx]
# Environment: SCRATCH (default .build) is the build folder, VENV (default .venv-tools) the
# virtualenv with onnxruntime, created from Tools/requirements-crosscheck.txt when missing.
# Numbers are only meaningful on an otherwise idle machine: check `uptime` first.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH:-.build}
venv=${VENV:-.venv-tools}
swift build -c release --scratch-path "$scratch" --product modeltool
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r Tools/requirements-crosscheck.txt
fi
echo "load: $(uptime)"
exec "$venv/bin/python" Tools/benchmark.py "$scratch/release/modeltool" "$@"
