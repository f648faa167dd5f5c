"""Fuzzing the model-file loader: whatever the bytes, it returns a model or a ModelFileError."""

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerwise
from layerwise import BatchNormalization, Dense, Input, Model
from layerwise.exceptions import ModelFileError


def _valid_file_bytes() -> bytes:
    layerwise.set_seed(0)
    inputs = Input(shape=(3,))
    x = BatchNormalization()(Dense(4, activation="relu")(inputs))
    model = Model(inputs, Dense(2, activation="softmax")(x))
    model.compile(loss_fn="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(np.eye(3), np.eye(3)[:, :2], epochs=1, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.safetensors")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


VALID = _valid_file_bytes()
HEADER_END = 8 + int.from_bytes(VALID[:8], "little")
FUZZ = settings(max_examples=150, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_bytes(tmp_path, content: bytes):
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(content)
    try:
        model = layerwise.load_model(path)
    except ModelFileError as error:
        assert str(error)  # says what is wrong
        return None
    # Whatever loaded must be a working model.
    output = model.predict(np.ones((2, *model.input_shape)))
    assert np.isfinite(output).all()
    return model


def test_the_unfuzzed_file_loads(tmp_path):
    assert load_bytes(tmp_path, VALID) is not None


@FUZZ
@given(content=st.binary(max_size=4096))
def test_random_bytes(tmp_path, content):
    load_bytes(tmp_path, content)


@FUZZ
@given(cut=st.integers(0, len(VALID) - 1))
def test_truncations(tmp_path, cut):
    assert load_bytes(tmp_path, VALID[:cut]) is None


@FUZZ
@given(flips=st.lists(st.integers(0, len(VALID) * 8 - 1), min_size=1, max_size=8))
def test_bit_flips(tmp_path, flips):
    content = bytearray(VALID)
    for bit in flips:
        content[bit // 8] ^= 1 << (bit % 8)
    load_bytes(tmp_path, bytes(content))


@FUZZ
@given(flips=st.lists(st.integers(8 * 8, HEADER_END * 8 - 1), min_size=1, max_size=4))
def test_bit_flips_in_the_header(tmp_path, flips):
    content = bytearray(VALID)
    for bit in flips:
        content[bit // 8] ^= 1 << (bit % 8)
    load_bytes(tmp_path, bytes(content))


@FUZZ
@given(start=st.integers(8, HEADER_END - 1), length=st.integers(1, 64),
       replacement=st.binary(max_size=64))
def test_mutated_headers(tmp_path, start, length, replacement):
    header = VALID[8:HEADER_END]
    offset = start - 8
    new_header = header[:offset] + replacement + header[offset + length:]
    content = len(new_header).to_bytes(8, "little") + new_header + VALID[HEADER_END:]
    load_bytes(tmp_path, content)


@FUZZ
@given(length=st.integers(0, 2**64 - 1))
def test_any_header_length(tmp_path, length):
    content = length.to_bytes(8, "little") + VALID[8:]
    result = load_bytes(tmp_path, content)
    assert result is None or length == HEADER_END - 8


@pytest.mark.parametrize("text", [
    b'{"__metadata__": {"format": "layerwise", "format_version": "1", "model": "' + b"[" * 5000
    + b'"}}',
    b'{"__metadata__": {"format": "layerwise", "format_version": "1", "model": "{\\"layers\\": '
    b'[{\\"class_name\\": \\"Input\\", \\"config\\": {\\"shape\\": [1000000000000]}}]}"}}',
    b"[" * 100000,
    b'{"a": {"dtype": "F32", "shape": [1000000000, 1000000000], "data_offsets": [0, 4]}}',
])
def test_handcrafted_hostile_headers(tmp_path, text):
    assert load_bytes(tmp_path, len(text).to_bytes(8, "little") + text) is None
