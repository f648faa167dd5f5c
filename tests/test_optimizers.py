"""Optimizers against their update equations, written out here element by element in float64.

The references below follow the papers' notation (Adam's bias-corrected ``m_hat`` and ``v_hat``),
not the library's rearranged, in-place arithmetic, so an error in either shows up.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from layerwise import _blas, optimizers, registry, schedules
from layerwise.optimizers import SGD, Adam, AdamW, RMSprop

SHAPES = [(3, 4), (4,)]
NAMES = ["dense/weights", "dense/bias"]


# ----------------------------------------------------------------- scalar reference optimizers
def reference_sgd(lr, momentum=0.0, nesterov=False):
    """PyTorch's SGD for one scalar parameter: returns step(p, g, state, t, rate) -> p."""

    def step(p, g, state, t, rate):
        if momentum == 0.0:
            return p - rate * g
        buf = momentum * state.get("buf", 0.0) + g
        state["buf"] = buf
        direction = g + momentum * buf if nesterov else buf
        return p - rate * direction

    return step


def reference_adam(beta_1=0.9, beta_2=0.999, eps=1e-7, weight_decay=0.0):
    """Adam / AdamW as in Kingma & Ba (Algorithm 1) and Loshchilov & Hutter, one scalar."""

    def step(p, g, state, t, rate):
        p = p * (1.0 - rate * weight_decay)  # decoupled: never enters m or v
        m = beta_1 * state.get("m", 0.0) + (1.0 - beta_1) * g
        v = beta_2 * state.get("v", 0.0) + (1.0 - beta_2) * g * g
        state["m"], state["v"] = m, v
        m_hat = m / (1.0 - beta_1**t)
        v_hat = v / (1.0 - beta_2**t)
        return p - rate * m_hat / (math.sqrt(v_hat) + eps)

    return step


def reference_rmsprop(rho=0.9, eps=1e-7):
    """RMSprop (PyTorch: epsilon outside the square root), one scalar."""

    def step(p, g, state, t, rate):
        v = rho * state.get("v", 0.0) + (1.0 - rho) * g * g
        state["v"] = v
        return p - rate * g / (math.sqrt(v) + eps)

    return step


def run_reference(step, params, grad_steps, rates, start=0, states=None):
    """Apply ``step`` element by element; ``rates[k]`` is the rate of update ``k`` (from 0)."""
    params = [p.astype(np.float64).copy() for p in params]
    if states is None:
        states = [[{} for _ in range(p.size)] for p in params]
    for k, grads in enumerate(grad_steps, start=start):
        for p, g, st in zip(params, grads, states):
            flat_p, flat_g = p.reshape(-1), g.reshape(-1)
            for i in range(flat_p.size):
                flat_p[i] = step(float(flat_p[i]), float(flat_g[i]), st[i], k + 1, rates[k])
    return params, states


def random_problem(steps, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return params, grads


def run(optimizer, params, grad_steps):
    """Build once and apply every step; returns the (same) parameter arrays."""
    optimizer.build(NAMES, params)
    for grads in grad_steps:
        optimizer.apply(params, grads)
    return params


CASES = [
    pytest.param(lambda: SGD(0.1), reference_sgd(0.1), 0.1, id="sgd"),
    pytest.param(
        lambda: SGD(0.05, momentum=0.9), reference_sgd(0.05, 0.9), 0.05, id="sgd-momentum"
    ),
    pytest.param(
        lambda: SGD(0.05, momentum=0.8, nesterov=True),
        reference_sgd(0.05, 0.8, nesterov=True),
        0.05,
        id="sgd-nesterov",
    ),
    pytest.param(lambda: Adam(0.01), reference_adam(), 0.01, id="adam"),
    pytest.param(
        lambda: Adam(0.02, beta_1=0.7, beta_2=0.9, epsilon=1e-3),
        reference_adam(0.7, 0.9, 1e-3),
        0.02,
        id="adam-custom",
    ),
    pytest.param(
        lambda: AdamW(0.01, weight_decay=0.3),
        reference_adam(weight_decay=0.3),
        0.01,
        id="adamw",
    ),
    pytest.param(lambda: RMSprop(0.01), reference_rmsprop(), 0.01, id="rmsprop"),
    pytest.param(
        lambda: RMSprop(0.03, rho=0.5, epsilon=1e-2),
        reference_rmsprop(0.5, 1e-2),
        0.03,
        id="rmsprop-custom",
    ),
]


# ----------------------------------------------------------------- update equations
@pytest.fixture(params=["numpy", "blas"])
def vector_path(request, monkeypatch):
    """Large parameters update through BLAS's axpby/axpy (layerwise._blas), small ones through
    NumPy: lowering the size threshold runs these small problems through the BLAS path."""
    if request.param == "blas":
        monkeypatch.setattr(_blas, "MIN_SIZE", 0)
    return request.param


@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_updates_follow_the_equations_step_by_step(make, reference, rate, vector_path):
    params, grads = random_problem(steps=6)
    optimizer = make()
    optimizer.build(NAMES, params)
    expected, states = [p.copy() for p in params], None
    for k, g in enumerate(grads):
        optimizer.apply(params, g)
        expected, states = run_reference(reference, expected, [g], [rate] * 6, k, states)
        for got, want in zip(params, expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_float32_parameters_stay_float32_and_match_to_float32_precision(
    make, reference, rate, vector_path
):
    params, grads = random_problem(steps=5, dtype=np.float32)
    expected, _ = run_reference(reference, params, grads, [rate] * 5)
    run(make(), params, grads)
    for got, want in zip(params, expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_adam_bias_correction_at_steps_1_to_5():
    # One scalar parameter with a constant gradient g: m_t = (1 - b1^t) g and
    # v_t = (1 - b2^t) g^2 exactly, so the corrected step is lr * g / (|g| + eps) every time.
    lr, eps, g = 0.01, 1e-7, np.array([0.3, -2.0])
    p = np.array([1.0, 1.0])
    optimizer = Adam(lr, epsilon=eps)
    optimizer.build(["p"], [p])
    for t in range(1, 6):
        before = p.copy()
        optimizer.apply([p], [g])
        np.testing.assert_allclose(before - p, lr * g / (np.abs(g) + eps), rtol=1e-12)
        m, v = optimizer.slots["p"]["m"], optimizer.slots["p"]["v"]
        np.testing.assert_allclose(m, (1 - 0.9**t) * g, rtol=1e-12)
        np.testing.assert_allclose(v, (1 - 0.999**t) * g * g, rtol=1e-12)


def test_adamw_weight_decay_is_decoupled_from_the_gradient():
    # With zero gradients m = v = 0, so Adam moves nothing and only the decay acts:
    # p_t = p_0 * (1 - lr * wd)^t. An L2 penalty folded into g would instead move p by ~lr.
    lr, wd = 0.01, 0.5
    p = np.array([2.0, -3.0, 0.5])
    start = p.copy()
    optimizer = AdamW(lr, weight_decay=wd)
    optimizer.build(["p"], [p])
    for _ in range(4):
        optimizer.apply([p], [np.zeros(3)])
    np.testing.assert_allclose(p, start * (1 - lr * wd) ** 4, rtol=1e-14)


def test_nesterov_looks_ahead_by_one_momentum_step():
    # Constant gradient g: buf_t = g (1 - mu^t) / (1 - mu); Nesterov steps by
    # lr * (g + mu * buf_t), plain momentum by lr * buf_t.
    lr, mu, g = 0.1, 0.5, np.array([1.0, -4.0])
    plain, nesterov = np.zeros(2), np.zeros(2)
    opt_plain, opt_nesterov = SGD(lr, momentum=mu), SGD(lr, momentum=mu, nesterov=True)
    opt_plain.build(["p"], [plain])
    opt_nesterov.build(["p"], [nesterov])
    total_plain, total_nesterov = np.zeros(2), np.zeros(2)
    for t in range(1, 5):
        opt_plain.apply([plain], [g])
        opt_nesterov.apply([nesterov], [g])
        buf = g * (1 - mu**t) / (1 - mu)
        total_plain -= lr * buf
        total_nesterov -= lr * (g + mu * buf)
        np.testing.assert_allclose(plain, total_plain, rtol=1e-14)
        np.testing.assert_allclose(nesterov, total_nesterov, rtol=1e-14)


@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_schedule_sets_the_rate_of_each_update_starting_at_step_0(make, reference, rate):
    params, grads = random_problem(steps=6, seed=3)
    # ExponentialDecay as Keras defines it: lr0 * decay_rate ** (step / decay_steps).
    rates = [0.05 * 0.5 ** (k / 2) for k in range(6)]
    expected, _ = run_reference(reference, params, grads, rates)
    optimizer = make()
    optimizer.learning_rate = schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    run(optimizer, params, grads)
    for got, want in zip(params, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_current_learning_rate_evaluates_the_schedule_at_the_update_count():
    optimizer = SGD(schedules.StepDecay(0.4, decay_steps=2, decay_rate=0.25))
    p = np.zeros(1)
    optimizer.build(["p"], [p])
    seen = []
    for _ in range(5):
        seen.append(optimizer.current_learning_rate)
        optimizer.apply([p], [np.ones(1)])
    np.testing.assert_allclose(seen, [0.4, 0.4, 0.1, 0.1, 0.025], rtol=1e-15)
    assert optimizer.iterations == 5


# ----------------------------------------------------------------- in place, no allocation
@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_apply_updates_the_same_arrays_and_leaves_gradients_alone(make, reference, rate):
    params, grads = random_problem(steps=2)
    originals = list(params)
    grad_copies = [[g.copy() for g in step] for step in grads]
    run(make(), params, grads)
    assert all(p is q for p, q in zip(params, originals))
    for step, copies in zip(grads, grad_copies):
        for g, c in zip(step, copies):
            np.testing.assert_array_equal(g, c)
    expected, _ = run_reference(reference, random_problem(steps=2)[0], grads, [rate] * 2)
    for got, want in zip(originals, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_apply_allocates_no_temporary_arrays(make, reference, rate):
    size = 50_000  # 400 kB per float64 array; a temporary would show up in the peak
    p, g = np.linspace(-1, 1, size), np.linspace(2, -1, size)
    optimizer = make()
    optimizer.build(["p"], [p])
    optimizer.apply([p], [g])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(3):
            optimizer.apply([p], [g])
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < p.nbytes // 10


def test_apply_before_build_raises():
    with pytest.raises(RuntimeError, match=r"build\(names, params\)"):
        Adam().apply([np.zeros(2)], [np.zeros(2)])


# ----------------------------------------------------------------- state
@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_state_survives_a_second_build_with_the_same_names(make, reference, rate):
    params, grads = random_problem(steps=6, seed=1)
    expected, _ = run_reference(reference, params, grads, [rate] * 6)
    optimizer = make()
    optimizer.build(NAMES, params)
    for g in grads[:3]:
        optimizer.apply(params, g)
    optimizer.build(NAMES, params)  # as a second fit() does
    for g in grads[3:]:
        optimizer.apply(params, g)
    for got, want in zip(params, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_build_resets_the_state_of_a_parameter_whose_shape_changed():
    optimizer = SGD(0.1, momentum=0.9)
    optimizer.build(["p"], [np.zeros(3)])
    optimizer.apply([np.zeros(3)], [np.ones(3)])
    p = np.zeros(2)
    optimizer.build(["p"], [p])
    optimizer.apply([p], [np.ones(2)])
    np.testing.assert_allclose(p, [-0.1, -0.1], rtol=1e-15)  # velocity started from zero


@pytest.mark.parametrize(("make", "reference", "rate"), CASES)
def test_get_state_and_set_state_resume_bit_identically(make, reference, rate):
    params, grads = random_problem(steps=6, seed=2)
    expected, _ = run_reference(reference, params, grads, [rate] * 6)
    first = make()
    first.build(NAMES, params)
    for g in grads[:3]:
        first.apply(params, g)
    state, iterations = first.get_state(), first.iterations
    saved_params = [p.copy() for p in params]
    for g in grads[3:]:
        first.apply(params, g)

    resumed_params = [p.copy() for p in saved_params]
    second = make()
    second.build(NAMES, resumed_params)
    second.set_state(state, iterations)
    for g in grads[3:]:
        second.apply(resumed_params, g)

    for got, want, uninterrupted in zip(resumed_params, expected, params):
        np.testing.assert_array_equal(got, uninterrupted)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_get_state_returns_copies_named_by_parameter_and_slot():
    p = np.zeros(2)
    optimizer = Adam(0.1)
    optimizer.build(["dense/bias"], [p])
    optimizer.apply([p], [np.array([1.0, 2.0])])
    state = optimizer.get_state()
    assert sorted(state) == ["dense/bias/m", "dense/bias/v"]
    np.testing.assert_allclose(state["dense/bias/m"], [0.1, 0.2], rtol=1e-14)
    optimizer.apply([p], [np.array([1.0, 2.0])])
    np.testing.assert_allclose(state["dense/bias/m"], [0.1, 0.2], rtol=1e-14)


def test_set_state_rejects_a_wrong_shape_and_a_negative_iteration_count():
    optimizer = RMSprop()
    optimizer.build(["dense/bias"], [np.zeros(3)])
    with pytest.raises(ValueError, match="dense/bias/v"):
        optimizer.set_state({"dense/bias/v": np.zeros(4)}, 1)
    with pytest.raises(ValueError, match="iterations"):
        optimizer.set_state({}, -1)


def test_set_state_without_saved_slots_starts_them_from_zero():
    # Plain SGD saves no state; restoring it must still leave the optimizer usable.
    p = np.ones(2)
    optimizer = SGD(0.5)
    optimizer.build(["p"], [p])
    optimizer.set_state({}, 7)
    optimizer.apply([p], [np.array([1.0, -1.0])])
    np.testing.assert_allclose(p, [0.5, 1.5], rtol=1e-15)
    assert optimizer.iterations == 8


# ----------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("optimizer", "class_name", "config"),
    [
        (SGD(0.2, momentum=0.5, nesterov=True), "SGD",
         {"learning_rate": 0.2, "momentum": 0.5, "nesterov": True}),
        (Adam(0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-5), "Adam",
         {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5}),
        (AdamW(0.03, beta_1=0.7, beta_2=0.9, epsilon=1e-6, weight_decay=0.1), "AdamW",
         {"learning_rate": 0.03, "beta_1": 0.7, "beta_2": 0.9, "epsilon": 1e-6,
          "weight_decay": 0.1}),
        (RMSprop(0.04, rho=0.8, epsilon=1e-4), "RMSprop",
         {"learning_rate": 0.04, "rho": 0.8, "epsilon": 1e-4}),
    ],
)  # fmt: skip
def test_config_round_trips_through_the_registry(optimizer, class_name, config):
    saved = registry.serialize(optimizer)
    assert saved["class_name"] == class_name and saved["config"] == config
    restored = registry.deserialize(json.loads(json.dumps(saved)))
    assert type(restored) is type(optimizer)
    for key, value in config.items():
        assert getattr(restored, key) == value


def test_config_round_trip_keeps_a_schedule_as_learning_rate():
    optimizer = Adam(schedules.CosineDecay(0.1, decay_steps=10, alpha=0.2))
    saved = json.loads(json.dumps(registry.serialize(optimizer)))
    rate = saved["config"]["learning_rate"]
    assert rate["class_name"] == "CosineDecay"
    assert rate["config"] == {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.2}
    restored = registry.deserialize(saved)
    assert isinstance(restored.learning_rate, schedules.CosineDecay)
    restored.iterations = 5
    assert restored.current_learning_rate == pytest.approx(0.1 * (0.8 * 0.5 + 0.2), rel=1e-14)


# ----------------------------------------------------------------- validation and lookup
@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop])
@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.01", None, True])
def test_bad_learning_rate_is_rejected_with_its_name(cls, bad):
    with pytest.raises(ValueError, match="'learning_rate'"):
        cls(learning_rate=bad)
    optimizer = cls()
    with pytest.raises(ValueError, match="'learning_rate'"):
        optimizer.learning_rate = bad


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: Adam(beta_1=1.0), "beta_1"),
        (lambda: Adam(beta_1=-0.1), "beta_1"),
        (lambda: AdamW(beta_2=1.5), "beta_2"),
        (lambda: Adam(beta_2=float("nan")), "beta_2"),
        (lambda: Adam(epsilon=0.0), "epsilon"),
        (lambda: AdamW(weight_decay=-0.01), "weight_decay"),
        (lambda: RMSprop(rho=1.0), "rho"),
        (lambda: RMSprop(epsilon=-1e-7), "epsilon"),
        (lambda: SGD(momentum=-0.5), "momentum"),
        (lambda: SGD(momentum=1.0), "momentum"),
        (lambda: SGD(nesterov=True), "nesterov"),
        (lambda: SGD(momentum=0.9, nesterov="yes"), "nesterov"),
    ],
)
def test_hyperparameters_out_of_range_are_rejected_with_their_name(make, argument):
    with pytest.raises(ValueError, match=f"'{argument}"):
        make()


def test_learning_rate_accepts_numpy_numbers_as_floats():
    optimizer = SGD(np.float32(0.5))
    optimizer.learning_rate = np.int64(2)
    assert type(optimizer.learning_rate) is float and optimizer.learning_rate == 2.0


@pytest.mark.parametrize(
    ("name", "cls", "defaults"),
    [
        ("sgd", SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
        ("adam", Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
        ("AdamW", AdamW, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                          "epsilon": 1e-7, "weight_decay": 0.004}),
        ("rmsprop", RMSprop, {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7}),
    ],
)  # fmt: skip
def test_names_give_optimizers_with_the_documented_defaults(name, cls, defaults):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls
    for key, value in defaults.items():
        assert getattr(optimizer, key) == value


def test_get_passes_instances_through_and_defaults_to_sgd():
    adam = Adam()
    assert optimizers.get(adam) is adam
    default = optimizers.get(None)
    assert type(default) is SGD and default.learning_rate == 0.01


def test_unknown_optimizer_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="adagrad.*'optimizer'.*adam, adamw, rmsprop, sgd"):
        optimizers.get("adagrad")
