#!/usr/bin/env python3
"""Per-node time of modeltool against onnxruntime on one model: where a ratio below 1 comes from.

    zoo-profile.py MODELTOOL MODEL.onnx [--batch 1] [--threads 1] [--images 32] [--top 25]

Both run the same random 224×224 images (or the model's own input size when it is fixed):
  * modeltool: `modeltool eval MODEL --profile --json`, seconds per step (a fused chain such as
    Conv+Relu under its first node's name);
  * onnxruntime: an InferenceSession with enable_profiling, the "Node" events' durations of its
    run (after one warm-up batch), summed per node name. onnxruntime fuses too (Conv+Relu,
    Conv+Add+Relu, …) under the name of the first node of the fusion, or a new name.
Rows are joined on the node name; the table lists the nodes where modeltool spends the most time
beyond onnxruntime, then totals per operator type. Times are milliseconds per image. Profiling
adds a little overhead to both.

Runs itself inside .venv-models (Tools/realmodels/venv.py). MODEL may be one of
Tools/zoo-benchmark.py's names (resnet18, …), exported into .build-zoo/ as that script does.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realmodels import venv  # noqa: E402

venv.ensure_venv()

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def model_path(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".onnx":
        return p
    import importlib.util
    spec = importlib.util.spec_from_file_location("zoo_benchmark", ROOT / "Tools" / "zoo-benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.export(name, ROOT / ".build-zoo")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modeltool")
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    model = model_path(args.model)

    o = ort.SessionOptions()
    o.intra_op_num_threads = args.threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    with tempfile.TemporaryDirectory(prefix="modeltool-profile-") as tmpdir:
        tmp = Path(tmpdir)
        plain = ort.InferenceSession(str(model), o, providers=["CPUExecutionProvider"])
        info = plain.get_inputs()[0]
        shape = [d if isinstance(d, int) and d > 0 else None for d in info.shape]
        size = [shape[1] or 3, shape[2] or 224, shape[3] or 224] if len(shape) == 4 else [3, 224, 224]
        rng = np.random.default_rng(0)
        x = rng.standard_normal((args.images, *size), dtype=np.float32)
        y = rng.integers(0, 1000, args.images).astype(np.int64)
        np.save(tmp / "x.npy", x)
        np.save(tmp / "y.npy", y)

        out = subprocess.run([args.modeltool, "eval", str(model), "--data", str(tmp / "x.npy"), "--labels",
                              str(tmp / "y.npy"), "--batch", str(args.batch), "--threads", str(args.threads),
                              "--profile", "--json"], capture_output=True, text=True, check=True)
        mine_run = json.loads(out.stdout)
        mine = {s["node"]: (s["op"], 1e3 * s["seconds"] / args.images) for s in mine_run["profile"]}

        o.enable_profiling = True
        o.profile_file_prefix = str(tmp / "ort")
        sess = ort.InferenceSession(str(model), o, providers=["CPUExecutionProvider"])
        batches = [x[i:i + args.batch] for i in range(0, len(x), args.batch)]
        sess.run(None, {info.name: batches[0]})
        # Events after the warm-up: profiling starts counting at the first run, so subtract it.
        for b in batches:
            sess.run(None, {info.name: b})
        trace = json.load(open(sess.end_profiling()))
    # onnxruntime names a node it rewrote after its output tensor ("T_nchwc"), and a fusion after
    # its last node's output: map those back to the graph's node, then up its input chain to the
    # node modeltool reports the step under (the head of a fused chain).
    import onnx
    graph = onnx.load(str(model), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    by_name = {n.name: n for n in graph.node}

    def mine_name(ort_name: str) -> str:
        node = by_name.get(ort_name)
        if node is None:
            tensor = ort_name[: -len("_nchwc")] if ort_name.endswith("_nchwc") else ort_name
            node = producer.get(tensor)
        for _ in range(4):
            if node is None or node.name in mine:
                break
            node = producer.get(node.input[0]) if node.input else None
        return node.name if node is not None and node.name in mine else ort_name

    runs = collections.defaultdict(list)
    ort_ops = {}
    for e in trace:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            name = mine_name(e["name"][: -len("_kernel_time")])
            runs[name].append(e["dur"])
            ort_ops[name] = "+".join(sorted(set(ort_ops.get(name, "").split("+")) - {""} | {e.get("args", {}).get("op_name", "?")}))
    theirs = {}
    for name, durations in runs.items():
        # One run per batch and node (or per fused part): the first batch's were the warm-up.
        per_batch = len(durations) // (len(batches) + 1)
        theirs[name] = sum(durations[per_batch:]) / 1e3 / args.images

    rows = []
    for name in set(mine) | set(theirs):
        op = mine[name][0] if name in mine else ort_ops.get(name, "?")
        rows.append((name, op, mine.get(name, (op, 0.0))[1], theirs.get(name, 0.0), ort_ops.get(name, "")))
    total_mine, total_theirs = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{model.name}, batch {args.batch}, {args.threads} thread(s), {args.images} images: "
          f"modeltool {total_mine:.3f} ms/image in nodes ({mine_run['samplesPerSecond']:.1f} img/s), "
          f"onnxruntime {total_theirs:.3f} ms/image in nodes")
    print()
    print("| node | modeltool op | onnxruntime op | modeltool ms | onnxruntime ms | difference |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name, op, m, t, their_op in sorted(rows, key=lambda r: r[3] - r[2])[: args.top]:
        print(f"| {name[-48:]} | {op} | {their_op or '(fused or absent)'} | {m:.3f} | {t:.3f} | {m - t:+.3f} |")
    print()
    by_op_mine, by_op_theirs = collections.Counter(), collections.Counter()
    for name, op, m, _, _ in rows:
        by_op_mine[op] += m
    for e in trace:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            by_op_theirs[e.get("args", {}).get("op_name", "?")] += e["dur"]
    warm = sum(by_op_theirs.values()) - total_theirs * args.images * 1e3
    for op in by_op_theirs:
        # Spread the warm-up batch out of the totals in proportion (it ran every node once).
        by_op_theirs[op] *= (total_theirs * args.images * 1e3) / max(1.0, total_theirs * args.images * 1e3 + warm) / 1e3 / args.images
    print("| operator (modeltool's fused names) | modeltool ms | | operator (onnxruntime's) | onnxruntime ms |")
    print("| --- | ---: | --- | --- | ---: |")
    left, right = by_op_mine.most_common(), by_op_theirs.most_common()
    for k in range(max(len(left), len(right))):
        a = left[k] if k < len(left) else ("", 0.0)
        b = right[k] if k < len(right) else ("", 0.0)
        print(f"| {a[0]} | {a[1]:.3f} | | {b[0]} | {b[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
