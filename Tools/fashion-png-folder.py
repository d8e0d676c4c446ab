#!/usr/bin/env python3
"""Turns the bundled Fashion-MNIST slice into an ImageFolder: DIR/<label>/<index>.png (8-bit
grayscale PNGs) plus DIR/classes.txt listing the labels 0..9, one per line.

    fashion-png-folder.py DIR [COUNT]     (default: the first 200 images)

Fixtures/fashion-mnist/png200 is this script's output; CLITests check that `modeltool eval` on
it gives exactly the accuracy of the same images read from images.npy.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
images = np.load(ROOT / "Fixtures" / "fashion-mnist" / "images.npy")
labels = np.load(ROOT / "Fixtures" / "fashion-mnist" / "labels.npy")
out = Path(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
out.mkdir(parents=True, exist_ok=True)
(out / "classes.txt").write_text("".join(f"{c}\n" for c in range(10)))
for index in range(count):
    folder = out / str(int(labels[index]))
    folder.mkdir(exist_ok=True)
    Image.fromarray(images[index].reshape(28, 28).astype(np.uint8), "L").save(folder / f"{index:04d}.png", optimize=True)
print(f"{count} images in {len({int(l) for l in labels[:count]})} classes -> {out}")
