"""A moving average of the weights that is right after any number of steps.

Keras' `use_ema` starts the average at the initial weights and moves it by 1 - 0.999 a step, with
no warm-up: after 60 steps the averaged weights are still 94% the initial ones, and a short retrain
saved them at chance. Here the average's momentum at step t is min(ema_momentum, (1 + t) / (10 + t))
(TensorFlow's ExponentialMovingAverage with num_updates): it averages about the last tenth of the
steps until that reaches 1 / (1 - ema_momentum) steps, and no step is ever dominated by the start.

The optimizer keeps both: the model's variables stay the raw weights when `fit` ends, and the
average is read with `average_of` so that the retrain can choose between them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from space.precision import unwrapped

# The momentum's warm-up: (1 + t) / (WARMUP + t) at step t, as TensorFlow's num_updates.
WARMUP = 10.0


class WarmAverageSGD(keras.optimizers.SGD):
    """SGD keeping a moving average of the trainable weights that warms up with the step count (see the
    module's docstring). Unlike Keras' `use_ema`, `fit` leaves the raw weights in the model."""

    def __init__(self, *args, ema_momentum: float = 0.999, **kwargs):
        super().__init__(*args, use_ema=True, ema_momentum=ema_momentum, **kwargs)

    def _update_model_variables_moving_average(self, trainable_variables):
        # Overrides keras.optimizers.Optimizer's (checked against Keras 3.15): the same update, with the warm-up.
        step = ops.cast(self.iterations, "float32")
        momentum = ops.minimum(self.ema_momentum, (1.0 + step) / (WARMUP + step))
        for var, average in zip(trainable_variables, self._model_variables_moving_average, strict=True):
            if average is not None:
                rate = ops.cast(momentum, var.dtype)
                average.assign(ops.add(ops.multiply(rate, average), ops.multiply(ops.subtract(1, rate), var)))

    def finalize_variable_values(self, var_list):
        """Leave the raw weights in place when `fit` ends (Keras would overwrite them with the average)."""

    def get_config(self):
        config = super().get_config()
        config.pop("use_ema", None)
        return config


def average_of(model: keras.Model) -> list[np.ndarray] | None:
    """The moving average of `model`'s trainable weights, in `model.trainable_weights` order; None when its
    optimizer keeps none (compiled without an average, or not yet trained)."""
    optimizer = unwrapped(model.optimizer)
    if not isinstance(optimizer, WarmAverageSGD) or not getattr(optimizer, "built", False):
        return None
    averages = optimizer._model_variables_moving_average
    return [np.asarray(a.numpy()) if a is not None else None for a in averages]
