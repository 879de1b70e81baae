"""--fade: the input pipeline's pen and camera distortions fade out over the end of the retrain."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from results.run import layout
from runs import TINY_SPACE, one_error_line, run_cli, search_args, write_space
from search.config import RunConfig
from search.data import load_dataset
from search.errors import ConfigError
from search.retrain import EpochSeconds, FadeDistortions, build_for_retrain, fade_strength
from space import CNNHyperModel, SpaceConfig
from space.feeding import batches, fit_arrays
from space.hypermodel import training_distortion

VALUES = {"conv_blocks": 1, "filters_0": 8, "dense_units": 16, "learning_rate": 0.05, "batch_size": 64}
PENS = dict(augment=True, augment_strokes=1.0, augment_hairline=0.5, augment_shrink=1.0, augment_noise=60.0)


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data.x_train, data.y_train


def test_the_strength_is_full_until_the_fade_then_falls_linearly_to_none_at_the_end():
    assert fade_strength(0.0, 0.25) == fade_strength(0.75, 0.25) == 1.0
    assert fade_strength(0.875, 0.25) == pytest.approx(0.5)
    assert fade_strength(1.0, 0.25) == 0.0 and fade_strength(1.2, 0.25) == 0.0
    assert fade_strength(0.99, 0.0) == 1.0  # no fade: always full


def test_a_strength_of_zero_leaves_the_batches_as_they_are_and_one_distorts_them(digits):
    x = digits[0][:64].astype(np.float32)
    strength = tf.Variable(1.0, trainable=False)
    distort = training_distortion(SpaceConfig(**PENS), strength)
    seed = np.array([3, 4], dtype=np.int64)
    assert not np.array_equal(distort(x, seed).numpy(), x)
    strength.assign(0.0)
    assert np.array_equal(distort(x, seed).numpy(), x)


def test_the_retrain_fades_the_distortions_out_over_its_last_epochs(digits):
    """Through a real fit: the pipeline's batches are distorted while the strength is full and come
    through untouched at the end, as the model sees them."""
    x, y = digits
    space = SpaceConfig(**dict(TINY_SPACE, **PENS))
    model, batch_size, _ = build_for_retrain(CNNHyperModel(space), VALUES, 4, len(x), "constant", augment=True)
    strength = tf.Variable(1.0, trainable=False)
    distort = training_distortion(space, strength)
    steps = -(-len(x) // batch_size)
    timer = EpochSeconds()
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(strength.numpy()))

    fade = FadeDistortions(strength, 0.5, timer, epochs=4, steps_per_epoch=steps)
    fit_arrays(model, x, y, batch_size, epochs=4, callbacks=[timer, fade, Record()], distort=distort, verbose=0)
    assert len(seen) == 4 * steps
    assert seen[: 2 * steps] == [1.0] * (2 * steps)  # the first half at full strength
    fading = seen[2 * steps :]
    assert all(a > b for a, b in zip(fading, fading[1:], strict=False)) and fading[-1] < 2 / steps
    # What the last batches carry: with the strength at 0 the pipeline changes nothing.
    strength.assign(0.0)
    batch = next(iter(batches(x, y, batch_size, False, distort)))
    assert np.array_equal(batch[0].numpy(), x[:batch_size].astype(np.float32))


def test_a_fade_out_of_range_is_refused_in_one_line(space_file, tmp_path):
    with pytest.raises(ConfigError, match="--fade must be from 0 to 1"):
        RunConfig(retrain_fade=1.5)
    result = run_cli(*search_args(tmp_path / "run", space_file, "--fade", "-0.1"))
    assert result.returncode == 2
    assert "--fade must be from 0 to 1" in one_error_line(result)


def test_a_faded_run_records_its_fade_and_another_fade_retrains_it(tmp_path):
    space = write_space(tmp_path / "space.toml", augment_strokes=0.5, augment_noise=40.0)
    args = search_args(tmp_path / "run", space, "--augment", max_epochs=1, epochs=2)
    models = []
    for fade in (0.5, 0.25):
        result = run_cli(*args, "--fade", str(fade))
        assert result.returncode == 0, result.stderr
        metrics = json.loads((tmp_path / "run" / layout.METRICS).read_text())
        assert metrics["retrain"]["fade"] == fade
        models.append((tmp_path / "run" / layout.MODEL).read_bytes())
    assert models[0] != models[1]  # retrained, not the first fade's model kept
