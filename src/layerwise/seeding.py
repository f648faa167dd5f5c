"""Where randomness comes from: one library-wide seed sequence, never NumPy's global state.

Every consumer of randomness (an initializer, a model's shuffling, a dropout layer) takes its own
``numpy.random.Generator``, spawned from the library's seed sequence or built from an explicit
``seed=``. After :func:`set_seed`, the same program draws the same numbers in the same order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["set_seed", "make_rng"]

# Created on first use: numpy.random costs ~20 ms to import, and `import layerwise` need not.
_sequence = None


def set_seed(seed: int) -> None:
    """Seed every source of randomness that layerwise creates from now on.

    Two runs of the same program that call ``set_seed(n)`` first are bit-for-bit identical on
    the same machine (same initial weights, shuffling and dropout masks).
    """
    global _sequence
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument 'seed' must be a non-negative integer; received {seed!r}.")
    _sequence = np.random.SeedSequence(int(seed))


def make_rng(seed: int | None = None) -> np.random.Generator:
    """A new generator: from ``seed`` if given, else the next child of the library's sequence."""
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Argument 'seed' must be a non-negative integer; received {seed!r}.")
        return np.random.default_rng(int(seed))
    global _sequence
    if _sequence is None:
        _sequence = np.random.SeedSequence()  # fresh entropy until set_seed is called
    return np.random.Generator(np.random.PCG64(_sequence.spawn(1)[0]))
