"""Keras' everyday model conveniences: layerwise.models (clone_model, model_from_json, the model
classes and load_model), Model.to_json, predict_on_batch and test_on_batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

import layerwise
from layerwise import Concatenate, Dense, Input, Model, Sequential
from layerwise.exceptions import ModelFileError
from layerwise.models import clone_model, load_model, model_from_json


def _two_inputs():
    layerwise.set_seed(0)
    a, b = Input((3,), name="a"), Input((2,), name="b")
    hidden = Dense(4, activation="tanh", name="hidden")(Concatenate()([a, b]))
    model = Model([a, b], Dense(2, activation="softmax", name="out")(hidden))
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"], dtype="float64")
    return model


def _data(n=6):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 3)), rng.standard_normal((n, 2))], np.eye(2)[[0, 1] * (n // 2)]


def test_the_namespace_has_keras_names():
    assert layerwise.models.Model is Model and layerwise.models.Sequential is Sequential
    assert load_model is layerwise.load_model


def test_predict_on_batch_equals_predict():
    model = _two_inputs()
    xs, _ = _data()
    np.testing.assert_array_equal(model.predict_on_batch(xs), model.predict(xs))
    single = Sequential([Input((3,)), Dense(2)])
    x = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(single.predict_on_batch(x), single.predict(x))


def test_test_on_batch_is_evaluate_on_that_batch_and_changes_nothing():
    model = _two_inputs()
    xs, y = _data()
    before = model.get_weights()
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    logs = model.test_on_batch(xs, y, sample_weight=weights, return_dict=True)
    assert logs == model.evaluate(xs, y, sample_weight=weights)
    assert model.test_on_batch(xs, y) == model.evaluate(xs, y)["loss"]
    # the loss by hand: weighted mean of the per-sample cross-entropies (sum(w l) / n)
    p = model.predict(xs)
    per_sample = -np.log(p[np.arange(6), y.argmax(1)])
    assert logs["loss"] == pytest.approx((weights * per_sample).sum() / 6, rel=1e-12)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="'return_dict'"):
        model.test_on_batch(xs, y, return_dict="yes")


def test_to_json_and_model_from_json_rebuild_the_architecture_with_fresh_weights():
    model = _two_inputs()
    model.layers[model.layers.index(model.get_layer("hidden"))].trainable = False
    text = model.to_json(indent=2)
    assert json.loads(text)["config"] == json.loads(json.dumps(model.get_config()))
    rebuilt = model_from_json(text)
    assert rebuilt.get_config() == model.get_config() and not rebuilt.compiled
    assert rebuilt.get_layer("hidden").trainable is False
    assert not np.array_equal(rebuilt.get_layer("hidden").weights,
                              model.get_layer("hidden").weights)
    rebuilt.compile(loss="categorical_crossentropy", dtype="float64")
    rebuilt.set_weights(model.get_weights())
    xs, _ = _data()
    np.testing.assert_array_equal(rebuilt.predict(xs), model.predict(xs))
    assert type(model_from_json(Sequential([Input((3,)), Dense(2)]).to_json())) is Sequential


@pytest.mark.parametrize("bad, error, message", [
    (b"\xff", ModelFileError, "not valid JSON"),
    ("[1, 2]", ModelFileError, "does not describe a model"),
    ('{"config": 3}', ModelFileError, "does not describe a model"),
    ('{"config": {"layers": "x"}}', ModelFileError, "list of 'layers'"),
    (None, TypeError, "'json_string'"),
])
def test_model_from_json_refuses_what_is_not_a_models_description(bad, error, message):
    with pytest.raises(error, match=message):
        model_from_json(bad)


def test_clone_model_has_the_architecture_and_fresh_weights_uncompiled():
    model = _two_inputs()
    clone = clone_model(model)
    assert clone.get_config() == model.get_config() and not clone.compiled
    assert clone is not model and all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    with pytest.raises(TypeError, match="'model'"):
        clone_model(model.layers[1])


def test_to_json_carries_what_a_subclass_adds_to_its_config():
    @layerwise.register_serializable
    class TaggedModel(Model):
        def get_config(self):
            return {**super().get_config(), "tag": "kept"}

    inputs = Input((3,))
    model = TaggedModel(inputs, Dense(2)(inputs))
    description = json.loads(model.to_json())
    assert description["class_name"].endswith("TaggedModel")
    assert description["config"]["tag"] == "kept"
