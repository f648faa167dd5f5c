"""A graph against PyTorch: two inputs, a residual ``Add``, a ``Concatenate`` and two outputs
(softmax + cross-entropy, linear + MSE) with ``loss_weights``, trained for 20 Adam steps from the
same weights on the same batches in float64. Prints the largest relative difference of any
gradient (first step) and of any weight (after the steps).

    .venv/bin/python benchmarks/parity_graph.py

``tests/test_torch_parity.py`` runs the same comparison and requires 1e-7.
"""

from __future__ import annotations

import numpy as np
import torch

import layerwise
from layerwise import Add, Concatenate, Dense, Input, Model, optimizers

STEPS, BATCH, WEIGHTS = 20, 16, (0.7, 1.9)


def build():
    """The layerwise graph and the PyTorch module with the same weights."""
    layerwise.set_seed(3)
    text, table = Input((6,), name="text"), Input((3,), name="table")
    h = Dense(6, activation="tanh", bias_initializer="random_normal")(text)
    r = Dense(6, activation="relu", weights_initializer="he_normal")(h)
    t = Dense(4, activation="tanh", bias_initializer="random_normal")(table)
    merged = Concatenate()([Add()([h, r]), t])
    label = Dense(3, activation="softmax", name="label")(merged)
    box = Dense(2, name="box")(merged)
    model = Model([text, table], [label, box])
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linears = torch.nn.ModuleList(
                torch.nn.Linear(d.input_size, d.output_size) for d in dense
            )
            self.index = {d.name: i for i, d in enumerate(dense)}

        def forward(self, xa, xb):
            lin = {name: self.linears[i] for name, i in self.index.items()}
            h = torch.tanh(lin[h_name](xa))
            merged = torch.cat([h + torch.relu(lin[r_name](h)), torch.tanh(lin[t_name](xb))], 1)
            return lin["label"](merged), lin["box"](merged)

    h_name, r_name, t_name = h.name, r.name, t.name
    net = Net().double()
    with torch.no_grad():
        for linear, d in zip(net.linears, dense):
            linear.weight.copy_(torch.from_numpy(d.weights.T.copy()))
            linear.bias.copy_(torch.from_numpy(d.bias.copy()))
    return model, net, dense


def torch_loss(net, xa, xb, labels, targets):
    logits, box = net(xa, xb)
    cross_entropy = -(labels * torch.log_softmax(logits, 1)).sum(1).mean()
    return WEIGHTS[0] * cross_entropy + WEIGHTS[1] * ((box - targets) ** 2).mean()


def data():
    rng = np.random.default_rng(0)
    n = STEPS * BATCH
    return (
        [rng.normal(size=(n, 6)), rng.normal(size=(n, 3))],
        [np.eye(3)[rng.integers(0, 3, n)], rng.normal(size=(n, 2))],
    )


def _relative(pairs) -> float:
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in pairs)


def compare() -> tuple[float, float]:
    """(gradient difference at the first step, weight difference after STEPS Adam steps)."""
    xs, ys = data()
    model, net, dense = build()
    model.compile(loss=["categorical_crossentropy", "mse"], loss_weights=list(WEIGHTS),
                  optimizer=optimizers.Adam(0.01), dtype="float64")
    tensors = [torch.from_numpy(a) for a in xs + ys]
    # Gradients of the first batch.
    model.forward([x[:BATCH] for x in xs])
    model.backward([y[:BATCH] for y in ys])
    torch_loss(net, *(t[:BATCH] for t in tensors)).backward()
    gradient = _relative(
        pair
        for linear, d in zip(net.linears, dense)
        for pair in ((d.grad_weights, linear.weight.grad.numpy().T),
                     (d.grad_bias, linear.bias.grad.numpy()))
    )
    # Adam steps.
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-7)
    model.fit(xs, ys, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    for start in range(0, len(xs[0]), BATCH):
        optimizer.zero_grad()
        torch_loss(net, *(t[start : start + BATCH] for t in tensors)).backward()
        optimizer.step()
    weights = _relative(
        pair
        for linear, d in zip(net.linears, dense)
        for pair in ((d.weights, linear.weight.detach().numpy().T),
                     (d.bias, linear.bias.detach().numpy()))
    )
    return gradient, weights


if __name__ == "__main__":
    gradient, weights = compare()
    print(f"graph (2 inputs, residual Add, Concatenate, 2 outputs, loss_weights {WEIGHTS}), "
          f"float64, PyTorch {torch.__version__}:")
    print(f"  gradients, first step: {gradient:.1e}; weights after {STEPS} Adam steps: "
          f"{weights:.1e}")
