"""Model files: round trips, checkpoints and resuming, atomic saves, and hostile files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

import layerwise
from layerwise import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Input,
    Model,
    optimizers,
    schedules,
)
from layerwise.callbacks import Callback, ModelCheckpoint
from layerwise.exceptions import ModelFileError


def build(seed=0, dropout=True, features=6, classes=3):
    layerwise.set_seed(seed)
    inputs = Input(shape=(features,))
    x = Dense(16, activation="relu", weights_initializer="he_normal")(inputs)
    x = BatchNormalization()(x)
    if dropout:
        x = Dropout(0.25)(x)
    x = Dense(8, activation="gelu", kernel_regularizer="l2")(x)
    x = Dense(classes)(x)
    return Model(inputs, Activation("softmax")(x))


def data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    x = rng.normal(size=(n, features)) + labels[:, None]
    return x.astype(np.float32), np.eye(classes, dtype=np.float32)[labels]


def trained(optimizer="adam", dtype="float32", **kwargs):
    model = build(**kwargs)
    model.compile(loss_fn="categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy", "f1"], dtype=dtype)
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


OPTIMIZERS = [
    lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.Adam(0.01),
    lambda: optimizers.AdamW(0.01, weight_decay=0.01),
    lambda: optimizers.RMSprop(0.01),
    lambda: optimizers.Adam(schedules.CosineDecay(0.01, decay_steps=20)),
]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_predicts_bit_for_bit_and_trains_on_identically(tmp_path, make_optimizer,
                                                                   dtype):
    model = trained(make_optimizer(), dtype, dropout=False)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = layerwise.load_model(path)
    x, y = data(seed=1)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.predict(x).dtype == np.dtype(dtype)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert [m.name for m in loaded.metrics] == ["accuracy", "f1"]
    # Same optimizer state: continuing both without shuffling gives identical weights.
    for m in (model, loaded):
        m.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert_same_weights(model, loaded)


def test_every_layer_type_and_its_state_round_trip(tmp_path):
    model = trained()
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = layerwise.load_model(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert [a.get_config() for a in loaded.layers] == [b.get_config() for b in model.layers]
    bn, bn2 = model.layers[2], loaded.layers[2]
    np.testing.assert_array_equal(bn.moving_mean, bn2.moving_mean)
    np.testing.assert_array_equal(bn.moving_variance, bn2.moving_variance)
    assert not np.allclose(bn.moving_mean, 0)  # the state really was trained
    x, _ = data(seed=2)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_file_is_readable_by_safetensors_under_readable_names(tmp_path):
    model = trained()
    path = tmp_path / "model.safetensors"
    model.save(path)
    tensors = load_file(str(path))
    dense = model.layers[1]
    np.testing.assert_array_equal(tensors[f"{dense.name}/weights"], dense.weights)
    np.testing.assert_array_equal(tensors[f"{dense.name}/bias"], dense.bias)
    assert f"{model.layers[2].name}/moving_variance" in tensors
    assert any(k.startswith(f"optimizer/{dense.name}/weights/") for k in tensors)


def test_a_file_loads_in_a_fresh_process(tmp_path):
    model = trained()
    path = tmp_path / "model.safetensors"
    model.save(path)
    x, _ = data(seed=3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict(x))
    script = (
        "import numpy as np, layerwise, sys\n"
        f"m = layerwise.load_model({str(path)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "assert np.array_equal(m.predict(x), expected)\n"
        "print('ok', m.optimizer.iterations)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(model.optimizer.iterations)]


def test_save_and_load_weights_check_names_and_shapes(tmp_path):
    model = trained()
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    twin = build(seed=5)  # new layer names (e.g. dense_7): matched by structure
    twin.compile(loss_fn="categorical_crossentropy")
    twin.load_weights(path)
    assert_same_weights(model, twin)
    other = build(seed=5, features=7)  # a different first layer
    other.compile(loss_fn="categorical_crossentropy")
    before = other.get_weights()
    with pytest.raises(ModelFileError, match="shape"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):  # nothing changed
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ModelFileError, match="weights only"):
        layerwise.load_model(path)


def test_custom_registered_classes_save_and_load(tmp_path):
    @layerwise.register_serializable
    class Cube(layerwise.activations.ActivationFunction):
        name = "cube"

        def forward(self, x, out=None):
            return np.power(x, 3, out=out)

        def backward(self, x, y, output_error):
            output_error *= 3 * np.cbrt(y) ** 2
            return output_error

    @layerwise.register_serializable
    class Scale(layerwise.Layer):
        def __init__(self, factor=2.0, name=None):
            super().__init__(name)
            self.factor = factor

        def forward(self, input_data):
            return input_data * self.factor

        def _backward(self, output_error, pre_activation=False, input_gradient=True):
            return output_error * self.factor

        def get_config(self):
            return {"factor": self.factor, "name": self.name}

    inputs = Input(shape=(3,))
    outputs = Dense(2)(Scale(3.0)(Dense(4, activation="cube")(inputs)))
    model = Model(inputs, outputs)
    model.compile(loss_fn="mse")
    path = tmp_path / "custom.safetensors"
    model.save(path)
    loaded = layerwise.load_model(path)
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[2].factor == 3.0


# ---------------------------------------------------------------- checkpoints and resuming
class Interrupt(Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_interrupted_and_resumed_training_equals_uninterrupted(tmp_path):
    x, y = data(96)
    xv, yv = data(32, seed=9)
    options = dict(batch_size=16, validation_data=(xv, yv), verbose=0)

    uninterrupted = build(seed=7)
    uninterrupted.compile(loss_fn="categorical_crossentropy", optimizer="adam",
                          metrics=["accuracy"])
    uninterrupted.fit(x, y, epochs=5, **options)

    path = tmp_path / "checkpoint.safetensors"
    first = build(seed=7)
    first.compile(loss_fn="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    with pytest.raises(KeyboardInterrupt):
        # The interrupt comes after the checkpoint callback saved epoch 2 (from 0).
        first.fit(x, y, epochs=5, callbacks=[ModelCheckpoint(path), Interrupt(2)], **options)

    resumed = build(seed=99)  # a new process would build with other names and seeds
    resumed.compile(loss_fn="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    resumed.fit(x, y, epochs=5, resume_from=path, **options)

    assert_same_weights(uninterrupted, resumed)
    assert resumed.history == uninterrupted.history
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations


def test_checkpoint_best_only_and_epoch_in_file_name(tmp_path):
    x, y = data()
    model = build()
    model.compile(loss_fn="categorical_crossentropy")
    template = str(tmp_path / "ckpt-{epoch:02d}-{loss:.2f}.safetensors")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[ModelCheckpoint(template, monitor="loss",
                                                                    save_best_only=True)])
    names = sorted(os.listdir(tmp_path))
    losses = model.history["loss"]
    expected = [f"ckpt-{e + 1:02d}-{losses[e]:.2f}.safetensors" for e in range(3)
                if losses[e] == min(losses[: e + 1])]
    assert names == expected


def test_resume_refuses_a_checkpoint_of_another_optimizer_and_changes_nothing(tmp_path):
    x, y = data()
    model = build()
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam")
    path = tmp_path / "c.safetensors"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path)])
    other = build(seed=3)
    other.compile(loss_fn="categorical_crossentropy", optimizer="sgd")
    before = other.get_weights()
    with pytest.raises(ModelFileError, match="Adam"):
        other.fit(x, y, epochs=3, resume_from=path, verbose=0)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ crash safety
def test_a_save_that_dies_half_way_leaves_the_old_file_loadable(tmp_path, monkeypatch):
    model = trained()
    path = tmp_path / "model.safetensors"
    model.save(path)
    original = path.read_bytes()
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)  # new weights to save

    real_fdopen = os.fdopen

    class DiesHalfWay:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            raise OSError("disk died")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: DiesHalfWay(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="disk died"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind
    layerwise.load_model(path)


# ----------------------------------------------------------------------- hostile files
def _header(path):
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _write(path, header, body):
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + body)


@pytest.fixture()
def saved(tmp_path):
    model = trained()
    path = tmp_path / "model.safetensors"
    model.save(path)
    return path


def test_truncated_and_garbage_files_are_model_file_errors(saved, tmp_path):
    raw = saved.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for content in (b"", b"abc", raw[:8], raw[:100], raw[: len(raw) // 2], raw[:-1],
                    b"\xff" * 8 + raw[8:], os.urandom(256)):
        bad.write_bytes(content)
        with pytest.raises(ModelFileError):
            layerwise.load_model(bad)
    with pytest.raises(FileNotFoundError):
        layerwise.load_model(tmp_path / "missing.safetensors")


def mutate_metadata(saved, key, change):
    header, body = _header(saved)
    value = json.loads(header["__metadata__"][key])
    value = change(value)
    header["__metadata__"][key] = value if isinstance(value, str) else json.dumps(value)
    _write(saved, header, body)


def test_wrong_version_is_refused_with_the_versions(saved):
    header, body = _header(saved)
    header["__metadata__"]["format_version"] = "99"
    _write(saved, header, body)
    with pytest.raises(ModelFileError, match="version '99'.*reads version 1"):
        layerwise.load_model(saved)


def test_deeply_nested_json_is_refused(saved):
    header, body = _header(saved)
    header["__metadata__"]["model"] = "[" * 100_000 + "]" * 100_000
    _write(saved, header, body)
    with pytest.raises(ModelFileError, match="JSON|nested"):
        layerwise.load_model(saved)


def test_unknown_layer_names_are_refused(saved):
    def rename(config):
        config["layers"][1]["class_name"] = "os.system"
        return config

    mutate_metadata(saved, "model", rename)
    with pytest.raises(ModelFileError, match="os.system"):
        layerwise.load_model(saved)


def test_shapes_that_disagree_with_the_architecture_are_refused(saved):
    def widen(config):
        config["layers"][1]["config"]["output_size"] = 17
        return config

    mutate_metadata(saved, "model", widen)
    with pytest.raises(ModelFileError, match="shape"):
        layerwise.load_model(saved)


def test_a_file_declaring_a_huge_layer_fails_fast_without_allocating_it(saved):
    def huge(config):
        config["layers"][1]["config"]["output_size"] = 10**9
        return config

    mutate_metadata(saved, "model", huge)
    with pytest.raises(ModelFileError, match="larger than all the tensors"):
        layerwise.load_model(saved)


def test_non_finite_weights_are_refused(saved):
    header, body = _header(saved)
    name = next(k for k in header if k.endswith("/weights") and not k.startswith("optimizer"))
    start, _ = header[name]["data_offsets"]
    body = bytearray(body)
    body[start : start + 4] = np.array([np.nan], dtype=np.float32).tobytes()
    _write(saved, header, bytes(body))
    with pytest.raises(ModelFileError, match="NaN"):
        layerwise.load_model(saved)


def test_a_header_length_beyond_the_file_is_refused(saved):
    raw = bytearray(saved.read_bytes())
    raw[:8] = (2**62).to_bytes(8, "little")
    saved.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="header length"):
        layerwise.load_model(saved)


def test_loading_never_unpickles(saved, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    layerwise.load_model(saved)


def test_saved_files_get_the_usual_permissions_not_temporary_ones(tmp_path):
    model = trained()
    path = tmp_path / "model.safetensors"
    umask = os.umask(0o022)
    try:
        model.save(path)
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o600)
        model.save(path)  # overwriting keeps the file's own mode
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(umask)
