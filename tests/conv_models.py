"""Small models around each convolutional layer class for tests/test_onnx.py's per-class export
checks: 5 input features, reshaped into an image or a sequence, the layer, then Dense(3)."""

from layerwise import (
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling1D,
    MaxPooling2D,
    Model,
    Reshape,
)


def _around(make_layer, sample_shape):
    def build():
        inputs = Input(shape=(5,))
        size = 1
        for s in sample_shape:
            size *= s
        hidden = Reshape(sample_shape)(Dense(size, activation="tanh")(inputs))
        hidden = make_layer()(hidden)
        if len(hidden.output_shape) > 1:
            hidden = Flatten()(hidden)
        return Model(inputs, Dense(3)(hidden))

    return build


CONV_LAYER_MODELS = {
    Conv2D: _around(lambda: Conv2D(3, 3, strides=2, padding="same", activation="relu"),
                    (5, 4, 2)),
    Conv1D: _around(lambda: Conv1D(3, 2, dilation_rate=2, activation="tanh"), (6, 2)),
    MaxPooling2D: _around(lambda: MaxPooling2D(2, padding="same"), (5, 4, 2)),
    MaxPooling1D: _around(lambda: MaxPooling1D(3, strides=2), (7, 2)),
    AveragePooling2D: _around(lambda: AveragePooling2D(3, strides=2, padding="same"),
                              (5, 4, 2)),
    AveragePooling1D: _around(lambda: AveragePooling1D(2, padding="same"), (7, 2)),
    GlobalAveragePooling2D: _around(GlobalAveragePooling2D, (3, 4, 2)),
    GlobalAveragePooling1D: _around(lambda: GlobalAveragePooling1D(keepdims=True), (6, 2)),
    GlobalMaxPooling2D: _around(lambda: GlobalMaxPooling2D(keepdims=True), (3, 4, 2)),
    GlobalMaxPooling1D: _around(GlobalMaxPooling1D, (6, 2)),
}


# The layers that move values (layerwise.layers.spatial), each around the same Dense layers.
from layerwise import (  # noqa: E402
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

SPATIAL_LAYER_MODELS = {
    RepeatVector: _around(lambda: RepeatVector(3), (4,)),
    Permute: _around(lambda: Permute((2, 1)), (3, 4)),
    ZeroPadding1D: _around(lambda: ZeroPadding1D((1, 2)), (6, 2)),
    ZeroPadding2D: _around(lambda: ZeroPadding2D(((1, 0), (2, 1))), (3, 2, 2)),
    Cropping1D: _around(lambda: Cropping1D((1, 2)), (6, 2)),
    Cropping2D: _around(lambda: Cropping2D(((1, 0), (0, 1))), (3, 3, 2)),
    UpSampling1D: _around(lambda: UpSampling1D(2), (6, 2)),
    UpSampling2D: _around(lambda: UpSampling2D((2, 3)), (3, 2, 2)),
}
