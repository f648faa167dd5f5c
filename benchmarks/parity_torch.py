"""Training steps of layerwise against PyTorch's, from the same weights on the same batches.

For each optimizer, an MLP (tanh, ReLU, GELU and a softmax output with categorical
cross-entropy; a sigmoid output with binary cross-entropy; a linear output with MSE) is trained
for a few steps in both libraries in float64, and the largest difference of any weight is
printed, relative to the weight's scale. Differences at the level of 1e-15..1e-13 are float
rounding (summation order); anything above 1e-9 would be a different computation.

The last row trains a small CNN (parity_cnn.py) with Adam.

The network is small, so the direct BLAS calls that large layers take (layerwise._blas: the
SGD step folded into the weight-gradient product, Adam's and momentum's one-pass updates) are
switched on for every size here; the tests show that they equal the NumPy path.

    .venv/bin/python benchmarks/parity_torch.py        # needs torch (the [bench] extra)
"""

from __future__ import annotations

import numpy as np
import parity_cnn
import parity_recurrent
import torch

import layerwise
from layerwise import Dense, Input, Model, _blas, optimizers

_blas.MIN_SIZE = 0  # see the docstring

torch.set_default_dtype(torch.float64)
STEPS, BATCH = 20, 16

OPTIMIZERS = {
    "SGD": (lambda: optimizers.SGD(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "SGD momentum": (lambda: optimizers.SGD(0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "SGD Nesterov": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "Adam": (lambda: optimizers.Adam(0.01),
             lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7)),
    "AdamW": (lambda: optimizers.AdamW(0.01, weight_decay=0.004),
              lambda p: torch.optim.AdamW(p, lr=0.01, eps=1e-7, weight_decay=0.004)),
    "RMSprop": (lambda: optimizers.RMSprop(0.01),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7)),
}

HEADS = {  # output activation, layerwise loss, torch loss on the pre-activation z
    "softmax + cross-entropy": ("softmax", "categorical_crossentropy",
                                lambda z, y: -(y * torch.log_softmax(z, 1)).sum(1).mean()),
    "sigmoid + binary cross-entropy": ("sigmoid", "binary_crossentropy",
                                       torch.nn.functional.binary_cross_entropy_with_logits),
    "linear + MSE": ("linear", "mse", lambda z, y: ((z - y) ** 2).mean()),
}


def run(optimizer_name: str, head: str) -> float:
    make_ours, make_theirs = OPTIMIZERS[optimizer_name]
    activation, loss, torch_loss = HEADS[head]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * BATCH, 12))
    if activation == "softmax":
        y = np.eye(4)[rng.integers(0, 4, len(x))]
    elif activation == "sigmoid":
        y = rng.integers(0, 2, (len(x), 4)).astype(float)
    else:
        y = rng.normal(size=(len(x), 4))

    layerwise.set_seed(1)
    inputs = Input(shape=(12,))
    h = Dense(16, activation="tanh", bias_initializer="random_normal")(inputs)
    h = Dense(16, activation="relu", weights_initializer="he_normal")(h)
    h = Dense(8, activation="gelu")(h)
    model = Model(inputs, Dense(4, activation=activation)(h))
    model.compile(loss_fn=loss, optimizer=make_ours(), dtype="float64")

    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    linears = [torch.nn.Linear(d.input_size, d.output_size) for d in dense]
    with torch.no_grad():
        for linear, d in zip(linears, dense):
            linear.weight.copy_(torch.from_numpy(d.weights.T.copy()))
            linear.bias.copy_(torch.from_numpy(d.bias.copy()))
    net = torch.nn.Sequential(linears[0], torch.nn.Tanh(), linears[1], torch.nn.ReLU(),
                              linears[2], torch.nn.GELU(), linears[3])
    optimizer = make_theirs(net.parameters())

    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for start in range(0, len(x), BATCH):
        optimizer.zero_grad()
        torch_loss(net(tx[start : start + BATCH]), ty[start : start + BATCH]).backward()
        optimizer.step()

    worst = 0.0
    for linear, d in zip(linears, dense):
        for ours, theirs in ((d.weights, linear.weight.detach().numpy().T),
                             (d.bias, linear.bias.detach().numpy())):
            worst = max(worst, float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))))
    return worst


def main() -> None:
    print(f"Largest relative weight difference after {STEPS} steps (float64), "
          f"layerwise vs PyTorch {torch.__version__}:\n")
    print("| optimizer | " + " | ".join(HEADS) + " |")
    print("|---" * (len(HEADS) + 1) + "|")
    for name in OPTIMIZERS:
        cells = [f"{run(name, head):.1e}" for head in HEADS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    # The CNN row: Conv2D, MaxPooling2D, Conv2D 'same', AveragePooling2D 'same' (parity_cnn.py).
    cells = [f"{parity_cnn.largest_difference(head):.1e}" for head in HEADS]
    print("| Adam, small CNN | " + " | ".join(cells) + " |")
    print("\nSequence models (benchmarks/parity_recurrent.py), same measure:\n")
    print("| network | largest relative difference |\n|---|---|")
    for name, worst in parity_recurrent.rows():
        print(f"| {name} | {worst:.1e} |")


if __name__ == "__main__":
    main()
