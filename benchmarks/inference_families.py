"""More rows of the one-sample predict benchmark (``run.py --only families``): the layer families
that ``inference.py``'s three models leave out, each as a small model in layerwise and as idiomatic
torch.nn modules with the same weights (checked equal before timing).

- GRU, SimpleRNN: as the LSTM row (20 steps of 8 features, 32 units, a softmax head);
- Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D: a 1-D CNN over 64 steps;
- Embedding, Bidirectional: token ids into a bidirectional LSTM;
- LayerNormalization, Activation, Reshape, Subtract, Multiply, Average, Maximum, Minimum,
  AveragePooling2D, GlobalMaxPooling2D: the remaining merge, reshaping and pooling layers.
"""

from __future__ import annotations

import numpy as np


def _check(model, network, x, torch_input):
    import torch

    with torch.inference_mode():
        expected = network(torch.from_numpy(torch_input)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-6)


def _copy(parameter, array):
    import torch

    with torch.no_grad():
        parameter.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _recurrent_rows():
    import torch

    import layerwise
    from layerwise import GRU, Dense, Input, Model, SimpleRNN

    rows = []
    sequence = np.random.default_rng(1).standard_normal((1, 20, 8)).astype(np.float32)
    for cell, torch_cell in ((GRU, torch.nn.GRU), (SimpleRNN, torch.nn.RNN)):
        layerwise.set_seed(0)
        tokens = Input((20, 8))
        model = Model(tokens, Dense(2, activation="softmax")(cell(32)(tokens)))
        model.compile(loss="categorical_crossentropy")
        kernel, recurrent, bias, w, b = model.get_weights()

        class Network(torch.nn.Module):
            def __init__(self, torch_cell=torch_cell):
                super().__init__()
                self.cell = torch_cell(8, 32, batch_first=True)
                self.head = torch.nn.Linear(32, 2)

            def forward(self, t):
                _, h = self.cell(t)
                return torch.softmax(self.head(h[-1]), dim=1)

        network = Network().eval()
        if cell is GRU:  # Keras' gates z, r, h are PyTorch's z, r, n in the order r, z, n
            def order(a):
                return np.concatenate([a[..., 32:64], a[..., :32], a[..., 64:]], axis=-1)

            _copy(network.cell.weight_ih_l0, order(kernel).T)
            _copy(network.cell.weight_hh_l0, order(recurrent).T)
            _copy(network.cell.bias_ih_l0, order(bias[0]))
            _copy(network.cell.bias_hh_l0, order(bias[1]))
        else:
            _copy(network.cell.weight_ih_l0, kernel.T)
            _copy(network.cell.weight_hh_l0, recurrent.T)
            _copy(network.cell.bias_ih_l0, bias)
            _copy(network.cell.bias_hh_l0, np.zeros_like(bias))
        _copy(network.head.weight, w.T)
        _copy(network.head.bias, b)
        _check(model, network, sequence, sequence)
        rows.append((cell.__name__, model, network, sequence, sequence))
    return rows


def _conv1d_row():
    import torch

    import layerwise
    from layerwise import (
        AveragePooling1D,
        Conv1D,
        Dense,
        GlobalMaxPooling1D,
        Input,
        MaxPooling1D,
        Model,
    )

    layerwise.set_seed(0)
    signal = np.random.default_rng(2).standard_normal((1, 64, 4)).astype(np.float32)
    inputs = Input((64, 4))
    h = MaxPooling1D(2)(Conv1D(16, 5, activation="relu")(inputs))
    h = AveragePooling1D(2)(Conv1D(32, 3, activation="relu")(h))
    model = Model(inputs, Dense(10, activation="softmax")(GlobalMaxPooling1D()(h)))
    model.compile(loss="categorical_crossentropy")
    k1, b1, k2, b2, w, b = model.get_weights()

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv1d(4, 16, 5), torch.nn.Conv1d(16, 32, 3)
            self.head = torch.nn.Linear(32, 10)

        def forward(self, t):  # t: (n, 4, 64), PyTorch's own layout
            h = torch.max_pool1d(torch.relu(self.c1(t)), 2)
            h = torch.nn.functional.avg_pool1d(torch.relu(self.c2(h)), 2)
            return torch.softmax(self.head(h.amax(dim=2)), dim=1)

    network = Network().eval()
    for conv, kernel, bias in ((network.c1, k1, b1), (network.c2, k2, b2)):
        _copy(conv.weight, kernel.transpose(2, 1, 0))
        _copy(conv.bias, bias)
    _copy(network.head.weight, w.T)
    _copy(network.head.bias, b)
    ncl = np.ascontiguousarray(signal.transpose(0, 2, 1))
    _check(model, network, signal, ncl)
    return ("Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D", model, network, signal,
            ncl)


def _embedding_row():
    import torch

    import layerwise
    from layerwise import LSTM, Bidirectional, Dense, Embedding, Input, Model

    layerwise.set_seed(0)
    ids = np.random.default_rng(3).integers(1, 100, (1, 20)).astype(np.int64)
    inputs = Input((20,), dtype="int64")
    h = Bidirectional(LSTM(16))(Embedding(100, 16)(inputs))
    model = Model(inputs, Dense(2, activation="softmax")(h))
    model.compile(loss="categorical_crossentropy")
    table, *lstm_weights, w, b = model.get_weights()

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(100, 16)
            self.lstm = torch.nn.LSTM(16, 16, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(32, 2)

        def forward(self, t):
            _, (h, _) = self.lstm(self.embedding(t))
            return torch.softmax(self.head(torch.cat([h[0], h[1]], dim=1)), dim=1)

    network = Network().eval()
    _copy(network.embedding.weight, table)
    for suffix, (kernel, recurrent, bias) in (("", lstm_weights[:3]),
                                             ("_reverse", lstm_weights[3:])):
        _copy(getattr(network.lstm, "weight_ih_l0" + suffix), kernel.T)  # gates i f c o = i f g o
        _copy(getattr(network.lstm, "weight_hh_l0" + suffix), recurrent.T)
        _copy(getattr(network.lstm, "bias_ih_l0" + suffix), bias)
        _copy(getattr(network.lstm, "bias_hh_l0" + suffix), np.zeros_like(bias))
    _copy(network.head.weight, w.T)
    _copy(network.head.bias, b)
    _check(model, network, ids, ids)
    return ("Embedding, Bidirectional(LSTM)", model, network, ids, ids)


def _other_layers_row():
    import torch

    import layerwise
    from layerwise import (
        Activation,
        Average,
        AveragePooling2D,
        Dense,
        GlobalMaxPooling2D,
        Input,
        LayerNormalization,
        Maximum,
        Minimum,
        Model,
        Multiply,
        Reshape,
        Subtract,
    )

    layerwise.set_seed(0)
    x = np.random.default_rng(4).standard_normal((1, 64)).astype(np.float32)
    inputs = Input((64,))
    a = Dense(64)(inputs)
    b = Activation("tanh")(LayerNormalization()(Dense(64)(inputs)))
    h = Average()([Subtract()([a, b]), Multiply()([a, b])])
    h = Minimum()([Maximum()([h, a]), b])
    image = AveragePooling2D(2)(Reshape((8, 8, 1))(h))
    model = Model(inputs, Dense(10, activation="softmax")(GlobalMaxPooling2D()(image)))
    model.compile(loss="categorical_crossentropy")
    w1, b1, w2, b2, gamma, beta, w3, b3 = model.get_weights()

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(64, 64), torch.nn.Linear(64, 64)
            self.norm = torch.nn.LayerNorm(64, eps=1e-3)
            self.head = torch.nn.Linear(1, 10)

        def forward(self, t):
            a, b = self.a(t), torch.tanh(self.norm(self.b(t)))
            h = ((a - b) + a * b) / 2
            h = torch.minimum(torch.maximum(h, a), b)
            image = torch.nn.functional.avg_pool2d(h.reshape(-1, 1, 8, 8), 2)
            return torch.softmax(self.head(image.amax(dim=(2, 3))), dim=1)

    network = Network().eval()
    for linear, w, b in ((network.a, w1, b1), (network.b, w2, b2), (network.head, w3, b3)):
        _copy(linear.weight, w.T)
        _copy(linear.bias, b)
    _copy(network.norm.weight, gamma)
    _copy(network.norm.bias, beta)
    _check(model, network, x, x)
    return ("LayerNormalization, Activation, Subtract, Multiply, Average, Maximum, Minimum, "
            "Reshape, AveragePooling2D, GlobalMaxPooling2D", model, network, x, x)


def more_family_models():
    """``(name, layerwise model, torch module, input, torch input)`` for every family the
    other rows leave out."""
    return [*_recurrent_rows(), _conv1d_row(), _embedding_row(), _other_layers_row()]
