#!/usr/bin/env python3
"""Cross-checks one `modeltool finetune` optimizer step against PyTorch (issue 12, item 7).

    Tools/training-crosscheck.py MODELTOOL [--models lenet,resnet_style] [--optimizers sgd,adam]
    Tools/training-crosscheck.py --self-test [--models ...]

Runs itself in .venv-torch (made once from Tools/requirements-training.txt). For each
Fixtures/models/*.onnx and each optimizer,
  sgd:  SGD lr 0.01, momentum 0.9, weight decay 5e-4 (PyTorch's coupled decay: added to the gradient)
  adam: Adam lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay
the batch is the first 64 images of Fixtures/fashion-mnist/images.npy times float32(1/255) as
(64, 1, 28, 28) with their labels. PyTorch (Tools/training/onnx_torch.py, float32, train mode:
batch norm on batch statistics) takes one step on the mean softmax cross-entropy of the graph's
output, or of the logits before a final Softmax/LogSoftmax. modeltool runs

  MODELTOOL finetune MODEL --data images.npy --labels labels.npy --scale 0.00392156862745098
      --limit 64 --epochs 1 --batch 64 --no-shuffle --optimizer sgd --lr 0.01 --momentum 0.9
      --weight-decay 5e-4 -o OUT.onnx --json        (adam: --optimizer adam --lr 0.001 --weight-decay 0)

and must give
  * epochs[0].train_loss (or trainLoss) of its JSON equal to PyTorch's loss to 1e-5 relative;
  * every float tensor of OUT.onnx (initializers and Constant-node values, by name) within
    1e-3 x max|torch_new - old| of PyTorch's updated tensor, plus a floor of one float32 ulp at the
    tensor's largest magnitude (at least 1e-7) so that tensors the step barely moves are not held
    to less than float32 can store. For Adam each element may also move as far as its step moves
    when its gradient moves by 1e-3 x the tensor's largest gradient (the allowance the SGD check
    gives every gradient): a first Adam step is lr * g / (|g| + eps), so where g is at float32
    rounding level the step is noise anywhere in [-lr, lr] in any implementation (elements whose
    PyTorch gradient is exactly zero, such as dead units, get no such allowance).
    Trained tensors and batch norm running statistics must all be there; other float tensors must
    be unchanged; integer tensors must be equal. A tensor read through an Identity node (resnet's
    de-duplicated shortcut BN biases) trains as its own copy and is expected under the Identity's
    output name.
Before that, the reference's eval-mode forward must match onnxruntime (1e-4, as onnx_torch.py's
own self-check), or the model fails.
Models with a Dropout node are skipped with a note: modeltool's seeded masks cannot match
torch's RNG.

--self-test plays modeltool's part with a second path: float64, batch norm from explicit
mean/variance formulas, cross-entropy as logsumexp minus the label's logit, torch.autograd.grad
and the SGD/Adam updates written out here (not torch.optim), saved with OnnxModule.export. It
then checks that a 0.2% error in one tensor's update, a missing tensor and a 2e-5 relative loss
error are caught.

Prints one line per model and optimizer and ends with `training: N passed, N failed`;
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
import venv_bootstrap  # noqa: E402

venv_bootstrap.ensure_venv()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from onnx_torch import OnnxModule, check_against_onnxruntime  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "Fixtures" / "models"
IMAGES = ROOT / "Fixtures" / "fashion-mnist" / "images.npy"
LABELS = ROOT / "Fixtures" / "fashion-mnist" / "labels.npy"
SCALE_TEXT = "0.00392156862745098"
BATCH = 64
LOSS_TOLERANCE = 1e-5
UPDATE_TOLERANCE = 1e-3
ABSOLUTE_FLOOR = 1e-7


@dataclass(frozen=True)
class Optimizer:
    name: str
    cli: tuple[str, ...]
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def torch_optimizer(self, params):
        if self.name == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps,
                                weight_decay=self.weight_decay)


OPTIMIZERS = {
    "sgd": Optimizer("sgd", ("--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9", "--weight-decay", "5e-4"),
                     lr=0.01, momentum=0.9, weight_decay=5e-4),
    "adam": Optimizer("adam", ("--optimizer", "adam", "--lr", "0.001", "--weight-decay", "0"), lr=1e-3),
}


@dataclass
class Step:
    loss: float
    old: dict[str, np.ndarray]
    new: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]  # what the optimizer saw: gradient plus coupled weight decay
    opt: Optimizer

    def slack(self, name: str) -> np.ndarray | float:
        """Adam only: how far an element's step moves when its gradient moves by 1e-3 x max|g|.

        A first Adam step is lr * g / (|g| + eps) per element, so where g is at float32 rounding
        level the step is rounding noise anywhere in [-lr, lr]. Giving each gradient the same
        1e-3-of-the-largest allowance that the SGD check gives it keeps those elements from
        failing while the elements with real gradients are still held to 1e-3 of the update.
        """
        if self.opt.name != "adam" or name not in self.grads:
            return 0.0
        g = self.grads[name].astype(np.float64)
        d = UPDATE_TOLERANCE * float(np.max(np.abs(g), initial=0.0))
        step = lambda v: self.opt.lr * v / (np.abs(v) + self.opt.eps)  # noqa: E731
        slack = np.maximum(step(g + d) - step(g), step(g) - step(g - d))
        # An exactly zero gradient (a unit dead for the whole batch) is zero in any implementation.
        return np.where(g == 0, 0.0, slack)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    images = np.load(IMAGES)[:BATCH]
    x = (images.astype(np.float32) * np.float32(float(SCALE_TEXT)))[:, None, :, :]
    y = np.load(LABELS)[:BATCH].astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


def snapshot(module: OnnxModule) -> dict[str, np.ndarray]:
    return {n: t.detach().cpu().numpy().copy() for n, t in module.state().items()}


def reference_step(proto: onnx.ModelProto, opt: Optimizer, x, y) -> Step:
    """One PyTorch step in float32 with torch.optim: the reference."""
    module = OnnxModule(proto).train()
    old = snapshot(module)
    named = module.parameters_by_name()
    optimizer = opt.torch_optimizer([p for _, p in named])
    logits = module(x, outputs=[module.logits_name])[0].reshape(len(y), -1)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    grads = {n: (p.grad + opt.weight_decay * p.detach()).numpy().copy() for n, p in named}
    optimizer.step()
    return Step(float(loss.detach()), old, snapshot(module), grads, opt)


# ---- the self-test's stand-in for modeltool ----------------------------------------------------

def second_path(proto: onnx.ModelProto, opt: Optimizer, x, y, out: Path) -> dict:
    """The same step another way (see the module doc); writes `out`, returns finetune-like JSON."""
    module = OnnxModule(proto, dtype=torch.float64, explicit_batch_norm=True).train()
    named = module.parameters_by_name()
    logits = module(x.double(), outputs=[module.logits_name])[0].reshape(len(y), -1)
    loss = (torch.logsumexp(logits, dim=1) - logits.gather(1, y[:, None])[:, 0]).mean()
    grads = torch.autograd.grad(loss, [p for _, p in named])
    with torch.no_grad():
        for (_, w), g in zip(named, grads):
            if opt.name == "sgd":  # first step: the momentum buffer starts as the gradient itself
                w -= opt.lr * (g + opt.weight_decay * w)
            else:
                b1, b2 = opt.betas
                g = g + opt.weight_decay * w
                m_hat = (1 - b1) * g / (1 - b1)
                v_hat = (1 - b2) * g * g / (1 - b2)
                w -= opt.lr * m_hat / (torch.sqrt(v_hat) + opt.eps)
    onnx.save(module.export(proto), str(out))
    return {"epochs": [{"epoch": 1, "train_loss": float(loss.detach())}]}


def run_modeltool(tool: str, model: Path, opt: Optimizer, out: Path) -> dict:
    cmd = [tool, "finetune", str(model), "--data", str(IMAGES), "--labels", str(LABELS),
           "--scale", SCALE_TEXT, "--limit", str(BATCH), "--epochs", "1", "--batch", str(BATCH),
           "--no-shuffle", *opt.cli, "-o", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise RuntimeError(f"modeltool finetune exited {proc.returncode}: {lines[-1] if lines else ''}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"modeltool finetune --json printed no JSON ({e}): {proc.stdout[:120]!r}") from e


# ---- comparison ---------------------------------------------------------------------------------

def float_tensors(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Initializers and Constant-node values by name."""
    tensors = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    tensors[node.output[0]] = numpy_helper.to_array(a.t)
    return tensors


def json_field(record: dict, snake: str):
    """record[snake], or its camelCase spelling (the other modeltool commands' JSON uses camelCase)."""
    head, *rest = snake.split("_")
    camel = head + "".join(w.capitalize() for w in rest)
    if snake in record:
        return record[snake]
    if camel in record:
        return record[camel]
    raise RuntimeError(f"JSON has no '{snake}' (or '{camel}'): {str(record)[:120]}")


def train_loss(result: dict) -> float:
    epochs = result.get("epochs")
    if not isinstance(epochs, list) or len(epochs) != 1 or epochs[0].get("epoch") != 1:
        raise RuntimeError(f"JSON 'epochs' should hold exactly epoch 1, got {str(epochs)[:120]}")
    return float(json_field(epochs[0], "train_loss"))


def compare_loss(got: float, ref: float) -> float:
    rel = abs(got - ref) / abs(ref)
    if not rel <= LOSS_TOLERANCE:
        raise RuntimeError(f"train_loss {got!r}, PyTorch {ref!r}: relative error {rel:.2e} > {LOSS_TOLERANCE:g}")
    return rel


def compare_tensors(step: Step, source: dict[str, np.ndarray], out: dict[str, np.ndarray]):
    """(tensors compared, worst error as a fraction of its tolerance, that tensor's name,
    elements whose tolerance Adam's allowance widened)."""
    problems = [f"{n} missing from the output" for n in step.new if n not in out]
    worst, worst_name, count, widened = 0.0, "", 0, 0
    for name, got in out.items():
        if name in step.new:
            ref_new, ref_old = step.new[name], step.old[name]
        elif name in source:
            ref_new = ref_old = source[name]
        else:
            problems.append(f"unexpected tensor {name}")
            continue
        if got.shape != ref_new.shape:
            problems.append(f"{name}: shape {list(got.shape)}, expected {list(ref_new.shape)}")
            continue
        if got.dtype.kind != "f":
            if not np.array_equal(got, ref_new):
                problems.append(f"{name}: integer tensor changed")
            continue
        count += 1
        got64, new64 = got.astype(np.float64), ref_new.astype(np.float64)
        update = float(np.max(np.abs(new64 - ref_old.astype(np.float64)), initial=0.0))
        ulp = float(np.spacing(np.float32(np.max(np.abs(new64), initial=0.0))))
        base = UPDATE_TOLERANCE * update + max(ABSOLUTE_FLOOR, ulp)
        errors = np.abs(got64 - new64)
        slack = step.slack(name)
        widened += int(np.sum(slack > UPDATE_TOLERANCE * update))
        ratios = errors / (base + slack)
        if ratios.size == 0:
            continue
        at = int(np.argmax(ratios))
        if not float(ratios.flat[at]) <= 1.0:  # also catches NaN
            problems.append(f"{name}: |ours - torch| {float(errors.flat[at]):.3g} at element {at} "
                            f"is {float(ratios.flat[at]):.3g}x its tolerance (update {update:.3g})")
        elif float(ratios.flat[at]) > worst:
            worst, worst_name = float(ratios.flat[at]), name
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise RuntimeError(shown)
    return count, worst, worst_name, widened


def check(model: Path, opt: Optimizer, tool: str | None, tmp: Path, x, y):
    check_against_onnxruntime(model)  # a reference that is wrong in eval mode judges nothing
    proto = onnx.load(str(model))
    ref = reference_step(proto, opt, x, y)
    out = tmp / f"{model.stem}.{opt.name}.onnx"
    result = second_path(proto, opt, x, y, out) if tool is None else run_modeltool(tool, model, opt, out)
    loss = train_loss(result)
    rel = compare_loss(loss, ref.loss)
    source, written = float_tensors(proto), float_tensors(onnx.load(str(out)))
    count, worst, worst_name, widened = compare_tensors(ref, source, written)
    note = (f"loss {ref.loss:.6f} (rel err {rel:.1e}), {count} float tensors, "
            f"worst at {worst:.1%} of its tolerance ({worst_name or '-'})")
    if opt.name == "adam":
        total = sum(g.size for g in ref.grads.values())
        note += f"; {widened}/{total} elements with near-zero gradients held loosely"
    return ref, source, written, note


def negative_self_test(ref: Step, source, written) -> list[str]:
    """Errors the checks must catch; returns the ones they let through."""
    missed = []
    dropped = dict(written)
    del dropped[next(iter(ref.grads))]
    try:
        compare_tensors(ref, source, dropped)
        missed.append("a missing trained tensor")
    except RuntimeError:
        pass
    name = max(ref.grads, key=lambda n: float(np.max(np.abs(ref.new[n] - ref.old[n]))))
    update = ref.new[name].astype(np.float64) - ref.old[name]
    bad = dict(written)
    bad[name] = (ref.new[name] + 2e-3 * update).astype(np.float32)
    try:
        compare_tensors(ref, source, bad)
        missed.append(f"0.2% error in {name}'s update")
    except RuntimeError:
        pass
    try:
        compare_loss(ref.loss * (1 + 2e-5), ref.loss)
        missed.append("2e-5 relative loss error")
    except RuntimeError:
        pass
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modeltool", nargs="?")
    parser.add_argument("--self-test", action="store_true", help="play modeltool's part with a second path")
    parser.add_argument("--models", help="comma-separated model names (file stems), default all")
    parser.add_argument("--optimizers", default="sgd,adam")
    args = parser.parse_args()
    if (args.modeltool is None) == (not args.self_test):
        parser.error("give MODELTOOL or --self-test (not both)")
    optimizers = args.optimizers.split(",")
    if not set(optimizers) <= set(OPTIMIZERS):
        parser.error(f"--optimizers: choose from {', '.join(OPTIMIZERS)}")
    torch.set_num_threads(1)
    models = sorted(MODELS.glob("*.onnx"))
    if args.models:
        wanted = {m.removesuffix(".onnx") for m in args.models.split(",")}
        unknown = wanted - {m.stem for m in models}
        if unknown:
            parser.error(f"no such models: {', '.join(sorted(unknown))}")
        models = [m for m in models if m.stem in wanted]
    x, y = batch()
    passed = failed = 0
    negative_done: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="training-crosscheck-") as tmpdir:
        for model in models:
            if OnnxModule(onnx.load(str(model))).has_op("Dropout"):
                print(f"skip  {model.name}: has Dropout, whose seeded masks cannot match torch's RNG")
                continue
            for key in optimizers:
                opt = OPTIMIZERS[key]
                try:
                    ref, source, written, note = check(model, opt, args.modeltool, Path(tmpdir), x, y)
                    print(f"ok    {model.name} {opt.name}: {note}")
                    passed += 1
                    if args.self_test and opt.name not in negative_done:
                        negative_done.add(opt.name)
                        missed = negative_self_test(ref, source, written)
                        if missed:
                            print(f"FAIL  self-test {opt.name}: not caught: {', '.join(missed)}")
                            failed += 1
                        else:
                            print(f"ok    self-test {opt.name}: a 0.2% error in the largest update, a "
                                  "missing tensor and a 2e-5 relative loss error are all caught")
                            passed += 1
                except Exception as e:  # one line per check, whatever went wrong
                    print(f"FAIL  {model.name} {opt.name}: {e}")
                    failed += 1
    print(f"training: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
