"""Times modeltool on deep and wide graphs at two sizes (n and 4n nodes) and fails when the
larger takes more than 10 times as long: super-linear passes (topological sort, cycle search,
shape inference, planning, the trim planner's channel groups) show up as a 16x ratio where
linear work gives about 4x. Standard library only (ONNX written with Tools/fixtures/pbwire.py).

    python3 Tools/scaling.py .build/release/modeltool [--nodes 5000] [--repeat 3] [--only tied]

For each graph: `info` (read, verify, shape inference, profile) and `run` on one sample
(interpreter planning and one pass). The graph of n convolutions tied by one Sum is also
trimmed (`trim --data SAMPLE --dry-run`: APoZ on one sample, channel analysis with one group of
n producers, plan, rewrite in memory). Start-up time (`--version`) is subtracted before the ratio.
Issue 16, bounded resources; results are recorded in docs/RELIABILITY.md."""
import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from pbwire import f_len, f_varint  # noqa: E402


def value_info(name, dims):
    shape = b"".join(f_len(1, f_varint(1, d)) for d in dims)
    tensor_type = f_varint(1, 1) + f_len(2, shape)  # elem_type FLOAT, shape
    return f_len(1, name.encode()) + f_len(2, f_len(1, tensor_type))


def node(op, inputs, outputs, name, attributes=b""):
    return (b"".join(f_len(1, i.encode()) for i in inputs) + b"".join(f_len(2, o.encode()) for o in outputs)
            + f_len(3, name.encode()) + f_len(4, op.encode()) + attributes)


def int_attribute(name, value):
    return f_len(5, f_len(1, name.encode()) + f_varint(3, value) + f_varint(20, 2))


def initializer(name, dims, values):
    return (b"".join(f_varint(1, d) for d in dims) + f_varint(2, 1) + f_len(8, name.encode())
            + f_len(9, struct.pack(f"<{len(values)}f", *values)))


def model(nodes, outputs, input_dims=(1, 2), initializers=()):
    graph = (b"".join(f_len(1, n) for n in nodes) + f_len(2, b"scaling")
             + b"".join(f_len(5, t) for t in initializers) + f_len(11, value_info("x", list(input_dims)))
             + b"".join(f_len(12, f_len(1, o.encode())) for o in outputs))
    return f_varint(1, 8) + f_len(8, f_len(1, b"") + f_varint(2, 17)) + f_len(7, graph)


def chain(n, backwards=False):
    nodes = [node("Neg" if i % 2 == 0 else "Relu", ["x" if i == 0 else f"v{i - 1}"], [f"v{i}"], f"n{i}") for i in range(n)]
    if backwards:
        nodes.reverse()  # stored in reverse: the reader sorts them
    return model(nodes, [f"v{n - 1}"])


def wide(n):
    nodes = [node("Relu", ["x"], [f"b{i}"], f"r{i}") for i in range(n)]
    nodes.append(node("Sum", [f"b{i}" for i in range(n)], ["s"], "sum"))
    nodes.append(node("Concat", [f"b{i}" for i in range(n)], ["c"], "concat", int_attribute("axis", 1)))
    return model(nodes, ["s", "c"])


TIED_INPUT = (1, 2, 1, 1)


def tied(n, channels=4):
    """n 1x1 convolutions of x, each with its own weights and a Relu, summed by one Sum: the trim
    planner ties all n into one group of `channels` channels (Sum -> Relu -> Conv reads it)."""
    nodes, weights = [], []
    for i in range(n):
        # Channel 0 is dead in every branch (negative weights on a positive sample).
        w = [-1.0, -1.0] + [(1 + (i + c) % 5) * 0.1 for c in range(2 * channels - 2)]
        weights += [initializer(f"w{i}", [channels, 2, 1, 1], w), initializer(f"b{i}", [channels], [0.0] * channels)]
        nodes += [node("Conv", ["x", f"w{i}", f"b{i}"], [f"c{i}"], f"conv{i}"), node("Relu", [f"c{i}"], [f"r{i}"], f"relu{i}")]
    nodes.append(node("Sum", [f"r{i}" for i in range(n)], ["s"], "sum"))
    nodes.append(node("Relu", ["s"], ["t"], "relu"))
    weights += [initializer("wy", [2, channels, 1, 1], [0.5] * (2 * channels)), initializer("by", [2], [0.0, 0.0])]
    nodes.append(node("Conv", ["t", "wy", "by"], ["y"], "convy"))
    return model(nodes, ["y"], TIED_INPUT, weights)


# name: (build, input shape, also trim)
GRAPHS = {
    "chain": (chain, (1, 2), False),
    "chain stored backwards": (lambda n: chain(n, backwards=True), (1, 2), False),
    "wide (Sum + Concat)": (wide, (1, 2), False),
    "tied (n Conv -> Sum)": (tied, TIED_INPUT, True),
}


def seconds(command, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"scaling: {' '.join(command)} failed: {done.stderr.strip()}")
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modeltool")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-ratio", type=float, default=10.0)
    parser.add_argument("--only", help="run only the graphs whose name starts with this (chain, wide, tied)")
    args = parser.parse_args()
    start_up = seconds([args.modeltool, "--version"], args.repeat)
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        samples = {}
        for dims, values in (((1, 2), (-3, 4)), (TIED_INPUT, (1, 2))):
            samples[dims] = os.path.join(folder, f"x{len(dims)}.npy")
            header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(dims),)
            header += " " * (63 - len(header) % 64) + "\n"
            with open(samples[dims], "wb") as f:
                f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<2f", *values))
        print(f"start-up {start_up:.3f} s (subtracted); best of {args.repeat}")
        print(f"{'graph':<24} {'command':<5} {'n':>7} {'time':>8} {'4n':>7} {'time':>8} {'ratio':>6}")
        for name, (build, dims, trims) in GRAPHS.items():
            if args.only and not name.startswith(args.only):
                continue
            sample = samples[dims]
            commands = ("info", "run", "trim") if trims else ("info", "run")
            times = {}
            for n in (args.nodes, 4 * args.nodes):
                path = os.path.join(folder, f"{name.split()[0]}-{n}.onnx")
                with open(path, "wb") as f:
                    f.write(build(n))
                out = os.path.join(folder, "y.npy")
                times[n] = {
                    "info": seconds([args.modeltool, "info", path], args.repeat),
                    "run": seconds([args.modeltool, "run", path, "--input", sample, "-o", out], args.repeat),
                }
                if trims:
                    times[n]["trim"] = seconds([args.modeltool, "trim", path, "--data", sample, "--dry-run"], args.repeat)
            for command in commands:
                small, large = (max(times[n][command] - start_up, 1e-3) for n in (args.nodes, 4 * args.nodes))
                ratio = large / small
                failed |= ratio > args.max_ratio
                print(f"{name:<24} {command:<5} {args.nodes:>7} {small:>7.3f}s {4 * args.nodes:>7} {large:>7.3f}s {ratio:>6.1f}"
                      + ("  TOO SLOW" if ratio > args.max_ratio else ""))
    if failed:
        sys.exit(f"scaling: 4x the nodes took more than {args.max_ratio}x the time")


if __name__ == "__main__":
    main()
