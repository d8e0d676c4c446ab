#!/usr/bin/env python3
"""Checks onnx_torch's op table one node at a time against onnxruntime, on attribute variants the
bundled models do not exercise (auto_pad, asymmetric pads, Gemm flags, old-opset attribute forms).

    Tools/training/op_check.py

Each case is a one-node model on small random inputs; outputs must match to 1e-5 relative.
Prints one line per failing case and `ops: N passed, N failed`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import venv_bootstrap  # noqa: E402

venv_bootstrap.ensure_venv()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from onnx_torch import OnnxModule  # noqa: E402

RNG = np.random.default_rng(12)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i64(values):
    return np.asarray(values, dtype=np.int64)


def case(op, inputs, consts=None, attrs=None, opset=13, outputs=1):
    """inputs: name -> array fed at run time; consts: name -> array as initializers ('' skips)."""
    consts = consts or {}
    names = list(inputs) + list(consts)
    node = helper.make_node(op, names, [f"y{i}" for i in range(outputs)], **(attrs or {}))
    graph = helper.make_graph(
        [node], op,
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in inputs.items()],
        [onnx.ValueInfoProto(name=f"y{i}") for i in range(outputs)],
        [numpy_helper.from_array(a, n) for n, a in consts.items() if n])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return f"{op} opset {opset} {attrs or ''}", model, inputs


def cases():
    x = f32(2, 3, 7, 6)
    w = f32(4, 3, 3, 3)
    yield case("Conv", {"x": x}, {"w": w, "b": f32(4)}, {"auto_pad": "SAME_UPPER", "strides": [2, 2]})
    yield case("Conv", {"x": x}, {"w": w}, {"auto_pad": "SAME_LOWER", "strides": [2, 1]})
    yield case("Conv", {"x": x}, {"w": w}, {"auto_pad": "VALID", "dilations": [2, 1]})
    yield case("Conv", {"x": x}, {"w": w, "b": f32(4)}, {"pads": [1, 0, 2, 1], "strides": [1, 2]})
    yield case("Conv", {"x": f32(2, 6, 5, 5)}, {"w": f32(6, 1, 3, 3)}, {"group": 6, "pads": [1, 1, 1, 1]})
    yield case("Conv", {"x": f32(2, 4, 9)}, {"w": f32(6, 2, 3)}, {"group": 2, "strides": [2]})
    a, b = f32(5, 4), f32(3, 5)
    yield case("Gemm", {"a": a}, {"b": b, "c": f32(3)}, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0})
    yield case("Gemm", {"a": f32(3, 4)}, {"b": f32(4, 5), "c": f32(3, 5)}, {"alpha": 1.5})
    yield case("Gemm", {"a": f32(3, 4)}, {"b": f32(5, 4), "c": f32(5)}, {"transB": 1})
    yield case("MatMul", {"a": f32(2, 3, 4)}, {"b": f32(4, 5)})
    yield case("BatchNormalization", {"x": x}, {"s": f32(3), "b": f32(3), "m": f32(3),
                                                 "v": np.abs(f32(3)) + 0.5}, {"epsilon": 1e-3})
    for op in ("Relu", "Sigmoid", "Tanh", "HardSwish", "Elu"):
        yield case(op, {"x": x}, opset=14)
    yield case("LeakyRelu", {"x": x}, attrs={"alpha": 0.2})
    yield case("HardSigmoid", {"x": x}, attrs={"alpha": 0.3, "beta": 0.4})
    yield case("PRelu", {"x": x}, {"s": f32(3, 1, 1)})
    yield case("Clip", {"x": x}, {"lo": np.float32(-0.5), "hi": np.float32(0.7)})
    yield case("Clip", {"x": x}, {"lo": np.float32(0)})
    yield case("Clip", {"x": x}, attrs={"min": -0.2, "max": 0.3}, opset=10)
    for op in ("Softmax", "LogSoftmax"):
        yield case(op, {"x": x}, attrs={"axis": 1})
        yield case(op, {"x": x}, attrs={"axis": 2}, opset=11)
    yield case("MaxPool", {"x": x}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 1, 0]})
    yield case("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER", "strides": [2, 2]})
    yield case("MaxPool", {"x": x}, attrs={"kernel_shape": [3, 2], "ceil_mode": 1, "strides": [2, 2]})
    yield case("MaxPool", {"x": x}, attrs={"kernel_shape": [2, 2], "dilations": [2, 1]})
    yield case("AveragePool", {"x": x}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    yield case("AveragePool", {"x": x}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                               "count_include_pad": 1})
    yield case("AveragePool", {"x": x}, attrs={"kernel_shape": [3, 3], "pads": [0, 2, 1, 0], "strides": [2, 1]})
    yield case("AveragePool", {"x": x}, attrs={"kernel_shape": [2, 3], "auto_pad": "SAME_LOWER",
                                               "count_include_pad": 1})
    yield case("GlobalAveragePool", {"x": x})
    yield case("GlobalMaxPool", {"x": x})
    for op in ("Add", "Sub", "Mul", "Div"):
        yield case(op, {"x": x}, {"c": f32(3, 1, 1) + 3})
    yield case("Concat", {"x": x, "z": f32(2, 2, 7, 6)}, attrs={"axis": 1})
    yield case("Flatten", {"x": x}, attrs={"axis": 2})
    yield case("Flatten", {"x": x}, attrs={"axis": 0})
    yield case("Reshape", {"x": x}, {"s": i64([0, -1, 6])})
    yield case("Transpose", {"x": x}, attrs={"perm": [0, 2, 3, 1]})
    yield case("Transpose", {"x": x})
    yield case("Identity", {"x": x})
    yield case("Dropout", {"x": x}, attrs={"ratio": 0.3}, opset=10)
    yield case("Pad", {"x": x}, {"p": i64([0, 0, 1, 2, 0, 1, 0, 3]), "v": np.float32(0.5)})
    yield case("Pad", {"x": x}, {"p": i64([0, 0, 2, 1, 0, 0, 1, 2])}, {"mode": "reflect"})
    yield case("Pad", {"x": x}, {"p": i64([0, 0, 1, 1, 0, 0, 1, 1])}, {"mode": "edge"})
    yield case("Pad", {"x": x}, {"p": i64([1, 2, 0, 1]), "v": np.float32(0), "axes": i64([2, -1])}, opset=18)
    yield case("Pad", {"x": x}, attrs={"pads": [0, 0, 1, 0, 0, 0, 0, 2]}, opset=10)
    yield case("Squeeze", {"x": f32(2, 1, 3, 1)}, {"a": i64([1, -1])})
    yield case("Squeeze", {"x": f32(2, 1, 3, 1)}, attrs={"axes": [3]}, opset=11)
    yield case("Unsqueeze", {"x": x}, {"a": i64([0, -1])})
    yield case("Unsqueeze", {"x": x}, attrs={"axes": [1, 5]}, opset=11)
    yield case("Split", {"x": x}, {"s": i64([1, 2])}, {"axis": 1}, outputs=2)
    yield case("Split", {"x": x}, attrs={"axis": 2, "num_outputs": 3}, opset=18, outputs=3)
    yield case("Split", {"x": x}, attrs={"axis": 3, "split": [4, 2]}, opset=11, outputs=2)
    yield case("Shape", {"x": x}, attrs={"start": 1, "end": -1}, opset=15)
    yield case("Gather", {"x": x}, {"i": i64([[2, -1], [0, 1]])}, {"axis": 2})


def main() -> int:
    torch.set_num_threads(1)
    passed = failed = 0
    for label, model, feeds in cases():
        try:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            refs = sess.run(None, feeds)
            module = OnnxModule(model).eval()
            with torch.no_grad():
                got = module(*[torch.from_numpy(a) for a in feeds.values()])
            for ref, y in zip(refs, got):
                y = y.numpy()
                if y.shape != ref.shape:
                    raise RuntimeError(f"shape {list(y.shape)}, onnxruntime {list(ref.shape)}")
                err = float(np.max(np.abs(y.astype(np.float64) - ref) / np.maximum(1.0, np.abs(ref)), initial=0))
                if not err <= 1e-5:
                    raise RuntimeError(f"max rel err {err:.2e}")
            passed += 1
        except Exception as e:
            print(f"FAIL  {label}: {str(e).splitlines()[0][:200]}")
            failed += 1
    print(f"ops: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
