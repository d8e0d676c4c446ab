#!/usr/bin/env python3
"""Per-layer speed: every convolution shape of the Fixtures models alone, modeltool vs onnxruntime.

    layer-benchmark.py MODELTOOL [--batch 64] [--threads 1] [--repeat 3] [--only SUBSTRING]

Each Conv of each Fixtures model (with its BatchNormalization and Relu/Clip, as both runtimes
fuse them) becomes a one-node model Conv -> Relu with random weights, written to a temporary
folder. modeltool times it with `modeltool run --profile --json` (the Conv+Relu step's own time,
from the interpreter's profile); onnxruntime with `session.run` over the same
batches (its per-call overhead is small at batch 64). Reported per layer: µs per image for both,
the ratio (modeltool / onnxruntime time: below 1 is faster) and modeltool's GFLOP/s. Used to find
which layer shapes lag; the whole-model figures come from benchmark.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, TensorProto

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Fixtures" / "models"


def conv_layers(path: Path):
    """(name, input shape, W shape, attributes) of every Conv, from onnx's shape inference."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.input)}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        yield node.name, shapes[node.input[0]], list(inits[node.input[1]].shape), attrs


def single_conv(x_shape, w_shape, attrs, batch):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(w_shape).astype(np.float32) * 0.1
    b = rng.standard_normal(w_shape[0]).astype(np.float32) * 0.1
    x_shape = [batch] + list(x_shape[1:])
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model, x_shape


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modeltool")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batches", type=int, default=20, help="batches per measurement")
    p.add_argument("--only", default="", help="only layers whose model or node name contains this")
    args = p.parse_args()

    seen = set()
    print("| layer | shape | modeltool µs/img | onnxruntime µs/img | time ratio | modeltool GFLOP/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for path in sorted(MODELS.glob("*.onnx")):
            for name, xs, ws, attrs in conv_layers(path):
                label = f"{path.stem}:{name}"
                key = (tuple(xs[1:]), tuple(ws), json.dumps(attrs, sort_keys=True, default=str))
                if args.only not in label or key in seen:
                    continue
                seen.add(key)
                model, x_shape = single_conv(xs, ws, attrs, args.batch)
                model_path = tmp / "layer.onnx"
                onnx.save(model, str(model_path))
                x = np.random.default_rng(1).standard_normal([args.batch * args.batches] + x_shape[1:]).astype(np.float32)
                np.save(tmp / "x.npy", x)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = args.threads
                opts.inter_op_num_threads = 1
                session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
                ours, theirs = [], []
                for _ in range(args.repeat):
                    out = subprocess.run([args.modeltool, "run", str(model_path), "--input", str(tmp / "x.npy"),
                                          "-o", str(tmp / "y.npy"), "--batch", str(args.batch),
                                          "--threads", str(args.threads), "--profile", "--json"],
                                         check=True, capture_output=True, text=True).stdout
                    profile = json.loads(out)["profile"]
                    conv = sum(s["seconds"] for s in profile if s["op"].startswith("Conv"))
                    ours.append(conv / len(x) * 1e6)
                    start = time.perf_counter()
                    for i in range(args.batches):
                        session.run(None, {"x": x[i * args.batch:(i + 1) * args.batch]})
                    theirs.append((time.perf_counter() - start) / len(x) * 1e6)
                out_positions = int(np.prod(session.run(None, {"x": x[:1].repeat(args.batch, 0)})[0].shape[2:]))
                macs = ws[0] * int(np.prod(ws[1:])) * out_positions
                mine, ort_time = statistics.median(ours), statistics.median(theirs)
                shape = f"{xs[1]}x{'x'.join(map(str, xs[2:]))} -> {ws[0]}, k{'x'.join(map(str, ws[2:]))}"
                shape += f" s{attrs.get('strides', [1])[0]} g{attrs.get('group', 1)}"
                print(f"| {label} | {shape} | {mine:.2f} | {ort_time:.2f} | {mine / ort_time:.2f} | "
                      f"{2 * macs / (mine * 1e-6) / 1e9:.1f} |", flush=True)


if __name__ == "__main__":
    main()
