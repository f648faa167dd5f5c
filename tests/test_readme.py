"""The README's quickstart runs as written and does what it says."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_quickstart_runs_as_written():
    namespace: dict = {}
    exec(python_blocks()[0], namespace)  # the spec's example
    predictions = namespace["predictions"]
    assert predictions.shape == (4, 1) and predictions.dtype == np.float32
    assert isinstance(namespace["loss"], float)


def test_the_readme_shows_the_two_set_up_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_the_graph_and_sequential_examples_run_as_written():
    blocks = [b for b in python_blocks() if "Model([text, table]" in b or "Sequential([" in b]
    assert len(blocks) == 2
    namespace: dict = {}
    exec(blocks[0], namespace)
    assert sorted(namespace["model"].history) == [
        "box_loss", "label_accuracy", "label_loss", "loss"]
    assert namespace["label_p"].shape == (64, 3) and namespace["box_p"].shape == (64, 2)
    exec(blocks[1], namespace)
    assert namespace["model"].output_shape == (1,)
