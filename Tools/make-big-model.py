#!/usr/bin/env python3
"""Write a large VGG-16-shaped ONNX model with random float32 weights, for
memory / streaming / external-data tests. The output is never committed.

Usage:
    python Tools/make-big-model.py OUT.onnx
        Real VGG-16 layer shapes (13 conv 3x3 + 3 dense, input [batch,3,224,224],
        1000 classes): 138,357,544 parameters, ~553 MB, weights inline (raw_data).

    python Tools/make-big-model.py OUT.onnx --external --size-gb 2.5
        Weights in an external file OUT.onnx.data beside the model (the model
        itself is a few KB). --size-gb widens the two hidden dense layers
        (fc6/fc7, 4096 in VGG-16) until the weights take about that many GB
        (10^9 bytes); the conv stack stays VGG-16's. A model over 2 GB must use
        --external (protobuf messages are limited to 2 GiB).

Options:
    --seed N        random seed (default 0); the same arguments give the same bytes
    --check         run one random image through onnxruntime afterwards, if installed
    --align N       byte alignment of each tensor in the external file (default 4096)

Weights are N(0, 2/fan_in) (He init) so activations stay finite; biases are
small. Needs only numpy and onnx (e.g. the venv made by Tools/make-fixtures.sh:
.venv-fixtures/bin/python Tools/make-big-model.py ...). Memory use stays near one
tensor's size in --external mode: tensors are generated in chunks and streamed
to the data file.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (name, out_channels) per conv, "M" = 2x2 max pool: the VGG-16 "D" configuration.
VGG16 = [("conv1_1", 64), ("conv1_2", 64), "M",
         ("conv2_1", 128), ("conv2_2", 128), "M",
         ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), "M",
         ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), "M",
         ("conv5_1", 512), ("conv5_2", 512), ("conv5_3", 512), "M"]
FLAT = 512 * 7 * 7
CLASSES = 1000
CHUNK = 1 << 24  # elements generated at a time (64 MB of float32)


def conv_params() -> int:
    total, cin = 0, 3
    for item in VGG16:
        if item == "M":
            continue
        cout = item[1]
        total += cout * cin * 9 + cout
        cin = cout
    return total


def hidden_width(size_bytes: float) -> int:
    """Width W of fc6/fc7 so that all float32 parameters take about size_bytes."""
    target = size_bytes / 4 - conv_params() - CLASSES
    # fc6: FLAT*W + W, fc7: W*W + W, fc8: W*CLASSES  =>  W^2 + (FLAT+CLASSES+2) W - target = 0
    b = FLAT + CLASSES + 2
    return max(1, int((-b + math.sqrt(b * b + 4 * target)) / 2))


def layer_shapes(width: int):
    """Yield (name, shape, fan_in) for every parameter, in graph order."""
    cin = 3
    for item in VGG16:
        if item == "M":
            continue
        name, cout = item
        yield f"{name}.weight", (cout, cin, 3, 3), cin * 9
        yield f"{name}.bias", (cout,), cin * 9
        cin = cout
    for name, fin, fout in (("fc6", FLAT, width), ("fc7", width, width), ("fc8", width, CLASSES)):
        yield f"{name}.weight", (fout, fin), fin
        yield f"{name}.bias", (fout,), fin


def random_chunks(rng: np.random.Generator, shape, fan_in: int, is_bias: bool):
    n = int(np.prod(shape))
    std = 0.01 if is_bias else math.sqrt(2.0 / fan_in)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        yield (rng.standard_normal(count, dtype=np.float32) * np.float32(std))


def build_graph(width: int, initializers: list[TensorProto]) -> onnx.GraphProto:
    nodes, x, cin = [], "input", 3
    pool = 0
    for item in VGG16:
        if item == "M":
            pool += 1
            out = f"pool{pool}"
            nodes.append(helper.make_node("MaxPool", [x], [out], name=out,
                                          kernel_shape=[2, 2], strides=[2, 2]))
            x = out
            continue
        name, cout = item
        nodes.append(helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [name],
                                      name=name, kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [name], [f"{name}_relu"], name=f"{name}_relu"))
        x, cin = f"{name}_relu", cout
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    x = "flat"
    for name in ("fc6", "fc7", "fc8"):
        out = "logits" if name == "fc8" else name
        nodes.append(helper.make_node("Gemm", [x, f"{name}.weight", f"{name}.bias"], [out],
                                      name=name, transB=1))
        x = out
        if name != "fc8":
            nodes.append(helper.make_node("Relu", [x], [f"{name}_relu"], name=f"{name}_relu"))
            x = f"{name}_relu"
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])
    return helper.make_graph(nodes, f"vgg16_fc{width}", [inp], [out], initializers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("--external", action="store_true", help="weights in OUTPUT.data")
    ap.add_argument("--size-gb", type=float, default=None,
                    help="widen fc6/fc7 until the weights take about this many GB")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--align", type=int, default=4096)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    width = 4096 if args.size_gb is None else hidden_width(args.size_gb * 1e9)
    shapes = list(layer_shapes(width))
    n_params = sum(int(np.prod(s)) for _, s, _ in shapes)
    if not args.external and n_params * 4 > 2**31 - 2**24:
        ap.error(f"{n_params * 4 / 1e9:.2f} GB of weights does not fit in one protobuf; "
                 "use --external")
    print(f"VGG-16 with fc6/fc7 width {width}: {n_params:,} parameters, "
          f"{n_params * 4 / 1e9:.3f} GB of float32", flush=True)

    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    inits: list[TensorProto] = []
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    if args.external:
        data_name = os.path.basename(args.output) + ".data"
        with open(os.path.join(out_dir, data_name), "wb") as data:
            for name, shape, fan_in in shapes:
                pad = (-data.tell()) % args.align
                data.write(b"\0" * pad)
                offset = data.tell()
                for chunk in random_chunks(rng, shape, fan_in, name.endswith(".bias")):
                    data.write(chunk.tobytes())
                length = data.tell() - offset
                t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", data_name), ("offset", str(offset)),
                             ("length", str(length))):
                    t.external_data.add(key=k, value=v)
                inits.append(t)
        print(f"wrote {os.path.join(out_dir, data_name)} "
              f"({os.path.getsize(os.path.join(out_dir, data_name)):,} bytes)", flush=True)
    else:
        for name, shape, fan_in in shapes:
            arr = np.concatenate(list(random_chunks(rng, shape, fan_in, name.endswith(".bias"))))
            inits.append(numpy_helper.from_array(arr.reshape(shape), name))

    model = helper.make_model(build_graph(width, inits),
                              opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="modeltool make-big-model.py",
                              doc_string=f"random VGG-16-shaped weights, seed {args.seed}")
    model.ir_version = 8
    with open(args.output, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes) "
          f"in {time.time() - t0:.0f}s", flush=True)

    if args.check:
        try:
            import onnxruntime as ort
        except ImportError:
            print("onnxruntime not installed; skipping --check")
            return 0
        sess = ort.InferenceSession(args.output, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)
        y = sess.run(None, {"input": x})[0]
        print(f"onnxruntime: logits {y.shape}, finite={bool(np.isfinite(y).all())}, "
              f"argmax {int(y.argmax())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
