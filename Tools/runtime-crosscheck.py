#!/usr/bin/env python3
"""Cross-checks modeltool's CPU runtime against onnxruntime on every bundled model.

    runtime-crosscheck.py MODELTOOL

For each Fixtures/models/*.onnx:
  * `modeltool run` on the 100-image float32 slice must match onnxruntime's outputs to a
    maximum relative error of 1e-4 (|got - ref| / max(1, |ref|));
  * `modeltool eval` top-1 on the 1000-image uint8 slice (scaled by 1/255) must count exactly
    as many correct images as onnxruntime does on the same float32 input.
Prints one line per model and `runtime: N passed, N failed`; exits 1 when any check fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Fixtures" / "models"
DATA = ROOT / "Fixtures" / "fashion-mnist"
RUN_INPUT = DATA / "input100_f32.npy"
EVAL_IMAGES = DATA / "images.npy"
EVAL_LABELS = DATA / "labels.npy"
# The scale is passed to modeltool as text and applied in float32 (x * scale); the reference
# applies the same float32 multiplier so both runtimes see bit-identical inputs.
SCALE_TEXT = "0.00392156862745098"
TOLERANCE = 1e-4


def session(model: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def reference(sess: ort.InferenceSession, x: np.ndarray) -> list[np.ndarray]:
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x})


def modeltool(tool: str, *args: str) -> dict:
    proc = subprocess.run([tool, *args, "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        message = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise RuntimeError(f"modeltool {args[0]} exited {proc.returncode}: {message[-1] if message else ''}")
    return json.loads(proc.stdout)


def max_relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    if got.shape != ref.shape:
        raise RuntimeError(f"output shape {list(got.shape)}, onnxruntime gives {list(ref.shape)}")
    if got.size == 0:
        return 0.0
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    return float(np.max(diff / np.maximum(1.0, np.abs(ref.astype(np.float64)))))


def check_run(tool: str, model: Path, sess: ort.InferenceSession, tmp: Path) -> str:
    x = np.load(RUN_INPUT)
    refs = reference(sess, x)
    names = [o.name for o in sess.get_outputs()]
    out = tmp / f"{model.stem}.npy"
    modeltool(tool, "run", str(model), "--input", str(RUN_INPUT), "-o", str(out))
    if len(names) == 1:
        files = [out]
    else:
        safe = ["".join(c if c.isalnum() or c in "_-" else "_" for c in n) for n in names]
        files = [tmp / f"{model.stem}.{s}.npy" for s in safe]
    worst = 0.0
    for name, path, ref in zip(names, files, refs):
        err = max_relative_error(np.load(path), ref)
        if not np.isfinite(err) or err > TOLERANCE:
            raise RuntimeError(f"output '{name}' max relative error {err:.3g} > {TOLERANCE:g}")
        worst = max(worst, err)
    return f"max rel err {worst:.2e}"


def check_eval(tool: str, model: Path, sess: ort.InferenceSession) -> str:
    images = np.load(EVAL_IMAGES)
    labels = np.load(EVAL_LABELS)
    x = (images.astype(np.float32) * np.float32(float(SCALE_TEXT)))[:, None, :, :]
    scores = reference(sess, x)[0]
    expected = int(np.sum(np.argmax(scores.reshape(len(labels), -1), axis=1) == labels))
    result = modeltool(tool, "eval", str(model), "--data", str(EVAL_IMAGES), "--labels", str(EVAL_LABELS),
                       "--scale", SCALE_TEXT)
    got = result["top1Correct"]
    if got != expected:
        raise RuntimeError(f"eval top-1 {got}/{len(labels)}, onnxruntime {expected}/{len(labels)}")
    return f"top-1 {got}/{len(labels)}"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: runtime-crosscheck.py MODELTOOL", file=sys.stderr)
        return 2
    tool = sys.argv[1]
    models = sorted(MODELS.glob("*.onnx"))
    if not models:
        print(f"runtime: no models in {MODELS}", file=sys.stderr)
        return 1
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="runtime-crosscheck-") as tmpdir:
        for model in models:
            try:
                sess = session(model)
                run_note = check_run(tool, model, sess, Path(tmpdir))
                eval_note = check_eval(tool, model, sess)
                print(f"ok    {model.name}: {run_note}, {eval_note} (as onnxruntime)")
                passed += 1
            except Exception as e:  # one line per model, whatever went wrong
                print(f"FAIL  {model.name}: {e}")
                failed += 1
    print(f"runtime: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
