"""Activations, Softmax and LogSoftmax."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .registry import OPS, op


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
