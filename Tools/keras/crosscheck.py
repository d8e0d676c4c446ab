#!/usr/bin/env python3
"""Checks modeltool's Keras → ONNX conversions against Keras's own outputs.

For every Fixtures/keras/NAME.npz (x: NHWC inputs, y: what Keras computed), converts the matching
Keras file with `modeltool convert` (default NHWC input, and --nchw-input with x transposed), runs
the result in onnxruntime and compares with y (max abs difference ≤ 1e-4). The tf2onnx export is
run too, to show it computes the same function. No TensorFlow needed: y was saved by Keras.
Prints `N passed, N failed` and exits non-zero on any failure.

usage: crosscheck.py MODELTOOL FIXTURES_DIR
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-4


def sources(folder, name):
    """The Keras files behind NAME.npz, with the extra convert arguments each needs."""
    found = []
    for ext in (".h5", ".keras"):
        if os.path.exists(os.path.join(folder, name + ext)):
            found.append((name + ext, []))
    if name.endswith("weights_only"):
        config = os.path.join(folder, name + ".json")
        for f in (name + ".h5", name + ".weights.h5"):
            if os.path.exists(os.path.join(folder, f)):
                found = [(f, ["--config", config])]
    return found


def run(path, x):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for npz in sorted(f for f in os.listdir(folder) if f.endswith(".npz")):
            name = npz[:-4]
            data = np.load(os.path.join(folder, npz))
            x, y = data["x"], data["y"]
            for source, extra in sources(folder, name):
                for nchw in (False, True):
                    out = os.path.join(tmp, source + (".nchw" if nchw else "") + ".onnx")
                    args = [tool, "convert", os.path.join(folder, source), out] + extra + (["--nchw-input"] if nchw else [])
                    label = f"{source}{' --nchw-input' if nchw else ''}"
                    result = subprocess.run(args, capture_output=True, text=True)
                    if result.returncode != 0:
                        print(f"FAIL {label}: {result.stderr.strip()}")
                        failed += 1
                        continue
                    # Channels move to axis 1 for every input of rank ≥ 3 (N, T, C → N, C, T for Conv1D models).
                    perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
                    feed = np.ascontiguousarray(x.transpose(perm)) if nchw and x.ndim >= 3 else x
                    diff = float(np.max(np.abs(run(out, feed) - y)))
                    ok = diff <= TOLERANCE
                    print(f"{'ok  ' if ok else 'FAIL'} {label}: max |onnxruntime - keras| = {diff:.2e}")
                    passed += ok
                    failed += not ok
            exported = os.path.join(folder, name + ".tf2onnx.onnx")
            if os.path.exists(exported):
                out = os.path.join(tmp, "tf2onnx-roundtrip.onnx")
                subprocess.run([tool, "convert", exported, out], check=True)
                diff = float(np.max(np.abs(run(out, x) - y)))
                ok = diff <= TOLERANCE
                print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(exported)} via modeltool convert: max diff {diff:.2e}")
                passed += ok
                failed += not ok
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
