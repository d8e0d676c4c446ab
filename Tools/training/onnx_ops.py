"""The operator table of the ONNX -> PyTorch interpreter (onnx_torch.py).

One function per ONNX op type, registered by name in OPS. Each takes the run context, the parsed
node (attributes with the spec's defaults filled in by the kernel) and the input tensors (None for
an omitted optional input) and returns the list of output tensors. Everything goes through
torch.nn.functional or plain tensor ops, so autograd supplies the gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass
class Node:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)


@dataclass
class Context:
    training: bool
    opset: int
    # Batch norm from mean/var formulas instead of F.batch_norm: the self-test's second path.
    explicit_batch_norm: bool = False
    float_dtype: torch.dtype = torch.float32


Kernel = Callable[[Context, Node, list], list]
OPS: dict[str, Kernel] = {}


def op(*names: str):
    def register(fn: Kernel) -> Kernel:
        for name in names:
            assert name not in OPS, f"{name} registered twice"
            OPS[name] = fn
        return fn
    return register


# ---- helpers -------------------------------------------------------------------------------

def _ints(t) -> list[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def _spatial_pads(x, kernel, strides, dilations, attrs) -> tuple[list[int], list[int]]:
    """(begin, end) padding per spatial axis from pads or auto_pad."""
    rank = len(kernel)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for i in range(rank):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
            small, big = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        return begins, ends
    if auto_pad == "VALID":
        return [0] * rank, [0] * rank
    pads = list(attrs.get("pads", [0] * (2 * rank)))
    return pads[:rank], pads[rank:]


def _torch_pad(begins: list[int], ends: list[int]) -> list[int]:
    """ONNX per-axis (begin, end) -> F.pad's list, last axis first."""
    out: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [b, e]
    return out


def _window(node: Node, x):
    rank = x.dim() - 2
    kernel = list(node.attrs["kernel_shape"])
    strides = list(node.attrs.get("strides", [1] * rank))
    dilations = list(node.attrs.get("dilations", [1] * rank))
    begins, ends = _spatial_pads(x, kernel, strides, dilations, node.attrs)
    return rank, kernel, strides, dilations, begins, ends


def _fits_torch_padding(kernel, begins, ends) -> bool:
    return begins == ends and all(2 * p <= k for p, k in zip(begins, kernel))


# ---- convolution and dense -----------------------------------------------------------------

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@op("Conv")
def conv(ctx, node, args):
    x, w, b = (args + [None])[:3]
    rank = x.dim() - 2
    kernel = list(w.shape[2:])
    strides = list(node.attrs.get("strides", [1] * rank))
    dilations = list(node.attrs.get("dilations", [1] * rank))
    begins, ends = _spatial_pads(x, kernel, strides, dilations, node.attrs)
    padding = begins
    if begins != ends:
        x = F.pad(x, _torch_pad(begins, ends))
        padding = [0] * rank
    return [_CONV[rank](x, w, b, strides, padding, dilations, node.attrs.get("group", 1))]


@op("Gemm")
def gemm(ctx, node, args):
    a, b, c = (args + [None])[:3]
    alpha, beta = node.attrs.get("alpha", 1.0), node.attrs.get("beta", 1.0)
    if node.attrs.get("transA", 0):
        a = a.t()
    if node.attrs.get("transB", 0) and alpha == 1.0 and beta == 1.0:
        return [F.linear(a, b, c)]  # the common exporter form, one fused call
    y = a @ (b.t() if node.attrs.get("transB", 0) else b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return [y]


@op("MatMul")
def matmul(ctx, node, args):
    return [torch.matmul(args[0], args[1])]


# ---- normalization -------------------------------------------------------------------------

@op("BatchNormalization")
def batch_norm(ctx, node, args):
    x, scale, bias, mean, var = args[:5]
    eps = node.attrs.get("epsilon", 1e-5)
    momentum = node.attrs.get("momentum", 0.9)
    if not ctx.training:
        return [F.batch_norm(x, mean, var, scale, bias, False, 0.0, eps)]
    if not ctx.explicit_batch_norm:
        # PyTorch's momentum weighs the new batch statistic, ONNX's the running one.
        return [F.batch_norm(x, mean, var, scale, bias, True, 1.0 - momentum, eps)]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    mu = x.mean(dims)
    v = ((x - mu.view(shape)) ** 2).mean(dims)
    y = (x - mu.view(shape)) / torch.sqrt(v.view(shape) + eps) * scale.view(shape) + bias.view(shape)
    count = x.numel() // x.shape[1]
    with torch.no_grad():  # running variance from the unbiased batch variance, as PyTorch keeps it
        mean.mul_(momentum).add_(mu.detach() * (1.0 - momentum))
        var.mul_(momentum).add_(v.detach() * (count / (count - 1)) * (1.0 - momentum))
    return [y]


# ---- activations ---------------------------------------------------------------------------

@op("Relu")
def relu(ctx, node, args):
    return [F.relu(args[0])]


@op("LeakyRelu")
def leaky_relu(ctx, node, args):
    return [F.leaky_relu(args[0], node.attrs.get("alpha", 0.01))]


@op("PRelu")
def prelu(ctx, node, args):
    x, slope = args[:2]
    return [torch.where(x >= 0, x, x * slope)]


@op("Clip")
def clip(ctx, node, args):
    x = args[0]
    if ctx.opset < 11:
        lo, hi = node.attrs.get("min", -math.inf), node.attrs.get("max", math.inf)
    else:
        lo = float(args[1]) if len(args) > 1 and args[1] is not None else -math.inf
        hi = float(args[2]) if len(args) > 2 and args[2] is not None else math.inf
    return [torch.clamp(x, lo, hi)]


@op("Sigmoid")
def sigmoid(ctx, node, args):
    return [torch.sigmoid(args[0])]


@op("HardSigmoid")
def hard_sigmoid(ctx, node, args):
    alpha, beta = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    return [torch.clamp(args[0] * alpha + beta, 0.0, 1.0)]


@op("HardSwish")
def hard_swish(ctx, node, args):
    return [F.hardswish(args[0])]


@op("Tanh")
def tanh(ctx, node, args):
    return [torch.tanh(args[0])]


@op("Elu")
def elu(ctx, node, args):
    return [F.elu(args[0], node.attrs.get("alpha", 1.0))]


@op("Gelu")
def gelu(ctx, node, args):
    return [F.gelu(args[0], approximate=node.attrs.get("approximate", "none"))]


def _softmax_like(fn):
    def kernel(ctx, node, args):
        x = args[0]
        if ctx.opset >= 13:
            return [fn(x, dim=node.attrs.get("axis", -1))]
        axis = node.attrs.get("axis", 1) % x.dim()  # before opset 13: over a 2-D coercion
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return [fn(flat, dim=1).reshape(x.shape)]
    return kernel


OPS["Softmax"] = _softmax_like(F.softmax)
OPS["LogSoftmax"] = _softmax_like(F.log_softmax)


# ---- pooling -------------------------------------------------------------------------------

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@op("MaxPool")
def max_pool(ctx, node, args):
    if len(node.outputs) > 1 and node.outputs[1]:
        raise NotImplementedError("MaxPool with an Indices output")
    x = args[0]
    rank, kernel, strides, dilations, begins, ends = _window(node, x)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    padding = begins
    if not _fits_torch_padding(kernel, begins, ends):
        x = F.pad(x, _torch_pad(begins, ends), value=-math.inf)
        padding = [0] * rank
    return [_MAX_POOL[rank](x, kernel, strides, padding, dilations, ceil)]


@op("AveragePool")
def average_pool(ctx, node, args):
    x = args[0]
    rank, kernel, strides, dilations, begins, ends = _window(node, x)
    if any(d != 1 for d in dilations):
        raise NotImplementedError("AveragePool with dilations")
    ceil = bool(node.attrs.get("ceil_mode", 0))
    include = bool(node.attrs.get("count_include_pad", 0))
    pool = _AVG_POOL[rank]
    if _fits_torch_padding(kernel, begins, ends):
        return [pool(x, kernel, strides, begins, ceil, include)]
    pads = _torch_pad(begins, ends)
    sums = pool(F.pad(x, pads), kernel, strides, 0, ceil, True)
    if include:
        return [sums]
    ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    return [sums / pool(F.pad(ones, pads), kernel, strides, 0, ceil, True)]


@op("GlobalAveragePool")
def global_average_pool(ctx, node, args):
    x = args[0]
    return [x.mean(dim=tuple(range(2, x.dim())), keepdim=True)]


@op("GlobalMaxPool")
def global_max_pool(ctx, node, args):
    x = args[0]
    return [x.amax(dim=tuple(range(2, x.dim())), keepdim=True)]


# ---- elementwise arithmetic ----------------------------------------------------------------

@op("Add")
def add(ctx, node, args):
    return [args[0] + args[1]]


@op("Sub")
def sub(ctx, node, args):
    return [args[0] - args[1]]


@op("Mul")
def mul(ctx, node, args):
    return [args[0] * args[1]]


@op("Div")
def div(ctx, node, args):
    a, b = args[:2]
    if not a.is_floating_point():
        return [torch.div(a, b, rounding_mode="trunc")]
    return [a / b]


# ---- structure -----------------------------------------------------------------------------

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
    x, shape = args[0], _ints(args[1])
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
        return _ints(args[1]) if len(args) > 1 and args[1] is not None else None
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
        pads = _ints(args[1])
        value = float(args[2]) if len(args) > 2 and args[2] is not None and args[2].numel() else 0.0
        axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else None
    axes = [a % x.dim() for a in axes] if axes is not None else list(range(x.dim()))
    begins, ends = [0] * x.dim(), [0] * x.dim()
    for i, a in enumerate(axes):
        begins[a], ends[a] = pads[i], pads[i + len(axes)]
    flat = _torch_pad(begins, ends)
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
