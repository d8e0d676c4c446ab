#!/usr/bin/env python3
"""Compares `modeltool info --json` totals (parameters, MACs) with onnx-tool's profile.

    python3 Tools/macs-crosscheck.py MODELTOOL [--smoke] [--torchvision] [--tolerance 0.001]
                                     [--file PATH[:INPUT=d,d,...]]...

Runs itself in .venv-macs (made once from Tools/requirements-macs.txt: onnx-tool, onnx, numpy).
Models: every ONNX file under Fixtures/models and Fixtures/roundtrip (--smoke: Fixtures/models
only). --torchvision adds resnet18 and mobilenet_v2 (weights=None) exported at 224x224 by PyTorch's
legacy exporter into a temporary folder (never committed), plus a resnet18 exported with dynamic
batch, height and width that is profiled with `info --input-shape input=1,3,224,224`; the export
runs in .venv-torch (Tools/requirements-training.txt) with torchvision's pure-Python model
definitions added (--no-deps, with Pillow, which they import: torchvision's C extension is not
needed to build the models).

onnx-tool is run as its `model_profile` runs it: shapes inferred for the given (or batch-1)
input shapes, and the operators it hides (Identity, Constant, Shape, Reshape, Concat, Slice, ...)
left out of the parameter count. A model agrees when both totals are within --tolerance
(relative). Prints one line per model and a summary; exit status 1 when any model disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-macs"
REQUIREMENTS = ROOT / "Tools" / "requirements-macs.txt"
STAMP = VENV / "requirements-macs.txt"


# Files modeltool refuses on purpose (Tools/roundtrip-check.py states why).
REFUSED = {"unknown_group.onnx": "modeltool refuses the deprecated group encoding (see Tools/roundtrip-check.py)"}


def ensure_venv() -> None:
    """Re-executes this script with .venv-macs's python, making the venv first when needed."""
    python = VENV / "bin" / "python"
    fresh = python.exists() and STAMP.exists() and STAMP.read_text() == REQUIREMENTS.read_text()
    if fresh and Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not fresh:
        print(f"setting up {VENV.name} from {REQUIREMENTS.name} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        STAMP.write_text(REQUIREMENTS.read_text())
    os.execv(str(python), [str(python), *sys.argv])


def onnx_tool_totals(path: Path, shapes: dict[str, list[int]]) -> tuple[int, int]:
    """(parameters, MACs) as onnx-tool's model_profile counts them, inputs bound to `shapes`
    (symbolic dimensions of inputs not given are set to 1)."""
    import onnx
    import onnx_tool
    from onnx_tool import NoMacsOps, create_ndarray_f32

    warnings.simplefilter("ignore")  # "not registered for profiling": such nodes count 0, as here
    proto = onnx.load(str(path))
    initializers = {t.name for t in proto.graph.initializer}
    inputs = {}
    for i in proto.graph.input:
        if i.name in initializers:
            continue
        dims = shapes.get(i.name) or [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1
                                      for d in i.type.tensor_type.shape.dim]
        inputs[i.name] = create_ndarray_f32(dims)
    model = onnx_tool.Model(proto, {"verbose": False})
    g = model.graph
    g.graph_reorder_nodes()
    g.shape_infer(inputs)
    g.profile(exclude_ops=set(NoMacsOps))
    return int(g.params), int(round(g.macs[0]))


def modeltool_totals(tool: str, path: Path, shapes: dict[str, list[int]]) -> tuple[int, int, list[str]]:
    args = [tool, "info", str(path), "--json"]
    for name, dims in shapes.items():
        args += ["--input-shape", f"{name}={','.join(map(str, dims))}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["totalParams"], report["totalMACs"], report["layersWithUnknownMACs"]


def export_torchvision(folder: Path) -> list[tuple[Path, dict[str, list[int]]]]:
    """Exports the torchvision models in .venv-torch; returns (file, input shapes) pairs."""
    sys.path.insert(0, str(ROOT / "Tools" / "training"))
    import venv_bootstrap  # noqa: E402 (stdlib only: where .venv-torch lives and how it is made)

    venv = venv_bootstrap.VENV
    python = venv / "bin" / "python"
    if not venv_bootstrap._up_to_date():  # made as venv_bootstrap makes it, without entering it
        print(f"setting up {venv.name} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", str(venv_bootstrap.REQUIREMENTS)], check=True)
        venv_bootstrap.STAMP.write_text(venv_bootstrap.REQUIREMENTS.read_text())
    if subprocess.run([str(python), "-c", "import torchvision.models"], capture_output=True).returncode != 0:
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "--no-deps", "torchvision==0.28.0", "pillow==12.0.0"], check=True)
    subprocess.run([str(python), str(ROOT / "Tools" / "macs" / "export_torchvision.py"), str(folder)], check=True)
    return [(folder / "resnet18.onnx", {}), (folder / "mobilenet_v2.onnx", {}),
            (folder / "resnet18_dynamic.onnx", {"input": [1, 3, 224, 224]})]


def relative(a: int, b: int) -> float:
    return abs(a - b) / max(1, abs(b))


def main() -> int:
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tool")
    parser.add_argument("--smoke", action="store_true", help="Fixtures/models only")
    parser.add_argument("--torchvision", action="store_true", help="add torchvision models exported at 224")
    parser.add_argument("--tolerance", type=float, default=0.001, help="relative difference allowed")
    parser.add_argument("--file", action="append", default=[], metavar="PATH[:NAME=d,d,...]",
                        help="also profile this ONNX file, its input NAME bound to the given shape (repeatable; "
                             "e.g. a YOLOv8n export written by Tools/realmodels/zoo.py)")
    args = parser.parse_args()
    tool = str(Path(args.tool).resolve())

    folders = ["Fixtures/models"] + ([] if args.smoke else ["Fixtures/roundtrip"])
    cases: list[tuple[Path, dict[str, list[int]]]] = []
    for folder in folders:
        cases += [(p, {}) for p in sorted((ROOT / folder).glob("*.onnx"))]
    for spec in args.file:
        path, _, binding = spec.partition(":")
        shapes = {}
        if binding:
            name, _, dims = binding.partition("=")
            shapes[name] = [int(d) for d in dims.split(",")]
        cases.append((Path(path).resolve(), shapes))
    with tempfile.TemporaryDirectory(prefix="macs-crosscheck-") as tmp:
        if args.torchvision:
            cases += export_torchvision(Path(tmp))
        agree = disagree = skipped = 0
        for path, shapes in cases:
            name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            try:
                ref_params, ref_macs = onnx_tool_totals(path, shapes)
            except Exception as e:  # onnx-tool lacks some operators; say so and go on
                print(f"skip  {name}: onnx-tool cannot profile it ({type(e).__name__}: {str(e)[:80]})")
                skipped += 1
                continue
            if path.name in REFUSED:
                print(f"skip  {name}: {REFUSED[path.name]}")
                skipped += 1
                continue
            params, macs, unknown = modeltool_totals(tool, path, shapes)
            dp, dm = relative(params, ref_params), relative(macs, ref_macs)
            ok = dp <= args.tolerance and dm <= args.tolerance and not unknown
            agree += ok
            disagree += not ok
            given = " " + " ".join(f"{k}={','.join(map(str, v))}" for k, v in shapes.items()) if shapes else ""
            print(f"{'ok  ' if ok else 'DIFF'}  {name}{given}: params {params} vs {ref_params} ({dp:.2e}), "
                  f"MACs {macs} vs {ref_macs} ({dm:.2e})" + (f", unknown MACs in {unknown}" if unknown else ""))
    print(f"macs-crosscheck: {agree} agree, {disagree} differ, {skipped} skipped (tolerance {args.tolerance})")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
