"""Benchmark the text classifier of issue 12 against PyTorch (CPU), interleaved, same threads.

``Input((80,), dtype='int32')`` -> ``Embedding(10000, 64)`` -> ``LSTM(64)`` (or ``GRU(64)``) ->
``Dense(1, sigmoid)``, binary cross-entropy, Adam, batch 64, float32, one epoch over synthetic
token sequences (labels from a planted rule, so the loss falls). PyTorch runs the same network
(``nn.Embedding``, ``nn.LSTM``/``nn.GRU`` with ``batch_first=True``, ``nn.Linear`` and
``BCEWithLogitsLoss``, ``torch.optim.Adam``), a new ``randperm`` order each epoch and
``loss.item()`` every step, as ``fit`` computes its loss every step.

    python benchmarks/recurrent.py                       # 25,000 sequences, 3 rounds, LSTM and GRU
    python benchmarks/recurrent.py --samples 6400 --rounds 2 --cells lstm --threads 1
    python benchmarks/recurrent.py --profile lstm        # cProfile of one layerwise epoch

Prints one line per timing (``-v``) and a Markdown table of medians and ratios (PyTorch's time
over layerwise's: above 1 means layerwise is faster).
"""

from __future__ import annotations

import argparse
import os
import sys


def _args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--profile", default=None, help="profile one layerwise epoch of a cell")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


ARGS = _args()
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(ARGS.threads)  # before NumPy and PyTorch load their pools

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import interleaved, median  # noqa: E402

import layerwise  # noqa: E402

VOCABULARY, STEPS, WIDTH, UNITS, BATCH = 10_000, 80, 64, 64, 64


def data(samples: int, seed: int = 0):
    """Token ids ``(samples, 80)`` and labels: 1 when a marker token occurs in the sequence."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCABULARY, size=(samples, STEPS)).astype(np.int32)
    y = (np.isin(x, np.arange(1, 200)).sum(axis=1) >= 2).astype(np.float32)
    return x, y


def layerwise_model(cell: str):
    layerwise.set_seed(0)
    ids = layerwise.Input((STEPS,), dtype="int32")
    vectors = layerwise.Embedding(VOCABULARY, WIDTH)(ids)
    recurrent = (layerwise.LSTM if cell == "lstm" else layerwise.GRU)(UNITS)(vectors)
    model = layerwise.Model(ids, layerwise.Dense(1, activation="sigmoid")(recurrent))
    model.compile(loss_fn="binary_crossentropy", optimizer="adam", dtype="float32")
    return model


def torch_contender(cell: str, x: np.ndarray, y: np.ndarray):
    import torch

    torch.set_num_threads(ARGS.threads)
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCABULARY, WIDTH)
            rnn = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
            self.rnn = rnn(WIDTH, UNITS, batch_first=True)
            self.head = torch.nn.Linear(UNITS, 1)

        def forward(self, ids):
            outputs, _ = self.rnn(self.embedding(ids))
            return self.head(outputs[:, -1])

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y[:, None])

    def epoch():
        order = torch.randperm(len(xt))
        total = 0.0
        for start in range(0, len(xt), BATCH):
            index = order[start:start + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(net(xt[index]), yt[index])
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total / ((len(xt) + BATCH - 1) // BATCH)

    return epoch


def main() -> None:
    x, y = data(ARGS.samples)
    warm_x, warm_y = x[:1024], y[:1024]
    if ARGS.profile:
        import cProfile
        import pstats

        model = layerwise_model(ARGS.profile)
        model.fit(warm_x, warm_y, epochs=1, batch_size=BATCH, verbose=0)
        cProfile.runctx("model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)", globals(),
                        {"model": model, "x": x, "y": y, "BATCH": BATCH}, "/tmp/recurrent.prof")
        pstats.Stats("/tmp/recurrent.prof").sort_stats("tottime").print_stats(15)
        return
    rows = []
    for cell in ARGS.cells.split(","):
        model = layerwise_model(cell)
        torch_epoch = torch_contender(cell, x, y)
        torch_warm = torch_contender(cell, warm_x, warm_y)
        contenders = {
            "layerwise": lambda m=model: m.fit(x, y, epochs=1, batch_size=BATCH, verbose=0),
            "pytorch": torch_epoch,
        }
        warm = {"layerwise": lambda m=model: m.fit(warm_x, warm_y, epochs=1, batch_size=BATCH,
                                                   verbose=0),
                "pytorch": torch_warm}
        timings = interleaved(contenders, ARGS.rounds, warm, log=print if ARGS.verbose else None)
        ours, theirs = (median(timings[k]["seconds"]) for k in ("layerwise", "pytorch"))
        ratios = [t / o for o, t in zip(timings["layerwise"]["seconds"],
                                        timings["pytorch"]["seconds"])]
        rows.append((cell, ours, theirs, theirs / ours, min(ratios), max(ratios),
                     timings["layerwise"]["results"][-1], timings["pytorch"]["results"][-1]))
    print(f"\n{ARGS.samples:,} sequences of {STEPS} ids, batch {BATCH}, float32, Adam, "
          f"{ARGS.threads} thread(s), {ARGS.rounds} interleaved rounds (medians)\n")
    print("| network | layerwise epoch | PyTorch epoch | ratio (PyTorch time / ours) | "
          "range over rounds | target | met? |")
    print("|---|---|---|---|---|---|---|")
    for cell, ours, theirs, ratio, low, high, _, _ in rows:
        name = "Embedding + LSTM(64)" if cell == "lstm" else "Embedding + GRU(64)"
        met = "yes" if ratio >= 1.0 else "**no**"
        print(f"| {name} | {ours:.2f} s ({ARGS.samples / ours:,.0f} seq/s) | {theirs:.2f} s | "
              f"{ratio:.2f}x | {low:.2f}-{high:.2f} | >= 1.0x | {met} |")
    for cell, *_, loss_ours, loss_theirs in rows:
        print(f"{cell}: last epoch's loss, layerwise {loss_ours:.4f}, PyTorch {loss_theirs:.4f}")


if __name__ == "__main__":
    main()
