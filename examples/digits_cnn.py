"""Train a small CNN on scikit-learn's bundled handwritten digits (8x8 images, 10 classes).

The same data, split and training settings as the MLP demo (``examples/digits.py``: Adam, a
validation split, early stopping), with the images kept as images ``(8, 8, 1)``: two 3x3
convolutions with 'same' padding, max pooling and a small dense head. Prints the accuracy on
the held-out test digits next to the MLP demo's, and exports the model to ONNX when the
``onnx`` extra is installed. No download::

    .venv/bin/python examples/digits_cnn.py
"""

from __future__ import annotations

import pathlib
import time

import numpy as np
from digits import load_data

import layerwise
from layerwise import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Model
from layerwise.callbacks import EarlyStopping

MLP_DEMO_ACCURACY = 0.976  # examples/digits.py's test accuracy on the same split


def build_model() -> Model:
    inputs = Input(shape=(8, 8, 1))
    x = Conv2D(32, 3, padding="same", activation="relu")(inputs)     # (8, 8, 32)
    x = Conv2D(32, 3, padding="same", activation="relu")(x)          # (8, 8, 32)
    x = MaxPooling2D(2)(x)                                           # (4, 4, 32)
    x = Conv2D(64, 3, padding="same", activation="relu")(x)          # (4, 4, 64)
    x = MaxPooling2D(2)(x)                                           # (2, 2, 64)
    x = Dropout(0.3)(Flatten()(x))
    x = Dense(64, activation="relu", weights_initializer="he_normal")(x)
    outputs = Dense(10, activation="softmax", weights_initializer="xavier_uniform")(x)
    return Model(inputs, outputs)


def main(output_folder: str = "demo_output") -> float:
    layerwise.set_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    x_train, x_test = x_train[..., None], x_test[..., None]  # channels-last: (n, 8, 8, 1)
    model = build_model()
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    model.fit(
        x_train, y_train, epochs=100, batch_size=32, verbose=2, validation_split=0.1,
        callbacks=[EarlyStopping(monitor="val_loss", patience=15, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start
    test = model.evaluate(x_test, y_test)
    print(f"\nTrained {len(model.history['loss'])} epochs in {seconds:.1f}s on "
          f"{len(x_train)} digits.")
    print(f"CNN test accuracy {test['accuracy']:.2%} on {len(x_test)} held-out digits "
          f"(the MLP demo: {MLP_DEMO_ACCURACY:.1%}).")
    folder = pathlib.Path(output_folder)
    folder.mkdir(exist_ok=True)
    try:
        path = layerwise.export_onnx(model, folder / "digits_cnn.onnx")
    except ImportError:
        print("(pip install 'layerwise[onnx]' to export the model to ONNX)")
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (onnx_probabilities,) = session.run(None, {session.get_inputs()[0].name: x_test})
        gap = float(np.abs(onnx_probabilities - model.predict(x_test)).max())
        print(f"Exported {path}; onnxruntime agrees with predict to {gap:.1e}.")
    return test["accuracy"]


if __name__ == "__main__":
    accuracy = main()
    if accuracy <= MLP_DEMO_ACCURACY:
        raise SystemExit(f"CNN test accuracy {accuracy:.2%} does not beat the MLP demo's "
                         f"{MLP_DEMO_ACCURACY:.1%}.")
