"""20 Adam steps of Embedding + LSTM/GRU classifiers equal PyTorch's (parity_recurrent.py)."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import parity_recurrent  # noqa: E402


@pytest.mark.parametrize("cell,clipnorm", [("lstm", None), ("gru", None), ("lstm", 0.1)])
def test_twenty_adam_steps_equal_pytorch(cell, clipnorm):
    assert parity_recurrent.run(cell, clipnorm) < 1e-9
