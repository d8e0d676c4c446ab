#!/usr/bin/env python3
"""Cross-checks trimmed models against the onnx package and onnxruntime.

    trim-crosscheck.py MODELTOOL_RUNNER DIR

For every *_trimmed.onnx in DIR (written by `swift test --filter FixtureTrimTests` with
TRIM_FIXTURE_OUT=DIR): onnx.checker.check_model(full_check=True) must pass, and onnxruntime's
outputs on random input must equal modeltool's own (`modeltool run`) to 1e-4 relative.
MODELTOOL_RUNNER may be "-" to skip the runtime comparison and only run the checker and
onnxruntime (which still proves the model loads and runs).
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tool, folder = sys.argv[1], sys.argv[2]
    models = sorted(glob.glob(os.path.join(folder, "*_trimmed.onnx")))
    if not models:
        sys.exit(f"trim-crosscheck: no *_trimmed.onnx in {folder}")
    failures = 0
    for path in models:
        name = os.path.basename(path)
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feed = {}
            rng = np.random.default_rng(0)
            for i in session.get_inputs():
                shape = [d if isinstance(d, int) else 4 for d in i.shape]
                feed[i.name] = rng.standard_normal(shape).astype(np.float32)
            expected = session.run(None, feed)
            if tool != "-":
                with tempfile.TemporaryDirectory() as tmp:
                    (input_name, x), = feed.items()
                    np.save(os.path.join(tmp, "x.npy"), x)
                    out = os.path.join(tmp, "y.npy")
                    subprocess.run([tool, "run", path, "--input", os.path.join(tmp, "x.npy"), "-o", out],
                                   check=True, capture_output=True)
                    got = np.load(out)
                    ref = expected[0]
                    err = np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-6)
                    if err > 1e-4:
                        raise AssertionError(f"modeltool and onnxruntime differ by {err:.2e} (relative)")
            print(f"ok   {name}")
        except Exception as e:  # one line per model, then go on with the others
            failures += 1
            print(f"FAIL {name}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    print(f"trim-crosscheck: {len(models) - failures} of {len(models)} trimmed models pass")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
