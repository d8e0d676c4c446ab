"""MaxPool, AveragePool and the global pools."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .registry import op
from .window import fits_torch_padding, torch_pad, window

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@op("MaxPool")
def max_pool(ctx, node, args):
    if len(node.outputs) > 1 and node.outputs[1]:
        raise NotImplementedError("MaxPool with an Indices output")
    x = args[0]
    rank, kernel, strides, dilations, begins, ends = window(node, x)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    padding = begins
    if not fits_torch_padding(kernel, begins, ends):
        x = F.pad(x, torch_pad(begins, ends), value=-math.inf)
        padding = [0] * rank
    return [_MAX_POOL[rank](x, kernel, strides, padding, dilations, ceil)]


@op("AveragePool")
def average_pool(ctx, node, args):
    x = args[0]
    rank, kernel, strides, dilations, begins, ends = window(node, x)
    if any(d != 1 for d in dilations):
        raise NotImplementedError("AveragePool with dilations")
    ceil = bool(node.attrs.get("ceil_mode", 0))
    include = bool(node.attrs.get("count_include_pad", 0))
    pool = _AVG_POOL[rank]
    if fits_torch_padding(kernel, begins, ends):
        return [pool(x, kernel, strides, begins, ceil, include)]
    pads = torch_pad(begins, ends)
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
