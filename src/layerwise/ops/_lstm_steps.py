"""The LSTM forward pass's time loops over a prepared plan (see :mod:`layerwise.ops.lstm`):
each step runs the plan's product into the step's gates, the activations, the cell and the new
state, every array a view made once per buffer layout."""

from __future__ import annotations

import numpy as np

__all__ = ["general_steps", "plain_steps"]


def general_steps(plan, pair, half, fast, rec, act, masked, ht, hr, r_aug) -> None:
    """The time loop with any activations, masks (a masked step keeps state and output) and
    recurrent dropout (the fed-back state multiplied by ``r_aug``)."""
    for p in range(len(plan.steps)):
        into_gates, (gemm, arguments), out_of_state = plan.steps[p]
        if into_gates is not None:
            into_gates[0](*into_gates[1])
        if hr is not None:
            np.multiply(ht[p], r_aug, out=hr)
        gemm(*arguments)
        gates, sig, i_f, g_c, o, tc, c_prev, c, h_new, h_prev = plan.views[p]
        if fast:
            np.tanh(gates, out=gates)
            np.multiply(sig, half, out=sig)
            np.add(sig, half, out=sig)
        else:
            rec.forward(sig, out=sig)
            act.forward(g_c[0], out=g_c[0])
        np.multiply(i_f, g_c, out=pair)  # [i * g, f * c_prev]
        np.add(pair[0], pair[1], out=c)
        if masked is not None:
            np.copyto(c, c_prev, where=masked[p])
        if fast:
            np.tanh(c, out=tc)
        else:
            act.forward(c, out=tc)
        np.multiply(o, tc, out=h_new)
        if masked is not None:
            np.copyto(h_new, h_prev, where=masked[p])
        if out_of_state is not None:
            out_of_state[0](*out_of_state[1])


def plain_steps(plan, pair, half) -> None:
    """The time loop without masks or recurrent dropout, with sigmoid gates and tanh (Keras'
    defaults): the general loop's calls without its tests, the functions bound locally and the
    outputs passed by position (NumPy parses keyword arguments at every call, which at one
    sample costs as much as the arithmetic)."""
    tanh, multiply, add = np.tanh, np.multiply, np.add
    products, carried = pair[0], pair[1]
    for (into_gates, (gemm, arguments), out_of_state), views in zip(plan.steps, plan.views):
        gates, sig, i_f, g_c, o, tc, _, c, h_new, _ = views
        if into_gates is not None:
            into_gates[0](*into_gates[1])
        gemm(*arguments)
        tanh(gates, gates)
        multiply(sig, half, sig)  # sigma(z) = (1 + tanh(z / 2)) / 2
        add(sig, half, sig)
        multiply(i_f, g_c, pair)  # [i * g, f * c_prev]
        add(products, carried, c)
        tanh(c, tc)
        multiply(o, tc, h_new)
        if out_of_state is not None:
            out_of_state[0](*out_of_state[1])
