"""Gemm (transA/transB/alpha/beta) and MatMul."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .registry import op


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
