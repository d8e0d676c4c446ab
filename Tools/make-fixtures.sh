#!/usr/bin/env bash
# Regenerate everything under Fixtures/ (see Fixtures/README.md).
#
#   Tools/make-fixtures.sh            all steps (training takes ~10 min on 2 CPU cores)
#   Tools/make-fixtures.sh --no-train all steps except training/exporting the CNNs
#
# Creates .venv-fixtures/ (git-ignored) and installs pinned packages from PyPI:
# Tools/fixtures/requirements.txt, plus torch 2.13.0. torch is taken as the
# CPU-only build 2.13.0+cpu when pip can find it (e.g. through PIP_FIND_LINKS,
# set on this project's machines to a folder holding that wheel); otherwise
# the regular PyPI torch 2.13.0 is installed, which also pulls the large
# CUDA runtime packages. Set TORCH_WHEEL=/path/to/torch-*.whl to force a file.
# FIXTURES_VENV=DIR uses another venv folder. Rerunnable: an existing venv and
# existing outputs are reused / overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."

TRAIN=1
for arg in "$@"; do
  case "$arg" in
    --no-train) TRAIN=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

VENV="${FIXTURES_VENV:-.venv-fixtures}"
TORCH_VERSION=2.13.0
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
fi
"$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
  if [ -n "${TORCH_WHEEL:-}" ]; then
    "$PY" -m pip install -q "$TORCH_WHEEL"
  elif "$PY" -m pip install -q "torch==${TORCH_VERSION}+cpu" 2>/dev/null; then
    echo "installed torch ${TORCH_VERSION}+cpu"
  else
    echo "no CPU-only torch wheel found; installing torch==${TORCH_VERSION} from PyPI (large)" >&2
    "$PY" -m pip install -q "torch==${TORCH_VERSION}"
  fi
fi
"$PY" -m pip install -q -r Tools/fixtures/requirements.txt

PYABS="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
cd Tools/fixtures
echo "== Fashion-MNIST slices"
"$PYABS" make_data.py
if [ "$TRAIN" = 1 ]; then
  echo "== training and exporting the CNNs"
  "$PYABS" train_models.py
fi
echo "== round-trip fixtures"
"$PYABS" make_roundtrip.py
echo "== malformed inputs"
"$PYABS" make_bad.py
echo "== Fixtures/README.md"
"$PYABS" write_readme.py
cd ../../Fixtures
echo "done: $(du -shc models fashion-mnist roundtrip bad README.md | tail -1 | cut -f1) in Fixtures/{models,fashion-mnist,roundtrip,bad}"
