#!/usr/bin/env python3
"""Checks modeltool's Keras writer against Keras itself.

1. For every Fixtures/keras/NAME.npz (x: NHWC inputs, y: Keras's outputs) and each Keras file behind
   it: `modeltool convert` Keras → ONNX → .h5 and → .keras; the .h5 must load in tf_keras (Keras 2)
   and in Keras 3, the .keras in Keras 3, and each must compute y (max abs difference ≤ 1e-4); modeltool
   must also read each written file back to ONNX computing y in onnxruntime.
2. For every PyTorch-made Fixtures/models/NAME.onnx with Fixtures/models/expected/NAME.npz:
   ONNX → .h5 / .keras, loaded the same ways, fed the NCHW inputs transposed to NHWC, must give
   onnxruntime's outputs (≤ 1e-4). A model modeltool refuses is reported as `refused` with the reason.
3. Conv2DTranspose models made here by tf_keras: h5 → onnx matches Keras in onnxruntime, and
   h5 → onnx → h5 loads in both Keras versions with the same outputs.
Prints one line per check and `N passed, N failed, N refused`; exits non-zero on any failure.

usage: .venv-keras/bin/python Tools/keras/writer_check.py MODELTOOL [REPO_ROOT]
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from crosscheck import sources  # the Keras files behind each .npz, shared with crosscheck.py

TOLERANCE = 1e-4


def loaders():
    import keras
    import tf_keras

    return {
        "tf_keras": lambda path: tf_keras.models.load_model(path, compile=False),
        "keras3": lambda path: keras.models.load_model(path, compile=False),
    }


def predict(model, x):
    y = model(x, training=False)
    if isinstance(y, (list, tuple)):
        assert len(y) == 1, f"{len(y)} outputs"
        y = y[0]
    return np.asarray(y)


def main():
    tool = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    load = loaders()
    counts = {"passed": 0, "failed": 0, "refused": 0}

    def convert(args, _label):
        result = subprocess.run([tool, "convert"] + args, capture_output=True, text=True)
        if result.returncode != 0:
            return result.stderr.strip()
        return None

    def compare(label, path, loader, x, y):
        try:
            got = predict(load[loader](path), x)
            diff = float(np.max(np.abs(got - y)))
        except Exception as e:  # a load failure is a failure of the writer
            print(f"FAIL {label} [{loader}]: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            counts["failed"] += 1
            return
        ok = got.shape == y.shape and diff <= TOLERANCE
        print(f"{'ok  ' if ok else 'FAIL'} {label} [{loader}]: max |keras - reference| = {diff:.2e}")
        counts["passed" if ok else "failed"] += 1

    def check_written(label, source_args, x, y, tmp, stem):
        for ext, names in ((".h5", ("tf_keras", "keras3")), (".keras", ("keras3",))):
            out = os.path.join(tmp, stem + ext)
            error = convert(source_args + [out], label)
            if error:
                print(f"FAIL {label} -> {ext}: {error}")
                counts["failed"] += 1
                continue
            for loader in names:
                compare(f"{label} -> {ext}", out, loader, x, y)
            read_back(f"{label} -> {ext}", out, x, y)

    def read_back(label, path, x, y):
        """modeltool must read its own file back (every layer class it writes) to the same function."""
        back = path + ".back.onnx"
        error = convert([path, back], label)
        if error:
            print(f"FAIL {label} -> onnx [modeltool reads it back]: {error}")
            counts["failed"] += 1
            return
        session = ort.InferenceSession(back, providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        diff = float(np.max(np.abs(got - y))) if got.shape == y.shape else float("inf")
        ok = diff <= TOLERANCE
        print(f"{'ok  ' if ok else 'FAIL'} {label} -> onnx [modeltool reads it back]: max |onnxruntime - reference| = {diff:.2e}")
        counts["passed" if ok else "failed"] += 1

    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(root, "Fixtures", "keras")
        for npz in sorted(f for f in os.listdir(folder) if f.endswith(".npz")):
            name = npz[:-4]
            data = np.load(os.path.join(folder, npz))
            x, y = data["x"], data["y"]
            for source, extra in sources(folder, name):
                onnx_path = os.path.join(tmp, source + ".onnx")
                label = f"{source} -> onnx"
                error = convert([os.path.join(folder, source), onnx_path] + extra, label)
                if error:
                    print(f"FAIL {label}: {error}")
                    counts["failed"] += 1
                    continue
                stem = source.replace(".", "_")
                check_or_refuse(check_written, label, [onnx_path], x, y, tmp, stem, counts, convert)

        models = os.path.join(root, "Fixtures", "models")
        for onnx_name in sorted(f for f in os.listdir(models) if f.endswith(".onnx")):
            name = onnx_name[:-5]
            expected = os.path.join(models, "expected", name + ".npz")
            if not os.path.exists(expected):
                continue
            x = np.load(expected)["input"].astype(np.float32)
            session = ort.InferenceSession(os.path.join(models, onnx_name), providers=["CPUExecutionProvider"])
            y = session.run(None, {session.get_inputs()[0].name: x})[0]
            x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            check_or_refuse(check_written, onnx_name, [os.path.join(models, onnx_name)], x_nhwc, y, tmp, name, counts, convert)

        transposed_convolutions(tmp, convert, compare, counts)

    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['refused']} refused")
    sys.exit(1 if counts["failed"] else 0)


def transposed_convolutions(tmp, convert, compare, counts):
    """Conv2DTranspose models made here by tf_keras (the reader lacks a committed fixture for them):
    h5 → onnx must match Keras in onnxruntime, and h5 → onnx → h5 must load with the same outputs."""
    import tf_keras

    rng = np.random.default_rng(5)
    for kernel, strides, padding, output_padding in [(2, 2, "valid", None), (4, 2, "same", None), (3, 2, "same", None),
                                                     (3, 2, "valid", None), (3, 1, "same", None), (1, 3, "valid", None),
                                                     (3, 2, "same", (1, 1))]:
        inp = tf_keras.Input((5, 6, 3), name="x")
        layer = tf_keras.layers.Conv2DTranspose(4, kernel, strides=strides, padding=padding, output_padding=output_padding,
                                                activation="relu", name="up")
        model = tf_keras.Model(inp, layer(inp))
        layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
        label = f"Conv2DTranspose(k={kernel}, s={strides}, {padding}, output_padding={output_padding})"
        source = os.path.join(tmp, "convt.h5")
        model.save(source)
        x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
        y = model(x).numpy()
        onnx_path = os.path.join(tmp, "convt.onnx")
        error = convert([source, onnx_path], label)
        if error:
            print(f"FAIL {label} -> onnx: {error}")
            counts["failed"] += 1
            continue
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        diff = float(np.max(np.abs(session.run(None, {"x": x})[0] - y)))
        ok = diff <= TOLERANCE
        print(f"{'ok  ' if ok else 'FAIL'} {label} -> onnx [onnxruntime]: max |onnxruntime - keras| = {diff:.2e}")
        counts["passed" if ok else "failed"] += 1
        back = os.path.join(tmp, "convt_back.h5")
        error = convert([onnx_path, back], label)
        if error:
            print(f"FAIL {label} -> onnx -> .h5: {error}")
            counts["failed"] += 1
            continue
        for loader in ("tf_keras", "keras3"):
            compare(f"{label} -> onnx -> .h5", back, loader, x, y)


def check_or_refuse(check_written, label, source_args, x, y, tmp, stem, counts, convert):
    """A model whose graph has no Keras equivalent is refused (reported, not failed); others are checked."""
    probe = os.path.join(tmp, stem + ".probe.h5")
    error = convert(source_args + [probe], label)
    if error and "no Keras equivalent" in error:
        print(f"refused {label}: {error}")
        counts["refused"] += 1
        return
    check_written(label, source_args, x, y, tmp, stem)


if __name__ == "__main__":
    main()
