"""Runs the calling script inside .venv-models, creating it from PyPI when needed.

torch (CPU, from pip's configured find-links), onnx, onnxruntime and onnxscript come from
Tools/requirements-models.txt; torchvision from Tools/requirements-models-nodeps.txt without its
dependencies. ultralytics is added by `ensure_ultralytics()` only when a YOLO model is asked for.
A copy of the requirement files kept in the venv is the stamp: a change remakes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-models"
TOOLS = ROOT / "Tools"
BASE = [TOOLS / "requirements-models.txt", TOOLS / "requirements-models-nodeps.txt"]
ULTRA = TOOLS / "requirements-ultralytics.txt"
ULTRA_NODEPS = ["ultralytics==8.4.190", "ultralytics-thop==2.2.3"]


def _stamp_text(files) -> str:
    return "".join(f.read_text() for f in files)


def _pip(*args: str) -> None:
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *args], check=True)


def ensure_venv() -> None:
    """Re-executes the current script with .venv-models' python unless already running in it."""
    stamp = VENV / "requirements.stamp"
    fresh = (VENV / "bin" / "python").exists() and stamp.exists() and stamp.read_text() == _stamp_text(BASE)
    if Path(sys.prefix).resolve() == VENV.resolve() and fresh:
        return
    if not fresh:
        print(f"setting up {VENV.name} from {', '.join(f.name for f in BASE)} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        _pip("-r", str(BASE[0]))
        _pip("--no-deps", "-r", str(BASE[1]))
        stamp.write_text(_stamp_text(BASE))
    python = str(VENV / "bin" / "python")
    os.execv(python, [python, *sys.argv])


def ensure_ultralytics() -> None:
    """Installs ultralytics into the running venv (once)."""
    stamp = VENV / "ultralytics.stamp"
    want = ULTRA.read_text() + "".join(ULTRA_NODEPS)
    if stamp.exists() and stamp.read_text() == want:
        return
    print("installing ultralytics into .venv-models (once)", file=sys.stderr)
    _pip("-r", str(ULTRA))
    _pip("--no-deps", *ULTRA_NODEPS)
    stamp.write_text(want)


def import_torchvision():
    """torchvision without its C extension: the wheel's meta registrations name operators that only
    its (CUDA-built) extension defines, so that module is replaced by an empty one first."""
    import types
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torchvision
    return torchvision
