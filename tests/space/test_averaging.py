"""The weight average warms up: after a few dozen steps it follows the weights, not their start."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from space.averaging import WarmAverageSGD, average_of


def _walk(optimizer, steps: int) -> tuple[float, float, float]:
    """A single weight pushed by a constant gradient of 1 for `steps` steps of `optimizer` (rate 0.01):
    its start, its end and the optimizer's average of it."""
    weight = keras.Variable(np.ones((1,), dtype="float32"))
    start = float(weight.numpy()[0])
    optimizer.build([weight])
    for _ in range(steps):
        optimizer.apply_gradients([(np.ones((1,), dtype="float32"), weight)])
    averages = optimizer._model_variables_moving_average
    return start, float(weight.numpy()[0]), float(averages[0].numpy()[0])


def test_after_sixty_steps_the_average_is_near_the_weights_not_their_start():
    start, end, average = _walk(WarmAverageSGD(learning_rate=0.01, ema_momentum=0.999), 60)
    assert end == pytest.approx(1 - 0.6, abs=1e-5)  # the weight moved 0.01 a step
    # Keras' own average at 0.999 would have moved 1 - 0.999**60 = 6% of the way; warmed up (momentum
    # 61/70 at step 60), it lags about 1/(1 - 0.87) = 8 steps behind: 87% of the way, so within 15% of the end.
    assert (average - start) / (end - start) > 0.85
    assert average > end  # still an average of the path: behind the weight, never past it


def test_keras_own_average_has_no_warm_up():
    # What the warm-up fixes (Keras 3.15): the average stays near the start.
    start, end, average = _walk(keras.optimizers.SGD(learning_rate=0.01, use_ema=True, ema_momentum=0.999), 60)
    assert (average - start) / (end - start) < 0.1


def test_fit_leaves_the_raw_weights_and_the_average_is_read_apart():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=WarmAverageSGD(learning_rate=0.1), loss="mse")
    assert average_of(model) is None  # not trained yet
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    model.fit(x, x.sum(axis=1), epochs=3, batch_size=8, verbose=0)
    raw = [w.numpy() for w in model.trainable_weights]
    average = average_of(model)
    assert len(average) == len(raw)
    assert not all(np.array_equal(a, r) for a, r in zip(average, raw, strict=True))
