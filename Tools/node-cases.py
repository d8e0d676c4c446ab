#!/usr/bin/env python3
"""Writes the ONNX backend *node* test cases of chosen operators in the backend-data layout.

    node-cases.py OUT_DIR [OP ...]

The node cases are not in ../shared/onnx-backend-data (it holds the pytorch-converted,
pytorch-operator and simple suites). The onnx package generates them from its own reference
expectations (onnx.backend.test.case.node); this writes those that use one of OPs (by default the
detection and segmentation operators) to OUT_DIR/node/<case>/model.onnx and
test_data_set_N/{input,output}_K.pb, for ConformanceTests to run with ONNX_NODE_DATA=OUT_DIR.
Runs in .venv-models (Tools/realmodels/venv.py).
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realmodels import venv  # noqa: E402

venv.ensure_venv()

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.case import node  # noqa: E402

DEFAULT_OPS = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where",
               "Range", "ArgMax", "ArgMin", "TopK", "Resize", "Split", "Slice", "Expand", "ConstantOfShape", "Shape",
               "Softmax"]


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]) / "node"
    ops = set(sys.argv[2:] or DEFAULT_OPS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    written = 0
    for case in cases:
        if case.model is None or not any(n.op_type in ops for n in case.model.graph.node):
            continue
        # Expanded cases (a function inlined into many operators) test other operators.
        if case.name.endswith("_expanded") or "_expanded_" in case.name:
            continue
        folder = out / case.name
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(case.model, folder / "model.onnx")
        for k, (inputs, outputs) in enumerate(case.data_sets or []):
            data = folder / f"test_data_set_{k}"
            data.mkdir(exist_ok=True)
            for kind, arrays in (("input", inputs), ("output", outputs)):
                for i, a in enumerate(arrays):
                    if not hasattr(a, "dtype"):
                        continue  # sequences and optionals are outside a CNN runtime
                    (data / f"{kind}_{i}.pb").write_bytes(numpy_helper.from_array(a).SerializeToString())
        written += 1
    print(f"node-cases: {written} cases of {len(ops)} operators in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
