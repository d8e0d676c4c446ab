"""Conv (1-D to 3-D, groups, strides, dilations, pads, auto_pad)."""

from __future__ import annotations

import torch.nn.functional as F

from .registry import op
from .window import spatial_pads, torch_pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@op("Conv")
def conv(ctx, node, args):
    x, w, b = (args + [None])[:3]
    rank = x.dim() - 2
    kernel = list(w.shape[2:])
    strides = list(node.attrs.get("strides", [1] * rank))
    dilations = list(node.attrs.get("dilations", [1] * rank))
    begins, ends = spatial_pads(x, kernel, strides, dilations, node.attrs)
    padding = begins
    if begins != ends:
        x = F.pad(x, torch_pad(begins, ends))
        padding = [0] * rank
    return [_CONV[rank](x, w, b, strides, padding, dilations, node.attrs.get("group", 1))]
