"""The operator table of the ONNX -> PyTorch interpreter (onnx_torch.py).

One function per ONNX op type, registered by name in OPS, in a file per op family named as in
modeltool's kernels (Sources/ModelRuntime/Kernels). Each kernel takes the run context, the parsed
node (attributes as stored; the kernel applies the spec's defaults) and the input tensors (None for
an omitted optional input) and returns the list of output tensors. Everything goes through
torch.nn.functional or plain tensor ops, so autograd supplies the gradients.
"""

from .registry import OPS, Context, Node, op
# Importing a family registers its kernels.
from . import activation, convolution, data_movement, elementwise, gemm, normalization, pooling

__all__ = ["OPS", "Context", "Node", "op",
           "activation", "convolution", "data_movement", "elementwise", "gemm", "normalization", "pooling"]
