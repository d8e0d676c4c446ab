#!/usr/bin/env python3
"""Throughput and start-up of modeltool against onnxruntime on ImageNet-size torchvision models.

    zoo-benchmark.py MODELTOOL [--models resnet18,...] [--batches 1 8] [--threads 1 2]
                     [--repeat 3] [--best] [--startup] [--cache DIR]

The models (issue 15's list: resnet18, resnet50, mobilenet_v2, mobilenet_v3_small,
efficientnet_b0, densenet121, shufflenet_v2_x1_0, squeezenet1_1) are built by torchvision with
random weights (weights=None, seed 0) and exported at 224×224 by PyTorch's legacy exporter
(opset 17, symbolic batch) into --cache (default .build-zoo/, git-ignored; never committed).

Throughput, for every model, batch size and thread count, on the same random images:
  * modeltool: `modeltool eval MODEL --data X.npy --labels Y.npy --batch B --threads T --json`,
    its batch loop only (streaming the .npy, running, scoring), warm as in Tools/benchmark.py:
    less a separate run of the first batch alone (`--cold` keeps it in);
  * onnxruntime: an InferenceSession with intra_op_num_threads=T, inter_op_num_threads=1,
    sequential execution and its default (full) graph optimisations, timed over `session.run`
    on the same batches, already in memory as float32, after one warm-up batch.
Measured --repeat times, alternating the two; median (or, with --best, each one's best run).

Start-up (--startup): the wall time of a whole `modeltool run MODEL --input one.npy` process
(load, plan, one image, write nothing) against onnxruntime's InferenceSession creation plus its
first run of the same image, timed inside Python (Python's own start-up and imports excluded,
which favours onnxruntime). Best of --repeat.

Runs itself inside .venv-models (Tools/realmodels/venv.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realmodels import venv  # noqa: E402

venv.ensure_venv()

import numpy as np  # noqa: E402

from realmodels import zoo  # noqa: E402
# The same measurement as the Fixtures benchmark: eval's batch loop, and session.run over batches.
from benchmark import compare, ort_session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
          "shufflenet_v2_x1_0", "squeezenet1_1"]
# Images per measurement: a few seconds of work per run on one thread for the larger models.
IMAGES = {1: 24, 8: 48}


def export(name: str, cache: Path) -> Path:
    path = cache / f"{name}.onnx"
    if path.exists():
        return path
    import torch
    torch.manual_seed(0)
    entry = zoo.Entry(name, zoo._tv(name), size=224)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{name}.tmp.onnx"
    zoo.export(entry, entry.build(), str(tmp))
    tmp.replace(path)
    return path


def startup(tool: str, model: Path, one: Path, threads: int, repeat: int) -> tuple[float, float]:
    mine, theirs = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([tool, "run", str(model), "--input", str(one), "--threads", str(threads), "-o", str(one.parent / "out.npy")],
                       check=True, capture_output=True)
        mine.append(time.perf_counter() - start)
        x = np.load(one)
        start = time.perf_counter()
        sess = ort_session(model, threads)
        sess.run(None, {sess.get_inputs()[0].name: x})
        theirs.append(time.perf_counter() - start)
        del sess
    return min(mine), min(theirs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modeltool")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: issue 15's list)")
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cold", action="store_true",
                   help="modeltool's first batch counted in (onnxruntime's warm-up batch is never)")
    p.add_argument("--best", action="store_true", help="each runtime's best run instead of the median")
    p.add_argument("--startup", action="store_true", help="also time start-up (load, plan, one image)")
    p.add_argument("--cache", type=Path, default=ROOT / ".build-zoo", help="where the exported models are kept")
    args = p.parse_args()
    pick = max if args.best else statistics.median
    names = [n for n in args.models.split(",") if n]
    models = {n: export(n, args.cache) for n in names}

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="modeltool-zoo-") as tmpdir:
        tmp = Path(tmpdir)
        data = {}
        for b in args.batches:
            x = rng.standard_normal((IMAGES.get(b, 6 * b), 3, 224, 224), dtype=np.float32)
            y = rng.integers(0, 1000, len(x)).astype(np.int64)
            np.save(tmp / f"x{b}.npy", x)
            np.save(tmp / f"y{b}.npy", y)
            data[b] = (tmp / f"x{b}.npy", tmp / f"y{b}.npy", x)
        print("| model | batch | threads | modeltool img/s | onnxruntime img/s | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, model in models.items():
            for batch in args.batches:
                xp, yp, x = data[batch]
                for threads in args.threads:
                    m, o = compare(args.modeltool, model, xp, yp, x, batch, threads, args.repeat, pick, not args.cold)
                    rows.append((name, batch, threads, m, o))
                    print(f"| {name} | {batch} | {threads} | {m:,.1f} | {o:,.1f} | {m / o:.2f} |", flush=True)
        if args.startup:
            one = tmp / "one.npy"
            np.save(one, data[args.batches[0]][2][:1])
            print("\n| model | threads | modeltool run, whole process (s) | onnxruntime session + first run (s) | ratio |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for name, model in models.items():
                for threads in args.threads:
                    m, o = startup(args.modeltool, model, one, threads, args.repeat)
                    print(f"| {name} | {threads} | {m:.3f} | {o:.3f} | {o / m:.2f} |", flush=True)
    worst = min(rows, key=lambda r: r[3] / r[4], default=None)
    if worst:
        print(f"\nworst ratio: {worst[3] / worst[4]:.2f} ({worst[0]}, batch {worst[1]}, {worst[2]} thread(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
