"""LSTM forward and backpropagation through time, with Keras' weight layout.

Weights as Keras keeps them: ``kernel (features, 4u)``, ``recurrent_kernel (u, 4u)``,
``bias (4u,)``, gates in the order ``i, f, c, o``. Per step, with ``z = x W + h U + b``::

    i, f, o = sigma(z_i), sigma(z_f), sigma(z_o);  g = act(z_c)
    c = f * c_prev + i * g;                       h = o * act(c)

Internally the gates are reordered ``i, o, f, g`` so that the three sigmoid gates form one
block, and ``sigma(z) = (1 + tanh(z / 2)) / 2``: one ``tanh`` pass over all four gates (the
sigmoid columns of the weights halved) and one affine pass give every activation. The bias rides
in the recurrent product as a row of ones under the state; for one sample (no recurrent dropout)
the step's input rides there too, below the ones, so that a step makes one np.dot and no input
projection is added in (the time loops are in :mod:`layerwise.ops._lstm_steps`). The
derivative factors backward needs are formed a few steps at a time during backward, so that a
backward step is one product and five passes.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import activations as _activations
from . import strided_blas as sb
from ._lstm_steps import general_steps, plain_steps
from ._sequence import Workspace, cell_activation, derivative_into, prepare_sequence

__all__ = ["lstm_forward", "lstm_backward", "gate_columns"]

_INTERNAL_ORDER = (0, 3, 1, 2)  # Keras blocks i, f, c, o  ->  internal i, o, f, g
_INTERNAL_BLOCKS = np.array(_INTERNAL_ORDER)


def gate_columns(units: int, order: Any = _INTERNAL_ORDER) -> np.ndarray:
    """Column indices that take Keras' gate blocks to the internal order (read-only)."""
    return _gate_columns(int(units), tuple(order))


@functools.lru_cache(maxsize=64)
def _gate_columns(units: int, order: tuple) -> np.ndarray:
    columns = np.concatenate([np.arange(k * units, (k + 1) * units) for k in order])
    columns.flags.writeable = False
    return columns


@functools.lru_cache(maxsize=16)
def _column_scale(units: int, dtype: np.dtype) -> np.ndarray:
    """``[0.5] * 3u + [1] * u``: halves the sigmoid gates' columns (see the module docstring)."""
    scale = np.ones(4 * units, dtype)
    scale[: 3 * units] = 0.5
    scale.flags.writeable = False
    return scale


def _prepared(calls: sb.Calls, prepared, *arrays):
    """A prepared ``(function, arguments)`` pair, its operands kept alive by ``calls``."""
    index = calls.add(prepared, *arrays)
    return calls.functions[index], calls.arguments[index]


def _forward_plan(ws: Workspace, key, xw, s, ht, hr, h, uaug, c_last, pair, folded=None):
    plan = ws.plans.get(key)
    if plan is not None:
        return plan
    steps, u, n = s.shape[0], h.shape[2], s.shape[2]
    calls = sb.Calls()
    # The step's views are made once: slicing costs ~2 us a step, a tenth of the step. The
    # gates (i, f) and their partners (g, c_prev) are every other block of a step's rows, so
    # that i * g and f * c_prev are one product into ``pair``.
    blocks = [s[p].reshape(6, u, n) for p in range(steps)]
    plan = SimpleNamespace(calls=calls, steps=[], views=[
        (s[p, :4 * u], s[p, :3 * u], blocks[p][0:3:2], blocks[p][3:6:2], s[p, u:2 * u],
         s[p, 4 * u:5 * u], s[p, 5 * u:], s[p + 1, 5 * u:] if p + 1 < steps else c_last,
         ht[p + 1, :u], ht[p, :u])
        for p in range(steps)])
    # One sample: a step's (4u, 1) gates and (1, 4u) projection are the same memory layout,
    # so the whole sequence moves in one copy before and after the loop (see lstm_forward);
    # ``folded`` (one sample, no recurrent dropout) makes a step's product ``[U; b; W].T @
    # [h; 1; x]``, input and recurrent parts at once: a plain np.dot (half a ctypes gemm).
    single = n == 1
    for p in range(steps):
        state = ht[p] if hr is None else hr
        recurrent = (np.dot, (folded, ht[p], s[p, : 4 * u])) if folded is not None else \
            _prepared(calls, sb.matmul(uaug.T, state, s[p, : 4 * u], beta=1.0, call=False),
                      uaug, state)
        plan.steps.append((
            None if single else _prepared(
                calls, sb.transpose_into(xw[:, p, :], s[p, : 4 * u], call=False), xw, s),
            recurrent,
            None if single else _prepared(
                calls, sb.transpose_into(ht[p + 1, :u], h[:, p, :], call=False), ht, h),
        ))
    plan.keep = (pair,)
    ws.plans[key] = plan
    return plan


def lstm_forward(
    x: np.ndarray,
    kernel: Any,
    recurrent_kernel: Any,
    bias: Any = None,
    *,
    activation: Any = "tanh",
    recurrent_activation: Any = "sigmoid",
    go_backwards: bool = False,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
    zero_output_for_mask: bool = False,
    training: bool = False,
    input_dropout_mask: Any = None,
    recurrent_dropout_mask: Any = None,
    workspace: Workspace | None = None,
) -> Any:
    """Run an LSTM over ``x (batch, steps, features)``; returns ``(output, cache)``.

    Args:
        x: the inputs; ``kernel``, ``recurrent_kernel``, ``bias`` (or None): Keras' layout.
        activation: the candidate's and output's element-wise activation (Keras: tanh).
        recurrent_activation: the gates' element-wise activation (Keras: sigmoid).
        go_backwards: process the steps last to first (the output sequence in that order).
        return_sequences: output ``(batch, steps, units)`` instead of the last ``(batch, units)``.
        mask: bool ``(batch, steps)``; a masked step keeps state and output as they were.
        zero_output_for_mask: masked steps output zeros (what Bidirectional asks for).
        training: keep what :func:`lstm_backward` needs.
        input_dropout_mask: ``(batch, features)`` multiplied into every step's input (scaled).
        recurrent_dropout_mask: ``(batch, units)`` multiplied into the state fed back.
        workspace: reused buffers (a layer keeps one); the output is a view of them when
            ``training``, a fresh array otherwise.

    Example::

        out, cache = lstm_forward(x, kernel, recurrent_kernel, bias, training=True)
        dx = lstm_backward(cache, np.ones_like(out), grad_k, grad_rk, grad_b)
    """
    act = cell_activation(activation, "activation")
    rec = cell_activation(recurrent_activation, "recurrent_activation")
    x, masked = prepare_sequence(x, mask, go_backwards)
    n, steps, features = x.shape
    units = recurrent_kernel.shape[0]
    dtype = x.dtype
    ws = workspace if workspace is not None else Workspace()
    cols = gate_columns(units)
    fast = isinstance(rec, _activations.Sigmoid) and isinstance(act, _activations.Tanh)
    g4 = 4 * units

    # [recurrent_kernel; bias; kernel] stacked, then in the internal gate order in one take:
    # u_int, w (for backward) and uaug (u_int over the bias row) are blocks of rows of it.
    stacked = ws.array("stacked", (units + 1 + features, g4), dtype)
    stacked[:units] = recurrent_kernel
    stacked[units] = 0.0 if bias is None else bias
    stacked[units + 1:] = kernel
    internal = ws.array("internal", stacked.shape, dtype)
    # Whole gate blocks moved (4 indices, not 4u columns: twice as fast at 32 units).
    stacked.reshape(-1, 4, units).take(_INTERNAL_BLOCKS, axis=1,
                                       out=internal.reshape(-1, 4, units))
    u_int, w = internal[:units], internal[units + 1:]
    scaled = internal
    if fast:  # sigma(z) = (1 + tanh(z/2)) / 2: halve the sigmoid columns of this call's copies
        scaled = ws.array("scaled", stacked.shape, dtype)
        np.multiply(internal, _column_scale(units, np.dtype(dtype)), out=scaled)
    uaug, w_scaled = scaled[: units + 1], scaled[units + 1:]
    xd = x if input_dropout_mask is None else x * input_dropout_mask[:, None, :]
    fold = n == 1 and recurrent_dropout_mask is None
    s = ws.array("s", (steps, 6 * units, n), dtype)  # per step: i o f g | act(c) | c_prev
    # The states, a row of ones under each (the bias), and with ``fold`` the step's input.
    rows = units + 1 + (features if fold else 0)
    ht = ws.array("ht", (steps + 1, rows, n), dtype, fill=1.0)
    ht[0, :units] = 0.0
    xw = None
    if fold:
        np.copyto(ht[:steps, units + 1:, 0], xd[0])
    else:
        xw = ws.array("xw", (n, steps, g4), dtype)
        np.dot(xd.reshape(n * steps, features), w_scaled, out=xw.reshape(n * steps, g4))
    h = ws.array("h", (n, steps, units), dtype)  # the states again, batch-major
    r_aug = hr = None
    if recurrent_dropout_mask is not None:
        hr = ws.array("hr", (units + 1, n), dtype, fill=1.0)
        r_aug = np.ones((units + 1, n), dtype)
        r_aug[:units] = recurrent_dropout_mask.T
    c_last = ws.array("c_last", (units, n), dtype)
    pair = ws.array("pair", (2, units, n), dtype)
    plan = _forward_plan(ws, ("lstm-forward", hr is None, fold), xw, s, ht, hr, h, uaug, c_last,
                         pair, folded=scaled.T if fold else None)
    single = n == 1
    if single and not fold:  # every step's projection into its gates' rows at once
        np.copyto(s[:, :g4, 0], xw[0])
    s[0, 5 * units:] = 0.0
    half = np.array(0.5, dtype)  # 0-d: NumPy would convert a scalar operand at every call
    if fast and masked is None and hr is None:
        plain_steps(plan, pair, half)
    else:
        general_steps(plan, pair, half, fast, rec, act, masked, ht, hr, r_aug)
    if single:
        np.copyto(h[0], ht[1:, :units, 0])
    if return_sequences:
        output = h
        if zero_output_for_mask and masked is not None:
            output = h * ~masked.T[:, :, None]
    else:
        output = h[:, -1, :]
    if not training:
        return np.array(output, copy=True), None
    cache = SimpleNamespace(ws=ws, x=xd, masked=masked, units=units, steps=steps, n=n, act=act,
                            rec=rec, w=w, u_int=u_int,
                            return_sequences=return_sequences, go_backwards=go_backwards,
                            zero_output=zero_output_for_mask, cols=cols,
                            input_dropout_mask=input_dropout_mask,
                            recurrent_dropout_mask=recurrent_dropout_mask)
    return output, cache


# Steps whose derivative factors are formed together: few enough to stay in cache between
# the forward's data and the backward steps that use them, enough to make NumPy calls count.
_CHUNK = 8


def _factors(cache, st, pt, start: int, end: int) -> None:
    """The derivative factors of steps ``start..end-1`` (``st`` their slice of the per-step
    buffer, ``pt`` the factors' buffer): ``[P_i, P_o, P_f] = [g, tc, c_prev] * sigma'`` and
    ``[P_g, R] = [i, o] * act'([g, tc])``; a masked step gets zeros and ``f = 1``, so that its
    gradients pass through untouched."""
    u = cache.units
    p3, k2 = pt[:, : 3 * u], pt[:, 3 * u:]
    derivative_into(cache.rec, st[:, : 3 * u], p3)
    p3 *= st[:, 3 * u:]
    derivative_into(cache.act, st[:, 3 * u:5 * u], k2)
    k2 *= st[:, : 2 * u]
    if cache.masked is not None:
        where = cache.masked[start:end][:, None, :]
        np.copyto(pt, 0.0, where=where)
        np.copyto(st[:, 2 * u:3 * u], 1.0, where=where)


def _backward_plan(ws: Workspace, key, dt, d, u_int, dh, units):
    plan = ws.plans.get(key)
    if plan is not None:
        return plan
    steps = d.shape[1]
    calls = sb.Calls()
    plan = SimpleNamespace(calls=calls, steps=[], views=None)
    for p in range(steps):
        nxt = dt[(p + 1) % 2]
        plan.steps.append((
            calls.add(sb.matmul(u_int, nxt, dh, beta=0.0, call=False), u_int, dt, dh),
            calls.add(sb.matmul(u_int, nxt, dh, beta=1.0, call=False)),
            calls.add(sb.transpose_into(dt[p % 2], d[:, p, :], call=False), d),
        ))
    ws.plans[key] = plan
    return plan


def lstm_backward(
    cache: Any,
    output_error: np.ndarray,
    grad_kernel: Any,
    grad_recurrent_kernel: Any,
    grad_bias: Any = None,
    input_gradient: bool = True,
) -> Any:
    """Gradients of the call that made ``cache``; returns the input gradient (or None).

    ``output_error`` has the output's shape; the weight gradients are written in place (Keras'
    layout). Example: see :func:`lstm_forward`.
    """
    ws, units, steps, n = cache.ws, cache.units, cache.steps, cache.n
    dtype = grad_kernel.dtype
    g4 = 4 * units
    s, h = ws.arrays["s"], ws.arrays["h"]
    p_chunk = ws.array("p", (_CHUNK, 5 * units, n), dtype)
    u_int, w = cache.u_int, cache.w
    masked = cache.masked
    dt = ws.array("dt", (2, g4, n), dtype)
    d = ws.array("d", (n, steps, g4), dtype)
    dh = ws.array("dh", (units, n), dtype)
    dc = ws.array("dc", (units, n), dtype)
    tmp = ws.array("tmp", (units, n), dtype)
    step_error = ws.array("step_error", (units, n), dtype)
    plan = _backward_plan(ws, "lstm-backward", dt, d, u_int, dh, units)
    run = plan.calls.run
    output_error = np.asarray(output_error, dtype=dtype)
    if cache.return_sequences and cache.zero_output and masked is not None:
        output_error = output_error * ~masked.T[:, :, None]
    r_t = None if cache.recurrent_dropout_mask is None else cache.recurrent_dropout_mask.T
    views = plan.views
    if views is None:  # made once per layout: slicing costs ~2 us a step
        u = units
        views = plan.views = [
            (p_chunk[p % _CHUNK, 4 * u:], p_chunk[p % _CHUNK, :g4].reshape(4, u, n),
             p_chunk[p % _CHUNK, u:2 * u], dt[p % 2].reshape(4, u, n), dt[p % 2, u:2 * u],
             s[p, 2 * u:3 * u])
            for p in range(steps)]
    dc[...] = 0.0
    for p in range(steps - 1, -1, -1):
        if p == steps - 1 or (p + 1) % _CHUNK == 0:  # a new chunk of steps begins (backwards)
            start = (p // _CHUNK) * _CHUNK
            _factors(cache, s[start:p + 1], p_chunk[:p + 1 - start], start, p + 1)
        p_r, p_all, p_o, d_all, d_o, f = views[p]
        if p == steps - 1:
            last = output_error[:, -1, :] if cache.return_sequences else output_error
            sb.transpose_into(last, dh)
        else:
            carry = masked is not None and masked[p + 1].any()
            if carry:  # samples masked at p+1 hand their state gradient straight to step p
                np.multiply(dh, masked[p + 1], out=dh)
            if cache.return_sequences:
                sb.transpose_into(output_error[:, p, :], step_error)
                if carry:
                    dh += step_error
                else:
                    np.copyto(dh, step_error)
            accumulate = carry or cache.return_sequences
            if r_t is None:
                run(plan.steps[p][1 if accumulate else 0])
            else:  # the fed-back state was dropped out: so is its gradient
                if accumulate:
                    np.copyto(step_error, dh)
                run(plan.steps[p][0])
                dh *= r_t
                if accumulate:
                    dh += step_error
        np.multiply(dh, p_r, out=tmp)
        dc += tmp
        np.multiply(dc, p_all, out=d_all)
        np.multiply(dh, p_o, out=d_o)
        dc *= f
        run(plan.steps[p][2])
    d2 = d.reshape(n * steps, g4)
    cols = cache.cols
    x2 = cache.x.reshape(n * steps, -1)
    grad_kernel[:, cols] = np.dot(x2.T, d2)
    h_prev = h if r_t is None else h * cache.recurrent_dropout_mask[:, None, :]
    h2 = h_prev.reshape(n * steps, units)
    # Row k of h2 is the state that fed row k + 1 of d2, except at each sample's first step
    # (its state was zero): one product over the shifted rows, minus those n - 1 pairs.
    grad_u = np.dot(h2[:-1].T, d2[1:])
    if n > 1:
        grad_u -= np.dot(h_prev[:-1, -1, :].T, d[1:, 0, :])
    grad_recurrent_kernel[:, cols] = grad_u
    if grad_bias is not None:
        grad_bias[cols] = np.dot(np.ones(n * steps, dtype), d2)
    if not input_gradient:
        return None
    dx = ws.array("dx", (n, steps, w.shape[0]), dtype)  # reused: no fresh pages a batch
    np.dot(d2, w.T, out=dx.reshape(n * steps, -1))
    if cache.input_dropout_mask is not None:
        dx *= cache.input_dropout_mask[:, None, :]
    return dx[:, ::-1] if cache.go_backwards else dx
