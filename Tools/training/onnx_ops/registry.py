"""The op table: ONNX op type -> kernel, and what a kernel receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch


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


def ints(t) -> list[int]:
    """An integer tensor (shape, axes, pads input) as a list."""
    return [int(v) for v in t.reshape(-1).tolist()]
