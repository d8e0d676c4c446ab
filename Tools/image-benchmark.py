#!/usr/bin/env python3
"""Decoding + preprocessing throughput on a JPEG class folder: modeltool against Pillow.

    image-benchmark.py MODELTOOL [IMAGES=256] [THREADS=2]

Writes IMAGES photo-like 500x375 JPEGs (quality 90) into a temporary class folder. modeltool runs
a GlobalAveragePool model over it with --preset torchvision --threads THREADS (the model's cost
is negligible; model loading is included). The reference is torchvision's evaluation transform
written with Pillow and numpy (open, convert RGB, Resize(256) bilinear, CenterCrop(224), /255,
Normalize), on THREADS worker processes as a DataLoader with THREADS workers uses them
(torch's own DataLoader when torch is importable, a multiprocessing pool otherwise).
Prints images/s for both, best of three runs.
"""

import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def transform(path):
    image = Image.open(path).convert("RGB")
    w, h = image.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    image = image.resize(size, Image.BILINEAR)
    a = np.asarray(image)
    top, left = int(round((a.shape[0] - 224) / 2.0)), int(round((a.shape[1] - 224) / 2.0))
    a = a[top:top + 224, left:left + 224].astype(np.float32).transpose(2, 0, 1) / 255
    return (a - MEAN) / STD


def reference(files, threads):
    try:
        import torch
        from torch.utils.data import DataLoader

        class Folder(torch.utils.data.Dataset):
            def __len__(self):
                return len(files)

            def __getitem__(self, i):
                return torch.from_numpy(transform(files[i]))

        loader = DataLoader(Folder(), batch_size=64, num_workers=threads)
        start = time.perf_counter()
        for _ in loader:
            pass
        return time.perf_counter() - start, "torch DataLoader"
    except ImportError:
        with multiprocessing.Pool(threads) as pool:
            start = time.perf_counter()
            for _ in pool.imap(transform, files, chunksize=16):
                pass
            return time.perf_counter() - start, "multiprocessing pool"


def main():
    tool = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:375, 0:500].astype(np.float32)
        files = []
        for i in range(count):
            base = np.stack([128 + 100 * np.sin(x / (7 + i % 13)), 128 + 100 * np.cos(y / 11), 128 + 60 * np.sin((x + y) / 5)], -1)
            pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            folder = work / "images" / f"c{i % 4}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)
            files.append(str(folder / f"{i:05d}.jpg"))
        files.sort()
        graph = helper.make_graph([helper.make_node("GlobalAveragePool", ["x"], ["y"])], "gap",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 1, 1])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(work / "gap.onnx"))
        ours = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([tool, "run", str(work / "gap.onnx"), "--input", str(work / "images"), "--preset", "torchvision",
                            "--threads", str(threads), "--batch", "64", "-o", str(work / "out.npy")], check=True)
            ours.append(time.perf_counter() - start)
        theirs = [reference(files, threads) for _ in range(3)]
        best, kind = min(theirs)
        print(f"{count} JPEGs 500x375, --preset torchvision, {threads} threads")
        print(f"  modeltool run:           {count / min(ours):7.1f} images/s")
        print(f"  Pillow + numpy ({kind}, {threads} workers): {count / best:7.1f} images/s")


if __name__ == "__main__":
    main()
