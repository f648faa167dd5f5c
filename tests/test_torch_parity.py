"""PyTorch (float64) as the reference: the graph comparison of benchmarks/parity_graph.py must
agree to 1e-7, for the gradients of the first batch and the weights after 20 Adam steps."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

torch = pytest.importorskip("torch")

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "parity_graph.py"


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_two_input_two_output_graph_trains_as_pytorch_does():
    gradient, weights = _load("parity_graph", _PATH).compare()
    assert gradient < 1e-7 and weights < 1e-7


def test_the_comparison_notices_a_different_loss_weight():
    module = _load("parity_graph_mutated", _PATH)

    def other_weight(net, xa, xb, labels, targets):  # PyTorch's side only: 1.8 for 1.9
        logits, box = net(xa, xb)
        cross_entropy = -(labels * torch.log_softmax(logits, 1)).sum(1).mean()
        return 0.7 * cross_entropy + 1.8 * ((box - targets) ** 2).mean()

    module.torch_loss = other_weight
    gradient, weights = module.compare()
    assert gradient > 1e-3 and weights > 1e-3
