"""Exports the torchvision models of Tools/macs-crosscheck.py into FOLDER (random weights).

    python Tools/macs/export_torchvision.py FOLDER

Runs in .venv-torch with torchvision installed without its dependencies: only the pure-Python
model definitions are used. Writes resnet18.onnx and mobilenet_v2.onnx at 1x3x224x224, and
resnet18_dynamic.onnx whose input "input" has dynamic batch, height and width.
"""

import sys
import warnings
from pathlib import Path

import importlib.util
import types

import torch

warnings.filterwarnings("ignore")
# torchvision's package __init__ registers operators of its C extension, which a wheel built for
# another torch cannot load; the model definitions are pure Python, so they are imported through
# an empty package module that only knows where torchvision's files are.
_spec = importlib.util.find_spec("torchvision")
_package = types.ModuleType("torchvision")
_package.__path__ = list(_spec.submodule_search_locations)
sys.modules["torchvision"] = _package
import torchvision.models as models  # noqa: E402


def export(model: torch.nn.Module, path: Path, dynamic: bool) -> None:
    model.eval()
    x = torch.randn(1, 3, 224, 224)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}} if dynamic else None
    torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["output"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)


def main() -> None:
    folder = Path(sys.argv[1])
    torch.manual_seed(0)
    export(models.resnet18(weights=None), folder / "resnet18.onnx", dynamic=False)
    export(models.mobilenet_v2(weights=None), folder / "mobilenet_v2.onnx", dynamic=False)
    export(models.resnet18(weights=None), folder / "resnet18_dynamic.onnx", dynamic=True)


if __name__ == "__main__":
    main()
