"""GRU forward and backpropagation through time, with Keras' weight layout.

Weights as Keras keeps them: ``kernel (features, 3u)``, ``recurrent_kernel (u, 3u)``, gates in
the order ``z, r, h``; ``bias (2, 3u)`` (input and recurrent bias) when ``reset_after`` (Keras'
default and PyTorch's convention), ``(3u,)`` otherwise. Per step::

    reset_after=True:  m = h_prev U + b_rec;  z, r = sigma(x W_zr + b_zr + m_zr)
                       hh = act(x W_h + b_h + r * m_h)
    reset_after=False: z, r = sigma(x W_zr + h_prev U_zr + b_zr)
                       hh = act(x W_h + (r * h_prev) U_h + b_h)
    h = z * h_prev + (1 - z) * hh

The layout and the tricks are those of :mod:`layerwise.ops.lstm` (transposed state in the loop,
biases as rows of ones, ``sigma`` through ``tanh``); a masked step sets ``z = 1`` once its
derivative factors are formed, so that its gradient passes through the carry ``dh * z`` alone.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import activations as _activations
from . import strided_blas as sb
from ._sequence import Workspace, cell_activation, derivative_into, prepare_sequence

__all__ = ["gru_forward", "gru_backward"]


def _plan(ws: Workspace, key, build):
    plan = ws.plans.get(key)
    if plan is None:
        plan = ws.plans[key] = build()
    return plan


def gru_forward(
    x: np.ndarray,
    kernel: Any,
    recurrent_kernel: Any,
    bias: Any = None,
    *,
    activation: Any = "tanh",
    recurrent_activation: Any = "sigmoid",
    reset_after: bool = True,
    go_backwards: bool = False,
    return_sequences: bool = False,
    mask: np.ndarray | None = None,
    zero_output_for_mask: bool = False,
    training: bool = False,
    input_dropout_mask: Any = None,
    recurrent_dropout_mask: Any = None,
    workspace: Workspace | None = None,
) -> Any:
    """Run a GRU over ``x (batch, steps, features)``; returns ``(output, cache)``.

    Arguments as :func:`layerwise.ops.lstm.lstm_forward`, plus ``reset_after``.

    Example::

        out, cache = gru_forward(x, kernel, recurrent_kernel, bias, training=True)
        dx = gru_backward(cache, np.ones_like(out), grad_k, grad_rk, grad_b)
    """
    act = cell_activation(activation, "activation")
    rec = cell_activation(recurrent_activation, "recurrent_activation")
    x, masked = prepare_sequence(x, mask, go_backwards)
    n, steps, features = x.shape
    u = recurrent_kernel.shape[0]
    dtype = x.dtype
    ws = workspace if workspace is not None else Workspace()
    fast = isinstance(rec, _activations.Sigmoid) and isinstance(act, _activations.Tanh)
    half = 0.5 if fast else 1.0
    if bias is None:
        b_in = b_rec = np.zeros(3 * u, dtype)
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, np.zeros(3 * u, dtype)

    w_scaled = ws.array("w_scaled", (features, 3 * u), dtype)
    np.copyto(w_scaled, kernel)
    w_scaled[:, : 2 * u] *= half
    # The bias row under the state: b_z, b_r (input and recurrent) and, reset_after, b_rec_h.
    uaug = ws.array("uaug", (u + 1, 3 * u), dtype)
    uaug[:u] = recurrent_kernel
    uaug[u, : 2 * u] = b_in[: 2 * u] + b_rec[: 2 * u]
    uaug[u, 2 * u:] = b_rec[2 * u:] if reset_after else b_in[2 * u:]
    uaug[:, : 2 * u] *= half
    b_h = (b_in[2 * u:] if reset_after else np.zeros(u, dtype)).reshape(u, 1)
    xd = x if input_dropout_mask is None else x * input_dropout_mask[:, None, :]
    xw = ws.array("xw", (n, steps, 3 * u), dtype)
    np.dot(xd.reshape(n * steps, features), w_scaled, out=xw.reshape(n * steps, 3 * u))

    rows = 6 * u if reset_after else 7 * u + 1
    # per step: z r hh | reset_after: m = (h_prev U + b)  else: m_zr | r * h_prev, 1 | m_h
    s = ws.array("s", (steps, rows, n), dtype)
    ht = ws.array("ht", (steps + 1, u + 1, n), dtype, fill=1.0)
    ht[0, :u] = 0.0
    h = ws.array("h", (n, steps, u), dtype)
    rh_rows = None if reset_after else ws.array("rh_rows", (n, steps, u), dtype)
    hr = r_aug = None
    if recurrent_dropout_mask is not None:
        hr = ws.array("hr", (u + 1, n), dtype, fill=1.0)
        r_aug = np.ones((u + 1, n), dtype)
        r_aug[:u] = recurrent_dropout_mask.T
    tmp = ws.array("tmp", (u, n), dtype)

    # One sample: a step's (3u, 1) gates and (1, 3u) projection are the same memory layout, so
    # the whole sequence moves in one copy before and after the loop instead of one a step.
    single = n == 1

    def build() -> None:
        calls = sb.Calls()
        plan = []
        for p in range(steps):
            state = ht[p] if hr is None else hr
            st = s[p]
            if reset_after:
                recurrent = (calls.add(sb.matmul(uaug.T, state, st[3 * u:], call=False), uaug,
                                       state, s),)
            else:
                st[6 * u] = 1.0  # the ones row under r * h_prev carries b_h
                recurrent = (
                    calls.add(sb.matmul(uaug[:, : 2 * u].T, state, st[3 * u:5 * u], call=False),
                              uaug, state, s),
                    calls.add(sb.matmul(uaug[:, 2 * u:].T, st[5 * u:6 * u + 1], st[6 * u + 1:],
                                        call=False)),
                    calls.add(sb.transpose_into(st[5 * u:6 * u], rh_rows[:, p, :], call=False),
                              rh_rows),
                )
            plan.append((
                None if single else calls.add(
                    sb.transpose_into(xw[:, p, :], st[: 3 * u], call=False), xw),
                recurrent,
                None if single else calls.add(
                    sb.transpose_into(ht[p + 1, :u], h[:, p, :], call=False), ht, h),
            ))
        # The step's views, made once: slicing costs ~2 us a step.
        views = [(s[p, : 2 * u], s[p, :u], s[p, u:2 * u], s[p, 2 * u:3 * u], s[p, 3 * u:5 * u],
                  s[p, 5 * u:6 * u], s[p, 6 * u + 1:], ht[p, :u], ht[p + 1, :u])
                 for p in range(steps)]
        return SimpleNamespace(calls=calls, steps=plan, views=views)

    plan = _plan(ws, ("gru-forward", reset_after, hr is None), build)
    run = plan.calls.run
    if single:
        np.copyto(s[:, : 3 * u, 0], xw[0])
    for p in range(steps):
        into_gates, recurrent, out_of_state = plan.steps[p]
        zr, z, r, a_h, m_zr, m_h, m_h_after, h_prev, h_new = plan.views[p]
        if into_gates is not None:
            run(into_gates)
        if hr is not None:
            np.multiply(ht[p], r_aug, out=hr)
        h_fed = h_prev if hr is None else hr[:u]
        run(recurrent[0])
        zr += m_zr
        if fast:
            np.tanh(zr, out=zr)
            zr *= 0.5
            zr += 0.5
        else:
            rec.forward(zr, out=zr)
        if reset_after:
            np.multiply(r, m_h, out=tmp)
            a_h += tmp
            a_h += b_h
        else:
            np.multiply(r, h_fed, out=m_h)  # here the rows hold r * h_fed
            run(recurrent[1])
            run(recurrent[2])
            a_h += m_h_after
        act.forward(a_h, out=a_h)
        np.subtract(h_prev, a_h, out=tmp)  # h = hh + z * (h_prev - hh)
        np.multiply(tmp, z, out=h_new)
        h_new += a_h
        if masked is not None:
            np.copyto(h_new, h_prev, where=masked[p])
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
                            rec=rec, reset_after=reset_after, return_sequences=return_sequences,
                            go_backwards=go_backwards, zero_output=zero_output_for_mask,
                            input_dropout_mask=input_dropout_mask, kernel=kernel,
                            recurrent_kernel=recurrent_kernel,
                            recurrent_dropout_mask=recurrent_dropout_mask)
    return output, cache


_CHUNK = 8  # steps whose derivative factors are formed together (see ops/lstm.py)


def _factors(cache, st, ht, pt, scratch, start: int, end: int) -> None:
    """The derivative factors ``[P_z, P_r, P_m, P_h]`` of steps ``start..end-1``:
    ``P_z = (h_prev - hh) sigma'(z)``, ``P_h = (1 - z) act'(hh)``, with ``reset_after``
    ``P_r = P_h m_h sigma'(r)`` and ``P_m = P_h r`` (what the recurrent h block sees), else
    ``P_r = h_fed sigma'(r)``; a masked step gets zeros and ``z = 1`` (its gradient passes
    through the carry ``dh * z`` alone)."""
    u = cache.units
    z, r, hh = st[:, :u], st[:, u:2 * u], st[:, 2 * u:3 * u]
    h_prev = ht[:, :u]
    p_z, p_r, p_m, p_h = pt[:, :u], pt[:, u:2 * u], pt[:, 2 * u:3 * u], pt[:, 3 * u:]
    derivative_into(cache.rec, z, p_z)
    np.subtract(h_prev, hh, out=scratch)
    p_z *= scratch
    derivative_into(cache.act, hh, p_h)
    np.subtract(1, z, out=scratch)
    p_h *= scratch
    derivative_into(cache.rec, r, p_r)
    if cache.reset_after:
        p_r *= st[:, 5 * u:6 * u]
        p_r *= p_h
        np.multiply(p_h, r, out=p_m)
    else:
        p_r *= h_prev
        if cache.recurrent_dropout_mask is not None:
            p_r *= cache.recurrent_dropout_mask.T
    if cache.masked is not None:
        where = cache.masked[start:end][:, None, :]
        np.copyto(pt, 0.0, where=where)
        np.copyto(z, 1.0, where=where)


def _backward_plan(ws: Workspace, reset_after: bool, dt, d, u_rec, dh, tmp, units):
    def build() -> None:
        steps = d.shape[1]
        u = units
        calls = sb.Calls()
        plan = []
        for p in range(steps):
            nxt = dt[(p + 1) % 2]
            if reset_after:
                into_state = (calls.add(sb.matmul(u_rec, nxt[: 3 * u], dh, beta=1.0,
                                                  call=False), u_rec, dt, dh),)
                h_block = ()
            else:
                into_state = (calls.add(sb.matmul(u_rec[:, : 2 * u], nxt[: 2 * u], dh, beta=1.0,
                                                  call=False), u_rec, dt, dh),)
                cur = dt[p % 2]
                h_block = (calls.add(sb.matmul(u_rec[:, 2 * u:], cur[3 * u:], tmp, call=False),
                                     tmp),)
            plan.append((into_state, h_block,
                         calls.add(sb.transpose_into(dt[p % 2], d[:, p, :], call=False), d)))
        return SimpleNamespace(calls=calls, steps=plan)

    return _plan(ws, ("gru-backward", reset_after), build)


def gru_backward(
    cache: Any,
    output_error: np.ndarray,
    grad_kernel: Any,
    grad_recurrent_kernel: Any,
    grad_bias: Any = None,
    input_gradient: bool = True,
) -> Any:
    """Gradients of the call that made ``cache``; returns the input gradient (or None).

    Internally a step's gradient block is ``[z, r, h (recurrent side), h (input side)]``: with
    ``reset_after`` the recurrent product sees ``r * dh_h`` where the input product sees
    ``dh_h``. Example: see :func:`gru_forward`.
    """
    ws, u, steps, n = cache.ws, cache.units, cache.steps, cache.n
    dtype = grad_kernel.dtype
    reset_after = cache.reset_after
    s, h, ht = ws.arrays["s"], ws.arrays["h"], ws.arrays["ht"]
    p_chunk = ws.array("p", (_CHUNK, 4 * u, n), dtype)
    scratch = ws.array("factor_scratch", (_CHUNK, u, n), dtype)
    masked = cache.masked
    dt = ws.array("dt", (2, 4 * u, n), dtype)
    d = ws.array("d", (n, steps, 4 * u), dtype)
    dh = ws.array("dh", (u, n), dtype)
    tmp = ws.array("tmp", (u, n), dtype)
    step_error = ws.array("step_error", (u, n), dtype)
    u_rec = ws.array("u_rec", (u, 3 * u), dtype)  # rows: state units; the kernel transposed
    np.copyto(u_rec, cache.recurrent_kernel)
    plan = _backward_plan(ws, reset_after, dt, d, u_rec, dh, tmp, u)
    run = plan.calls.run
    output_error = np.asarray(output_error, dtype=dtype)
    if cache.return_sequences and cache.zero_output and masked is not None:
        output_error = output_error * ~masked.T[:, :, None]
    r_t = None if cache.recurrent_dropout_mask is None else cache.recurrent_dropout_mask.T
    for p in range(steps - 1, -1, -1):
        if p == steps - 1 or (p + 1) % _CHUNK == 0:  # a new chunk of steps begins (backwards)
            start = (p // _CHUNK) * _CHUNK
            k = p + 1 - start
            _factors(cache, s[start:p + 1], ht[start:p + 1], p_chunk[:k], scratch[:k], start,
                     p + 1)
        pt, dtp = p_chunk[p % _CHUNK], dt[p % 2]
        into_state, h_block, out_of_gradient = plan.steps[p]
        if p == steps - 1:
            last = output_error[:, -1, :] if cache.return_sequences else output_error
            sb.transpose_into(last, dh)
        else:  # dh_prev = dh * z + (U @ D) (* dropout mask) + the output's own gradient
            z_next = s[p + 1, :u]
            if r_t is None:
                dh *= z_next
                run(into_state[0])
            else:
                np.multiply(dh, z_next, out=step_error)
                dh[...] = 0.0
                run(into_state[0])
                dh *= r_t
                dh += step_error
            if cache.return_sequences:
                sb.transpose_into(output_error[:, p, :], step_error)
                dh += step_error
            if not reset_after:  # U_h's path: d(r * h_fed) = U_h d_h, times r (and the mask)
                np.multiply(tmp, s[p + 1, u:2 * u], out=tmp)
                if r_t is not None:
                    tmp *= r_t
                dh += tmp
        if reset_after:
            np.multiply(dh, pt.reshape(4, u, n), out=dtp.reshape(4, u, n))
        else:
            np.multiply(dh, pt[:u], out=dtp[:u])
            np.multiply(dh, pt[3 * u:], out=dtp[3 * u:])
            run(h_block[0])  # tmp = U_h @ d_h
            np.multiply(tmp, pt[u:2 * u], out=dtp[u:2 * u])
        run(out_of_gradient)
    d2 = d.reshape(n * steps, 4 * u)
    x2 = cache.x.reshape(n * steps, -1)
    # The input side's gradient is d2's columns z, r and h (input side): products on the two
    # column blocks as they lie (strided views), no gathered copy.
    d_zr, d_hx, d_rec = d2[:, : 2 * u], d2[:, 3 * u:], d2[:, : 3 * u]
    sb.matmul(x2.T, d_zr, grad_kernel[:, : 2 * u])
    sb.matmul(x2.T, d_hx, grad_kernel[:, 2 * u:])
    h_prev = h if r_t is None else h * cache.recurrent_dropout_mask[:, None, :]
    h2 = h_prev.reshape(n * steps, u)
    grad_u = np.empty((u, 3 * u), dtype)
    # Row k of h2 fed row k + 1 of d, except at each sample's first step (a zero state).
    width = 3 * u if reset_after else 2 * u
    sb.matmul(h2[:-1].T, d_rec[1:, :width], grad_u[:, :width])
    if n > 1:
        grad_u[:, :width] -= np.dot(h_prev[:-1, -1, :].T, d[1:, 0, :width])
    if not reset_after:
        rh2 = ws.arrays["rh_rows"].reshape(n * steps, u)
        sb.matmul(rh2.T, d_hx, grad_u[:, 2 * u:])
    np.copyto(grad_recurrent_kernel, grad_u)
    if grad_bias is not None:
        sums = np.dot(np.ones(n * steps, dtype), d2)  # z, r, h (recurrent), h (input)
        b_in = np.concatenate([sums[: 2 * u], sums[3 * u:]])
        if reset_after:
            grad_bias[0] = b_in
            grad_bias[1] = sums[: 3 * u]
        else:
            grad_bias[...] = b_in
    if not input_gradient:
        return None
    dx = ws.array("dx", (n, steps, x2.shape[1]), dtype)
    dx2 = dx.reshape(n * steps, -1)
    sb.matmul(d_zr, cache.kernel[:, : 2 * u].T, dx2)
    sb.matmul(d_hx, cache.kernel[:, 2 * u:].T, dx2, beta=1.0)
    if cache.input_dropout_mask is not None:
        dx *= cache.input_dropout_mask[:, None, :]
    return dx[:, ::-1] if cache.go_backwards else dx
