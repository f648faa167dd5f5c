"""Classify generated "reviews" with an Embedding and a bidirectional GRU (no download).

The data imitate text: sentences of 5 to 40 word ids drawn from a Zipf-like vocabulary of
500 words, right-padded with id 0 to 40 steps. Twenty "positive" and twenty "negative" words
are planted; a review is positive when its positive words outnumber its negative ones, and a
"not" word just before a sentiment word flips it, so order matters. ``Embedding(mask_zero=True)``
tells the recurrent layers to skip the padding.

    .venv/bin/python examples/text_embedding.py
"""

from __future__ import annotations

import numpy as np

import layerwise
from layerwise import GRU, Bidirectional, Dense, Embedding, Input, Model

VOCABULARY, LENGTH = 500, 40
POSITIVE, NEGATIVE, NOT = np.arange(10, 30), np.arange(30, 50), 5


def reviews(n: int, rng: np.random.Generator):
    """Token ids ``(n, LENGTH)`` (0 = padding) and labels (1 = positive)."""
    weights = 1.0 / np.arange(1, VOCABULARY)  # Zipf-like frequencies of the ids 1..499
    weights /= weights.sum()
    x = np.zeros((n, LENGTH), np.int32)
    y = np.zeros(n, np.float32)
    for j in range(n):
        length = rng.integers(5, LENGTH + 1)
        words = rng.choice(np.arange(1, VOCABULARY), size=length, p=weights)
        for _ in range(rng.integers(1, 4)):  # plant sentiment words, sometimes negated
            at = rng.integers(1, length)
            words[at] = rng.choice(POSITIVE if rng.random() < 0.5 else NEGATIVE)
            if rng.random() < 0.25:
                words[at - 1] = NOT
        sign = np.where(np.isin(words, POSITIVE), 1, 0) - np.where(np.isin(words, NEGATIVE), 1, 0)
        negated = np.r_[False, words[:-1] == NOT]
        score = np.sum(np.where(negated, -sign, sign))
        x[j, :length] = words
        y[j] = float(score > 0)
    return x, y


def main(epochs: int = 8, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    x_train, y_train = reviews(6000, rng)
    x_test, y_test = reviews(1000, rng)
    layerwise.set_seed(seed)
    ids = Input(shape=(LENGTH,), dtype="int32")
    vectors = Embedding(VOCABULARY, 16, mask_zero=True)(ids)
    encoded = Bidirectional(GRU(16, dropout=0.1))(vectors)
    outputs = Dense(1, activation="sigmoid")(encoded)
    model = Model(ids, outputs)
    model.compile(loss_fn="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, validation_split=0.1, verbose=2)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    print(f"test accuracy: {accuracy:.3f} (always guessing the majority: "
          f"{max(y_test.mean(), 1 - y_test.mean()):.3f})")
    return accuracy


if __name__ == "__main__":
    main()
