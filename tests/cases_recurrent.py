"""Harness cases of the sequence layers: Embedding, Masking, recurrent layers, LayerNorm."""


from layer_harness import LayerCase
from layerwise import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    LayerNormalization,
    Masking,
    SimpleRNN,
)


def _ids(rng, shape):
    return rng.integers(0, 7, size=shape)


def _nonzero_ids(rng, shape):
    """No padding id: the harness's reference loss counts every position (a mask would not)."""
    return rng.integers(1, 7, size=shape)


SEQ = [(4, 3)]
CASES = [
    LayerCase("embedding", lambda: Embedding(7, 3), [(5,)], sample=_ids, integer_inputs=True),
    LayerCase("embedding_mask_zero", lambda: Embedding(7, 2, mask_zero=True), [(4,)],
              sample=_nonzero_ids, integer_inputs=True),
    # Padding itself is not differentiable (a nudge unmasks a step): tests/test_sequence_layers.py
    # checks masked steps; here nothing equals the mask value.
    LayerCase("masking", lambda: Masking(0.0), SEQ, onnx=False),
    LayerCase("simple_rnn", lambda: SimpleRNN(3), SEQ),
    LayerCase("simple_rnn_seq_backwards_relu",
              lambda: SimpleRNN(2, activation="relu", return_sequences=True, go_backwards=True),
              SEQ),
    LayerCase("lstm", lambda: LSTM(3), SEQ),
    LayerCase("lstm_seq_no_bias", lambda: LSTM(2, use_bias=False, return_sequences=True), SEQ),
    LayerCase("lstm_backwards_l2", lambda: LSTM(2, go_backwards=True, kernel_regularizer="l2"),
              SEQ),
    LayerCase("lstm_dropout", lambda: LSTM(3, dropout=0.3, recurrent_dropout=0.3, seed=2), SEQ,
              train_matches_inference=False, onnx=False),
    LayerCase("gru", lambda: GRU(3), SEQ),
    LayerCase("gru_seq_reset_before", lambda: GRU(2, reset_after=False, return_sequences=True),
              SEQ),
    LayerCase("gru_dropout", lambda: GRU(2, recurrent_dropout=0.4, seed=3), SEQ,
              train_matches_inference=False, onnx=False),
    LayerCase("bidirectional_lstm_concat", lambda: Bidirectional(LSTM(2)), SEQ),
    LayerCase("bidirectional_gru_seq_sum",
              lambda: Bidirectional(GRU(2, return_sequences=True), merge_mode="sum"), SEQ),
    LayerCase("bidirectional_rnn_mul", lambda: Bidirectional(SimpleRNN(2), merge_mode="mul"),
              SEQ),
    LayerCase("bidirectional_lstm_seq_ave",
              lambda: Bidirectional(LSTM(2, return_sequences=True), merge_mode="ave"), SEQ),
    LayerCase("layer_normalization", lambda: LayerNormalization(), [(4, 5)]),
    LayerCase("layer_normalization_two_axes",
              lambda: LayerNormalization(axis=(1, 2), center=False), [(3, 4)], onnx=False),
]
