"""Run by plain Python (no mpiexec): an MPIStrategy of one process changes nothing. Prints a
JSON report for the test."""

import json
import sys

import numpy as np

from distributed_cases import classifier, data
from layerwise.distributed import MPIStrategy
from layerwise.metrics import Metric

report = {"mpi4py_after_import": "mpi4py" in sys.modules}
strategy = MPIStrategy()
report["size"], report["rank"], report["chief"] = strategy.size, strategy.rank, strategy.is_chief
x, y = data()
plain = classifier("adam", True, "float64")
plain.fit(x, y, epochs=2, batch_size=8, verbose=0)
distributed = classifier("adam", True, "float64", distribute=strategy)
distributed.fit(x, y, epochs=2, batch_size=8, verbose=0)
report["identical"] = all(
    np.array_equal(a, b) for a, b in zip(plain.get_weights(), distributed.get_weights())
)


class NoMerge(Metric):
    name = "no_merge"

    def reset(self):
        self.total = 0

    def update(self, y_true, y_pred):
        self.total += 1

    def result(self):
        return float(self.total)


model = classifier("sgd")
before = model.optimizer
for argument in (42, "horovod", MPIStrategy):
    try:
        model.compile(distribute=argument)
    except TypeError as error:
        report.setdefault("refused", []).append(str(error))
try:
    model.compile(metrics=[NoMerge()], distribute=strategy)
except TypeError as error:
    report["no_merge"] = str(error)
weights = model.get_weights()
try:
    model.fit(x, y, epochs=1, verbose=0, distribute="horovod")
except TypeError as error:
    report["fit_refused"] = str(error)
report["unchanged"] = (model.optimizer is before and model.distribute is None
                       and all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights())))
model.compile(distribute="mpi")
report["mpi_string"] = type(model.distribute).__name__
print(json.dumps(report))
