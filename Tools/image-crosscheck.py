#!/usr/bin/env python3
"""Cross-checks modeltool's image-folder pipeline against Pillow (what torchvision runs on).

    image-crosscheck.py MODELTOOL

Writes a class folder of JPEGs (baseline, progressive, grayscale) and PNGs (RGB, RGBA, palette,
grayscale) of varied sizes, some smaller than 256 on a side (upscaled), and feeds it through
`modeltool run` of an Identity ONNX model, so the written outputs are exactly the tensors
modeltool gives a model. The reference is torchvision's evaluation pipeline written with
Pillow and numpy: Image.open(...).convert("RGB"), Resize(256) (= Image.resize to the size
torchvision computes, BILINEAR, which antialiases when shrinking), CenterCrop(224) (offsets
int(round(...))), ToTensor (/255) and Normalize with the ImageNet mean and std.

Checks:
  * --preset torchvision: mean |modeltool - reference| <= 0.005 over every value (one 8-bit
    step is 0.017 after normalisation), also reported per file type;
  * bicubic and nearest resizes, BGR and gray: same bound on the pixels before normalisation (/255);
  * --preset keras-caffe and keras-tf with --resize 200x200: Keras's formulas on Pillow's pixels;
  * a folder of PNGs of one size, no preprocessing: bit-exact pixels.
Prints one line per check and `images: N passed, N failed`; exits 1 when any check fails.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}


def identity_model(path: Path, channels: int, height: int, width: int) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, height, width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", channels, height, width])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def picture(width: int, height: int, seed: int) -> np.ndarray:
    """A photo-like test image: smooth gradients plus texture and noise, so that resampling matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(x / (7 + seed)), 128 + 100 * np.cos(y / 11), 128 + 60 * np.sin((x + y) / 5)], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def write_folder(root: Path) -> list[Path]:
    """Files in the order ImageFolder lists them (classes sorted, names sorted)."""
    sizes = [(500, 375), (375, 500), (300, 300), (180, 240), (230, 150), (640, 427), (257, 999), (224, 224)]
    files = []
    for i, (w, h) in enumerate(sizes):
        rgb = Image.fromarray(picture(w, h, i), "RGB")
        cls = root / f"class{i % 3}"
        cls.mkdir(parents=True, exist_ok=True)
        kind = i % 7
        if kind == 0:
            name = cls / f"img{i}.jpg"; rgb.save(name, quality=90)
        elif kind == 1:
            name = cls / f"img{i}.JPEG"; rgb.save(name, format="JPEG", quality=85, progressive=True)
        elif kind == 2:
            name = cls / f"img{i}.jpeg"; rgb.convert("L").save(name, format="JPEG", quality=90)
        elif kind == 3:
            name = cls / f"img{i}.png"; rgb.save(name)
        elif kind == 4:
            rgba = rgb.copy(); rgba.putalpha(Image.fromarray(picture(w, h, 99)[:, :, 0]))
            name = cls / f"img{i}.png"; rgba.save(name)
        elif kind == 5:
            name = cls / f"img{i}.png"; rgb.quantize(colors=200).save(name)
        else:
            name = cls / f"img{i}.png"; rgb.convert("L").save(name)
        files.append(name)
    return sorted(files, key=lambda p: (p.parent.name, p.name))


def resized_size(w: int, h: int, n: int) -> tuple[int, int]:
    """torchvision's Resize(n) on a PIL image: (width, height)."""
    if w <= h:
        return n, int(n * h / w)
    return int(n * w / h), n


def center_crop(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape[:2]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return a[top:top + size, left:left + size]


def reference(path: Path, resize: int, crop: int, filter_name: str, color: str) -> np.ndarray:
    """[C, crop, crop] pixels in 0..255 as float32."""
    image = Image.open(path).convert("L" if color == "gray" else "RGB")
    image = image.resize(resized_size(*image.size, resize), FILTERS[filter_name])
    a = center_crop(np.asarray(image), crop).astype(np.float32)
    a = a[:, :, None] if a.ndim == 2 else a
    if color == "bgr":
        a = a[:, :, ::-1]
    return a.transpose(2, 0, 1)


def run(tool: str, work: Path, data: Path, channels: int, size: int, options: list[str]) -> np.ndarray:
    model = work / f"identity{channels}x{size}.onnx"
    identity_model(model, channels, size, size)
    out = work / "out.npy"
    subprocess.run([tool, "run", str(model), "--input", str(data), "-o", str(out), "--batch", "4"] + options,
                   check=True, capture_output=True, text=True)
    return np.load(out)


def main() -> int:
    tool = sys.argv[1]
    passed = failed = 0

    def report(name: str, ok: bool, detail: str) -> None:
        nonlocal passed, failed
        passed += ok
        failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "images"
        files = write_folder(folder)

        got = run(tool, work, folder, 3, 224, ["--preset", "torchvision"])
        ref = np.stack([(reference(f, 256, 224, "bilinear", "rgb") / 255 - MEAN) / STD for f in files])
        diff = np.abs(got - ref)
        for suffix in ("jpg", "png"):
            rows = [i for i, f in enumerate(files) if f.suffix.lower().startswith(("." + suffix[:2]))]
            report(f"torchvision preset, {suffix.upper()}s ({len(rows)})", diff[rows].mean() <= 0.005,
                   f"mean abs diff {diff[rows].mean():.2e}, max {diff[rows].max():.3f}, "
                   f"values off by more than one 8-bit step: {(diff[rows] > 0.0175 + 1e-4).sum()}")
        report("torchvision preset, all", got.shape == ref.shape and diff.mean() <= 0.005,
               f"shape {list(got.shape)}, mean abs diff {diff.mean():.2e}")

        for filter_name, color, channels in [("bicubic", "rgb", 3), ("nearest", "rgb", 3), ("bilinear", "bgr", 3),
                                             ("bilinear", "gray", 1)]:
            got = run(tool, work, folder, channels, 160,
                      ["--resize", "180", "--crop", "160", "--interpolation", filter_name, "--color", color])
            ref = np.stack([reference(f, 180, 160, filter_name, color) for f in files])
            d = np.abs(got - ref) / 255
            report(f"{filter_name} {color}", got.shape == ref.shape and d.mean() <= 0.005,
                   f"mean abs diff {d.mean():.2e} (/255), max {d.max() * 255:.0f} levels")

        # Keras presets compose with an exact resize (Pillow bilinear, antialiased, here).
        for preset, convert in [("keras-caffe", lambda x: x[::-1] - np.array([103.939, 116.779, 123.68], np.float32).reshape(3, 1, 1)),
                                ("keras-tf", lambda x: x / 127.5 - 1)]:
            got = run(tool, work, folder, 3, 200, ["--preset", preset, "--resize", "200x200"])
            ref = np.stack([convert(np.asarray(Image.open(f).convert("RGB").resize((200, 200), Image.BILINEAR))
                                    .astype(np.float32).transpose(2, 0, 1)) for f in files])
            d = np.abs(got - ref)
            report(f"{preset} --resize 200x200", got.shape == ref.shape and d.max() <= 1e-4 * max(1, np.abs(ref).max()),
                   f"max abs diff {d.max():.2e}")

        pngs = work / "pngs"
        for i in range(6):
            cls = pngs / f"c{i % 2}"
            cls.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture(40, 30, i + 10), "RGB").save(cls / f"{i}.png")
        png_files = sorted(pngs.glob("*/*.png"), key=lambda p: (p.parent.name, p.name))
        model = work / "identity_png.onnx"
        identity_model(model, 3, 30, 40)
        subprocess.run([tool, "run", str(model), "--input", str(pngs), "-o", str(work / "png.npy")], check=True,
                       capture_output=True, text=True)
        got = np.load(work / "png.npy")
        ref = np.stack([np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1).astype(np.float32) for f in png_files])
        report("PNG folder, no preprocessing", got.shape == ref.shape and np.array_equal(got, ref),
               "bit-exact" if got.shape == ref.shape and np.array_equal(got, ref) else "differs")

    print(f"images: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
