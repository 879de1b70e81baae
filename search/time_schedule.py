"""A retrain driven by the clock: the learning rate follows the share of its time already spent.

A plan of epochs made from a few timed steps mispredicts on a shared machine by 30% either way
(docs/experiments.md); a schedule over the fraction of the wall time spent ends its decay at
the deadline whatever the machine's speed that day, and training stops there, mid-epoch if need be.
"""

from __future__ import annotations

import math
import time

import keras

WARMUP_FRACTION = 0.05
START_FRACTION = 0.1  # the warm-up starts at a tenth of the peak, as the step-based CosineDecay does


def rate_at(fraction: float, peak: float, warmup: float = WARMUP_FRACTION) -> float:
    """The learning rate when `fraction` of the time is spent: linear warm-up, then cosine decay to 0 at 1."""
    fraction = min(max(fraction, 0.0), 1.0)
    if fraction < warmup:
        return peak * (START_FRACTION + (1 - START_FRACTION) * fraction / warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * (fraction - warmup) / (1 - warmup)))


class TimeBudget(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch from the share of `seconds` spent since
    training began, and stops training after the batch that reaches the deadline.

    Records each epoch's seconds and steps: the last epoch is usually partial, and its metrics
    are the mean over the batches it ran.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, seconds: float, peak: float):
        super().__init__()
        self.seconds, self.peak = float(seconds), float(peak)
        self.epoch_seconds: list[float] = []
        self.epoch_steps: list[int] = []
        self.last_rate = None

    def fraction(self) -> float:
        """The share of the time spent so far (may pass 1 during the last batch)."""
        return (self.clock() - self.started) / self.seconds if self.seconds > 0 else 1.0

    def on_train_begin(self, logs=None):
        self.started = self.last = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.last_rate = rate_at(self.fraction(), self.peak)
        self.model.optimizer.learning_rate.assign(self.last_rate)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.fraction() >= 1:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.epoch_seconds.append(now - self.last)
        self.epoch_steps.append(self.steps)
        self.last = now

    @property
    def trained_seconds(self) -> float:
        """Seconds from the start of training to the end of the last epoch (whole or partial)."""
        return self.last - self.started
