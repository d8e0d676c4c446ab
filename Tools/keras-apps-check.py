#!/usr/bin/env python3
"""Checks modeltool on keras.applications models nobody here wrote.

Each architecture is built with weights=None (random weights; BatchNormalization and Normalization
statistics randomised too, so that they matter), small input, 10 classes and logits out, and saved
in a temporary folder (never committed): by tf_keras as .h5 and by Keras 3 as .keras. For each file:
  1. `modeltool info --json` lists no unsupported operator;
  2. `modeltool convert` to ONNX runs in onnxruntime equal to Keras (|d| <= 1e-4 * max(1, |ref|));
  3. `modeltool run` on the Keras file equals Keras within the same tolerance;
  4. `modeltool trim --layers all --ratio 0.25` in place gives a file with fewer parameters that the
     Keras which saved it reloads, computing what `modeltool run` computes on it.
Prints one line per check and `N passed, N failed`; exits non-zero on any failure.

usage: .venv-keras/bin/python Tools/keras-apps-check.py MODELTOOL [--smoke] [--models A,B] [--formats h5,keras]
  --smoke: MobileNetV3Small at 32x32 in both formats (what Tools/crosscheck.sh runs).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

TOLERANCE = 1e-4
# Input sizes: the smallest each architecture accepts with weights=None, or a little more where
# the smallest leaves a degenerate 1x1 map too early (kept small: the debug build is slow).
MODELS = {
    "MobileNetV2": 32, "MobileNetV3Small": 32, "ResNet50": 32, "DenseNet121": 32, "EfficientNetB0": 32,
    "Xception": 71, "InceptionV3": 75, "NASNetMobile": 32, "VGG16": 32,
}
# Architectures whose first layers rescale 0..255 pixels themselves.
PIXEL_INPUT = {"MobileNetV3Small", "EfficientNetB0"}


def build(fmt, name, size, seed):
    """The model from tf_keras (h5) or Keras 3 (keras), with its statistics randomised."""
    if fmt == "h5":
        import tf_keras as lib
    else:
        import keras as lib
    lib.utils.set_random_seed(seed)
    model = getattr(lib.applications, name)(weights=None, input_shape=(size, size, 3), classes=10,
                                             classifier_activation=None)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        weights = layer.get_weights()
        if kind == "BatchNormalization":
            # gamma, beta, moving mean, moving variance (scale/center may be off: then fewer).
            n = len(weights)
            weights[-2] = rng.normal(0, 0.1, weights[-2].shape).astype(np.float32)
            weights[-1] = rng.uniform(0.5, 1.5, weights[-1].shape).astype(np.float32)
            if n == 4:
                weights[0] = rng.uniform(0.5, 1.5, weights[0].shape).astype(np.float32)
                weights[1] = rng.normal(0, 0.1, weights[1].shape).astype(np.float32)
            layer.set_weights(weights)
        elif kind == "Normalization" and len(weights) >= 2:
            weights[0] = rng.uniform(0.4, 0.5, weights[0].shape).astype(np.float32)
            weights[1] = rng.uniform(0.05, 0.08, weights[1].shape).astype(np.float32)
            layer.set_weights(weights)
    return lib, model


def load(fmt, path):
    if fmt == "h5":
        import tf_keras
        return tf_keras.models.load_model(path, compile=False)
    import keras
    return keras.models.load_model(path, compile=False)


def predict(model, x):
    y = model(x, training=False)
    if isinstance(y, (list, tuple)):
        y = y[0]
    return np.asarray(y)


def worst(got, ref):
    """The largest |got - ref| / max(1, |ref|), inf on a shape mismatch."""
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(got - ref) / np.maximum(1.0, np.abs(ref))))


def modeltool(tool, *args):
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError((result.stderr.strip() or result.stdout.strip()).splitlines()[-1][:500])
    return result.stdout


def run_tool(tool, model, x_path, tmp):
    out = os.path.join(tmp, "run.npz")
    modeltool(tool, "run", model, "--input", x_path, "-o", out)
    with np.load(out) as z:
        return z[z.files[0]]


def check(tool, fmt, name, size, tmp, counts, seed=0):
    label = f"{name} .{fmt} {size}x{size}"

    def report(what, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {what}: {detail}", flush=True)
        counts["passed" if ok else "failed"] += 1

    try:
        _, model = build(fmt, name, size, seed)
    except Exception as e:  # an architecture the installed Keras refuses at this size is a failure here
        report("build", False, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
        return
    path = os.path.join(tmp, f"{name}.{fmt}")
    model.save(path)
    # The reference is the saved file as Keras loads it: Keras 3's Normalization keeps the statistics
    # it had when built until reloaded (finalize_state), so the in-memory model is not the file.
    model = load(fmt, path)
    rng = np.random.default_rng(seed + 1)
    x = rng.uniform(0, 255, (4, size, size, 3)) if name in PIXEL_INPUT else rng.uniform(-1, 1, (4, size, size, 3))
    x = x.astype(np.float32)
    x_path = os.path.join(tmp, "x.npy")
    np.save(x_path, x)
    ref = predict(model, x)
    params = model.count_params()

    try:
        info = json.loads(modeltool(tool, "info", path, "--json"))
        bad = [f"{u['node']} ({u['op']})" for u in info.get("unsupported", [])]
        report("info", not bad, "every operator supported" if not bad else "unsupported: " + ", ".join(bad))
    except (RuntimeError, ValueError) as e:
        report("info", False, str(e))

    try:
        import onnxruntime as ort
        onnx_path = os.path.join(tmp, f"{name}.onnx")
        modeltool(tool, "convert", path, onnx_path)
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        d = worst(session.run(None, {session.get_inputs()[0].name: x})[0], ref)
        report("convert -> onnxruntime", d <= TOLERANCE, f"{d:.2e} of max(1, |keras|)")
    except RuntimeError as e:
        report("convert -> onnxruntime", False, str(e))

    try:
        d = worst(run_tool(tool, path, x_path, tmp), ref)
        report("run", d <= TOLERANCE, f"{d:.2e} of max(1, |keras|)")
    except RuntimeError as e:
        report("run", False, str(e))

    trimmed = os.path.join(tmp, f"{name}.trimmed.{fmt}")
    shutil.copyfile(path, trimmed)
    try:
        modeltool(tool, "trim", trimmed, "--data", x_path, "--layers", "all", "--ratio", "0.25")
        reloaded = load(fmt, trimmed)
        after = reloaded.count_params()
        d = worst(predict(reloaded, x), run_tool(tool, trimmed, x_path, tmp))
        ok = d <= TOLERANCE and after < params
        report("trim in place -> keras reload", ok, f"params {params} -> {after}, keras vs modeltool {d:.2e}")
    except Exception as e:  # a reload failure is a failure of the writer
        report("trim in place -> keras reload", False, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tool")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--formats", default="h5,keras")
    args = parser.parse_args()
    tool = os.path.realpath(args.tool)
    names = ["MobileNetV3Small"] if args.smoke else args.models.split(",")
    counts = {"passed": 0, "failed": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for fmt in args.formats.split(","):
                check(tool, fmt, name, MODELS[name], tmp, counts)
    print(f"keras-apps: {counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
