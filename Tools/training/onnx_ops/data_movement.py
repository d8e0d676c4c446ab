"""Shape and data movement: layout ops, Identity, Dropout, Pad, and the integer shape subgraphs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .registry import ints, op
from .window import torch_pad


@op("Identity")
def identity(ctx, node, args):
    return [args[0]]


@op("Dropout")
def dropout(ctx, node, args):
    x = args[0]
    if ctx.opset < 12:
        ratio = node.attrs.get("ratio", 0.5)
    else:
        ratio = float(args[1]) if len(args) > 1 and args[1] is not None else 0.5
    if ctx.training and ratio > 0:
        keep = torch.rand_like(x) >= ratio
        y = x * keep / (1.0 - ratio)
    else:
        keep, y = torch.ones_like(x, dtype=torch.bool), x
    return [y, keep][:len(node.outputs)]


@op("Concat")
def concat(ctx, node, args):
    return [torch.cat([a for a in args if a is not None], dim=node.attrs["axis"])]


@op("Flatten")
def flatten(ctx, node, args):
    x = args[0]
    axis = node.attrs.get("axis", 1) % (x.dim() + 1)
    return [x.reshape(math.prod(x.shape[:axis]), -1)]


@op("Reshape")
def reshape(ctx, node, args):
    x, shape = args[0], ints(args[1])
    allow_zero = node.attrs.get("allowzero", 0)
    dims = [x.shape[i] if s == 0 and not allow_zero else s for i, s in enumerate(shape)]
    return [x.reshape(dims)]


@op("Transpose")
def transpose(ctx, node, args):
    x = args[0]
    perm = node.attrs.get("perm", list(reversed(range(x.dim()))))
    return [x.permute(*perm)]


def _axes(ctx, node, args, since: int):
    if ctx.opset >= since:
        return ints(args[1]) if len(args) > 1 and args[1] is not None else None
    return node.attrs.get("axes")


@op("Squeeze")
def squeeze(ctx, node, args):
    x = args[0]
    axes = _axes(ctx, node, args, 13)
    if axes is None:
        return [x.squeeze()]
    return [x.squeeze(tuple(a % x.dim() for a in axes))]


@op("Unsqueeze")
def unsqueeze(ctx, node, args):
    x = args[0]
    axes = _axes(ctx, node, args, 13)
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return [x]


@op("Split")
def split(ctx, node, args):
    x = args[0]
    axis = node.attrs.get("axis", 0) % x.dim()
    sizes = _axes(ctx, node, args, 13) if ctx.opset >= 13 else node.attrs.get("split")
    if sizes is None:
        parts = len(node.outputs)
        sizes = -(-x.shape[axis] // parts)
    return list(torch.split(x, sizes, dim=axis))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@op("Pad")
def pad(ctx, node, args):
    x = args[0]
    mode = _PAD_MODES[node.attrs.get("mode", "constant")]
    if ctx.opset < 11:
        pads, value, axes = list(node.attrs["pads"]), node.attrs.get("value", 0.0), None
    else:
        pads = ints(args[1])
        value = float(args[2]) if len(args) > 2 and args[2] is not None and args[2].numel() else 0.0
        axes = ints(args[3]) if len(args) > 3 and args[3] is not None else None
    axes = [a % x.dim() for a in axes] if axes is not None else list(range(x.dim()))
    begins, ends = [0] * x.dim(), [0] * x.dim()
    for i, a in enumerate(axes):
        begins[a], ends[a] = pads[i], pads[i + len(axes)]
    flat = torch_pad(begins, ends)
    while len(flat) > 2 and flat[-1] == 0 and flat[-2] == 0:  # leading axes without padding
        flat = flat[:-2]
    if mode == "constant":
        return [F.pad(x, flat, value=value)]
    return [F.pad(x, flat, mode=mode)]


# ---- shape subgraphs (integer tensors, no gradient) ----------------------------------------

@op("Shape")
def shape(ctx, node, args):
    dims = list(args[0].shape)[node.attrs.get("start", 0):node.attrs.get("end", None)]
    return [torch.tensor(dims, dtype=torch.int64)]


@op("Gather")
def gather(ctx, node, args):
    x, idx = args[:2]
    axis = node.attrs.get("axis", 0) % x.dim()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    picked = torch.index_select(x, axis, idx.reshape(-1))
    return [picked.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))]


_ONNX_TO_TORCH = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32,
                  7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64}


@op("Cast")
def cast(ctx, node, args):
    target = _ONNX_TO_TORCH[node.attrs["to"]]
    return [args[0].to(ctx.float_dtype if target.is_floating_point else target)]
