#!/usr/bin/env python3
"""A small ONNX -> PyTorch interpreter: the independent reference for modeltool's training.

    model = OnnxModule(onnx.load("lenet.onnx"))       # float32; dtype=torch.float64 for a copy
    logits = model(x, outputs=[model.logits_name])[0]

What becomes what:
  * parameters (nn.Parameter): the float initializers or Constant-node tensors that an operator
    reads as a weight or bias (Conv, Gemm, MatMul), a BatchNormalization scale or shift, or a
    PRelu slope (see PARAM_SLOTS). A tensor that the exporter only de-duplicated, read through an
    Identity node, becomes its own parameter under the Identity's output name, as it was in the
    source model; export() writes it as an initializer of that name.
  * buffers: BatchNormalization running mean and variance. In train mode (model.train()) batch
    norm uses the batch statistics and updates these with momentum 1 - ONNX momentum and the
    unbiased batch variance, exactly as torch.nn.BatchNorm does.
  * everything else constant (Clip bounds, shape tensors) stays a constant.
Shape subgraphs (Shape, Gather, Concat, Unsqueeze of integer tensors) simply run on each call.

Run as a script, it checks itself: the eval-mode forward of every Fixtures/models/*.onnx against
onnxruntime on Fixtures/fashion-mnist/input100_f32.npy (max relative error 1e-4).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Sequence

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import venv_bootstrap
    venv_bootstrap.ensure_venv()

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import onnx_ops

# Input positions that hold trainable tensors, and batch norm's running statistics.
PARAM_SLOTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (0, 1, 2), "MatMul": (0, 1),
               "BatchNormalization": (1, 2), "PRelu": (1,)}
STAT_SLOTS = {"BatchNormalization": (3, 4)}
DEFAULT_DOMAINS = ("", "ai.onnx")


class UnsupportedOps(Exception):
    pass


def _attribute(a: onnx.AttributeProto):
    value = onnx.helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    return value


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    attrs = {a.name: _attribute(a) for a in node.attribute}
    for key, kind in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                      ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=kind)
    raise UnsupportedOps(f"Constant '{node.name}' with attributes {sorted(attrs)}")


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), 1)


class OnnxModule(torch.nn.Module):
    """Executes an ONNX graph with torch; float tensors in `dtype`."""

    def __init__(self, model: onnx.ModelProto, dtype: torch.dtype = torch.float32,
                 explicit_batch_norm: bool = False):
        super().__init__()
        graph = model.graph
        self.opset = _opset(model)
        self.dtype = dtype
        self.explicit_batch_norm = explicit_batch_norm
        constants = self._read_nodes(graph)
        self._register_tensors(constants, self._roles(constants))
        self.input_names = [i.name for i in graph.input if i.name not in constants]
        self.output_names = [o.name for o in graph.output]
        self.logits_name = self._logits_name()
        self._plans: dict[tuple, tuple] = {}

    def _read_nodes(self, graph: onnx.GraphProto) -> dict[str, np.ndarray]:
        """Fills self.nodes; returns every constant (initializers, Constant nodes, their Identity copies)."""
        constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.nodes: list[onnx_ops.Node] = []
        unsupported = []
        for n in graph.node:
            known = n.op_type in onnx_ops.OPS or n.op_type == "Constant"
            if n.domain not in DEFAULT_DOMAINS or not known:
                unsupported.append(f"{n.op_type} ('{n.name}', domain '{n.domain or 'ai.onnx'}', "
                                   f"opset {self.opset})")
            elif n.op_type == "Constant":
                constants[n.output[0]] = _constant_value(n)
            elif n.op_type == "Identity" and n.input[0] in constants:
                constants[n.output[0]] = constants[n.input[0]].copy()  # a separate copy
            else:
                self.nodes.append(onnx_ops.Node(n.op_type, n.name, list(n.input), list(n.output),
                                                {a.name: _attribute(a) for a in n.attribute}))
        if unsupported:
            raise UnsupportedOps("unsupported operators: " + "; ".join(unsupported))
        return constants

    def _roles(self, constants: dict[str, np.ndarray]) -> dict[str, str]:
        """"param" or "stat" for the float constants that nodes read in those slots."""
        roles: dict[str, str] = {}
        for node in self.nodes:
            for table, role in ((PARAM_SLOTS, "param"), (STAT_SLOTS, "stat")):
                for slot in table.get(node.op_type, ()):
                    name = node.inputs[slot] if slot < len(node.inputs) else ""
                    if name in constants and constants[name].dtype.kind == "f":
                        roles[name] = role
        return roles

    def _register_tensors(self, constants: dict[str, np.ndarray], roles: dict[str, str]) -> None:
        # Tensors live under attribute names t0, t1, ... (ONNX names may hold dots).
        self._attr: dict[str, str] = {}
        self.param_names: list[str] = []
        self.stat_names: list[str] = []
        for name, array in constants.items():
            tensor = torch.from_numpy(np.array(array))
            if tensor.is_floating_point():
                tensor = tensor.to(self.dtype)
            attr = f"t{len(self._attr)}"
            if roles.get(name) == "param":
                self.register_parameter(attr, torch.nn.Parameter(tensor))
                self.param_names.append(name)
            elif roles.get(name) == "stat":
                self.register_buffer(attr, tensor)
                self.stat_names.append(name)
            else:
                self.register_buffer(attr, tensor, persistent=False)
            self._attr[name] = attr

    # ---- graph facts ---------------------------------------------------------------------

    def _logits_name(self) -> str:
        """The first output, or the input of the Softmax/LogSoftmax that produces it."""
        out = self.output_names[0]
        producer = next((n for n in self.nodes if out in n.outputs), None)
        if producer is not None and producer.op_type in ("Softmax", "LogSoftmax"):
            return producer.inputs[0]
        return out

    def has_op(self, op_type: str) -> bool:
        return any(n.op_type == op_type for n in self.nodes)

    def tensor(self, name: str) -> torch.Tensor:
        return getattr(self, self._attr[name])

    def state(self) -> dict[str, torch.Tensor]:
        """Parameters and batch norm running statistics by ONNX name."""
        return {n: self.tensor(n) for n in self.param_names + self.stat_names}

    def parameters_by_name(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(n, self.tensor(n)) for n in self.param_names]

    # ---- running -------------------------------------------------------------------------

    def _plan(self, outputs: tuple[str, ...]):
        """The nodes the outputs need, and after which node each value can be dropped."""
        if outputs not in self._plans:
            needed, nodes = set(outputs), []
            for node in reversed(self.nodes):
                if any(o in needed for o in node.outputs):
                    nodes.append(node)
                    needed.update(i for i in node.inputs if i)
            nodes.reverse()
            last_use: dict[str, int] = {}
            for index, node in enumerate(nodes):
                for name in node.inputs:
                    last_use[name] = index
            drops = [[] for _ in nodes]
            for name, index in last_use.items():
                if name not in outputs and name not in self._attr:
                    drops[index].append(name)
            self._plans[outputs] = (nodes, drops)
        return self._plans[outputs]

    def forward(self, *inputs: torch.Tensor, outputs: Sequence[str] | None = None) -> list[torch.Tensor]:
        wanted = tuple(outputs or self.output_names)
        ctx = onnx_ops.Context(self.training, self.opset, self.explicit_batch_norm, self.dtype)
        env: dict[str, torch.Tensor] = {}
        for name, x in zip(self.input_names, inputs):
            env[name] = x.to(self.dtype) if x.is_floating_point() else x
        nodes, drops = self._plan(wanted)
        for node, drop in zip(nodes, drops):
            args = [None if not n else env[n] if n in env else self.tensor(n) for n in node.inputs]
            try:
                results = onnx_ops.OPS[node.op_type](ctx, node, args)
            except Exception as e:
                raise RuntimeError(f"{node.op_type} '{node.name}': {e}") from e
            for name, value in zip(node.outputs, results):
                if name:
                    env[name] = value
            for name in drop:
                env.pop(name, None)
        return [env[n] if n in env else self.tensor(n) for n in wanted]

    # ---- writing back --------------------------------------------------------------------

    def export(self, source: onnx.ModelProto) -> onnx.ModelProto:
        """`source` with this module's parameters and statistics in place of the file's values.

        Only tensor values change, except for an Identity-read copy that trained on its own:
        its Identity node is replaced by an initializer of the same output name.
        """
        model = copy.deepcopy(source)
        graph = model.graph
        state = {n: t.detach().cpu().numpy() for n, t in self.state().items()}
        written = set()
        for i, init in enumerate(graph.initializer):
            if init.name in state:
                array = state[init.name].astype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type))
                graph.initializer[i].CopyFrom(numpy_helper.from_array(array, init.name))
                written.add(init.name)
        kept = []
        for node in graph.node:
            out = node.output[0] if node.output else ""
            if out in state and out not in written and node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value":
                        a.t.CopyFrom(numpy_helper.from_array(
                            state[out].astype(onnx.helper.tensor_dtype_to_np_dtype(a.t.data_type)), out))
                        written.add(out)
            elif out in state and out not in written and node.op_type == "Identity":
                graph.initializer.append(numpy_helper.from_array(state[out].astype(np.float32), out))
                written.add(out)
                continue
            kept.append(node)
        del graph.node[:]
        graph.node.extend(kept)
        missing = set(state) - written
        if missing:
            raise RuntimeError(f"no place to write {sorted(missing)}")
        return model


# ---- self-check against onnxruntime ---------------------------------------------------------

EVAL_INPUT = Path(__file__).resolve().parents[2] / "Fixtures" / "fashion-mnist" / "input100_f32.npy"
EVAL_TOLERANCE = 1e-4


def check_against_onnxruntime(path: Path) -> float:
    """Max relative error (|ours - ort| / max(1, |ort|)) of the eval-mode forward on EVAL_INPUT.

    Raises when it exceeds EVAL_TOLERANCE or a shape differs.
    """
    import onnxruntime as ort
    x = np.load(EVAL_INPUT)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    refs = sess.run(None, {sess.get_inputs()[0].name: x})
    module = OnnxModule(onnx.load(str(path))).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    worst = 0.0
    for ref, y in zip(refs, got):
        y = y.numpy().astype(np.float64)
        if y.shape != ref.shape:
            raise RuntimeError(f"shape {list(y.shape)}, onnxruntime {list(ref.shape)}")
        worst = max(worst, float(np.max(np.abs(y - ref) / np.maximum(1.0, np.abs(ref)))))
    if not worst <= EVAL_TOLERANCE:
        raise RuntimeError(f"eval forward: max rel err {worst:.2e} against onnxruntime > {EVAL_TOLERANCE:g}")
    return worst


def _self_check(paths: list[Path]) -> int:
    torch.set_num_threads(1)
    passed = failed = 0
    for path in paths:
        try:
            worst = check_against_onnxruntime(path)
            module = OnnxModule(onnx.load(str(path)))
            print(f"ok    {path.name}: max rel err {worst:.2e} against onnxruntime "
                  f"({len(module.param_names)} parameters, {len(module.stat_names)} statistics)")
            passed += 1
        except Exception as e:
            print(f"FAIL  {path.name}: {e}")
            failed += 1
    print(f"onnx_torch: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    models = Path(__file__).resolve().parents[2] / "Fixtures" / "models"
    sys.exit(_self_check([Path(p) for p in sys.argv[1:]] or sorted(models.glob("*.onnx"))))
