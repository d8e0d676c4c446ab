"""BatchNormalization: running statistics in eval mode, batch statistics in train mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .registry import op


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
