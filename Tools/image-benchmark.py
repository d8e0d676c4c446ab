#!/usr/bin/env python3
"""Decoding + preprocessing throughput on a JPEG class folder: modeltool against torchvision.

    Tools/image-benchmark.sh [--images 512] [--threads 2] [--runs 3] [--pool]
    .venv-dataloader/bin/python Tools/image-benchmark.py MODELTOOL [same options]

Writes IMAGES photo-like 500x375 JPEGs (quality 90) into a temporary class folder (4 classes).

- modeltool: `run` of a GlobalAveragePool model over the folder with --preset torchvision
  --threads THREADS --batch 64 (the model's cost is negligible; start-up, model loading and
  writing the outputs are included).
- reference: torchvision.datasets.ImageFolder with Compose([Resize(256), CenterCrop(224),
  ToTensor(), Normalize(ImageNet mean, std)]) in a torch DataLoader(batch_size=64,
  num_workers=THREADS), iterating every batch (worker start-up included). This needs torch and
  torchvision from the package index (Tools/image-benchmark.sh installs them into
  .venv-dataloader).
- --pool: the older stand-in instead, the same transform written with Pillow and numpy on a
  multiprocessing pool of THREADS processes; needs only Pillow and numpy.

Prints images/s (best of RUNS, wall time) and CPU seconds (user + system of every process
involved, for the best run) for both, with the 1-minute load average before each side: on a
shared machine wall time is noisy, CPU time much less so.
"""

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def cpu_seconds():
    """User + system seconds of this process and its reaped children (DataLoader workers,
    pool processes and modeltool are all reaped before a measurement ends)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(body):
    """(wall seconds, CPU seconds) of one call."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    body()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def pool_transform(path):
    # torchvision's eval transform in Pillow + numpy (Resize's shorter side as torchvision rounds it).
    image = Image.open(path).convert("RGB")
    w, h = image.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    a = np.asarray(image.resize(size, Image.BILINEAR))
    top, left = int(round((a.shape[0] - 224) / 2.0)), int(round((a.shape[1] - 224) / 2.0))
    a = a[top:top + 224, left:left + 224].astype(np.float32).transpose(2, 0, 1) / 255
    return (a - np.array(MEAN, np.float32).reshape(3, 1, 1)) / np.array(STD, np.float32).reshape(3, 1, 1)


def pool_reference(folder, threads):
    files = sorted(str(p) for p in Path(folder).glob("*/*.jpg"))

    def body():
        with multiprocessing.Pool(threads) as pool:
            for _ in pool.imap(pool_transform, files, chunksize=16):
                pass
    return body, f"Pillow + numpy, multiprocessing pool of {threads}"


def dataloader_reference(folder, threads):
    import torch
    import torchvision
    from torchvision import datasets, transforms

    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                                     transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    dataset = datasets.ImageFolder(folder, preprocess)

    def body():
        # A fresh loader per run, as an evaluation script makes one: its workers start inside the timing.
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=threads)
        for _ in loader:
            pass
    return body, f"torchvision {torchvision.__version__} ImageFolder + DataLoader, {threads} workers (torch {torch.__version__})"


def write_folder(work, count):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500].astype(np.float32)
    for i in range(count):
        base = np.stack([128 + 100 * np.sin(x / (7 + i % 13)), 128 + 100 * np.cos(y / 11),
                         128 + 60 * np.sin((x + y) / 5)], -1)
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        folder = work / "images" / f"c{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)
    graph = helper.make_graph([helper.make_node("GlobalAveragePool", ["x"], ["y"])], "gap",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 1, 1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(work / "gap.onnx"))


def best_of(runs, body):
    """Best wall time of `runs` calls, with that run's CPU time and the load average before the runs."""
    load = os.getloadavg()[0]
    results = [timed(body) for _ in range(runs)]
    wall, cpu = min(results)
    return wall, cpu, load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modeltool")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pool", action="store_true", help="Pillow + numpy on a process pool instead of torchvision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_folder(work, args.images)
        folder = str(work / "images")
        make = pool_reference if args.pool else dataloader_reference
        reference, kind = make(folder, args.threads)
        command = [args.modeltool, "run", str(work / "gap.onnx"), "--input", folder, "--preset", "torchvision",
                   "--threads", str(args.threads), "--batch", "64", "-o", str(work / "out.npy")]
        ours = best_of(args.runs, lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL))
        theirs = best_of(args.runs, reference)
    print(f"{args.images} JPEGs 500x375 q90, --preset torchvision, {args.threads} threads, best of {args.runs}")
    for name, (wall, cpu, load) in (("modeltool run", ours), (kind, theirs)):
        print(f"  {name}: {args.images / wall:.1f} images/s ({wall:.2f} s wall, {cpu:.2f} s CPU; load {load:.2f})")


if __name__ == "__main__":
    sys.exit(main())
