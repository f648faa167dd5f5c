"""layerwise.utils: to_categorical and pad_sequences give Keras' results (the examples of Keras'
documentation, written out here), refuse what Keras would mis-handle, and pad_sequences' output
feeds a masked sequence model as the unpadded sequences would."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise
from layerwise import LSTM, Dense, Embedding, Input, Model
from layerwise.utils import pad_sequences, to_categorical

SEQUENCES = [[1], [2, 3], [4, 5, 6]]


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [[0, 0, 1], [0, 2, 3], [4, 5, 6]]),
    ({"value": -1}, [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]),
    ({"padding": "post"}, [[1, 0, 0], [2, 3, 0], [4, 5, 6]]),
    ({"maxlen": 2}, [[0, 1], [2, 3], [5, 6]]),
    ({"maxlen": 2, "truncating": "post"}, [[0, 1], [2, 3], [4, 5]]),
    ({"maxlen": 4, "padding": "post"}, [[1, 0, 0, 0], [2, 3, 0, 0], [4, 5, 6, 0]]),
])
def test_pad_sequences_gives_keras_results(kwargs, expected):
    out = pad_sequences(SEQUENCES, **kwargs)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)


def test_pad_sequences_takes_arrays_of_vectors_empty_items_and_a_dtype():
    vectors = [np.ones((2, 3)), np.full((1, 3), 2.0), []]
    out = pad_sequences(vectors, dtype="float32", value=-1.0)
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1], [[-1, -1, -1], [2, 2, 2]])
    np.testing.assert_array_equal(out[2], np.full((2, 3), -1.0))
    assert pad_sequences([]).shape == (0, 0)
    words = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["<pad>", "a"], ["b", "c"]]


@pytest.mark.parametrize("kwargs, message", [
    ({"sequences": 5}, "'sequences' must be a list"),
    ({"sequences": [[1], 2]}, "item 1 is not a sequence"),
    ({"sequences": [[[1, 2]], [[1, 2, 3]]]}, "item 1 holds elements of shape"),
    ({"padding": "middle"}, "'padding'"),
    ({"truncating": "both"}, "'truncating'"),
    ({"maxlen": 0}, "'maxlen'"),
    ({"maxlen": 2.5}, "'maxlen'"),
    ({"value": "x"}, "string"),
])
def test_pad_sequences_refuses_by_name(kwargs, message):
    arguments = {"sequences": SEQUENCES, **kwargs}
    with pytest.raises(ValueError, match=message):
        pad_sequences(**arguments)


def test_to_categorical_gives_keras_results():
    np.testing.assert_array_equal(to_categorical([0, 1, 2, 3], num_classes=4), np.eye(4))
    column = to_categorical(np.array([[2], [0]]))  # (n, 1) labels: the axis of 1 is dropped
    np.testing.assert_array_equal(column, [[0, 0, 1], [1, 0, 0]])
    assert column.dtype == np.float64
    grid = to_categorical(np.array([[0, 1], [1, 1]]), num_classes=3)
    assert grid.shape == (2, 2, 3) and grid[0, 1, 1] == 1 and grid.sum() == 4
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    # as Keras reads them: booleans (labels such as y > 0.5), digit strings, num_classes=0
    np.testing.assert_array_equal(to_categorical(np.array([True, False])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical(["1", "0"]), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical([2, 0], num_classes=0), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("x, num_classes, message", [
    ([0, -1], None, "negative"),
    ([0, 3], 3, "below it"),
    ([0.5], None, "whole numbers"),
    ([np.nan], None, "whole numbers"),
    (["a"], None, "not whole numbers"),
    ([None], None, "class indices"),
    ([0], -1, "'num_classes'"),
    ([0], 2.0, "'num_classes'"),
])
def test_to_categorical_refuses_what_is_not_class_indices(x, num_classes, message):
    with pytest.raises(ValueError, match=message):
        to_categorical(x, num_classes)


def _text_model(steps: int):
    inputs = Input((steps,))
    hidden = LSTM(4)(Embedding(20, 5, mask_zero=True)(inputs))
    model = Model(inputs, Dense(2, activation="softmax")(hidden))
    model.compile(loss="categorical_crossentropy", dtype="float64")
    return model


def test_pre_padded_sequences_predict_as_each_sequence_alone_under_a_mask():
    layerwise.set_seed(0)
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 20, size)) for size in (3, 6, 1, 5)]
    padded = pad_sequences(sequences)  # 'pre': zeros first, the last steps next to the output
    model = _text_model(padded.shape[1])
    together = model.predict(padded)
    for row, sequence in zip(together, sequences):
        alone = _text_model(len(sequence))
        alone.set_weights(model.get_weights())
        np.testing.assert_allclose(row, alone.predict(np.array([sequence]))[0], rtol=1e-12)
    assert not np.allclose(together[0], together[1])  # the sequences differ
