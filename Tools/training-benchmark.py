#!/usr/bin/env python3
"""Training throughput of `modeltool finetune` against PyTorch on the same ONNX models (issue 12, item 8).

    Tools/training-benchmark.py MODELTOOL [--images 2048] [--models lenet,vgg_style,...]
                                          [--batches 64,128] [--threads 1,2] [--before OLD]
    Tools/training-benchmark.py --torch-only ...     (PyTorch's side alone)

Not part of CI (it refuses to run when CI is set): it takes minutes and wants a quiet machine.
Runs itself in .venv-torch (made once from Tools/requirements-training.txt).

Data: the first N images of the Fashion-MNIST training set from Debian's dataset-fashion-mnist
package (files found with `dpkg -L`), or, without it, Fixtures/fashion-mnist/images.npy tiled to
N. Both sides read the same uint8 .npy, scale by float32(1/255) per batch and train one epoch in
file order with SGD lr 0.01, momentum 0.9, weight decay 5e-4, on mean softmax cross-entropy.

  * PyTorch: Tools/training/onnx_torch.py on the ONNX file, torch.set_num_threads(T), in a child
    process; images/s over the epoch's batch loop (batch conversion, forward, backward, step),
    not loading. Peak RSS is the child's (whole process: Python, torch and the data).
  * modeltool: `MODELTOOL finetune MODEL --data X.npy --labels Y.npy --scale 0.00392156862745098
    --epochs 1 --batch B --no-shuffle --optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 5e-4
    --threads T -o OUT.onnx --json`; images/s from the JSON's top-level `images_per_second` (or
    `imagesPerSecond`), or, when that is missing, N / the process's wall time (marked *, loading
    included). Peak RSS of the process, as GNU time reports it (wait4 would count the memory of
    this torch-loaded script, which the child has until its exec).
Each case runs once, PyTorch first, one process at a time. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
import venv_bootstrap  # noqa: E402

venv_bootstrap.ensure_venv()

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Fixtures" / "models"
FIXTURE_IMAGES = ROOT / "Fixtures" / "fashion-mnist" / "images.npy"
FIXTURE_LABELS = ROOT / "Fixtures" / "fashion-mnist" / "labels.npy"
SCALE_TEXT = "0.00392156862745098"
SGD = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
SGD_CLI = ["--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9", "--weight-decay", "5e-4"]


# ---- data ---------------------------------------------------------------------------------------

def debian_training_set() -> tuple[Path, Path] | None:
    try:
        files = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    images = next((Path(f) for f in files if Path(f).name.startswith("train-images-idx3-ubyte")), None)
    labels = next((Path(f) for f in files if Path(f).name.startswith("train-labels-idx1-ubyte")), None)
    return (images, labels) if images and labels and images.exists() and labels.exists() else None


def training_data(n: int, folder: Path) -> tuple[Path, Path, str]:
    """Writes the first n images and labels as .npy into folder; returns paths and the source."""
    found = debian_training_set()
    if found:
        sys.path.insert(0, str(ROOT / "Tools" / "fixtures"))
        from fmnist import read_idx
        images, labels = read_idx(found[0])[:n], read_idx(found[1])[:n].astype(np.int64)
        source = f"first {len(images)} images of {found[0]}"
    else:
        base_x, base_y = np.load(FIXTURE_IMAGES), np.load(FIXTURE_LABELS)
        reps = -(-n // len(base_x))
        images, labels = np.tile(base_x, (reps, 1, 1))[:n], np.tile(base_y, reps)[:n].astype(np.int64)
        source = f"{FIXTURE_IMAGES.relative_to(ROOT)} tiled to {n} (dataset-fashion-mnist not installed)"
    x_path, y_path = folder / "images.npy", folder / "labels.npy"
    np.save(x_path, np.ascontiguousarray(images))
    np.save(y_path, labels)
    return x_path, y_path, source


# ---- the PyTorch child --------------------------------------------------------------------------

def torch_child(model: str, batch: int, threads: int, x_path: str, y_path: str) -> None:
    """Trains one epoch and prints {"images_per_second": ...}; runs in its own process."""
    import onnx
    import torch
    import torch.nn.functional as F
    from onnx_torch import OnnxModule

    torch.set_num_threads(threads)
    images, labels = np.load(x_path), torch.from_numpy(np.load(y_path))
    module = OnnxModule(onnx.load(model)).train()
    optimizer = torch.optim.SGD([p for _, p in module.parameters_by_name()], **SGD)
    scale = np.float32(float(SCALE_TEXT))
    start = time.perf_counter()
    for first in range(0, len(images), batch):
        x = torch.from_numpy((images[first:first + batch].astype(np.float32) * scale)[:, None])
        logits = module(x, outputs=[module.logits_name])[0].reshape(len(x), -1)
        loss = F.cross_entropy(logits, labels[first:first + batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": len(images) / seconds, "seconds": seconds}))


def run_measured(cmd: list[str], env: dict | None = None, own_rss: bool = False) -> tuple[dict | None, float, float, str]:
    """(JSON from stdout or None, wall seconds, peak RSS in MiB, last stderr line) of one process.

    Linux counts a child's memory before its exec in its peak RSS, and this process has torch
    loaded (~300 MiB): with `own_rss`, the command runs under GNU time, a small process, and the
    peak RSS is the one it reports for the command alone."""
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("w+", suffix=".rss") as rss_file:
        wrapped = own_rss and gnu_time.exists()
        if wrapped:
            cmd = [str(gnu_time), "-q", "-f", "%M", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text, lines = out.read(), err.read().strip().splitlines()
        peak_kib = usage.ru_maxrss
        if wrapped:
            try:
                peak_kib = int(Path(rss_file.name).read_text().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {lines[-1] if lines else ''}")
    try:
        result = json.loads(text)
    except json.JSONDecodeError:
        result = None
    return result, wall, peak_kib / 1024.0, lines[-1] if lines else ""


# ---- the benchmark ------------------------------------------------------------------------------

def number(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # NaN: not measured


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modeltool", nargs="?")
    parser.add_argument("--torch-only", action="store_true")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--models", default="lenet,vgg_style,resnet_style,mobilenet_style")
    parser.add_argument("--batches", default="64,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--before", metavar="MODELTOOL",
                        help="another build, run right after MODELTOOL in each case (before/after ratios "
                             "on a busy machine)")
    parser.add_argument("--child", nargs=5, metavar=("MODEL", "BATCH", "THREADS", "X", "Y"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, batch, threads, x_path, y_path = args.child
        torch_child(model, int(batch), int(threads), x_path, y_path)
        return 0
    if os.environ.get("CI"):
        print("training-benchmark: not run in CI (CI is set)", file=sys.stderr)
        return 0
    if (args.modeltool is None) != args.torch_only:
        parser.error("give MODELTOOL or --torch-only")
    import torch
    models = [MODELS / f"{m.removesuffix('.onnx')}.onnx" for m in args.models.split(",")]
    missing = [str(m) for m in models if not m.exists()]
    if missing:
        parser.error(f"no such models: {', '.join(missing)}")
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]

    rows = []
    with tempfile.TemporaryDirectory(prefix="training-benchmark-") as tmp:
        x_path, y_path, source = training_data(args.images, Path(tmp))
        n = len(np.load(y_path))
        load_before = os.getloadavg()[0]
        if load_before > 0.5:
            print(f"training-benchmark: load average {load_before:.1f}; other processes will skew the "
                  "figures, multi-threaded ones most", file=sys.stderr)
        for model in models:
            for batch in batches:
                for t in threads:
                    env = dict(os.environ, OMP_NUM_THREADS=str(t))
                    cell = [model.stem, str(batch), str(t)]
                    try:
                        res, _, rss, _ = run_measured([sys.executable, __file__, "--child", str(model),
                                                       str(batch), str(t), str(x_path), str(y_path)], env)
                        torch_rate, torch_rss = res["images_per_second"], rss
                    except Exception as e:
                        print(f"PyTorch {model.stem} batch {batch} threads {t}: {e}", file=sys.stderr)
                        torch_rate = torch_rss = float("nan")
                    def modeltool(binary: str) -> tuple[float, float, str]:
                        """images/s, peak RSS and a mark for one modeltool build."""
                        cmd = [binary, "finetune", str(model), "--data", str(x_path),
                               "--labels", str(y_path), "--scale", SCALE_TEXT, "--epochs", "1",
                               "--batch", str(batch), "--no-shuffle", *SGD_CLI, "--threads", str(t),
                               "-o", str(Path(tmp) / "out.onnx"), "--json"]
                        try:
                            res, wall, rss, _ = run_measured(cmd, own_rss=True)
                            key = next((k for k in ("images_per_second", "imagesPerSecond") if k in (res or {})), None)
                            return (float(res[key]), rss, "") if key else (n / wall, rss, "*")
                        except Exception as e:
                            print(f"{binary} {model.stem} batch {batch} threads {t}: {e}", file=sys.stderr)
                            return float("nan"), float("nan"), ""

                    ours, ours_rss, mark = modeltool(args.modeltool) if args.modeltool else (float("nan"),) * 2 + ("",)
                    row = cell + [number(torch_rate), number(ours) + mark,
                                  f"{ours / torch_rate:.2f}x" if args.modeltool else "-",
                                  number(torch_rss), number(ours_rss)]
                    if args.before:
                        old, old_rss, old_mark = modeltool(args.before)
                        row += [number(old) + old_mark, f"{old / torch_rate:.2f}x", number(old_rss)]
                    rows.append(row)
                    print(f"  {' '.join(cell)}: PyTorch {number(torch_rate)} img/s, "
                          f"modeltool {number(ours)}{mark} img/s"
                          + (f", before {row[-3]} img/s" if args.before else ""), file=sys.stderr, flush=True)
    print(f"Data: {source}. Machine: {cpu_name()}, {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 1-minute load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after. SGD, one epoch, file order.\n")
    before = (" before img/s | before / PyTorch | before peak RSS (MiB) |", " ---: | ---: | ---: |") \
        if args.before else ("", "")
    print("| model | batch | threads | PyTorch img/s | modeltool img/s | modeltool / PyTorch "
          "| PyTorch peak RSS (MiB) | modeltool peak RSS (MiB) |" + before[0])
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + before[1])
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if any(r[4].endswith("*") for r in rows):
        print("\n\\* no `images_per_second` in modeltool's JSON: N / process wall time, loading included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
