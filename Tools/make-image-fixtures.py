"""Writes the small JPEG fixtures of Fixtures/images (Pillow, from .venv-images):
baseline RGB 4:2:0, progressive, grayscale, a truncated copy and a header declaring a
decompression bomb. Deterministic: the pixels are a fixed pattern.
    .venv-images/bin/python Tools/make-image-fixtures.py
"""
import os
import struct

import numpy as np
from PIL import Image

out = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "images")
os.makedirs(out, exist_ok=True)


def pattern(height, width):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 255) // (width - 1), (y * 255) // (height - 1), ((x + y) * 7) % 256], -1).astype(np.uint8)


rgb = Image.fromarray(pattern(23, 37), "RGB")
rgb.save(os.path.join(out, "rgb.jpg"), quality=90)
rgb.save(os.path.join(out, "progressive.jpg"), quality=90, progressive=True)
rgb.convert("L").save(os.path.join(out, "gray.jpg"), quality=90)
with open(os.path.join(out, "rgb.jpg"), "rb") as f:
    data = f.read()
with open(os.path.join(out, "truncated.jpg"), "wb") as f:
    f.write(data[: len(data) // 2])
# rgb.jpg with its frame header patched to declare 60000 x 60000 pixels (3.6 gigapixels).
sof = data.index(b"\xff\xc0")
with open(os.path.join(out, "bomb.jpg"), "wb") as f:
    f.write(data[: sof + 5] + struct.pack(">HH", 60000, 60000) + data[sof + 9:])
# Pillow's own decoding of the valid files, for the Swift tests: [H, W, 3] uint8 each.
np.savez(os.path.join(out, "decoded.npz"),
         rgb=np.asarray(Image.open(os.path.join(out, "rgb.jpg")).convert("RGB")),
         progressive=np.asarray(Image.open(os.path.join(out, "progressive.jpg")).convert("RGB")),
         gray=np.asarray(Image.open(os.path.join(out, "gray.jpg")).convert("RGB")))
print("wrote", sorted(os.listdir(out)))
