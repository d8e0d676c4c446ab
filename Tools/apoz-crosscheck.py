#!/usr/bin/env python3
"""Cross-checks `modeltool apoz` against onnxruntime.

For each model, modeltool collects APoZ statistics over a Fashion-MNIST slice; then onnxruntime
runs the same samples with every observed tensor exposed as an extra graph output, and per-channel
APoZ, zero counts, position counts and activation sums are computed here with numpy. APoZ must
agree within 0.001 absolute per channel (exact counts may differ only where a pre-activation is
within float rounding of zero), positions exactly.

Off-region points (SiLU, GELU, HardSwish, …: `"region": "nonPositive"` in the statistics file)
count the values <= 0 of the activation's input: onnxruntime's pre-activation tensor is exposed
too and counted here. Besides the Fixtures, two small random-weight conv nets written here cover
them: HardSwish, x*Sigmoid(x), x*HardSigmoid(x) and Elu in one; GELU from Erf, paddle's
Add/Clip/Mul/Div hardswish, Mish as x*Tanh(Softplus(x)) and LeakyRelu in the other. A third,
MobileNet-like with 24 and 40 channels, has ReLUs that modeltool counts in padded 16-channel
blocks.

Each of those is also trimmed (`--layers all --ratio 0.25`): the smaller model must pass
`onnx.checker.check_model(full_check=True)` and run equal in onnxruntime and modeltool.

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
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "Fixtures", "fashion-mnist", "images.npy")
SCALE = 0.00392156862745098
TOLERANCE = 0.001


def off_region_models(workdir):
    """Two conv nets on 28x28 images whose activations are all off-region ones."""
    rng = np.random.default_rng(5)
    paths = []

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)

    for variant in ("sigmoid_forms", "decomposed_forms"):
        inits, nodes = [], []

        def conv_bn(name, x, cin, cout):
            inits.extend([const(f"{name}.w", rng.normal(0, 0.5, (cout, cin, 3, 3))),
                          const(f"{name}.b", rng.normal(0, 0.2, cout)),
                          const(f"{name}.scale", rng.uniform(0.5, 1.5, cout)),
                          const(f"{name}.shift", rng.normal(-0.3, 0.5, cout)),
                          const(f"{name}.mean", rng.normal(0, 0.1, cout)),
                          const(f"{name}.var", rng.uniform(0.5, 1.5, cout))])
            nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.c"], name=name, pads=[1, 1, 1, 1]))
            nodes.append(helper.make_node("BatchNormalization", [f"{name}.c", f"{name}.scale", f"{name}.shift",
                                                                 f"{name}.mean", f"{name}.var"], [f"{name}.n"]))
            return f"{name}.n"

        def act(kind, x, out):
            if kind == "silu":
                nodes.extend([helper.make_node("Sigmoid", [x], [out + ".s"]), helper.make_node("Mul", [x, out + ".s"], [out])])
            elif kind == "hardsigmoid_swish":
                nodes.extend([helper.make_node("HardSigmoid", [x], [out + ".s"], alpha=1 / 6, beta=0.5),
                              helper.make_node("Mul", [out + ".s", x], [out])])
            elif kind == "gelu_erf":
                inits.extend([const(out + ".sqrt2", 1.4142135), const(out + ".one", 1.0), const(out + ".half", 0.5)])
                nodes.extend([helper.make_node("Div", [x, out + ".sqrt2"], [out + ".d"]),
                              helper.make_node("Erf", [out + ".d"], [out + ".e"]),
                              helper.make_node("Add", [out + ".e", out + ".one"], [out + ".a"]),
                              helper.make_node("Mul", [x, out + ".a"], [out + ".m"]),
                              helper.make_node("Mul", [out + ".m", out + ".half"], [out])])
            elif kind == "paddle_hardswish":
                inits.extend([const(out + ".three", 3.0), const(out + ".zero", 0.0), const(out + ".six", 6.0)])
                nodes.extend([helper.make_node("Add", [x, out + ".three"], [out + ".a"]),
                              helper.make_node("Clip", [out + ".a", out + ".zero", out + ".six"], [out + ".r"]),
                              helper.make_node("Mul", [x, out + ".r"], [out + ".m"]),
                              helper.make_node("Div", [out + ".m", out + ".six"], [out])])
            elif kind == "mish":
                nodes.extend([helper.make_node("Softplus", [x], [out + ".p"]), helper.make_node("Tanh", [out + ".p"], [out + ".t"]),
                              helper.make_node("Mul", [x, out + ".t"], [out])])
            else:
                nodes.append(helper.make_node(kind, [x], [out], **({"alpha": 0.1} if kind == "LeakyRelu" else {})))
            return out

        kinds = (["HardSwish", "silu", "hardsigmoid_swish", "Elu"] if variant == "sigmoid_forms"
                 else ["gelu_erf", "paddle_hardswish", "mish", "LeakyRelu"])
        x, cin = "input", 1
        for k, kind in enumerate(kinds):
            x = act(kind, conv_bn(f"conv{k}", x, cin, 8), f"act{k}")
            cin = 8
        inits.extend([const("fc.w", rng.normal(0, 0.3, (8, 10))), const("fc.b", np.zeros(10))])
        nodes.extend([helper.make_node("GlobalAveragePool", [x], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["flat"]),
                      helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"])])
        graph = helper.make_graph(nodes, variant,
                                  [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="apoz-crosscheck")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        path = os.path.join(workdir, variant + ".onnx")
        onnx.save(model, path)
        paths.append(path)
    return paths


def padded_blocks_model(workdir):
    """A small MobileNet-like net whose channel counts (24, 40) are not multiples of 16: between
    convolutions modeltool keeps them in padded 16-channel blocks and counts the ReLUs there."""
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))

    def conv_bn_relu(name, x, cin, cout, kernel, group=1, stride=1, relu=True):
        const(f"{name}.w", rng.normal(0, (2.0 / (cin // group * kernel * kernel)) ** 0.5, (cout, cin // group, kernel, kernel)))
        const(f"{name}.b", rng.normal(0, 0.2, cout))
        for field, value in (("scale", rng.uniform(0.5, 1.5, cout)), ("shift", rng.normal(-0.2, 0.5, cout)),
                             ("mean", rng.normal(0, 0.1, cout)), ("var", rng.uniform(0.5, 1.5, cout))):
            const(f"{name}.{field}", value)
        pad = kernel // 2
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.c"], name=name, group=group,
                                      pads=[pad] * 4, strides=[stride, stride]))
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.c", f"{name}.scale", f"{name}.shift", f"{name}.mean",
                                                             f"{name}.var"], [f"{name}.n"]))
        if not relu:
            return f"{name}.n"
        nodes.append(helper.make_node("Relu", [f"{name}.n"], [f"{name}.r"]))
        return f"{name}.r"

    a0 = conv_bn_relu("stem", "input", 1, 24, 3)
    a1 = conv_bn_relu("dw1", a0, 24, 24, 3, group=24, stride=2)
    a2 = conv_bn_relu("pw1", a1, 24, 40, 1)
    a3 = conv_bn_relu("dw2", a2, 40, 40, 5, group=40)
    p4 = conv_bn_relu("pw2", a3, 40, 40, 1, relu=False)
    nodes.extend([helper.make_node("Add", [p4, a2], ["joined"]), helper.make_node("Relu", ["joined"], ["a5"]),
                  helper.make_node("GlobalAveragePool", ["a5"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["flat"]),
                  helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"])])
    const("fc.w", rng.normal(0, 0.3, (40, 10)))
    const("fc.b", np.zeros(10))
    graph = helper.make_graph(nodes, "padded_blocks",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="apoz-crosscheck")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(workdir, "padded_blocks.onnx")
    onnx.save(model, path)
    return path


def reference(model_path, tensors, images, inputs=None):
    """Per observed tensor: (zeros, positions, sums) per channel from onnxruntime. For a tensor
    named in `inputs` (an off-region point), zeros counts the values <= 0 of that input instead."""
    inputs = inputs or {}
    model = onnx.load(model_path)
    existing = {o.name for o in model.graph.output}
    fetched = list(dict.fromkeys(list(tensors) + list(inputs.values())))
    for name in fetched:
        if name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed_name = session.get_inputs()[0].name
    totals = {n: None for n in tensors}
    for start in range(0, len(images), 100):
        batch = images[start:start + 100]
        values = dict(zip(fetched, session.run(fetched, {feed_name: batch})))

        def channels(name):
            y = np.asarray(values[name], dtype=np.float32)
            return np.moveaxis(y, 1, 0).reshape(y.shape[1], -1)

        for name in tensors:
            per_channel = channels(name)
            c = per_channel.shape[0]
            finite = np.isfinite(per_channel)
            if name in inputs:
                zeros = (channels(inputs[name]) <= 0).sum(axis=1).astype(np.uint64)
            else:
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
    inputs = {t["tensor"]: t["input"] for t in stats["tensors"] if t.get("region") == "nonPositive"}
    ref = reference(model_path, names, images, inputs)
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
    summary = (f"{len(names)} tensors ({len(inputs)} off-region), {channels} channels, max |APoZ diff| {worst:.2e}, "
               f"{count_diffs} channel(s) with a different exact count")
    return not problems, summary + ("" if not problems else "; " + "; ".join(problems))


def trim_check(tool, model_path, limit, workdir):
    """`trim --layers all --ratio 0.25` of an off-region net: the smaller model passes the full
    checker and runs equal in onnxruntime and modeltool (1e-4 of max(1, |reference|))."""
    out = model_path[:-len(".onnx")] + ".trimmed.onnx"
    cmd = [tool, "trim", model_path, "--data", DATA, "--scale", repr(SCALE), "--limit", str(limit),
           "--layers", "all", "--ratio", "0.25", "-o", out]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        return False, f"trim failed: {run.stderr.strip()}"
    before, after = onnx.load(model_path), onnx.load(out)
    onnx.checker.check_model(after, full_check=True)
    weights = lambda m: sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    raw = np.load(DATA)[:16]
    images = (raw.astype(np.float32) * np.float32(SCALE)).reshape(len(raw), 1, 28, 28)
    npy = os.path.join(workdir, "trim-input.npy")
    np.save(npy, images)
    ours_path = os.path.join(workdir, "trim-output.npy")
    run = subprocess.run([tool, "run", out, "--input", npy, "-o", ours_path], capture_output=True, text=True)
    if run.returncode != 0:
        return False, f"run failed: {run.stderr.strip()}"
    session = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    ref = session.run(None, {session.get_inputs()[0].name: images})[0]
    diff = float((np.abs(np.load(ours_path) - ref) / np.maximum(1.0, np.abs(ref))).max())
    ok = weights(after) < weights(before) and diff <= 1e-4
    return ok, f"trimmed {weights(before)} -> {weights(after)} weights, checker ok, modeltool vs onnxruntime {diff:.1e}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    failures, checks = 0, 0
    with tempfile.TemporaryDirectory() as workdir:
        models = args.models or (sorted(glob.glob(os.path.join(ROOT, "Fixtures", "models", "*.onnx")))
                                 + off_region_models(workdir) + [padded_blocks_model(workdir)])
        for m in models:
            ok, message = check(os.path.abspath(args.tool), m, args.limit, workdir)
            shown = os.path.basename(m) if m.startswith(workdir) else os.path.relpath(m, ROOT)
            print(f"apoz-crosscheck: {'ok  ' if ok else 'FAIL'} {shown}: {message}")
            failures += 0 if ok else 1
            checks += 1
            if m.startswith(workdir):
                ok, message = trim_check(os.path.abspath(args.tool), m, args.limit, workdir)
                print(f"apoz-crosscheck: {'ok  ' if ok else 'FAIL'} {shown} trim: {message}")
                failures += 0 if ok else 1
                checks += 1
    print(f"apoz-crosscheck: {checks - failures} of {checks} checks agree with onnxruntime "
          f"(limit {args.limit} samples, tolerance {TOLERANCE})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
