#!/usr/bin/env python3
"""paddle2onnx-style dynamic dimensions (dim_value -1) through info, convert and trim.

    .venv-tools/bin/python Tools/dynamic-dims-check.py MODELTOOL

Builds (in a temporary folder, never committed) a small CNN whose input, output and value_info
declare batch, height and width as -1, as paddle2onnx writes them, and checks:
- `info` reads it (the -1s are unknown dimensions) and leaves the MACs of the layers that depend on
  height and width unknown; `info --input-shape x=1,3,32,32` counts them, equal to a hand count;
- `convert` writes it back byte for byte as onnx re-serialises it (the -1s kept), and
  `onnx.checker.check_model(full_check=True)` accepts the result;
- `trim --layers all --ratio 0.5` on 32x40 images reports MACs for that shape, writes a model the
  full checker accepts (the changed value_info written with dimensions that have neither value nor
  name), which onnxruntime and modeltool run with equal outputs at another height and width.
Needs onnx, onnxruntime and numpy (.venv-tools, made by Tools/crosscheck.sh).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def paddle_style_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.normal(0, 0.5, (8,)).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.5, (4, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["y"], name="flatten"),
    ]
    graph = helper.make_graph(
        nodes, "paddle_style",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, -1, -1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 4])],
        [w1, b1, w2],
        value_info=[helper.make_tensor_value_info("r1", TensorProto.FLOAT, [-1, 8, -1, -1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8,
                             producer_name="paddle2onnx-style")


def run(tool, *args):
    r = subprocess.run([tool, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"dynamic-dims-check: modeltool {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def expect(condition, message):
    if not condition:
        raise SystemExit(f"dynamic-dims-check: FAIL: {message}")


def main() -> int:
    tool = str(Path(sys.argv[1]).resolve())
    with tempfile.TemporaryDirectory(prefix="dynamic-dims-") as tmp:
        path = Path(tmp) / "m.onnx"
        model = paddle_style_model()
        onnx.checker.check_model(model, full_check=True)
        path.write_bytes(model.SerializeToString())

        info = json.loads(run(tool, "info", str(path), "--json"))
        expect(set(info["layersWithUnknownMACs"]) >= {"conv1", "relu1", "conv2"},
               f"layers depending on H and W should have unknown MACs: {info['layersWithUnknownMACs']}")
        bound = json.loads(run(tool, "info", str(path), "--json", "--input-shape", "x=1,3,32,32"))
        hw = 32 * 32
        by_hand = (8 * hw * 27 + 8 * hw) + 8 * hw + 4 * hw * 8 + (4 * hw + 4 * 4)
        expect(bound["totalMACs"] == by_hand and not bound["layersWithUnknownMACs"],
               f"--input-shape MACs {bound['totalMACs']} (unknown {bound['layersWithUnknownMACs']}), by hand {by_hand}")

        out = Path(tmp) / "out.onnx"
        run(tool, "convert", str(path), str(out))
        expect(out.read_bytes() == path.read_bytes(), "convert is not byte-identical")
        onnx.checker.check_model(onnx.load(str(out)), full_check=True)

        images = np.random.default_rng(1).random((6, 3, 32, 40), dtype=np.float32)
        data = Path(tmp) / "x.npy"
        np.save(data, images)
        trimmed = Path(tmp) / "trimmed.onnx"
        report = json.loads(run(tool, "trim", str(path), "--data", str(data), "--layers", "all", "--ratio", "0.5",
                                "-o", str(trimmed), "--json"))
        expect(report.get("macsInputShapes") == {"x": [1, 3, 32, 40]}, f"trim's MAC shapes: {report.get('macsInputShapes')}")
        hw = 32 * 40
        expect(report["macsBefore"] == (8 * hw * 27 + 8 * hw) + 8 * hw + 4 * hw * 8 + (4 * hw + 4 * 4),
               f"trim's MACs before: {report['macsBefore']}")
        expect(report["paramsAfter"] < report["paramsBefore"], "trim removed nothing")
        small = onnx.load(str(trimmed))
        onnx.checker.check_model(small, full_check=True)
        r1 = next(v for v in small.graph.value_info if v.name == "r1")
        dims = r1.type.tensor_type.shape.dim
        expect(not dims[0].HasField("dim_value") and not dims[0].HasField("dim_param"),
               f"changed value_info r1 should have an unknown batch dimension: {dims}")

        other = np.random.default_rng(2).random((2, 3, 24, 20), dtype=np.float32)
        reference = ort.InferenceSession(str(trimmed), providers=["CPUExecutionProvider"]).run(None, {"x": other})[0]
        np.save(Path(tmp) / "other.npy", other)
        ours_path = Path(tmp) / "ours.npy"
        run(tool, "run", str(trimmed), "--input", str(Path(tmp) / "other.npy"), "-o", str(ours_path))
        ours = np.load(ours_path)
        worst = float(np.max(np.abs(ours - reference) / np.maximum(1, np.abs(reference))))
        expect(ours.shape == reference.shape and worst <= 1e-4, f"trimmed model: modeltool vs onnxruntime {worst}")
    print("dynamic-dims-check: -1 dimensions read, bound, kept by convert, and trimmed into a valid model "
          f"(onnxruntime agrees within {worst:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
