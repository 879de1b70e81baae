"""Feeding arrays to Keras: every image once an epoch, reshuffled, seeded, autotuning off; and the
hypermodel's fit trains from arrays through it."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np

from space import CNNHyperModel, SpaceConfig
from space.feeding import batches


def _epoch(data) -> tuple[np.ndarray, list[int]]:
    """The labels of one pass over `data`, in order, and the size of each batch."""
    labels, sizes = [], []
    for _, y in data:
        labels.extend(y.numpy().tolist())
        sizes.append(len(y))
    return np.array(labels), sizes


def test_every_image_comes_once_an_epoch_reshuffled_each_epoch_and_the_seed_repeats_the_order():
    x = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1).repeat(28, axis=1).repeat(28, axis=2)
    y = np.arange(50)
    keras.utils.set_random_seed(3)
    data = batches(x, y, batch_size=16, shuffle=True)
    first, sizes = _epoch(data)
    second, _ = _epoch(data)
    assert sorted(first) == sorted(second) == list(range(50))
    assert sizes == [16, 16, 16, 2]  # the last batch partial, as Keras' own feeding gives it
    assert not np.array_equal(first, second)
    for images, labels in data.take(1):
        assert np.array_equal(images.numpy()[:, 0, 0, 0], labels.numpy())  # each image with its own label
    keras.utils.set_random_seed(3)
    assert np.array_equal(_epoch(batches(x, y, batch_size=16, shuffle=True))[0], first)


def test_the_pipeline_does_not_autotune_and_keeps_the_order_unless_shuffled():
    x = np.zeros((10, 28, 28, 1), np.uint8)
    data = batches(x, np.arange(10), batch_size=4)
    assert data.options().autotune.enabled is False
    assert _epoch(data)[0].tolist() == list(range(10))
    (alone,) = [images.shape[0] for images in batches(x, batch_size=16)]  # x alone, for predict
    assert alone == 10


def test_the_hypermodel_trains_from_arrays_and_validates_on_arrays(digits_slice):
    x, y = digits_slice.x_train[:256, ..., None], digits_slice.y_train[:256]
    hp = kt.HyperParameters()
    space = SpaceConfig(conv_blocks_min=1, conv_blocks_max=1, filters_min=8, filters_max=8, batch_size_min=32)
    hypermodel = CNNHyperModel(space)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, x, y, epochs=2, validation_data=(x[:64], y[:64]), verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
