#!/usr/bin/env python3
"""Cross-checks `modeltool apoz` against onnxruntime.

For each model, modeltool collects APoZ statistics over a Fashion-MNIST slice; then onnxruntime
runs the same samples with every observed tensor exposed as an extra graph output, and per-channel
APoZ, zero counts, position counts and activation sums are computed here with numpy. APoZ must
agree within 0.001 absolute per channel (exact counts may differ only where a pre-activation is
within float rounding of zero), positions exactly.

    Tools/apoz-crosscheck.py MODELTOOL [MODEL.onnx ...] [--limit N]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "Fixtures", "fashion-mnist", "images.npy")
SCALE = 0.00392156862745098
TOLERANCE = 0.001


def reference(model_path, tensors, images):
    """Per observed tensor: (zeros, positions, sums) per channel from onnxruntime."""
    model = onnx.load(model_path)
    existing = {o.name for o in model.graph.output}
    for name in tensors:
        if name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed_name = session.get_inputs()[0].name
    totals = {n: None for n in tensors}
    for start in range(0, len(images), 100):
        batch = images[start:start + 100]
        outputs = session.run(tensors, {feed_name: batch})
        for name, y in zip(tensors, outputs):
            y = np.asarray(y, dtype=np.float32)
            c = y.shape[1]
            per_channel = np.moveaxis(y, 1, 0).reshape(c, -1)
            finite = np.isfinite(per_channel)
            zeros = (per_channel == 0).sum(axis=1).astype(np.uint64)
            positions = np.full(c, per_channel.shape[1], dtype=np.uint64)
            sums = np.where(finite, per_channel, 0).astype(np.float64).sum(axis=1)
            if totals[name] is None:
                totals[name] = [zeros, positions, sums]
            else:
                totals[name][0] += zeros
                totals[name][1] += positions
                totals[name][2] += sums
    return totals


def check(tool, model_path, limit, workdir):
    out = os.path.join(workdir, os.path.basename(model_path) + ".apoz.json")
    cmd = [tool, "apoz", model_path, "--data", DATA, "--scale", repr(SCALE), "--limit", str(limit), "-o", out]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        return False, f"modeltool failed: {run.stderr.strip()}"
    stats = json.load(open(out))
    raw = np.load(DATA)[:limit]
    images = (raw.astype(np.float32) * np.float32(SCALE)).reshape(len(raw), 1, 28, 28)
    names = [t["tensor"] for t in stats["tensors"]]
    ref = reference(model_path, names, images)
    worst, count_diffs, channels, problems = 0.0, 0, 0, []
    for t in stats["tensors"]:
        zeros, positions, sums = ref[t["tensor"]]
        ours_zeros = np.array(t["zeros"], dtype=np.uint64)
        ours_positions = np.array(t["positions"], dtype=np.uint64)
        if len(ours_zeros) != len(zeros):
            problems.append(f"{t['tensor']}: {len(ours_zeros)} channels, onnxruntime {len(zeros)}")
            continue
        if not np.array_equal(ours_positions, positions):
            problems.append(f"{t['tensor']}: positions differ")
        diff = np.abs(ours_zeros / ours_positions - zeros / positions)
        worst = max(worst, float(diff.max()))
        count_diffs += int((ours_zeros != zeros).sum())
        channels += len(zeros)
        if diff.max() > TOLERANCE:
            problems.append(f"{t['tensor']}: APoZ differs by {diff.max():.6f} at channel {int(diff.argmax())}")
        rel = np.abs(np.array(t["sums"]) - sums) / np.maximum(1.0, np.abs(sums))
        if rel.max() > 1e-3:
            problems.append(f"{t['tensor']}: activation sums differ by {rel.max():.2e} (relative)")
    summary = (f"{len(names)} tensors, {channels} channels, max |APoZ diff| {worst:.2e}, "
               f"{count_diffs} channel(s) with a different exact zero count")
    return not problems, summary + ("" if not problems else "; " + "; ".join(problems))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    models = args.models or sorted(glob.glob(os.path.join(ROOT, "Fixtures", "models", "*.onnx")))
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        for m in models:
            ok, message = check(os.path.abspath(args.tool), m, args.limit, workdir)
            print(f"apoz-crosscheck: {'ok  ' if ok else 'FAIL'} {os.path.relpath(m, ROOT)}: {message}")
            failures += 0 if ok else 1
    print(f"apoz-crosscheck: {len(models) - failures} of {len(models)} models agree with onnxruntime "
          f"(limit {args.limit} samples, tolerance {TOLERANCE})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
