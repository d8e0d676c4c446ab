#!/usr/bin/env python3
"""Cross-checks `modeltool convert` round trips against the onnx Python package.

For every .onnx file under the given folders:
  1. `modeltool convert IN OUT` must give a file that onnx loads as a ModelProto equal to the
     original's (external data loaded on both sides);
  2. where onnx itself re-serialises the original byte for byte, OUT must be byte-identical;
  3. `modeltool convert --external-data` must also load equal, with 4 KiB-aligned offsets.
Exits non-zero on any difference; prints a count line `N passed, N failed`.

usage: roundtrip-check.py MODELTOOL DIR_OR_FILE...
"""
import os
import subprocess
import sys
import tempfile

import onnx
import onnx.numpy_helper
from onnx import external_data_helper


# Files modeltool refuses on purpose, with the reason (also stated in the README).
KNOWN_UNSUPPORTED = {
    "unknown_group.onnx": "unknown field in the deprecated group encoding; protobuf-c cannot decode groups, "
                          "so modeltool refuses the file with a clear error",
}


def onnx_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _, files in os.walk(p):
            for f in sorted(files):
                if f.endswith(".onnx"):
                    yield os.path.join(root, f)


def load(path):
    return onnx.load(path, load_external_data=True)


def canonical(model):
    """The model with every tensor in raw_data form and no data_location: external storage
    changes where the bytes live, not what they are."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in external_data_helper._get_all_tensors(m):
        if t.data_type == onnx.TensorProto.STRING:
            continue
        try:
            fresh = onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t), t.name)
        except Exception:  # types numpy cannot hold (e.g. 4-bit) are compared as stored
            continue
        for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "raw_data"):
            t.ClearField(field)
        t.raw_data = fresh.raw_data
        t.ClearField("data_location")
        t.ClearField("external_data")
    return m


def check(tool, path, tmp):
    original = load(path)
    raw = open(path, "rb").read()
    stable = original.SerializeToString() == raw if not any(
        t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL
        for t in external_data_helper._get_all_tensors(onnx.load(path, load_external_data=False))) else None
    out = os.path.join(tmp, "out.onnx")
    r = subprocess.run([tool, "convert", path, out], capture_output=True, text=True)
    if r.returncode != 0:
        return f"convert failed: {r.stderr.strip()}"
    if load(out) != original:
        return "round trip differs from the original ModelProto"
    if stable and open(out, "rb").read() != raw:
        return "onnx re-serialises the original byte for byte, but our output differs"
    ext = os.path.join(tmp, "ext.onnx")
    r = subprocess.run([tool, "convert", "--external-data", path, ext], capture_output=True, text=True)
    if r.returncode != 0:
        return f"convert --external-data failed: {r.stderr.strip()}"
    if canonical(load(ext)) != canonical(original):
        return "external-data round trip differs from the original ModelProto"
    for t in external_data_helper._get_all_tensors(onnx.load(ext, load_external_data=False)):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            if int(info.get("offset", "0")) % 4096:
                return f"tensor {t.name}: external offset {info['offset']} not 4 KiB aligned"
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    tool = os.path.abspath(sys.argv[1])
    passed, failed = 0, 0
    for path in onnx_files(sys.argv[2:]):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                load(path)
            except Exception as e:  # a model onnx itself cannot load is not ours to judge
                print(f"SKIP {path}: onnx cannot load it ({e.__class__.__name__}: {e})")
                continue
            if os.path.basename(path) in KNOWN_UNSUPPORTED:
                print(f"SKIP {path}: {KNOWN_UNSUPPORTED[os.path.basename(path)]}")
                continue
            problem = check(tool, path, tmp)
        if problem:
            failed += 1
            print(f"FAIL {path}: {problem}")
        else:
            passed += 1
    print(f"roundtrip: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
