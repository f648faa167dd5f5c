"""Train an LSTM on scikit-learn's bundled digits, each 8x8 image read as 8 steps of 8 pixels.

No download: the digits ship inside scikit-learn. The LSTM reads an image row by row (top to
bottom), a dense softmax layer classifies its last state; Adam with gradient clipping, a
validation split and early stopping. Prints the accuracy on held-out digits and checks that a
saved and reloaded model predicts the same.

    .venv/bin/python examples/digits_lstm.py
"""

from __future__ import annotations

import pathlib
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import layerwise
from layerwise import LSTM, Dense, Input, Model
from layerwise.callbacks import EarlyStopping


def main(epochs: int = 40, seed: int = 0) -> float:
    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8): 8 steps of 8 pixels
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)

    layerwise.set_seed(seed)
    inputs = Input(shape=(8, 8))
    state = LSTM(64)(inputs)
    outputs = Dense(10, activation="softmax")(state)
    model = Model(inputs, outputs)
    model.compile(loss_fn="sparse_categorical_crossentropy",
                  optimizer=layerwise.optimizers.Adam(0.005, clipnorm=1.0),
                  metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1,
              callbacks=[EarlyStopping(patience=5, restore_best_weights=True)], verbose=2)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    print(f"test accuracy: {accuracy:.3f} on {len(x_test)} digits")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "digits_lstm.safetensors"
        model.save(path)
        again = layerwise.load_model(path)
        assert np.array_equal(again.predict(x_test), model.predict(x_test))
    return accuracy


if __name__ == "__main__":
    main()
