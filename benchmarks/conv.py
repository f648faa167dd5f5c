"""Benchmark layerwise's CNN against PyTorch (CPU) on Keras' ``mnist_convnet`` recipe (issue 11).

Input((28, 28, 1)), Conv2D(32, 3, relu), MaxPooling2D(2), Conv2D(64, 3, relu), MaxPooling2D(2),
Flatten, Dropout(0.5), Dense(10, softmax); Adam (1e-3, epsilon 1e-7), categorical cross-entropy,
batch 128, float32, on 60,000 random MNIST-shaped images (standard normal, random labels).

- train: one shuffled epoch of ``model.fit`` against the same network in PyTorch (NCHW, its
  natural layout; ``randperm`` and indexing, ``CrossEntropyLoss`` on logits), interleaved in one
  process with the same thread count (threadpoolctl for OpenBLAS, ``torch.set_num_threads``);
- predict: ``model.predict`` on 10,000 images against PyTorch under ``inference_mode`` in
  batches of the same size;
- memory: peak resident memory of one layerwise ``fit`` epoch above the process with the data
  loaded and the model compiled, measured in a fresh process (VmHWM reset before the epoch).

    python benchmarks/conv.py                       # ~3 minutes on 2 cores
    python benchmarks/conv.py --rounds 2 --samples 12000 --skip memory   # a quick look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import interleaved, median, thread_environment, usable_cores  # noqa: E402

BATCH = 128
CLASSES = 10
ADAM_RATE, ADAM_EPSILON = 1e-3, 1e-7
MEMORY_LIMIT_MB = 200.0


def make_data(samples: int, seed: int = 0):
    """Images ``(n, 28, 28, 1)`` float32, integer labels and their one-hot rows."""
    rng = np.random.default_rng(seed)
    x = np.empty((samples, 28, 28, 1), np.float32)
    rng.standard_normal(out=x, dtype=np.float32)
    labels = rng.integers(0, CLASSES, samples)
    onehot = np.zeros((samples, CLASSES), np.float32)
    onehot[np.arange(samples), labels] = 1
    return x, labels, onehot


def layerwise_model():
    """The recipe in layerwise, compiled with Adam."""
    import layerwise
    from layerwise import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Model

    layerwise.set_seed(0)
    inputs = Input((28, 28, 1))
    x = Conv2D(32, 3, activation="relu")(inputs)
    x = MaxPooling2D(2)(x)
    x = Conv2D(64, 3, activation="relu")(x)
    x = MaxPooling2D(2)(x)
    x = Dropout(0.5)(Flatten()(x))
    model = Model(inputs, Dense(CLASSES, activation="softmax")(x))
    model.compile(
        loss_fn="categorical_crossentropy",
        optimizer=layerwise.optimizers.Adam(learning_rate=ADAM_RATE, epsilon=ADAM_EPSILON),
    )
    return model


class TorchCNN:
    """The same network in PyTorch, trained the idiomatic fast way on the CPU."""

    def __init__(self, x: np.ndarray, labels: np.ndarray) -> None:
        import torch
        from torch import nn

        self.torch = torch
        torch.manual_seed(0)
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, CLASSES),
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=ADAM_RATE, eps=ADAM_EPSILON)
        self.loss_fn = nn.CrossEntropyLoss()
        self.x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        self.y = torch.from_numpy(labels)
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self, samples: int) -> float:
        torch, model, optimizer = self.torch, self.model, self.optimizer
        model.train()
        order = torch.randperm(samples, generator=self.generator)
        total = 0.0
        for start in range(0, samples, BATCH):
            index = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = self.loss_fn(model(self.x[index]), self.y[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        return total / samples

    def predict(self, x, batch_size: int):
        torch = self.torch
        self.model.eval()
        with torch.inference_mode():
            return torch.cat([torch.softmax(self.model(x[s : s + batch_size]), dim=1)
                              for s in range(0, len(x), batch_size)]).numpy()


def limit_threads(threads: int):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)  # every BLAS/OpenMP library loaded so far


def memory_child(samples: int, threads: int) -> None:
    """In a fresh process: peak RSS of one fit epoch above the loaded, compiled state."""
    from memory_child import _reset_peak, _status_kib
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    x, _, onehot = make_data(samples)
    model = layerwise_model()
    np.ones((256, 256), np.float32) @ np.ones((256, 256), np.float32)  # BLAS buffers exist
    before = _status_kib("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    loss = float(model.fit(x, onehot, epochs=1, batch_size=BATCH, verbose=0))
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    print(json.dumps({
        "data_mb": (x.nbytes + onehot.nbytes) / 2**20, "overhead_mb": (peak - before) / 1024,
        "peak_reset": reset, "seconds": seconds, "loss": loss,
    }))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=usable_cores())
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs each")
    parser.add_argument("--predict-samples", type=int, default=10_000)
    parser.add_argument("--predict-rounds", type=int, default=5)
    parser.add_argument("--predict-batch", type=int, default=None,
                        help="batch size of both predicts (default: layerwise's predict default)")
    parser.add_argument("--skip", default="", help="comma-separated: train,predict,memory")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args.samples, args.threads)
    skip = set(filter(None, args.skip.split(",")))
    limits = limit_threads(args.threads)
    import layerwise

    results = {"threads": args.threads, "threadpools": limits.get_original_num_threads()}
    print(f"threads {args.threads}; layerwise {layerwise.__version__}", flush=True)
    x, labels, onehot = make_data(args.samples)
    if "train" not in skip:
        model, peer = layerwise_model(), TorchCNN(x, labels)
        warm = min(args.samples, 4096)
        timings = interleaved(
            {"layerwise": lambda: float(model.fit(x, onehot, epochs=1, batch_size=BATCH,
                                                  verbose=0)),
             "torch": lambda: peer.epoch(args.samples)},
            args.rounds,
            warm_ups={"layerwise": lambda: model.fit(x[:warm], onehot[:warm], epochs=1,
                                                     batch_size=BATCH, verbose=0),
                      "torch": lambda: peer.epoch(warm)},
            log=print,
        )
        seconds = {name: median(t["seconds"]) for name, t in timings.items()}
        results["train"] = {"seconds": seconds, "ratio": seconds["torch"] / seconds["layerwise"],
                            "all": {n: t["seconds"] for n, t in timings.items()}}
        print(f"train epoch: layerwise {seconds['layerwise']:.2f} s, torch "
              f"{seconds['torch']:.2f} s -> {results['train']['ratio']:.2f}x torch's throughput",
              flush=True)
    if "predict" not in skip:
        model, peer = layerwise_model(), TorchCNN(x[:1], labels[:1])
        test = make_data(args.predict_samples, seed=1)[0]
        test_t = peer.torch.from_numpy(np.ascontiguousarray(test.transpose(0, 3, 1, 2)))
        size = args.predict_batch or model._predict_batch()  # what predict(test) would take
        timings = interleaved(
            {"layerwise": lambda: model.predict(test, batch_size=args.predict_batch),
             "torch": lambda: peer.predict(test_t, size)},
            args.predict_rounds, log=print,
        )
        seconds = {name: median(t["seconds"]) for name, t in timings.items()}
        results["predict"] = {"seconds": seconds, "batch_size": size,
                              "ratio": seconds["torch"] / seconds["layerwise"]}
        print(f"predict {args.predict_samples} (batches of {size}): layerwise "
              f"{seconds['layerwise']:.3f} s, torch {seconds['torch']:.3f} s -> "
              f"{results['predict']['ratio']:.2f}x", flush=True)
    if "memory" not in skip:
        completed = subprocess.run(
            [sys.executable, __file__, "--memory-child", f"--samples={args.samples}",
             f"--threads={args.threads}"],
            env=thread_environment(args.threads), capture_output=True, text=True, check=True,
        )
        memory = json.loads(completed.stdout.strip().splitlines()[-1])
        results["memory"] = memory
        verdict = "within" if memory["overhead_mb"] <= MEMORY_LIMIT_MB else "OVER"
        print(f"fit peak memory above the data: {memory['overhead_mb']:.1f} MB ({verdict} the "
              f"{MEMORY_LIMIT_MB:.0f} MB limit; data {memory['data_mb']:.1f} MB)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
