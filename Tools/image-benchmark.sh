#!/usr/bin/env bash
# Decoding + preprocessing throughput on a JPEG class folder: modeltool's --preset torchvision
# against torchvision's ImageFolder in a torch DataLoader (see Tools/image-benchmark.py).
#   Tools/image-benchmark.sh [--images 512] [--threads 2] [--runs 3] [--pool]
# Environment: SCRATCH (default .build) is the build folder, VENV (default .venv-dataloader) the
# virtualenv, created from Tools/requirements-dataloader.txt when missing (about 5 GB: the
# index's torch brings its CUDA libraries). Not part of CI. Numbers are only meaningful on an
# otherwise idle machine: the script prints the load average beside each figure.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH:-.build}
venv=${VENV:-.venv-dataloader}
swift build -c release --scratch-path "$scratch" --product modeltool
check='import torchvision, onnx, PIL; from torchvision import datasets, transforms'
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  python3 -m venv "$venv"
  # Without the configured find-links and pip config (env -u, PIP_CONFIG_FILE=/dev/null): its
  # CPU-only torch would win over the index's, and torchvision's C extension does not load on it.
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$venv/bin/pip" install -q --disable-pip-version-check \
    -r Tools/requirements-dataloader.txt
  "$venv/bin/python" -c "$check"
fi
echo "load: $(uptime)"
exec "$venv/bin/python" Tools/image-benchmark.py "$scratch/release/modeltool" "$@"
