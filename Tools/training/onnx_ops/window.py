"""Padding of sliding-window ops (Conv, MaxPool, AveragePool) from pads or auto_pad."""

from __future__ import annotations

from .registry import Node


def spatial_pads(x, kernel, strides, dilations, attrs) -> tuple[list[int], list[int]]:
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


def torch_pad(begins: list[int], ends: list[int]) -> list[int]:
    """ONNX per-axis (begin, end) -> F.pad's list, last axis first."""
    out: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [b, e]
    return out


def window(node: Node, x):
    rank = x.dim() - 2
    kernel = list(node.attrs["kernel_shape"])
    strides = list(node.attrs.get("strides", [1] * rank))
    dilations = list(node.attrs.get("dilations", [1] * rank))
    begins, ends = spatial_pads(x, kernel, strides, dilations, node.attrs)
    return rank, kernel, strides, dilations, begins, ends


def fits_torch_padding(kernel, begins, ends) -> bool:
    return begins == ends and all(2 * p <= k for p, k in zip(begins, kernel))
