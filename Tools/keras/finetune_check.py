#!/usr/bin/env python3
"""Checks `modeltool finetune` on Keras files against Keras itself (issue 12: item 5's Keras
behaviour, item 7's "a fine-tuned .h5 and .keras load in tf_keras and Keras 3 with outputs equal
to modeltool's").

For each Keras classifier in CASES (fixtures from Fixtures/keras, and a Sequential conv net without
Dropout that this script saves with tf_keras and Keras 3, once fresh and once with Adam state),
with 64 seeded random NHWC samples and labels below the model's output width saved as .npy:

  MODELTOOL finetune SRC --data x.npy --labels y.npy --epochs 1 --batch 64 --no-shuffle
      --optimizer sgd --lr 0.01 --momentum 0 --seed 0 -o OUT(same extension) --json

is one SGD step. Then:
  * load: OUT loads in tf_keras (.h5) and Keras 3 (.h5 and .keras), and on test inputs (the
    fixture's .npz x, else 4 training samples) each computes `modeltool run OUT`'s outputs to
    1e-4 x max(1, max|modeltool|);
  * structure: layer names, classes and weight shapes of OUT equal the source's (loaded by the
    Keras that wrote the source);
  * optimizer state (the two `trained` cases, compiled with Adam and trained one step before
    saving): OUT holds none, and modeltool said so on standard error;
  * changed: every trainable tensor and BatchNormalization moving statistic differs from the
    source (a tensor the Keras reference leaves exactly unchanged is exempt), else the load check
    proves nothing;
  * reference (models without Dropout; modeltool's seeded masks cannot match Keras's RNG): the same
    step in Keras, `compile(SGD(0.01, momentum=0), SparseCategoricalCrossentropy(from_logits=not a
    final softmax))` and `train_on_batch` on the same 64 samples (the output copied first: both
    Kerases would otherwise take the logits behind a final sigmoid too), must give modeltool's loss (5e-5
    relative: Keras's float32 batch norm is 1e-5 off its own float64 result) and every tensor within
    1e-3 x max|keras_new - old| plus one float32 ulp at the tensor's largest magnitude.
    BatchNormalization moving_variance is compared as it is or with Keras's batch variance scaled
    by n/(n-1) (n = values per channel in the batch), whichever is closer, and the line says which
    and the ratio seen: modeltool follows PyTorch (unbiased batch variance in the running variance);
    tf_keras's fused batch norm does too, Keras 3 uses the biased one.
The zoo fixtures are reported as `skip` while modeltool has no gradient for one of their operators
(Maximum/Minimum today); weights-only fixtures (need --config) and the 4-D-output upsample fixture
are not classifiers and are left out.
Prints one line per model and ends with `keras-finetune: N passed, N failed`; exits 1 on failure.

usage: .venv-keras/bin/python Tools/keras/finetune_check.py MODELTOOL [REPO_ROOT]
"""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from writer_check import loaders, predict  # noqa: E402

SAMPLES = 64
LR = 0.01
OUTPUT_TOLERANCE = 1e-4
# Relative. Keras's float32 loss is itself this far off: on the Sequential net tf_keras reports
# 2.762165 where the same model in float64 gives 2.762191, modeltool's figure.
LOSS_TOLERANCE = 5e-5
UPDATE_TOLERANCE = 1e-3
ABSOLUTE_FLOOR = 1e-7


@dataclass(frozen=True)
class Case:
    file: str  # under Fixtures/keras, or made here when `build` is set
    keras: str  # the Keras that wrote it and takes the reference step: "tf_keras" or "keras3"
    build: str | None = None


CASES = [
    Case("k2_sequential.h5", "tf_keras"),
    Case("k2_functional.h5", "tf_keras"),
    Case("k2_shared.h5", "tf_keras"),
    Case("k2_conv1d.h5", "tf_keras"),
    Case("k2_zoo.h5", "tf_keras"),
    Case("k2_relu_threshold.h5", "tf_keras"),
    Case("k3_sequential.h5", "keras3"),
    Case("k3_sequential.keras", "keras3"),
    Case("k3_functional.h5", "keras3"),
    Case("k3_functional.keras", "keras3"),
    Case("k3_shared.keras", "keras3"),
    Case("k3_conv1d.keras", "keras3"),
    Case("k3_zoo.keras", "keras3"),
    Case("k3_relu_threshold.keras", "keras3"),
    Case("k2_sequential_nodrop.h5", "tf_keras", build="sequential_nodrop"),
    Case("k3_sequential_nodrop.keras", "keras3", build="sequential_nodrop"),
    Case("k2_trained.h5", "tf_keras", build="trained"),
    Case("k3_trained.keras", "keras3", build="trained"),
]


def keras_module(name):
    if name == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def sequential_nodrop(K, path, seed):
    """The Sequential fixture's conv net (Conv2D, BN, DepthwiseConv2D, ReLU6, pools, Dense softmax)
    without its Dropout, so that Keras can take the same step."""
    from make_keras_fixtures import randomize, sequential

    layers = [layer for layer in sequential(K).layers if not isinstance(layer, K.layers.Dropout)]
    model = K.Sequential([K.Input(shape=(16, 16, 3))] + layers, name="seq_nodrop")
    randomize(model, seed)
    if path.endswith(".h5") and K.__name__ == "tf_keras":
        model.save(path, save_format="h5")
    else:
        K.saving.save_model(model, path)


def trained(K, path, seed):
    """The Dropout-free Sequential net compiled with Adam and trained one step, so that the file
    holds optimizer state, which fine-tuning must drop with a message."""
    sequential_nodrop(K, path, seed)
    model = K.models.load_model(path, compile=False)
    model.compile(optimizer=K.optimizers.Adam(1e-3), loss=K.losses.SparseCategoricalCrossentropy())
    rng = np.random.default_rng(seed)
    model.train_on_batch(rng.standard_normal((8, 16, 16, 3)).astype(np.float32), rng.integers(0, 10, 8))
    if path.endswith(".h5") and K.__name__ == "tf_keras":
        model.save(path, save_format="h5")
    else:
        K.saving.save_model(model, path)


def optimizer_state(path):
    """True when a Keras file stores optimizer variables (legacy h5: /optimizer_weights; .keras: the
    `optimizer` group of model.weights.h5)."""
    import io
    import zipfile

    import h5py

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            found = []
            f.visit(lambda name: found.append(name) if name.startswith("optimizer/") and isinstance(f[name], h5py.Dataset) else None)
            return bool(found)
    with h5py.File(path, "r") as f:
        return "optimizer_weights" in f


def layer_list(model):
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def weight_name(w):
    return getattr(w, "path", None) or w.name


def structure(model):
    return [(layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights]) for layer in layer_list(model)]


def tensors(model):
    """{(layer name, index): (layer, weight name, value)} in layer order; BN moving statistics included."""
    return {(layer.name, i): (layer, weight_name(w), value)
            for layer in layer_list(model) for i, (w, value) in enumerate(zip(layer.weights, layer.get_weights()))}


def describe_change(before, after):
    """The layers only one side has, and those whose class or weight shapes differ."""
    old, new = {n: (c, s) for n, c, s in before}, {n: (c, s) for n, c, s in after}
    parts = [f"-{n} ({old[n][0]})" for n in old if n not in new] + [f"+{n} ({new[n][0]})" for n in new if n not in old]
    parts += [f"{n}: {old[n][0]} {old[n][1]} -> {new[n][0]} {new[n][1]}" for n in old if n in new and old[n] != new[n]]
    if not parts:
        parts = ["same layers in another order"]
    return ", ".join(parts)


def final_softmax(model):
    last = layer_list(model)[-1]
    activation = getattr(last, "activation", None)
    return type(last).__name__ == "Softmax" or getattr(activation, "__name__", "") == "softmax"


def has_dropout(model):
    return any("Dropout" in type(layer).__name__ for layer in layer_list(model))


def ulp_floor(values):
    return max(float(np.spacing(np.float32(np.max(np.abs(values))))) if values.size else 0.0, ABSOLUTE_FLOOR)


class NoGradient(Exception):
    """modeltool refused to train: an operator between the weights and the loss has no gradient."""


class Checker:
    def __init__(self, tool, root, tmp):
        self.tool, self.root, self.tmp = tool, root, tmp
        self.load = loaders()
        self.passed = self.failed = 0

    def modeltool(self, *args):
        result = subprocess.run([self.tool, *args], capture_output=True, text=True)
        if result.returncode != 0 and "have no gradient" in result.stderr:
            raise NoGradient(result.stderr.strip().removeprefix("modeltool: "))
        if result.returncode != 0:
            raise RuntimeError(f"modeltool {args[0]}: {result.stderr.strip()[:400]}")
        return result

    def source(self, case):
        if case.build is None:
            return os.path.join(self.root, "Fixtures", "keras", case.file)
        path = os.path.join(self.tmp, case.file)
        globals()[case.build](keras_module(case.keras), path, seed=11)
        return path

    def run(self, case, seed):
        try:
            ok, notes = self.check(case, seed)
        except NoGradient as e:
            print(f"skip {case.file} [{case.keras}]: {e}")
            return
        except Exception as e:  # a crash of modeltool or a load failure is a failure of the case
            ok, notes = False, [f"{type(e).__name__}: {str(e).splitlines()[0][:400] if str(e) else ''}"]
        print(f"{'ok  ' if ok else 'FAIL'} {case.file} [{case.keras}]: " + "; ".join(notes))
        sys.stdout.flush()
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def check(self, case, seed):
        src = self.source(case)
        stem, ext = os.path.splitext(case.file)
        original = self.load[case.keras](src)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((SAMPLES,) + tuple(original.input_shape[1:])).astype(np.float32)
        labels = rng.integers(0, int(original.output_shape[-1]), SAMPLES).astype(np.int64)
        npz = os.path.join(self.root, "Fixtures", "keras", stem + ".npz")
        test = np.load(npz)["x"] if case.build is None and os.path.exists(npz) else x[:4]

        out, tool_loss, messages = self.finetune(src, stem + ".tuned" + ext, x, labels)
        ok, notes, written = self.check_loads(case, out, test)
        if optimizer_state(src):
            said = "optimizer state" in messages
            kept = optimizer_state(out)
            ok &= said and not kept
            notes.append(f"optimizer state {'kept' if kept else 'dropped'}, {'with' if said else 'WITHOUT'} a message")
        before, after = structure(original), structure(written)
        if after != before:
            ok = False
            notes.append(f"structure changed: {describe_change(before, after)}")
        reference = None if has_dropout(original) else self.reference_step(case, src, x, labels)
        # Tensors are paired by layer name and position, so a changed structure still shows whether
        # the numbers of the layers both files have are right.
        old, new = tensors(original), tensors(written)
        good, note = self.check_changed(old, new, reference)
        ok &= good
        notes.append(note)
        if reference is None:
            notes.append("no Keras step (Dropout: modeltool's seeded masks cannot match Keras's RNG)")
            return ok, notes
        good, more = self.check_against_keras(old, new, tool_loss, reference, x)
        return ok and good, notes + more

    def finetune(self, src, name, x, labels):
        """One SGD step over the 64 samples, written to NAME; returns its path, modeltool's loss and
        what it said on standard error."""
        data, label_path, out = (os.path.join(self.tmp, name + suffix) for suffix in (".x.npy", ".y.npy", ""))
        np.save(data, x)
        np.save(label_path, labels)
        result = self.modeltool("finetune", src, "--data", data, "--labels", label_path, "--epochs", "1",
                                "--batch", str(SAMPLES), "--no-shuffle", "--optimizer", "sgd", "--lr", str(LR),
                                "--momentum", "0", "--seed", "0", "-o", out, "--json")
        epoch = json.loads(result.stdout)["epochs"][0]
        return out, float(epoch.get("train_loss", epoch.get("trainLoss"))), result.stderr

    def check_loads(self, case, out, test):
        """OUT in each Keras that reads its format against `modeltool run OUT`; returns the model
        loaded by the source's own Keras too."""
        test_path, outputs = out + ".test.npy", out + ".out.npy"
        np.save(test_path, test)
        self.modeltool("run", out, "--input", test_path, "-o", outputs)
        expected = np.load(outputs)
        limit = OUTPUT_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
        ok, notes, written = True, [], None
        for loader in (("tf_keras", "keras3") if out.endswith(".h5") else ("keras3",)):
            model = self.load[loader](out)
            got = predict(model, test)
            diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
            ok &= diff <= limit
            notes.append(f"{loader} loads it, max |keras - modeltool| = {diff:.1e}")
            if loader == case.keras:
                written = model
        return ok, notes, written

    @staticmethod
    def check_changed(old, new, reference):
        """Every tensor must have moved, unless Keras's own step leaves it exactly where it was."""
        unchanged = [name for key, (_, name, value) in old.items()
                     if key in new and np.array_equal(value, new[key][2])
                     and (reference is None or np.any(reference[1][key] != value))]
        note = f"{len(old) - len(unchanged)}/{len(old)} tensors changed" + (f" (unchanged: {', '.join(unchanged)})" if unchanged else "")
        return not unchanged, note

    def check_against_keras(self, old, new, tool_loss, reference, x):
        keras_loss, keras_new = reference
        loss_diff = abs(tool_loss - keras_loss) / max(abs(keras_loss), 1e-12)
        ok = loss_diff <= LOSS_TOLERANCE
        notes = [f"loss {tool_loss:.6f} vs keras {keras_loss:.6f} (rel {loss_diff:.1e})"]
        worst, variance_notes, bad = 0.0, [], []
        for key, (layer, name, before) in old.items():
            if key not in new:
                bad.append(f"{name} (not in the written file)")
                continue
            got, want = new[key][2], keras_new[key]
            if "moving_variance" in name:
                good, note = self.compare_variance(layer, x, before, got, want)
                variance_notes.append(note)
                if not good:
                    bad.append(name)
                continue
            limit = UPDATE_TOLERANCE * float(np.max(np.abs(want - before))) + ulp_floor(want)
            err = float(np.max(np.abs(got - want)))
            worst = max(worst, err / limit)
            if err > limit:
                bad.append(f"{name} ({err:.1e} > {limit:.1e})")
        notes.append(f"keras step: worst tensor at {worst:.2f} of its tolerance" + (f", off: {', '.join(bad)}" if bad else ""))
        return ok and not bad, notes + variance_notes

    def reference_step(self, case, src, x, labels):
        """One SGD step in the Keras that wrote the file; returns its loss and the new tensors by name."""
        K = keras_module(case.keras)
        model = self.load[case.keras](src)
        softmax = final_softmax(model)
        cross_entropy = K.losses.SparseCategoricalCrossentropy(from_logits=not softmax)

        def loss(y, p):
            # Both Kerases take the logits behind a final softmax *or sigmoid* (the `_keras_logits`
            # they attach to its output), even with from_logits=True. modeltool reads through a final
            # Softmax only, as PyTorch would: a copy of the output hides the sigmoid's logits.
            return cross_entropy(y, p if softmax else tf.identity(p))

        model.compile(optimizer=K.optimizers.SGD(learning_rate=LR, momentum=0.0), loss=loss, jit_compile=False)
        loss = model.train_on_batch(x, labels)
        loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
        return loss, {key: value for key, (_, _, value) in tensors(model).items()}

    def compare_variance(self, layer, x, old, new, ref):
        """modeltool's moving_variance against Keras's, taking Keras's batch variance as it is or
        scaled by n/(n-1), whichever is closer, and saying which that was."""
        m = float(layer.momentum)
        n = self.values_per_channel(layer, x)
        keras_batch = (ref - m * old) / (1 - m)
        ratio = float(np.median((new - m * old) / (1 - m) / keras_batch))
        limit = UPDATE_TOLERANCE * float(np.max(np.abs(ref - old))) + ulp_floor(ref)
        as_is = float(np.max(np.abs(new - ref)))
        unbiased = float(np.max(np.abs(new - (m * old + (1 - m) * keras_batch * (n / (n - 1))))))
        if as_is <= unbiased:
            what = f"as Keras's ({as_is:.1e}; Keras's batch variance is unbiased here)"
        else:
            what = f"as Keras's with its batch variance x n/(n-1) ({unbiased:.1e}; as is {as_is:.1e}: Keras's is biased)"
        good = min(as_is, unbiased) <= limit
        return good, (f"{layer.name} moving_variance {'within' if good else 'NOT within'} {limit:.1e} of the update {what}; "
                      f"batch variance ratio modeltool/Keras {ratio:.5f}, n/(n-1) = {n / (n - 1):.5f} for n = {n}")

    @staticmethod
    def values_per_channel(layer, x):
        """Batch size times the spatial size of the layer's input."""
        shape = layer.input.shape if hasattr(layer, "input") else layer.input_shape
        return x.shape[0] * int(np.prod([int(d) for d in tuple(shape)[1:-1]]))


def main():
    tool = os.path.realpath(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    with tempfile.TemporaryDirectory() as tmp:
        checker = Checker(tool, root, tmp)
        for seed, case in enumerate(CASES):
            checker.run(case, seed)
    print(f"keras-finetune: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    main()
