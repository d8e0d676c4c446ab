"""Runs the calling script inside .venv-torch, creating it from PyPI when needed.

The training tools need torch, which the other Tools venvs do not carry; like Tools/crosscheck.sh
does for .venv-tools, the venv is made once from Tools/requirements-training.txt and remade when
that file changes (a copy of it is kept in the venv as the stamp). Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-torch"
REQUIREMENTS = ROOT / "Tools" / "requirements-training.txt"
STAMP = VENV / "requirements-training.txt"


def _inside_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _up_to_date() -> bool:
    python = VENV / "bin" / "python"
    return (python.exists() and STAMP.exists()
            and STAMP.read_text() == REQUIREMENTS.read_text())


def ensure_venv() -> None:
    """Re-executes the current script with .venv-torch's python unless already running in it."""
    if _inside_venv() and _up_to_date():
        return
    if not _up_to_date():
        print(f"setting up {VENV.name} from {REQUIREMENTS.name} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        STAMP.write_text(REQUIREMENTS.read_text())
    python = str(VENV / "bin" / "python")
    os.execv(python, [python, *sys.argv])
