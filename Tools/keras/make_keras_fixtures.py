"""Writes the Keras fixtures under Fixtures/keras/ with Keras itself (run by Tools/keras/make-fixtures.sh).

Each model is saved with random (seeded) weights, including non-trivial batch-norm statistics and
biases, together with <name>.npz holding a fixed NHWC input batch `x` and Keras's own output `y`, so
the cross-check needs no TensorFlow. Keras 2 files come from tf_keras, Keras 3 files from keras.
A few copies are then rewritten with h5py into forms older or larger writers produce (bare-list
Sequential config, "Model" class name, split `layer_names0/1` lists, variable-length strings).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
OUT = ARGS[0] if ARGS else "Fixtures/keras"


def randomize(model, seed):
    """Gives every weight a seeded random value; variances stay positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            name = getattr(w, "path", None) or w.name
            if "moving_variance" in name:
                values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
            else:
                values.append((rng.standard_normal(shape) * 0.3).astype("float32"))
        if values:
            layer.set_weights(values)


def sequential(K):
    """Conv (fused relu) → BN → max pool → depthwise (no bias) → ReLU6 → avg pool same → conv valid → Flatten → Dense."""
    L = K.layers
    return K.Sequential([
        K.Input(shape=(16, 16, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu", name="conv_a"),
        L.BatchNormalization(name="bn_a"),
        L.MaxPooling2D(2, padding="valid", name="pool_a"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False, name="dw"),
        L.ReLU(max_value=6.0, name="relu6"),
        L.AveragePooling2D(3, strides=2, padding="same", name="avg_same"),
        L.Conv2D(4, 3, padding="valid", use_bias=False, name="conv_b"),
        L.Flatten(name="flatten"),
        L.Dropout(0.5, name="drop"),
        L.Dense(10, activation="softmax", name="logits"),
    ], name="seq")


def functional(K):
    """Residual Add around a separable conv, Concatenate, valid pooling, GAP, Dense, Activation."""
    L = K.layers
    x_in = K.Input(shape=(12, 12, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="stem")(x_in)
    y = L.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    y = L.BatchNormalization(epsilon=1e-3, name="sep_bn")(y)
    y = L.Activation("relu", name="sep_relu")(y)
    a = L.Add(name="residual")([x, y])
    b = L.Conv2D(4, 1, name="squeeze")(a)
    c = L.Concatenate(name="concat")([a, b])
    c = L.MaxPooling2D(3, strides=2, padding="same", name="pool_same")(c)
    c = L.AveragePooling2D(2, padding="valid", name="avg_valid")(c)
    g = L.GlobalAveragePooling2D(name="gap")(c)
    d = L.Dense(5, name="head")(g)
    out = L.Activation("sigmoid", name="prob")(d)
    return K.Model(x_in, out, name="func")


def zoo(K):
    """The other mapped layers and activations: padding, upsampling, rescaling, reshape, merges, PReLU…"""
    L = K.layers
    x_in = K.Input(shape=(8, 8, 4), name="zoo_in")
    x = L.Rescaling(0.5, offset=0.1, name="rescale")(x_in)
    x = L.ZeroPadding2D(((1, 0), (0, 2)), name="zpad")(x)
    x = L.Conv2D(6, 3, dilation_rate=2, activation="swish", name="dil")(x)
    x = L.UpSampling2D(2, name="up")(x)
    a = L.LeakyReLU(name="leaky")(x)
    b = L.ELU(alpha=0.7, name="elu")(x)
    c = L.PReLU(shared_axes=[1, 2], name="prelu")(x)
    m = L.Multiply(name="mul")([a, b])
    s = L.Subtract(name="sub")([m, c])
    v = L.Average(name="avg3")([a, b, c])
    mx = L.Maximum(name="max")([s, v])
    mn = L.Minimum(name="min")([s, v])
    y = L.Concatenate(name="cat")([mx, mn])
    y = L.Activation("tanh", name="tanh")(y)
    g = L.GlobalMaxPooling2D(name="gmp")(y)
    g = L.Dense(12, activation="gelu", name="fc")(g)
    g = L.Reshape((3, 4), name="reshape")(g)
    g = L.Softmax(axis=1, name="softmax")(g)
    g = L.Flatten(name="flat")(g)
    g = L.Dense(4, activation="hard_sigmoid", name="hs")(g)
    return K.Model(x_in, g, name="zoo")


def conv1d(K):
    """Conv1D (same/relu, strided valid, causal dilated) with MaxPooling1D, AveragePooling1D and both global 1-D pools."""
    L = K.layers
    x_in = K.Input(shape=(20, 3), name="series")
    x = L.Conv1D(6, 3, padding="same", activation="relu", name="c1")(x_in)
    x = L.MaxPooling1D(2, name="mp1")(x)
    x = L.Conv1D(8, 3, strides=2, padding="valid", name="c2")(x)
    x = L.AveragePooling1D(2, strides=1, padding="same", name="ap_same")(x)
    x = L.Conv1D(8, 2, padding="causal", dilation_rate=2, activation="tanh", name="causal")(x)
    x = L.MaxPooling1D(3, strides=1, padding="same", name="mp_same")(x)
    x = L.AveragePooling1D(2, name="ap_valid")(x)
    a = L.GlobalAveragePooling1D(name="gap1")(x)
    b = L.GlobalMaxPooling1D(name="gmp1")(x)
    y = L.Concatenate(name="cat")([a, b])
    y = L.Dense(3, name="out")(y)
    return K.Model(x_in, y, name="conv1d")


def shared(K):
    """Shared layers: one Conv2D called three times (twice in a chain, once on another branch) and one
    Dense called twice in a chain; each call must use the same weights."""
    L = K.layers
    x_in = K.Input(shape=(8, 8, 3), name="img")
    stem = L.Conv2D(4, 1, name="stem")(x_in)
    conv = L.Conv2D(4, 3, padding="same", activation="relu", name="shared_conv")
    a = conv(stem)
    b = conv(a)
    c = conv(L.Activation("tanh", name="branch")(stem))
    m = L.Add(name="sum")([b, c])
    g = L.GlobalAveragePooling2D(name="gap")(m)
    dense = L.Dense(4, activation="relu", name="shared_dense")
    d1 = dense(g)
    d2 = dense(d1)
    y = L.Concatenate(name="cat")([d1, d2])
    y = L.Dense(2, name="head")(y)
    return K.Model(x_in, y, name="shared")


def upsample(K):
    """Bilinear UpSampling2D (square and non-square factors) around a conv, then a nearest one."""
    L = K.layers
    x_in = K.Input(shape=(5, 6, 3), name="small")
    x = L.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(x_in)
    x = L.Conv2D(4, 3, padding="same", name="conv")(x)
    x = L.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear_2x3")(x)
    x = L.UpSampling2D((1, 2), interpolation="nearest", name="up_nearest")(x)
    return K.Model(x_in, x, name="upsample")


def relu_threshold(K):
    """ReLU(threshold=0.5) after a conv (x kept only where x > 0.5), then ReLU(threshold=0.1) on a Dense."""
    L = K.layers
    x_in = K.Input(shape=(6, 6, 3), name="img")
    x = L.Conv2D(4, 3, padding="same", name="conv")(x_in)
    x = L.ReLU(threshold=0.5, name="relu_t")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(5, name="dense")(x)
    x = L.ReLU(threshold=0.1, name="relu_t2")(x)
    return K.Model(x_in, x, name="relu_threshold")


def save_expected(model, name, seed):
    x = np.random.default_rng(1000 + seed).standard_normal((3,) + tuple(model.input_shape[1:])).astype("float32")
    y = np.asarray(model(x, training=False))
    np.savez(os.path.join(OUT, name + ".npz"), x=x, y=y)


def keras2():
    import tf_keras as K

    for seed, (name, build) in enumerate([("k2_sequential", sequential), ("k2_functional", functional), ("k2_zoo", zoo)]):
        model = build(K)
        randomize(model, seed)
        model.save(os.path.join(OUT, name + ".h5"), save_format="h5")
        save_expected(model, name, seed)
    # Weights-only (save_weights .h5: layer_names at the root) plus its to_json() config.
    model = functional(K)
    randomize(model, 7)
    model.save_weights(os.path.join(OUT, "k2_weights_only.h5"))
    with open(os.path.join(OUT, "k2_weights_only.json"), "w") as f:
        f.write(model.to_json())
    save_expected(model, "k2_weights_only", 7)
    return K


def keras3():
    import keras as K

    for seed, (name, build) in enumerate([("k3_sequential", sequential), ("k3_functional", functional), ("k3_zoo", zoo)], start=3):
        model = build(K)
        randomize(model, seed)
        K.saving.save_model(model, os.path.join(OUT, name + ".keras"))
        K.saving.save_model(model, os.path.join(OUT, name + ".h5"))
        save_expected(model, name, seed)
    model = sequential(K)
    randomize(model, 9)
    model.save_weights(os.path.join(OUT, "k3_weights_only.weights.h5"))
    with open(os.path.join(OUT, "k3_weights_only.json"), "w") as f:
        f.write(model.to_json())
    save_expected(model, "k3_weights_only", 9)
    return K


def rewrite_old_forms():
    """Copies of Keras 2 files in forms other writers produce, with the same weights and outputs."""
    import shutil

    def copy(src, dst):
        shutil.copy(os.path.join(OUT, src + ".h5"), os.path.join(OUT, dst + ".h5"))
        shutil.copy(os.path.join(OUT, src + ".npz"), os.path.join(OUT, dst + ".npz"))
        return h5py.File(os.path.join(OUT, dst + ".h5"), "r+")

    # Keras <= 2.2.0: Sequential config is a bare list of layers; functional class name "Model" with
    # 4-element inbound nodes [[name, node, tensor, kwargs]] kept, as in Keras 2.
    with copy("k2_sequential", "k2_sequential_oldconfig") as f:
        config = json.loads(f.attrs["model_config"])
        layers = [l for l in config["config"]["layers"] if l["class_name"] != "InputLayer"]
        layers[0]["config"]["batch_input_shape"] = [None, 16, 16, 3]
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": layers}).encode()
        f.attrs["keras_version"] = b"2.1.6"
    with copy("k2_functional", "k2_functional_oldconfig") as f:
        config = json.loads(f.attrs["model_config"])
        config["class_name"] = "Model"
        for layer in config["config"]["layers"]:
            # 3-element inbound nodes (no kwargs), as some Keras 2 writers produced.
            layer["inbound_nodes"] = [[entry[:3] for entry in node] for node in layer["inbound_nodes"]]
        f.attrs["model_config"] = json.dumps(config).encode()  # fixed-length bytes, not vlen str
        # Split name list (what Keras does past 64 KB) and variable-length ASCII weight names.
        g = f["model_weights"]
        names = [n if isinstance(n, bytes) else n.encode() for n in g.attrs["layer_names"]]
        del g.attrs["layer_names"]
        g.attrs["layer_names0"] = np.array(names[: len(names) // 2])
        g.attrs["layer_names1"] = np.array(names[len(names) // 2:])
        for n in names:
            wn = [w.decode() if isinstance(w, bytes) else str(w) for w in g[n.decode()].attrs["weight_names"]]
            if wn:
                g[n.decode()].attrs.create("weight_names", wn, dtype=h5py.string_dtype("ascii"))


def bad_files():
    """Damaged copies for the reader's error tests (Fixtures/keras/bad/)."""
    import shutil

    bad = os.path.join(OUT, "bad")
    os.makedirs(bad, exist_ok=True)
    src = os.path.join(OUT, "k2_sequential.h5")
    with open(src, "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "truncated.h5"), "wb") as f:
        f.write(data[: len(data) // 2])
    shutil.copy(src, os.path.join(bad, "missing_dataset.h5"))
    with h5py.File(os.path.join(bad, "missing_dataset.h5"), "r+") as f:
        del f["model_weights/conv_b/conv_b/kernel:0"]
    shutil.copy(src, os.path.join(bad, "shape_mismatch.h5"))
    with h5py.File(os.path.join(bad, "shape_mismatch.h5"), "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["filters"] = 9  # conv_a stores 8 filters
        f.attrs["model_config"] = json.dumps(config)
    with h5py.File(os.path.join(bad, "not_keras.h5"), "w") as f:
        f["images"] = np.zeros((2, 3), "float32")


def tf2onnx_export():
    """Exports k2_functional with tf2onnx (an ONNX model another converter made, NHWC input)."""
    import tf_keras as K
    import tensorflow as tf
    import tf2onnx

    model = K.models.load_model(os.path.join(OUT, "k2_functional.h5"))
    spec = (tf.TensorSpec((None, 12, 12, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17,
                               output_path=os.path.join(OUT, "k2_functional.tf2onnx.onnx"))


def gap_fixtures():
    """Only the fixtures for paths the first set missed (Conv1D and 1-D pooling, shared layers,
    bilinear UpSampling2D), in Keras 2 .h5 and Keras 3 .h5/.keras; leaves every other file alone."""
    import tf_keras as K2
    import keras as K3

    for seed, (stem, build) in enumerate([("conv1d", conv1d), ("shared", shared), ("upsample", upsample)], start=20):
        model = build(K2)
        randomize(model, seed)
        model.save(os.path.join(OUT, f"k2_{stem}.h5"), save_format="h5")
        save_expected(model, f"k2_{stem}", seed)
        model = build(K3)
        randomize(model, seed + 10)
        K3.saving.save_model(model, os.path.join(OUT, f"k3_{stem}.keras"))
        K3.saving.save_model(model, os.path.join(OUT, f"k3_{stem}.h5"))
        save_expected(model, f"k3_{stem}", seed + 10)
    strip_keras3_var_names("k3_shared", "k3_shared_nonames")


def threshold_fixtures():
    """Only k2_relu_threshold.h5 and k3_relu_threshold.h5/.keras (ReLU with a threshold); every
    other file stays byte-identical."""
    import tf_keras as K2
    import keras as K3

    seed = 40
    model = relu_threshold(K2)
    randomize(model, seed)
    model.save(os.path.join(OUT, "k2_relu_threshold.h5"), save_format="h5")
    save_expected(model, "k2_relu_threshold", seed)
    model = relu_threshold(K3)
    randomize(model, seed + 10)
    K3.saving.save_model(model, os.path.join(OUT, "k3_relu_threshold.keras"))
    K3.saving.save_model(model, os.path.join(OUT, "k3_relu_threshold.h5"))
    save_expected(model, "k3_relu_threshold", seed + 10)


def strip_keras3_var_names(src, dst):
    """A copy of a .keras zip whose model.weights.h5 lacks the `name` attribute on each `vars` group,
    as Keras 3 versions before it wrote: weights are then found by snake_case class name and counter."""
    import shutil
    import tempfile
    import zipfile

    with zipfile.ZipFile(os.path.join(OUT, src + ".keras")) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "model.weights.h5")
        with open(weights, "wb") as f:
            f.write(dict((i.filename, d) for i, d in members)["model.weights.h5"])
        with h5py.File(weights, "r+") as f:
            named = []
            f.visititems(lambda n, o: named.append(n) if isinstance(o, h5py.Group) and "name" in o.attrs else None)
            for n in named:
                del f[n].attrs["name"]
        with open(weights, "rb") as f:
            stripped = f.read()
    with zipfile.ZipFile(os.path.join(OUT, dst + ".keras"), "w") as z:
        for info, data in members:
            z.writestr(info, stripped if info.filename == "model.weights.h5" else data)
    shutil.copy(os.path.join(OUT, src + ".npz"), os.path.join(OUT, dst + ".npz"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    if "--threshold-only" in sys.argv:  # writes only the ReLU(threshold) fixtures
        threshold_fixtures()
        sys.exit(0)
    if "--gaps-only" in sys.argv:  # writes only the gap fixtures; the others stay byte-identical
        gap_fixtures()
        sys.exit(0)
    keras2()
    keras3()
    gap_fixtures()
    threshold_fixtures()
    rewrite_old_forms()
    bad_files()
    what = "tf2onnx"
    try:
        tf2onnx_export()
    except Exception as e:  # reported, so the README can say why the file is missing
        print(f"make_keras_fixtures: {what} export failed: {type(e).__name__}: {e}", file=sys.stderr)
        raise
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):>8}  {f}")
