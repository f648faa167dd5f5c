"""Recurrent kernels: SimpleRNN here, LSTM and GRU in their own modules, one face for all.

Every kernel is a pair of plain functions, ``<cell>_forward(x, kernel, recurrent_kernel, bias,
...) -> (output, cache)`` and ``<cell>_backward(cache, output_error, grad_kernel,
grad_recurrent_kernel, grad_bias, input_gradient) -> input gradient``, on Keras' weight layouts.
The input projections of all steps are one product before the time loop, the weight and input
gradients of all steps one product each after it; a step does only what depends on the step
before it (see :mod:`layerwise.ops._sequence` for the layout).

SimpleRNN, per step: ``h = act(x W + h_prev U + b)``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from . import strided_blas as sb
from ._sequence import Workspace, cell_activation, derivative_into, prepare_sequence
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward

__all__ = ["Workspace", "simple_rnn_forward", "simple_rnn_backward", "lstm_forward",
           "lstm_backward", "gru_forward", "gru_backward"]


def simple_rnn_forward(
    x: np.ndarray,
    kernel: Any,
    recurrent_kernel: Any,
    bias: Any = None,
    *,
    activation: Any = "tanh",
    go_backwards: bool = False,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
    zero_output_for_mask: bool = False,
    training: bool = False,
    input_dropout_mask: Any = None,
    recurrent_dropout_mask: Any = None,
    workspace: Workspace | None = None,
) -> Any:
    """Run a SimpleRNN over ``x (batch, steps, features)``; returns ``(output, cache)``.

    Arguments as :func:`layerwise.ops.lstm.lstm_forward` (``kernel (features, u)``,
    ``recurrent_kernel (u, u)``, ``bias (u,)``).

    Example::

        out, cache = simple_rnn_forward(x, kernel, recurrent_kernel, bias, training=True)
        dx = simple_rnn_backward(cache, np.ones_like(out), grad_k, grad_rk, grad_b)
    """
    act = cell_activation(activation, "activation")
    x, masked = prepare_sequence(x, mask, go_backwards)
    n, steps, features = x.shape
    u = recurrent_kernel.shape[0]
    dtype = x.dtype
    ws = workspace if workspace is not None else Workspace()
    uaug = ws.array("uaug", (u + 1, u), dtype)
    uaug[:u] = recurrent_kernel
    uaug[u] = 0.0 if bias is None else bias
    xd = x if input_dropout_mask is None else x * input_dropout_mask[:, None, :]
    xw = ws.array("xw", (n, steps, u), dtype)
    np.dot(xd.reshape(n * steps, features), kernel, out=xw.reshape(n * steps, u))
    ht = ws.array("ht", (steps + 1, u + 1, n), dtype, fill=1.0)
    ht[0, :u] = 0.0
    h = ws.array("h", (n, steps, u), dtype)
    hr = r_aug = None
    if recurrent_dropout_mask is not None:
        hr = ws.array("hr", (u + 1, n), dtype, fill=1.0)
        r_aug = np.ones((u + 1, n), dtype)
        r_aug[:u] = recurrent_dropout_mask.T
    # One sample: a step's (u, 1) state and (1, u) projection are the same memory layout, so
    # the whole sequence moves in one copy before and after the loop instead of one a step.
    single = n == 1
    key = ("rnn-forward", hr is None)
    plan = ws.plans.get(key)
    if plan is None:
        calls = sb.Calls()
        plan = SimpleNamespace(calls=calls, steps=[])
        for p in range(steps):
            state = ht[p] if hr is None else hr
            plan.steps.append((
                None if single else calls.add(
                    sb.transpose_into(xw[:, p, :], ht[p + 1, :u], call=False), xw, ht),
                calls.add(sb.matmul(uaug.T, state, ht[p + 1, :u], beta=1.0, call=False), uaug,
                          state),
                None if single else calls.add(
                    sb.transpose_into(ht[p + 1, :u], h[:, p, :], call=False), h),
            ))
        ws.plans[key] = plan
    run = plan.calls.run
    if single:
        np.copyto(ht[1:, :u, 0], xw[0])
    for p in range(steps):
        into_state, recurrent, out_of_state = plan.steps[p]
        if into_state is not None:
            run(into_state)
        if hr is not None:
            np.multiply(ht[p], r_aug, out=hr)
        run(recurrent)
        state = ht[p + 1, :u]
        act.forward(state, out=state)
        if masked is not None:
            np.copyto(state, ht[p, :u], where=masked[p])
        if out_of_state is not None:
            run(out_of_state)
    if single:
        np.copyto(h[0], ht[1:, :u, 0])
    if return_sequences:
        output = h
        if zero_output_for_mask and masked is not None:
            output = h * ~masked.T[:, :, None]
    else:
        output = h[:, -1, :]
    if not training:
        return np.array(output, copy=True), None
    cache = SimpleNamespace(ws=ws, x=xd, masked=masked, units=u, steps=steps, n=n, act=act,
                            return_sequences=return_sequences, go_backwards=go_backwards,
                            zero_output=zero_output_for_mask, kernel=kernel,
                            recurrent_kernel=recurrent_kernel,
                            input_dropout_mask=input_dropout_mask,
                            recurrent_dropout_mask=recurrent_dropout_mask)
    return output, cache


def simple_rnn_backward(
    cache: Any,
    output_error: np.ndarray,
    grad_kernel: Any,
    grad_recurrent_kernel: Any,
    grad_bias: Any = None,
    input_gradient: bool = True,
) -> Any:
    """Gradients of the call that made ``cache``; returns the input gradient (or None).

    Example: see :func:`simple_rnn_forward`.
    """
    ws, u, steps, n = cache.ws, cache.units, cache.steps, cache.n
    dtype = grad_kernel.dtype
    h, masked = ws.arrays["h"], cache.masked
    # The activation's derivative at every step at once, from the states the forward pass
    # kept (a masked step passes no gradient through its activation).
    p_all = ws.array("p", (steps, u, n), dtype)
    derivative_into(cache.act, ws.arrays["ht"][1:, :u], p_all)
    if masked is not None:
        np.copyto(p_all, 0.0, where=masked[:, None, :])
    dt = ws.array("dt", (2, u, n), dtype)
    d = ws.array("d", (n, steps, u), dtype)
    dh = ws.array("dh", (u, n), dtype)
    step_error = ws.array("step_error", (u, n), dtype)
    u_rec = ws.array("u_rec", (u, u), dtype)
    np.copyto(u_rec, cache.recurrent_kernel)
    output_error = np.asarray(output_error, dtype=dtype)
    if cache.return_sequences and cache.zero_output and masked is not None:
        output_error = output_error * ~masked.T[:, :, None]
    r_t = None if cache.recurrent_dropout_mask is None else cache.recurrent_dropout_mask.T
    for p in range(steps - 1, -1, -1):
        if p == steps - 1:
            last = output_error[:, -1, :] if cache.return_sequences else output_error
            sb.transpose_into(last, dh)
        else:
            if masked is not None:  # samples masked at p+1 pass their gradient straight on
                np.multiply(dh, masked[p + 1], out=step_error)
            else:
                step_error[...] = 0.0
            if cache.return_sequences:
                sb.transpose_into(output_error[:, p, :], dh)
                step_error += dh
            sb.matmul(u_rec, dt[(p + 1) % 2], dh)
            if r_t is not None:
                dh *= r_t
            dh += step_error
        np.multiply(dh, p_all[p], out=dt[p % 2])
        sb.transpose_into(dt[p % 2], d[:, p, :])
    d2 = d.reshape(n * steps, u)
    np.dot(cache.x.reshape(n * steps, -1).T, d2, out=grad_kernel)
    h_prev = h if r_t is None else h * cache.recurrent_dropout_mask[:, None, :]
    h2 = h_prev.reshape(n * steps, u)
    grad_u = np.dot(h2[:-1].T, d2[1:])
    if n > 1:
        grad_u -= np.dot(h_prev[:-1, -1, :].T, d[1:, 0, :])
    np.copyto(grad_recurrent_kernel, grad_u)
    if grad_bias is not None:
        np.dot(np.ones(n * steps, dtype), d2, out=grad_bias)
    if not input_gradient:
        return None
    dx = ws.array("dx", (n, steps, cache.kernel.shape[0]), dtype)  # reused, no fresh pages
    np.dot(d2, cache.kernel.T, out=dx.reshape(n * steps, -1))
    if cache.input_dropout_mask is not None:
        dx *= cache.input_dropout_mask[:, None, :]
    return dx[:, ::-1] if cache.go_backwards else dx
