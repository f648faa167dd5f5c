"""model.summary(), plot_history, and the lightness of `import layerwise`."""

import subprocess
import sys

import numpy as np
import pytest

import layerwise
from layerwise import BatchNormalization, Dense, Dropout, Flatten, Input, Model


def mnist_mlp():
    inputs = Input(shape=(28, 28))
    x = Dense(256, activation="relu")(Flatten()(inputs))
    x = BatchNormalization()(x)
    x = Dropout(0.2)(x)
    x = Dense(128, activation="relu")(x)
    return Model(inputs, Dense(10, activation="softmax")(x))


def test_summary_counts_parameters_by_hand(capsys):
    model = mnist_mlp()
    model.summary()
    text = capsys.readouterr().out
    dense_1 = 784 * 256 + 256
    batch_norm_trainable, batch_norm_state = 2 * 256, 2 * 256
    dense_2 = 256 * 128 + 128
    dense_3 = 128 * 10 + 10
    trainable = dense_1 + batch_norm_trainable + dense_2 + dense_3
    assert f"Total params: {trainable + batch_norm_state:,} " in text
    assert f"Trainable params: {trainable:,} " in text
    assert f"Non-trainable params: {batch_norm_state:,} " in text
    # Keras counts every weight, trainable or not (its summary's "Total params").
    assert model.count_params() == trainable + batch_norm_state
    for layer in model.layers:  # one row per layer, with its type
        assert f"{layer.name} ({type(layer).__name__})" in text
    first_dense = model.layers[2]
    row = next(line for line in text.splitlines() if line.startswith(first_dense.name + " "))
    assert "(None, 256)" in row and f"{dense_1:,}" in row
    assert "(None, 28, 28)" in text


def test_plot_history_draws_train_and_validation_curves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    history = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.7, 0.9],
               "val_loss": [1.1, 0.6, 0.4], "val_accuracy": [0.4, 0.6, 0.8]}
    figure = layerwise.plot_history(history)
    axes = figure.axes
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]
    lines = axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [history["loss"], history["val_loss"]]
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    figure.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="metrics"):
        layerwise.plot_history(history, metrics=["f1"])


def test_plot_history_accepts_a_models_history():
    x = np.random.default_rng(0).normal(size=(20, 2))
    inputs = Input(shape=(2,))
    model = Model(inputs, Dense(1)(inputs))
    model.compile(loss_fn="mse", metrics=["mae"])
    model.fit(x, x[:, 0], epochs=2, verbose=0, validation_split=0.25)
    figure = layerwise.plot_history(model.history)
    assert [a.get_title() for a in figure.axes] == ["loss", "mae"]


def test_import_is_light():
    code = (
        "import sys, layerwise\n"
        "heavy = {'tqdm', 'safetensors', 'onnx', 'onnxruntime', 'sklearn', 'matplotlib', "
        "'torch', 'scipy', 'tempfile'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_import_leaves_the_garbage_collector_as_it_found_it():
    # layerwise switches the collector off while its modules load (a speed-up of its import)
    code = (
        "import gc, sys\n"
        "before = gc.isenabled() if sys.argv[1] == 'on' else (gc.disable() or False)\n"
        "import layerwise, layerwise.utils, layerwise.models\n"
        "print(before, gc.isenabled(), hasattr(layerwise, '_numpy'))\n"
    )
    for setting, expected in (("on", "True True False"), ("off", "False False False")):
        result = subprocess.run([sys.executable, "-c", code, setting], capture_output=True,
                                text=True, check=True)
        assert result.stdout.strip() == expected
