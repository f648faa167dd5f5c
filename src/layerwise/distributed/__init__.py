"""Synchronous data-parallel training over MPI (``pip install "layerwise[mpi]"``).

Every process holds a copy of the model and trains on its share of each batch; the gradients
are averaged with one allreduce per step before every update, so all processes apply the same
update. The same script runs on one process or on N::

    from layerwise.distributed import MPIStrategy

    strategy = MPIStrategy()                      # MPI.COMM_WORLD; size 1 without mpiexec
    model.compile(loss_fn='categorical_crossentropy', optimizer='adam', distribute=strategy)
    model.fit(x_train, y_train, epochs=10, batch_size=64)   # 64 samples per process and step
    model.save('model.safetensors')               # written by rank 0 only

    # mpiexec -n 4 python train.py

``mpi4py`` is imported when an :class:`MPIStrategy` is created, never by ``import layerwise``.
"""

from __future__ import annotations

from ..exceptions import DistributedError
from .strategy import MPIStrategy, check_distribute

__all__ = ["MPIStrategy", "DistributedError", "check_distribute"]
