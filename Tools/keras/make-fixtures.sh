#!/usr/bin/env bash
# Regenerates Fixtures/keras/ with Keras 2 (tf_keras), Keras 3 (keras) and tf2onnx.
# Creates .venv-keras/ (git-ignored) from Tools/keras/requirements.txt, pinned, from PyPI
# (about 1.2 GB installed; measured install time is in Fixtures/keras/README.md).
#   Tools/keras/make-fixtures.sh              # every fixture
#   Tools/keras/make-fixtures.sh --gaps-only  # only the Conv1D / shared-layer / bilinear fixtures
#   Tools/keras/make-fixtures.sh --threshold-only  # only the ReLU(threshold) fixtures
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-keras
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import tf_keras, keras, tf2onnx, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r Tools/keras/requirements.txt
fi
if [ "${1:-}" != "--gaps-only" ] && [ "${1:-}" != "--threshold-only" ]; then
  rm -f Fixtures/keras/*.h5 Fixtures/keras/*.keras Fixtures/keras/*.npz Fixtures/keras/*.json Fixtures/keras/*.onnx
fi
"$venv/bin/python" Tools/keras/make_keras_fixtures.py Fixtures/keras "$@"
