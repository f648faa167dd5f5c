"""Saves killed by SIGKILL at random moments: the file at the path always loads and holds one
whole save (never a mix of two), and the next save removes the temporaries the kills left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import layerwise

CHILD = textwrap.dedent(
    """
    import sys
    import layerwise
    from layerwise import Dense, Input, Model

    def model(seed):
        layerwise.set_seed(seed)
        inputs = Input((512,))
        return Model(inputs, Dense(512)(Dense(512, activation="relu")(inputs)))

    folder = sys.argv[1]
    models = [model(1), model(2)]
    for i, m in enumerate(models):
        m.save(f"{folder}/ref{i}.safetensors")
    print("ready", flush=True)
    i = 0
    while True:
        models[i % 2].save(f"{folder}/target.safetensors")
        i += 1
    """
)

# At least this many kills, and on until one lands inside a write (at most MAX_KILLS).
KILLS = int(os.environ.get("LAYERWISE_CRASH_KILLS", "5"))
MAX_KILLS = max(KILLS, 40)


def test_killed_saves_never_leave_a_broken_or_mixed_file(tmp_path):
    rng = np.random.default_rng(0)
    references = None
    for kill in range(MAX_KILLS):
        if kill >= KILLS and any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
            break
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        if references is None:
            references = [
                [w for w in layerwise.load_model(tmp_path / f"ref{i}.safetensors").get_weights()]
                for i in range(2)
            ]
        time.sleep(float(rng.uniform(0.005, 0.15)))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        target = tmp_path / "target.safetensors"
        if not target.exists():
            continue
        weights = layerwise.load_model(target).get_weights()
        matches = [all(np.array_equal(a, b) for a, b in zip(weights, ref)) for ref in references]
        assert any(matches), f"kill {kill}: the file mixes two saves"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    layerwise.load_model(tmp_path / "ref0.safetensors").save(tmp_path / "target.safetensors")
    remaining = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert remaining == []
    assert leftovers, "no kill landed inside a save: the test did not test the cleanup"
