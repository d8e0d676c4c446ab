"""The models of the check: torchvision classification and segmentation architectures with
random weights, a UNet-style graph written here, and an ultralytics YOLOv8n built from its yaml.
Each entry builds a torch module in eval mode and says its input size (small where the
architecture allows, to keep the run short)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from .venv import ensure_ultralytics, import_torchvision


@dataclass
class Entry:
    name: str
    build: Callable[[], nn.Module]
    size: int = 64            # input height and width
    exporter: str = "legacy"  # "legacy", "dynamo" or "ultralytics"


class UNet(nn.Module):
    """A two-level UNet with a detection-style head: skip concats, a transposed-conv and two
    interpolations (bilinear with aligned corners, nearest) on the way up; the head returns the
    per-pixel logits, their class map (ArgMax), the 8 best scores with their positions (TopK) and
    the scores above 0.5 (Greater, Where)."""

    def __init__(self, classes: int = 4):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU6())

        self.down1, self.down2, self.bottom = block(3, 16), block(16, 32), block(32, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.dec2 = block(64, 32)
        self.reduce1 = nn.Sequential(nn.Conv2d(32, 16, 1), nn.BatchNorm2d(16), nn.Hardswish())
        self.dec1 = block(32, 16)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        b = self.bottom(F.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], 1))
        u1 = F.interpolate(self.reduce1(u2), scale_factor=2.0, mode="bilinear", align_corners=True)
        u1 = self.dec1(torch.cat([u1, d1], 1))
        logits = self.head(u1) + F.interpolate(self.head(u1)[:, :, ::2, ::2], scale_factor=2.0, mode="nearest")
        scores = torch.sigmoid(logits).flatten(1)
        best, where = torch.topk(scores, 8, dim=1)
        kept = torch.where(scores > 0.5, scores, torch.zeros_like(scores))
        return logits, logits.argmax(1), best, where, kept


def _tv(name: str, **kw) -> Callable[[], nn.Module]:
    def build():
        tv = import_torchvision()
        return getattr(tv.models, name)(weights=None, **kw)
    return build


def _seg(name: str) -> Callable[[], nn.Module]:
    def build():
        tv = import_torchvision()
        return getattr(tv.models.segmentation, name)(weights=None, weights_backbone=None, aux_loss=False)
    return build


def _yolo() -> nn.Module:
    ensure_ultralytics()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import_torchvision()
    from ultralytics import YOLO
    return YOLO("yolov8n.yaml")


CLASSIFIERS = [
    Entry("resnet18", _tv("resnet18")), Entry("resnet50", _tv("resnet50")),
    Entry("mobilenet_v2", _tv("mobilenet_v2")), Entry("mobilenet_v3_small", _tv("mobilenet_v3_small")),
    Entry("mobilenet_v3_large", _tv("mobilenet_v3_large")),
    Entry("efficientnet_b0", _tv("efficientnet_b0")), Entry("densenet121", _tv("densenet121")),
    Entry("googlenet", _tv("googlenet", aux_logits=False, init_weights=True)),
    Entry("regnet_y_400mf", _tv("regnet_y_400mf")), Entry("resnext50_32x4d", _tv("resnext50_32x4d")),
    Entry("shufflenet_v2_x0_5", _tv("shufflenet_v2_x0_5")), Entry("squeezenet1_1", _tv("squeezenet1_1")),
    Entry("mnasnet0_5", _tv("mnasnet0_5")),
    # Their adaptive average pooling to 7×7 / 6×6 exports only where it divides the feature map.
    Entry("vgg11_bn", _tv("vgg11_bn"), size=224), Entry("alexnet", _tv("alexnet"), size=224),
    Entry("convnext_tiny", _tv("convnext_tiny")),
]
DYNAMO = [Entry(f"{n}@dynamo", _tv(n), exporter="dynamo") for n in ("resnet18", "mobilenet_v2", "squeezenet1_1")]
DETECTION = [
    Entry("unet", UNet), Entry("fcn_resnet50", _seg("fcn_resnet50")),
    Entry("deeplabv3_mobilenet_v3_large", _seg("deeplabv3_mobilenet_v3_large")),
    Entry("lraspp_mobilenet_v3_large", _seg("lraspp_mobilenet_v3_large")),
    Entry("yolov8n", _yolo, size=160, exporter="ultralytics"),
]
ALL = DETECTION + CLASSIFIERS + DYNAMO
SMOKE = ["unet", "squeezenet1_1"]


def export(entry: Entry, module, path: str) -> None:
    """Writes `module` (an nn.Module, or the YOLO wrapper) to ONNX at `path` with a symbolic batch
    (and, for YOLO, symbolic height and width as its exporter's dynamic mode makes them)."""
    if entry.exporter == "ultralytics":
        # It writes next to the working directory's model name: work in the temporary folder.
        here = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            # It may answer with a path relative to the working directory.
            out = os.path.abspath(module.export(format="onnx", imgsz=entry.size, simplify=False, dynamic=True,
                                                verbose=False))
        finally:
            os.chdir(here)
        os.replace(out, path)
        return
    module.eval()
    x = torch.randn(1, 3, entry.size, entry.size)
    with torch.no_grad():
        outputs = module(x)
    count = len(outputs) if isinstance(outputs, (tuple, list)) else (len(outputs) if isinstance(outputs, dict) else 1)
    names = [f"output{i}" for i in range(count)]
    if entry.exporter == "dynamo":
        torch.onnx.export(module, (x,), path, dynamo=True, input_names=["input"], output_names=names,
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},), verbose=False)
        return
    axes = {n: {0: "batch"} for n in ["input", *names]}
    torch.onnx.export(module, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                      output_names=names, dynamic_axes=axes)
