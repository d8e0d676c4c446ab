#!/usr/bin/env python3
"""Throughput of modeltool's runtime against onnxruntime, in the same run on the same machine.

    benchmark.py MODELTOOL [--models a.onnx ...] [--repeat 5] [--batches 1 64] [--threads 1 2]

For every model, batch size and thread count, both runtimes classify the same images:
  * modeltool: `modeltool eval MODEL --data X.npy --labels Y.npy --batch B --threads T --json`,
    whose `seconds` cover the batch loop only (streaming the float32 .npy into the batch buffer,
    running it there, scoring top-k), not loading or planning the model. Warm, like
    onnxruntime's: less the seconds of a second run with `--limit B` (the first batch alone, which
    packs the weights and faults in the buffers), over the other batches' images; `--cold` keeps
    the first batch in (the figures before 2026-12-07's fourth round);
  * onnxruntime: an InferenceSession with intra_op_num_threads=T, inter_op_num_threads=1,
    sequential execution and its default (full) graph optimisations, timed over `session.run`
    on the same batches, already in memory as float32, after one warm-up batch.
Each case is measured `--repeat` times, alternating the two runtimes; the median is reported
(with `--best`, each runtime's best run).
The ratio is modeltool / onnxruntime throughput (1.0 = as fast, above 1 = faster).

It also measures the machine's sgemm peak (numpy's OpenBLAS, 2048³ float32, per thread count)
and reports the VGG-style model's achieved GFLOP/s (2 × Conv and Gemm MACs per image) as a
share of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Fixtures" / "fashion-mnist"
MODELS = ROOT / "Fixtures" / "models"
# Images per measurement: enough for ~0.3 s or more per run on the bundled models.
IMAGES = {1: 2000, 64: 8192}


def make_data(tmp: Path, count: int) -> tuple[Path, Path, np.ndarray]:
    """The bundled 1000-image slice tiled to `count` images, float32 NCHW in [0, 1]."""
    images = np.load(DATA / "images.npy")
    labels = np.load(DATA / "labels.npy")
    reps = -(-count // len(images))
    x = (np.tile(images, (reps, 1, 1))[:count].astype(np.float32) / np.float32(255))[:, None, :, :]
    y = np.tile(labels, reps)[:count].astype(np.int64)
    xp, yp = tmp / f"x{count}.npy", tmp / f"y{count}.npy"
    np.save(xp, np.ascontiguousarray(x))
    np.save(yp, y)
    return xp, yp, x


def modeltool_loop(tool: str, model: Path, xp: Path, yp: Path, batch: int, threads: int,
                   limit: int | None = None) -> tuple[int, float]:
    """Samples and seconds of `modeltool eval`'s batch loop."""
    cmd = [tool, "eval", str(model), "--data", str(xp), "--labels", str(yp), "--batch", str(batch),
           "--threads", str(threads), "--json"] + (["--limit", str(limit)] if limit else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    return int(result["samples"]), float(result["seconds"])


def modeltool_rate(tool: str, model: Path, xp: Path, yp: Path, batch: int, threads: int, warm: bool = True) -> float:
    """Images per second of the batch loop. Warm (the default), like onnxruntime's figure after
    its warm-up batch: the loop's time less that of a separate run of its first batch alone (which
    packs the weights and faults in the buffers), over the other batches' images."""
    samples, seconds = modeltool_loop(tool, model, xp, yp, batch, threads)
    if warm and samples > batch:
        first, first_seconds = modeltool_loop(tool, model, xp, yp, batch, threads, limit=batch)
        if seconds > first_seconds:
            return (samples - first) / (seconds - first_seconds)
    return samples / seconds


def ort_session(model: Path, threads: int) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model), o, providers=["CPUExecutionProvider"])


def ort_rate(sess: ort.InferenceSession, x: np.ndarray, batch: int) -> float:
    name = sess.get_inputs()[0].name
    batches = [np.ascontiguousarray(x[i:i + batch]) for i in range(0, len(x), batch)]
    sess.run(None, {name: batches[0]})  # warm-up: first-run allocations and kernel selection
    start = time.perf_counter()
    for b in batches:
        sess.run(None, {name: b})
    return len(x) / (time.perf_counter() - start)


def compare(tool: str, model: Path, xp: Path, yp: Path, x: np.ndarray, batch: int, threads: int, repeat: int,
            pick, warm: bool = True) -> tuple[float, float]:
    """modeltool's and onnxruntime's throughput on the same batches, `repeat` runs alternating,
    each side reduced by `pick` (median or max)."""
    sess = ort_session(model, threads)
    mine, theirs = [], []
    for _ in range(repeat):
        mine.append(modeltool_rate(tool, model, xp, yp, batch, threads, warm))
        theirs.append(ort_rate(sess, x, batch))
    return pick(mine), pick(theirs)


def sgemm_peak(threads: int, n: int = 2048, repeat: int = 5) -> float:
    """GFLOP/s of numpy's OpenBLAS sgemm on `threads` threads (best of `repeat`)."""
    code = f"""
import numpy as np, time
a = np.random.rand({n}, {n}).astype(np.float32); b = np.random.rand({n}, {n}).astype(np.float32)
a @ b
best = 0.0
for _ in range({repeat}):
    t = time.perf_counter(); a @ b; best = max(best, 2 * {n}**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def compute_macs(tool: str, model: Path) -> int:
    """Conv, ConvTranspose, Gemm and MatMul MACs per image, from `modeltool info --json`."""
    out = subprocess.run([tool, "info", str(model), "--batch", "1", "--json"], capture_output=True, text=True,
                         check=True)
    layers = json.loads(out.stdout)["layers"]
    return sum(l["macs"] for l in layers if l["op"] in ("Conv", "ConvTranspose", "Gemm", "MatMul"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modeltool")
    p.add_argument("--models", nargs="*", type=Path, default=None)
    p.add_argument("--batches", nargs="*", type=int, default=[1, 64])
    p.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--cold", action="store_true",
                   help="modeltool's first batch counted in (onnxruntime's warm-up batch is never)")
    p.add_argument("--best", action="store_true",
                   help="report each runtime's best run instead of the median (onnxruntime's 2-thread "
                        "throughput on models of many small layers switches between two levels here)")
    args = p.parse_args()
    pick = max if args.best else statistics.median
    models = args.models or sorted(MODELS.glob("*.onnx"))

    peaks = {t: sgemm_peak(t) for t in args.threads}
    for t, g in peaks.items():
        print(f"sgemm peak (numpy OpenBLAS, 2048^3, {t} thread{'s' if t > 1 else ''}): {g:.1f} GFLOP/s")
    print()
    print("| model | batch | threads | modeltool img/s | onnxruntime img/s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    with tempfile.TemporaryDirectory(prefix="modeltool-bench-") as tmpdir:
        data = {b: make_data(Path(tmpdir), IMAGES.get(b, 64 * b)) for b in args.batches}
        for model in models:
            for batch in args.batches:
                xp, yp, x = data[batch]
                for threads in args.threads:
                    m, o = compare(args.modeltool, model, xp, yp, x, batch, threads, args.repeat, pick, not args.cold)
                    rows.append((model, batch, threads, m, o))
                    print(f"| {model.stem} | {batch} | {threads} | {m:,.0f} | {o:,.0f} | {m / o:.2f} |", flush=True)
    print()
    for model, batch, threads, m, o in rows:
        if "vgg" not in model.stem:
            continue
        gflops = 2 * compute_macs(args.modeltool, model) * m / 1e9
        ort_gflops = 2 * compute_macs(args.modeltool, model) * o / 1e9
        print(f"{model.stem} batch {batch}, {threads} thread(s): modeltool {gflops:.1f} GFLOP/s = "
              f"{100 * gflops / peaks[threads]:.0f}% of sgemm peak {peaks[threads]:.1f} "
              f"(onnxruntime {ort_gflops:.1f} GFLOP/s = {100 * ort_gflops / peaks[threads]:.0f}%)")
    worst = min((m / o for _, b, _, m, o in rows if b == 64), default=None)
    if worst is not None:
        print(f"\nworst batch-64 ratio: {worst:.2f} (target 0.80)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
