#!/usr/bin/env bash
# Cross-checks Keras → ONNX conversions against the outputs Keras itself saved in Fixtures/keras/*.npz.
# Needs only onnxruntime and numpy (the pinned .venv-tools of Tools/crosscheck.sh), not TensorFlow:
# regenerating the fixtures (Tools/keras/make-fixtures.sh) is what needs TensorFlow.
#   Tools/keras-crosscheck.sh path/to/modeltool
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:?usage: Tools/keras-crosscheck.sh MODELTOOL}
venv=.venv-tools
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r Tools/requirements-crosscheck.txt
fi
"$venv/bin/python" Tools/keras/crosscheck.py "$(realpath "$tool")" Fixtures/keras
