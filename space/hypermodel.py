"""The hypermodel: which CNN a set of hyperparameter values builds, and how it trains."""

from __future__ import annotations

import keras
import keras_tuner as kt

from space.averaging import WarmAverageSGD
from space.config import IMAGE_SIZE, SpaceConfig
from space.distortion import elastic_distortion, hairline, sensor_noise, shrink, stroke_width
from space.feeding import fit_arrays, is_arrays
from space.precision import POLICIES, scaling_loss

NUM_CLASSES = 10


class CNNHyperModel(kt.HyperModel):
    """Conv blocks, a dense head and SGD, each sized by a hyperparameter.

    Models take raw 0-255 pixels shaped (28, 28, 1) and use only built-in Keras
    layers, so a saved model loads with plain `keras.saving.load_model`.
    """

    def __init__(self, space: SpaceConfig | None = None, name: str = "mnist_cnn", precision: str = "float32"):
        super().__init__(name=name)
        self.space = space or SpaceConfig()
        self.precision = precision  # what the CNNs compute in (space/precision.py)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Build and compile the CNN that `hp` describes."""
        s = self.space
        # Grid search hands integer hyperparameters over as floats (128.0): cast them.
        depth = int(hp.Int("conv_blocks", s.conv_blocks_min, s.conv_blocks_max))
        filters = []
        for block in range(1 if s.filters_doubling else s.conv_blocks_max):
            # Block i's width exists only in trials that have at least i+1 blocks.
            with hp.conditional_scope("conv_blocks", list(range(block + 1, s.conv_blocks_max + 1))):
                if block < depth:
                    filters.append(
                        int(hp.Int(f"filters_{block}", s.filters_min, s.filters_max, step=2, sampling="log"))
                    )
        if s.filters_doubling:
            filters = [filters[0] * 2**block for block in range(depth)]
        units = int(hp.Int("dense_units", s.dense_units_min, s.dense_units_max, step=2, sampling="log"))
        dropout = (
            hp.Float("dropout", s.dropout_min, s.dropout_max, step=0.1)
            if s.dropout_max > s.dropout_min
            else s.dropout_min
        )
        learning_rate = hp.Float("learning_rate", s.learning_rate_min, s.learning_rate_max, sampling="log")
        momentum = (
            hp.Float("momentum", s.momentum_min, s.momentum_max, step=0.05)
            if s.momentum_max > s.momentum_min
            else s.momentum_min
        )
        # Declared here, used in fit(): so the oracle knows it before the first trial ends.
        hp.Int("batch_size", s.batch_size_min, s.batch_size_max, step=2, sampling="log")
        model = build_cnn(filters, units, dropout, augment=s.augment, precision=self.precision, **random_moves(s))
        compile_cnn(model, learning_rate, momentum)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args, **kwargs):
        """Train with the trial's batch size; arrays (the training data, `validation_data`) are fed as
        tf.data pipelines without the stalls of Keras' own (see space/feeding.py)."""
        s = self.space
        batch_size = int(hp.Int("batch_size", s.batch_size_min, s.batch_size_max, step=2, sampling="log"))
        args = list(args)
        x = args.pop(0) if args else kwargs.pop("x")
        y = args.pop(0) if args else kwargs.pop("y", None)
        if args or "sample_weight" in kwargs or not is_arrays(x, y):  # left to Keras as given
            return model.fit(x, y, *args, batch_size=batch_size, **kwargs)
        distort = training_distortion(s)
        return fit_arrays(model, x, y, batch_size, shuffle=kwargs.pop("shuffle", True), distort=distort, **kwargs)


def training_distortion(space: SpaceConfig):
    """The function of (images, seed) that distorts each training batch in the input pipeline, or None:
    where the space augments, its stroke-width changes (`augment_strokes`), centre lines (`augment_hairline`),
    small digits (`augment_shrink`), sensor noise (`augment_noise`) and elastic distortion (`augment_elastic`),
    each that is set, in that order (see space/distortion.py)."""
    if not space.augment:
        return None
    steps = []
    if space.augment_strokes > 0:
        steps.append(lambda images, seed, share=space.augment_strokes: stroke_width(images, share, seed))
    if space.augment_hairline > 0:
        steps.append(lambda images, seed, share=space.augment_hairline: hairline(images, share, seed))
    if space.augment_shrink > 0:
        steps.append(lambda images, seed, share=space.augment_shrink: shrink(images, share, seed))
    if space.augment_noise > 0:
        steps.append(lambda images, seed, most=space.augment_noise: sensor_noise(images, most, seed))
    if space.augment_elastic > 0:
        steps.append(lambda images, seed, pixels=space.augment_elastic: elastic_distortion(images, pixels, seed=seed))
    if not steps:
        return None

    def distort(images, seed):
        import tensorflow as tf

        # Each step its own stateless seed, derived from the batch's.
        for number, step in enumerate(steps):
            images = step(images, tf.random.experimental.stateless_fold_in(seed, number + 1))
        return images

    return distort


def random_moves(space: SpaceConfig) -> dict[str, float]:
    """build_cnn's keywords for the shifts, rotations and scaling that `space` asks."""
    return {
        "zoom": space.augment_zoom,
        "zoom_out": space.augment_zoom_out,
        "shift": space.augment_shift,
        "rotation": space.augment_rotation,
    }


def build_cnn(
    filters: list[int],
    dense_units: int,
    dropout: float,
    augment: bool = False,
    zoom: float = 0.0,
    precision: str = "float32",
    shift: float = SpaceConfig.augment_shift,
    rotation: float = SpaceConfig.augment_rotation,
    zoom_out: float = 0.0,
) -> keras.Model:
    """A CNN of len(filters) conv blocks and one dense layer, taking raw 0-255 pixels.

    `augment`: random shifts by up to `shift` of the side on each axis and rotations by up to
    `rotation` of a turn, in training, and with `zoom` random scaling by up to that fraction either
    way (the same on both axes, so a digit keeps its shape; out by up to `zoom_out` where larger).
    `precision`: what its layers compute in (a key of space/precision.py's POLICIES); the output
    layer computes in float32 whatever it is.
    """
    dtype = POLICIES[precision]
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    # The scaling and the random moves stay float32: cheap, and a move's coordinates in bfloat16 would be
    # an eighth of a pixel apart (float16 trained to a loss of 0.97 for float32's 0.75 in 3 digits epochs).
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    if augment:
        # Active only in training; inference sees the image as it is.
        if zoom > 0 or zoom_out > 0:
            # Keras' positive factors zoom out, negative ones in.
            x = keras.layers.RandomZoom((-zoom, max(zoom, zoom_out)), fill_mode="constant")(x)
        if shift > 0:
            x = keras.layers.RandomTranslation(shift, shift, fill_mode="constant")(x)
        if rotation > 0:
            x = keras.layers.RandomRotation(rotation, fill_mode="constant")(x)
    for width in filters:
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, dtype=dtype)(x)
        # Faster-moving statistics than Keras' 0.99: trials of one short epoch are validated on
        # them (measured: 0.935 against 0.872 validation accuracy after 188 steps).
        x = keras.layers.BatchNormalization(momentum=0.9, dtype=dtype)(x)
        x = keras.layers.ReLU(dtype=dtype)(x)
        x = keras.layers.MaxPooling2D(2, dtype=dtype)(x)
    x = keras.layers.Flatten(dtype=dtype)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, dtype=dtype)(x)
    x = keras.layers.Dense(dense_units, activation="relu", dtype=dtype)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, dtype=dtype)(x)
    # float32 under any policy: a softmax in bfloat16 keeps 3 significant digits (Keras' mixed-precision guide).
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="digit", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


# The image as it is and moved one pixel up, down, left and right: (rows, columns) down and right.
SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def shift_averaged(model: keras.Model, shifts=SHIFTS) -> keras.Model:
    """`model` answering with the mean of its probabilities over the image moved by each of `shifts`.

    Test-time augmentation inside the model itself, of built-in layers only: it still loads with
    plain Keras, takes raw pixels and answers in one `predict`. A shift pads with zeros (the black
    background) on one side and crops the other. Costs one pass of `model` per shift.
    """
    inputs = keras.Input(model.input_shape[1:], name="image")
    answers = [model(_shifted(inputs, rows, columns)) for rows, columns in shifts]
    averaged = keras.layers.Average(name="digit")(answers) if len(answers) > 1 else answers[0]
    wrapped = keras.Model(inputs, averaged, name=f"{model.name}_shift_averaged")
    compile_plain(wrapped)
    return wrapped


def averaged(models: list[keras.Model]) -> keras.Model:
    """One model answering with the mean of the probabilities of `models` (an ensemble).

    Built-in layers only, as `shift_averaged`: it loads with plain Keras and takes raw pixels.
    One model is returned as it is. Costs one pass of each member per prediction.
    """
    if len(models) == 1:
        return models[0]
    inputs = keras.Input(models[0].input_shape[1:], name="image")
    # Renamed: members built alike share the name mnist_cnn, and a model's layers need distinct names.
    answers = [keras.Model(m.input, m.output, name=f"network_{i + 1}")(inputs) for i, m in enumerate(models)]
    ensemble = keras.Model(inputs, keras.layers.Average(name="digit")(answers), name="networks_averaged")
    compile_plain(ensemble)
    return ensemble


def _shifted(images, rows: int, columns: int):
    """`images` moved `rows` down and `columns` right (negative: up, left), same size."""
    if rows == 0 and columns == 0:
        return images
    pad = ((max(rows, 0), max(-rows, 0)), (max(columns, 0), max(-columns, 0)))
    crop = ((pad[0][1], pad[0][0]), (pad[1][1], pad[1][0]))
    return keras.layers.Cropping2D(crop)(keras.layers.ZeroPadding2D(pad)(images))


def compile_plain(model: keras.Model) -> None:
    """Compile for evaluation and saving: plain SGD, cross-entropy, accuracy. A saved model then names no
    class of this project's (it loads with plain Keras) and `evaluate` works on it."""
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def compile_cnn(model: keras.Model, learning_rate, momentum: float, ema_momentum: float | None = None) -> None:
    """Compile with SGD (Nesterov when there is momentum) and cross-entropy.

    `learning_rate` may be a float or a Keras learning-rate schedule. `ema_momentum`: also keep a
    moving average of the weights, warmed up with the step count (space/averaging.py); `fit` leaves
    the raw weights in the model, and `average_of(model)` reads the average. A model computing in
    float16 has its loss scaled (space/precision.py's `scaling_loss`).
    """
    sgd = WarmAverageSGD if ema_momentum else keras.optimizers.SGD
    ema = {"ema_momentum": ema_momentum} if ema_momentum else {}
    optimizer = sgd(learning_rate=learning_rate, momentum=momentum, nesterov=momentum > 0, **ema)
    model.compile(
        optimizer=scaling_loss(optimizer, model),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
