"""Learning-rate schedules against Keras' (and PyTorch's StepLR) definitions, written out here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from layerwise import registry, schedules
from layerwise.optimizers import SGD
from layerwise.schedules import (
    CosineDecay,
    ExponentialDecay,
    PiecewiseConstantDecay,
    StepDecay,
)

STEPS = range(0, 40)


def test_step_decay_multiplies_by_the_rate_every_decay_steps():
    schedule = StepDecay(0.8, decay_steps=5, decay_rate=0.3)
    for step in STEPS:
        decays_so_far = len(range(5, step + 1, 5))  # boundaries 5, 10, ... already reached
        assert schedule(step) == pytest.approx(0.8 * 0.3**decays_so_far, rel=1e-14)
    assert [schedule(s) for s in (0, 4, 5, 9, 10)] == pytest.approx([0.8, 0.8, 0.24, 0.24, 0.072])


def test_exponential_decay_is_smooth_without_staircase():
    schedule = ExponentialDecay(0.1, decay_steps=7, decay_rate=0.6)
    for step in STEPS:
        expected = 0.1 * math.exp(step / 7 * math.log(0.6))
        assert schedule(step) == pytest.approx(expected, rel=1e-13)
    assert schedule(7) == pytest.approx(0.06, rel=1e-14)


def test_exponential_decay_with_staircase_changes_only_every_decay_steps():
    schedule = ExponentialDecay(0.1, decay_steps=7, decay_rate=0.6, staircase=True)
    for step in STEPS:
        whole_periods = sum(1 for boundary in range(7, step + 1, 7))
        assert schedule(step) == pytest.approx(0.1 * 0.6**whole_periods, rel=1e-14)


def test_cosine_decay_follows_half_a_cosine_then_stays_at_alpha():
    lr0, steps, alpha = 0.2, 16, 0.1
    schedule = CosineDecay(lr0, decay_steps=steps, alpha=alpha)
    for step in STEPS:
        progress = min(step, steps) / steps
        expected = lr0 * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * progress)) + alpha)
        assert schedule(step) == pytest.approx(expected, rel=1e-13)
    assert schedule(0) == pytest.approx(lr0, rel=1e-15)
    assert schedule(steps // 2) == pytest.approx(lr0 * (1 + alpha) / 2, rel=1e-14)
    assert schedule(steps) == pytest.approx(lr0 * alpha, rel=1e-13)
    assert schedule(10 * steps) == pytest.approx(lr0 * alpha, rel=1e-13)


def test_cosine_decay_reaches_zero_by_default():
    schedule = CosineDecay(0.5, decay_steps=4)
    assert [schedule(s) for s in range(6)] == pytest.approx(
        [0.5, 0.5 * (1 + math.sqrt(0.5)) / 2, 0.25, 0.5 * (1 - math.sqrt(0.5)) / 2, 0, 0],
        abs=1e-15,
    )


def test_piecewise_constant_decay_keeps_a_boundary_step_in_the_earlier_interval():
    schedule = PiecewiseConstantDecay(boundaries=[3, 6], values=[1.0, 0.5, 0.1])
    expected = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1]  # Keras: step <= boundary
    assert [schedule(s) for s in range(10)] == expected


def test_schedule_drives_the_optimizer_from_step_0():
    p = np.zeros(1)
    optimizer = SGD(PiecewiseConstantDecay([1], [0.5, 0.25]))
    optimizer.build(["p"], [p])
    for _ in range(4):
        optimizer.apply([p], [np.ones(1)])
    np.testing.assert_allclose(p, [-(0.5 + 0.5 + 0.25 + 0.25)], rtol=1e-15)


@pytest.mark.parametrize(
    "schedule",
    [
        StepDecay(0.1, decay_steps=3, decay_rate=0.9),
        ExponentialDecay(0.2, decay_steps=4, decay_rate=0.5, staircase=True),
        CosineDecay(0.3, decay_steps=100, alpha=0.05),
        PiecewiseConstantDecay([10, 20], [0.3, 0.2, 0.1]),
    ],
)
def test_config_round_trips_through_the_registry_and_json(schedule):
    saved = json.loads(json.dumps(registry.serialize(schedule)))
    assert saved["class_name"] == type(schedule).__name__
    restored = registry.deserialize(saved)
    assert type(restored) is type(schedule)
    assert restored.get_config() == saved["config"]
    assert vars(restored) == vars(schedule)


def test_numpy_integers_are_accepted_and_stored_as_python_ints():
    schedule = PiecewiseConstantDecay(np.array([2, 5]), [np.float32(0.5), 0.25, 0.125])
    assert json.loads(json.dumps(schedule.get_config())) == {
        "boundaries": [2, 5],
        "values": [0.5, 0.25, 0.125],
    }
    step = StepDecay(0.1, decay_steps=np.int64(4))
    assert type(step.decay_steps) is int and step.decay_steps == 4


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: StepDecay(0.0, 10), "initial_learning_rate"),
        (lambda: StepDecay(0.1, 0), "decay_steps"),
        (lambda: StepDecay(0.1, 2.5), "decay_steps"),
        (lambda: StepDecay(0.1, True), "decay_steps"),
        (lambda: StepDecay(0.1, 10, decay_rate=-0.5), "decay_rate"),
        (lambda: ExponentialDecay(float("nan"), 10, 0.5), "initial_learning_rate"),
        (lambda: ExponentialDecay(0.1, 10, 0.0), "decay_rate"),
        (lambda: ExponentialDecay(0.1, -3, 0.5), "decay_steps"),
        (lambda: CosineDecay("0.1", 10), "initial_learning_rate"),
        (lambda: CosineDecay(0.1, 10, alpha=-0.1), "alpha"),
        (lambda: CosineDecay(0.1, 10, alpha=1.5), "alpha"),
        (lambda: PiecewiseConstantDecay([5, 3], [0.3, 0.2, 0.1]), "boundaries"),
        (lambda: PiecewiseConstantDecay([5, 5], [0.3, 0.2, 0.1]), "boundaries"),
        (lambda: PiecewiseConstantDecay([-1], [0.3, 0.2]), "boundaries"),
        (lambda: PiecewiseConstantDecay(5, [0.3, 0.2]), "boundaries"),
        (lambda: PiecewiseConstantDecay([5], [0.3]), "values"),
        (lambda: PiecewiseConstantDecay([5], [0.3, 0.0]), "values"),
    ],
)
def test_bad_arguments_are_rejected_with_their_name(make, argument):
    with pytest.raises(ValueError, match=f"'{argument}'"):
        make()


def test_get_accepts_instances_and_configs():
    schedule = CosineDecay(0.1, 10)
    assert schedules.get(schedule) is schedule
    rebuilt = schedules.get(
        {
            "class_name": "StepDecay",
            "config": {"initial_learning_rate": 0.4, "decay_steps": 2, "decay_rate": 0.5},
        }
    )
    assert [rebuilt(s) for s in range(5)] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
