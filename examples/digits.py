"""Train an MLP on scikit-learn's bundled handwritten digits (8x8 images, 10 classes).

Run with ``make demo``. The data ship inside scikit-learn (no download). Trains with Adam,
a validation split and early stopping, prints the loss per epoch and the accuracy on held-out
test digits, then saves the learning curves as a PNG and the model as a .safetensors file in
``demo_output/``, reloads the model and checks that it scores exactly the same.
"""

from __future__ import annotations

import pathlib
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import layerwise
from layerwise import Dense, Dropout, Flatten, Input, Model
from layerwise.callbacks import EarlyStopping


def load_data(seed: int = 0):
    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0  # (1797, 8, 8), pixels in [0, 1]
    y = np.eye(10, dtype=np.float32)[digits.target]  # one-hot labels
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=digits.target)


def build_model() -> Model:
    inputs = Input(shape=(8, 8))
    x = Flatten()(inputs)  # Dense acts on the last axis: flatten each 8x8 image first
    x = Dense(256, activation="relu", weights_initializer="he_normal")(x)
    x = Dropout(0.3)(x)
    x = Dense(128, activation="relu", weights_initializer="he_normal")(x)
    x = Dropout(0.3)(x)
    outputs = Dense(10, activation="softmax", weights_initializer="xavier_uniform")(x)
    return Model(inputs, outputs)


def main(output_folder: str = "demo_output") -> float:
    layerwise.set_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    model = build_model()
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    start = time.perf_counter()
    model.fit(
        x_train, y_train, epochs=150, batch_size=32, verbose=2,
        validation_split=0.1,
        callbacks=[EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start

    test = model.evaluate(x_test, y_test)
    print(f"\nTrained {len(model.history['loss'])} epochs in {seconds:.1f}s on "
          f"{len(x_train)} digits.")
    print(f"Test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.2%} "
          f"on {len(x_test)} held-out digits.")

    folder = pathlib.Path(output_folder)
    folder.mkdir(exist_ok=True)
    figure = layerwise.plot_history(model.history)
    figure.savefig(folder / "digits_history.png", dpi=100)
    model.save(folder / "digits_model.safetensors")
    reloaded = layerwise.load_model(folder / "digits_model.safetensors")
    again = reloaded.evaluate(x_test, y_test)
    same = again == test and (reloaded.predict(x_test) == model.predict(x_test)).all()
    print(f"Saved {folder / 'digits_history.png'} and {folder / 'digits_model.safetensors'}; "
          f"the reloaded model scores {again['accuracy']:.2%} "
          f"({'identical' if same else 'DIFFERENT'}).")
    if not same:
        raise SystemExit("The reloaded model does not predict identically.")
    return test["accuracy"]


if __name__ == "__main__":
    accuracy = main()
    if accuracy < 0.97:
        raise SystemExit(f"Test accuracy {accuracy:.2%} is below the expected 97%.")
