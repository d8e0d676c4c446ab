#!/usr/bin/env python3
"""Mutates the bundled Keras .h5 files at random and runs `modeltool info` on each mutant,
looking for runs killed by a signal (libhdf5 faults). Deterministic for a given --seed.

    python3 Tools/fuzz/mutate-h5.py MODELTOOL [--count N] [--seed S] [--keep DIR]

Prints one line per crash (source file, seed, mutated offsets, signal) and a summary; with
--keep, crashing mutants are written to DIR.
"""
import argparse, glob, os, random, signal, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("modeltool")
ap.add_argument("--count", type=int, default=1000)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--keep")
ap.add_argument("--stop-after", type=int, default=0, help="stop after this many crashes (0: never)")
a = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sources = sorted(glob.glob(os.path.join(root, "Fixtures/keras/*.h5")))
rng = random.Random(a.seed)
crashes = signals = timeouts = errors = ok = 0
tmp = tempfile.mkdtemp(prefix="mutate-h5-")
for i in range(a.count):
    src = rng.choice(sources)
    data = bytearray(open(src, "rb").read())
    edits = []
    for _ in range(rng.randint(1, 8)):
        off = rng.randrange(len(data))
        val = rng.randrange(256)
        edits.append((off, data[off], val))
        data[off] = val
    path = os.path.join(tmp, "mutant.h5")
    open(path, "wb").write(data)
    try:
        r = subprocess.run([a.modeltool, "info", path], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        timeouts += 1
        print(f"timeout: {os.path.basename(src)} #{i} edits={edits}", flush=True)
        continue
    crashed = r.returncode < 0 or b"crashed" in r.stderr
    if crashed:
        crashes += 1
        signals += r.returncode < 0
        sig = signal.Signals(-r.returncode).name if r.returncode < 0 else "isolated"
        print(f"crash: {os.path.basename(src)} #{i} {sig} edits={edits} stderr={r.stderr[:200]!r}", flush=True)
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            open(os.path.join(a.keep, f"crash-{os.path.basename(src)[:-3]}-{a.seed}-{i}.h5"), "wb").write(data)
        if a.stop_after and crashes >= a.stop_after:
            break
    elif r.returncode == 0:
        ok += 1
    else:
        errors += 1
print(f"mutants: {i + 1}, read: {ok}, refused: {errors}, crashed: {crashes} "
      f"(killed by a signal: {signals}, reported as a library crash: {crashes - signals}), timeouts: {timeouts}")
