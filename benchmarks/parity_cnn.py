"""Adam steps of a small CNN in layerwise against PyTorch, from the same weights on the same
batches, in float64: Conv2D (relu) -> MaxPooling2D -> Conv2D ('same', tanh) -> AveragePooling2D
('same', padding not counted) -> Flatten -> Dense, with three output heads. Used by
parity_torch.py's table and by tests/test_conv.py; no global settings are changed.

    .venv/bin/python benchmarks/parity_cnn.py
"""

from __future__ import annotations

import numpy as np
import torch

import layerwise
from layerwise import AveragePooling2D, Conv2D, Dense, Flatten, Input, MaxPooling2D, Model

STEPS, BATCH = 20, 16
F = torch.nn.functional
HEADS = {  # output activation, layerwise loss, torch loss on the pre-activation z
    "softmax + cross-entropy": ("softmax", "categorical_crossentropy",
                                lambda z, y: -(y * torch.log_softmax(z, 1)).sum(1).mean()),
    "sigmoid + binary cross-entropy": ("sigmoid", "binary_crossentropy",
                                       F.binary_cross_entropy_with_logits),
    "linear + MSE": ("linear", "mse", lambda z, y: ((z - y) ** 2).mean()),
}


def _torch_conv(x, layer):
    kernel = torch.from_numpy(layer.kernel.transpose(3, 2, 0, 1).copy()).requires_grad_(True)
    bias = torch.from_numpy(layer.bias.copy()).requires_grad_(True)
    return kernel, bias


def largest_difference(head: str = "softmax + cross-entropy") -> float:
    """Largest difference of any weight after ``STEPS`` Adam steps, relative to its scale."""
    activation, loss, torch_loss = HEADS[head]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * BATCH, 8, 8, 2))
    if activation == "softmax":
        y = np.eye(3)[rng.integers(0, 3, len(x))]
    elif activation == "sigmoid":
        y = rng.integers(0, 2, (len(x), 3)).astype(float)
    else:
        y = rng.normal(size=(len(x), 3))
    layerwise.set_seed(1)
    inputs = Input((8, 8, 2))
    conv1 = Conv2D(4, 3, activation="relu", bias_initializer="random_normal")
    conv2 = Conv2D(5, 2, padding="same", activation="tanh", bias_initializer="random_normal")
    dense = Dense(3, activation=activation)
    h = MaxPooling2D(2)(conv1(inputs))                       # (3, 3, 4)
    h = AveragePooling2D(2, padding="same")(conv2(h))          # (2, 2, 5)
    model = Model(inputs, dense(Flatten()(h)))
    model.compile(loss_fn=loss, optimizer=layerwise.optimizers.Adam(0.01), dtype="float64")

    k1, b1 = _torch_conv(x, conv1)
    k2, b2 = _torch_conv(x, conv2)
    w = torch.from_numpy(dense.weights.T.copy()).requires_grad_(True)
    b = torch.from_numpy(dense.bias.copy()).requires_grad_(True)
    params = [k1, b1, k2, b2, w, b]
    optimizer = torch.optim.Adam(params, lr=0.01, eps=1e-7)

    def net(batch):
        h = F.max_pool2d(torch.relu(F.conv2d(batch, k1, b1)), 2)
        h = torch.tanh(F.conv2d(F.pad(h, (0, 1, 0, 1)), k2, b2))   # 'same' for a 2x2 kernel
        padded = F.pad(h, (0, 1, 0, 1))                             # 3x3 -> 4x4, mean of real
        sums = F.avg_pool2d(padded, 2, divisor_override=1)
        counts = F.avg_pool2d(F.pad(torch.ones_like(h[:1, :1]), (0, 1, 0, 1)), 2,
                              divisor_override=1)
        h = (sums / counts).permute(0, 2, 3, 1).flatten(1)          # channels-last order
        return F.linear(h, w, b)

    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    tx = torch.from_numpy(x).permute(0, 3, 1, 2)
    ty = torch.from_numpy(y)
    for start in range(0, len(x), BATCH):
        optimizer.zero_grad()
        torch_loss(net(tx[start : start + BATCH]), ty[start : start + BATCH]).backward()
        optimizer.step()
    pairs = [(conv1.kernel, k1.detach().numpy().transpose(2, 3, 1, 0)),
             (conv1.bias, b1.detach().numpy()),
             (conv2.kernel, k2.detach().numpy().transpose(2, 3, 1, 0)),
             (conv2.bias, b2.detach().numpy()),
             (dense.weights, w.detach().numpy().T), (dense.bias, b.detach().numpy())]
    return max(float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
               for ours, theirs in pairs)


def main() -> None:
    print(f"Small CNN, {STEPS} Adam steps (float64), layerwise vs PyTorch {torch.__version__}:")
    for head in HEADS:
        print(f"  {head}: {largest_difference(head):.1e}")


if __name__ == "__main__":
    main()
