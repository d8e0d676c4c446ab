"""Dead channels planted the issue's way: a BatchNormalization channel with weight 0 and bias -10
right before a ReLU, ReLU6, HardSwish or SiLU, so the activation's output is constant on every
input: 0 for ReLU, ReLU6 and HardSwish (HardSwish(-10) = 0), SiLU(-10) = -4.54e-4 for SiLU (its
off region; trimming folds that mean into the consumers). Afterwards they are found again in the
exported ONNX (the legacy and ultralytics exporters fold batch norm into the convolution: a conv
output channel with all-zero weights and bias -10), named by the ONNX Conv node that produces them."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from torch import nn
from onnx import numpy_helper

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU)
FUNCTIONS = {torch.relu, torch.nn.functional.relu, torch.nn.functional.relu6, torch.nn.functional.hardswish,
             torch.nn.functional.silu}
# What an activation gives for the planted pre-activation -10.
DEAD_VALUE = {"Relu": 0.0, "Clip": 0.0, "HardSwish": 0.0, "SiLU": float(torch.nn.functional.silu(torch.tensor(-10.0)))}


def candidates(module: nn.Module) -> list[str]:
    """Names of BatchNorm2d modules fed by a Conv2d and feeding only an activation above, found in
    the torch.fx graph, or (when tracing fails) in nn.Sequential runs conv, bn, act."""
    found = []
    try:
        graph = torch.fx.symbolic_trace(module).graph
        mods = dict(module.named_modules())
        for node in graph.nodes:
            if node.op != "call_module" or not isinstance(mods.get(node.target), nn.BatchNorm2d):
                continue
            src = node.args[0]
            # Depthwise convolutions are left alone: their channel is tied to the producer before
            # them, which stays alive, so such a plant is correctly not removed.
            if not (getattr(src, "op", "") == "call_module" and isinstance(mods.get(src.target), nn.Conv2d)
                    and mods[src.target].groups == 1):
                continue
            users = list(node.users)
            if len(users) == 1 and len(list(src.users)) == 1 and (
                    (users[0].op == "call_module" and isinstance(mods.get(users[0].target), ACTIVATIONS))
                    or (users[0].op == "call_function" and users[0].target in FUNCTIONS)):
                found.append(node.target)
        return found
    except Exception:
        pass
    for name, m in module.named_modules():
        # ultralytics' Conv block (not traceable as a whole): forward is act(bn(conv(x))).
        conv, bn, act = (getattr(m, a, None) for a in ("conv", "bn", "act"))
        if isinstance(conv, nn.Conv2d) and conv.groups == 1 and isinstance(bn, nn.BatchNorm2d) and isinstance(act, ACTIVATIONS):
            found.append(f"{name}.bn" if name else "bn")
    if found:
        return found
    for name, seq in module.named_modules():
        if isinstance(seq, nn.Sequential):
            kids = list(seq.named_children())
            for i in range(1, len(kids) - 1):
                if isinstance(kids[i - 1][1], nn.Conv2d) and kids[i - 1][1].groups == 1 and isinstance(kids[i][1], nn.BatchNorm2d) \
                        and isinstance(kids[i + 1][1], ACTIVATIONS):
                    found.append(f"{name}.{kids[i][0]}" if name else kids[i][0])
    return found


def plant(module: nn.Module, layers: int = 6) -> int:
    """Plants one or two dead channels in up to `layers` candidate batch norms spread over the
    network; returns how many channels were planted."""
    names = candidates(module)
    if not names:
        return 0
    picked = [names[round(i * (len(names) - 1) / max(layers - 1, 1))] for i in range(min(layers, len(names)))]
    mods = dict(module.named_modules())
    total = 0
    with torch.no_grad():
        for k, name in enumerate(dict.fromkeys(picked)):
            bn = mods[name]
            channels = {(3 * k + 1) % bn.num_features, (7 * k + 5) % bn.num_features} if bn.num_features >= 8 else {0}
            for c in channels:
                bn.weight[c], bn.bias[c] = 0.0, -10.0
            total += len(channels)
    return total


def activation_after(path: str) -> dict[str, str]:
    """Conv node name -> the op type of the activation it feeds (through a BatchNormalization)."""
    model = onnx.load(path)
    users: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    out = {}
    for n in model.graph.node:
        if n.op_type == "Conv":
            nxt = users.get(n.output[0], [])
            if len(nxt) == 1 and nxt[0].op_type == "BatchNormalization":
                nxt = users.get(nxt[0].output[0], [])
            if len(nxt) == 1:
                out[n.name] = nxt[0].op_type
            elif len(nxt) == 2 and {u.op_type for u in nxt} == {"Sigmoid", "Mul"}:
                out[n.name] = "SiLU"  # x·Sigmoid(x)
    return out


def planted_in_onnx(path: str) -> dict[str, set[int]]:
    """Conv node name -> planted output channels, read from the ONNX file (folded or not)."""
    model = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    producer = {o: n for n in model.graph.node for o in n.output}
    out: dict[str, set[int]] = {}
    for n in model.graph.node:
        if n.op_type == "Conv" and len(n.input) > 2 and n.input[1] in inits and n.input[2] in inits:
            w, b = inits[n.input[1]], inits[n.input[2]]
            for c in range(w.shape[0]):
                if b[c] == -10 and not np.any(w[c]):
                    out.setdefault(n.name, set()).add(c)
        elif n.op_type == "BatchNormalization" and n.input[1] in inits and n.input[2] in inits:
            scale, bias = inits[n.input[1]], inits[n.input[2]]
            conv = producer.get(n.input[0])
            for c in np.nonzero((scale == 0) & (bias == -10))[0]:
                out.setdefault(conv.name if conv is not None else n.name, set()).add(int(c))
    return out
