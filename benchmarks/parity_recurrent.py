"""Training steps of an Embedding + LSTM (or GRU) classifier in layerwise against PyTorch's.

The same weights (Keras' layouts mapped to PyTorch's gate orders), the same batches, 20 Adam
steps in float64; prints the largest weight difference relative to the weight's scale (1e-15
is rounding). Used by parity_torch.py's table and by tests/test_sequence_parity.py.

    .venv/bin/python benchmarks/parity_recurrent.py
"""

from __future__ import annotations

import numpy as np
import torch

import layerwise
from layerwise import GRU, LSTM, Dense, Embedding, Input, Model, optimizers

STEPS, BATCH, VOCABULARY, LENGTH, WIDTH, UNITS = 20, 16, 50, 10, 8, 6


def _to_torch(cell: str, a: np.ndarray) -> np.ndarray:
    """Keras' gate blocks along the last axis in PyTorch's order (GRU z r h -> r z n)."""
    if cell == "gru":
        u = a.shape[-1] // 3
        return np.concatenate([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], axis=-1)
    return a


def run(cell: str = "lstm", clipnorm: float | None = None) -> float:
    """Largest relative weight difference after ``STEPS`` Adam steps."""
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCABULARY, size=(STEPS * BATCH, LENGTH))
    y = rng.integers(0, 2, size=(len(x), 1)).astype(float)

    layerwise.set_seed(2)
    ids = Input((LENGTH,), dtype="int32")
    table = Embedding(VOCABULARY, WIDTH, embeddings_initializer="random_normal")
    recurrent = (LSTM if cell == "lstm" else GRU)(UNITS, bias_initializer="random_normal")
    head = Dense(1, activation="sigmoid")
    model = Model(ids, head(recurrent(table(ids))))
    options = {} if clipnorm is None else {"clipnorm": clipnorm}
    model.compile(loss_fn="binary_crossentropy", optimizer=optimizers.Adam(0.01, **options),
                  dtype="float64")

    embedding = torch.nn.Embedding(VOCABULARY, WIDTH)
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(WIDTH, UNITS, batch_first=True)
    linear = torch.nn.Linear(UNITS, 1)
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(table.embeddings))
        rnn.weight_ih_l0.copy_(torch.from_numpy(_to_torch(cell, recurrent.kernel).T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(
            _to_torch(cell, recurrent.recurrent_kernel).T.copy()))
        bias = recurrent.bias
        b_ih, b_hh = (bias[0], bias[1]) if cell == "gru" else (bias, np.zeros_like(bias))
        rnn.bias_ih_l0.copy_(torch.from_numpy(_to_torch(cell, b_ih).copy()))
        rnn.bias_hh_l0.copy_(torch.from_numpy(_to_torch(cell, b_hh).copy()))
        linear.weight.copy_(torch.from_numpy(head.weights.T.copy()))
        linear.bias.copy_(torch.from_numpy(head.bias.copy()))
    if cell == "lstm":  # Keras has one LSTM bias: PyTorch's second one stays at zero, untrained
        rnn.bias_hh_l0.requires_grad_(False)
    params = [p for module in (embedding, rnn, linear) for p in module.parameters()
              if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=0.01, eps=1e-7)

    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for start in range(0, len(x), BATCH):
        optimizer.zero_grad()
        out, _ = rnn(embedding(tx[start:start + BATCH]))
        z = linear(out[:, -1])
        torch.nn.functional.binary_cross_entropy_with_logits(z, ty[start:start + BATCH]).backward()
        if clipnorm is not None:  # Keras' clipnorm: each array by its own norm (written out:
            for p in params:  # clip_grad_norm_ adds 1e-6 to the norm, Keras does not)
                p.grad *= clipnorm / max(float(p.grad.norm()), clipnorm)
        optimizer.step()

    bias = rnn.bias_ih_l0.detach().numpy()
    if cell == "gru":
        theirs_bias = np.stack([_to_torch(cell, bias), _to_torch(cell, rnn.bias_hh_l0.detach()
                                                                 .numpy())])
    else:
        theirs_bias = bias + rnn.bias_hh_l0.detach().numpy()
    pairs = [
        (table.embeddings, embedding.weight.detach().numpy()),
        (recurrent.kernel, _to_torch(cell, rnn.weight_ih_l0.detach().numpy().T)),
        (recurrent.recurrent_kernel, _to_torch(cell, rnn.weight_hh_l0.detach().numpy().T)),
        (recurrent.bias, theirs_bias),
        (head.weights, linear.weight.detach().numpy().T),
        (head.bias, linear.bias.detach().numpy()),
    ]
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in pairs)


def rows() -> list[tuple[str, float]]:
    """The table rows: (network, largest relative difference)."""
    return [
        ("Embedding + LSTM, Adam", run("lstm")),
        ("Embedding + GRU, Adam", run("gru")),
        ("Embedding + LSTM, Adam with clipnorm=0.1", run("lstm", clipnorm=0.1)),
    ]


if __name__ == "__main__":
    for name, worst in rows():
        print(f"| {name} | {worst:.1e} |")
