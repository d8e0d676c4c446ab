"""Add, Sub, Mul, Div with broadcasting (integer Div truncates, for shape subgraphs)."""

from __future__ import annotations

import torch

from .registry import op


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
