"""Retraining the best hyperparameters on train+validation, and the one test evaluation."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
from sklearn.metrics import confusion_matrix

from results.run import atomic
from search.display import Display, DisplayCallback
from search.engine.trials import StopOnDivergence, StopOnInterrupt
from search.errors import RetrainError
from search.rundir import read_json
from search.time_schedule import WARMUP_FRACTION, TimeBudget
from space import CNNHyperModel, SpaceConfig, compile_cnn
from space.averaging import average_of
from space.feeding import batches, fit_arrays
from space.hypermodel import compile_plain, training_distortion
from space.precision import unwrapped

EMA_MOMENTUM = 0.999  # an average over about the last 1,000 steps: two epochs of MNIST at batch 128
# --ema: the average and the raw weights each read this many training images; the better is kept.
# The retrain trains on all of train+validation, so nothing else can be measured without the test set.
CHOICE_SAMPLE = 5000
UNTIL_TIME_IS_UP = 100_000  # epochs asked of fit when the clock, not a count, ends the retrain
# --members: the networks' peak rates run from the searched one to this multiple of it. Trials of a
# few epochs favour a rate that gets far fast; retrained at 3.25x, the thorough winner tested as well
# as at its own rate with errors of its own (docs/experiments.md), which is what an average gains from.
MEMBER_RATE_SPREAD = 3.0


def member_rate_scales(members: int) -> list[float]:
    """The peak-rate multiples of `members` networks: geometric from 1 to MEMBER_RATE_SPREAD."""
    if members == 1:
        return [1.0]
    return [MEMBER_RATE_SPREAD ** (i / (members - 1)) for i in range(members)]


def peak_rate(searched: float, scale: float, space) -> float:
    """The retrain's peak rate: `searched` times `scale`, never above the space's learning_rate_max
    (the fastest rate its ranges allow), unless the searched rate itself is above it."""
    return min(searched * scale, max(searched, space.learning_rate_max))


def learning_rate_schedule(peak: float, steps: int, kind: str = "cosine"):
    """The retrain's learning rate: a short linear warm-up to `peak`, then cosine decay to 0.

    The search trained at a constant rate for a few epochs; retraining longer on more data
    gains from annealing (kind="constant" keeps the searched rate).
    """
    if kind == "constant":
        return peak
    warmup = max(1, int(steps * WARMUP_FRACTION))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=max(1, steps - warmup),
        warmup_target=peak,
        warmup_steps=warmup,
    )


def retrain_space(space: SpaceConfig, augment: bool) -> SpaceConfig:
    """The space the retrain builds and feeds from: `space`, augmenting also where `augment` asks."""
    return dataclasses.replace(space, augment=True) if augment else space


def build_for_retrain(
    hypermodel: CNNHyperModel,
    values: dict,
    epochs: int,
    train_size: int,
    schedule: str,
    augment: bool = False,
    ema: bool = False,
    rate_scale: float = 1.0,
) -> tuple[keras.Model, int, object]:
    """The CNN of `values`, compiled with the retrain's schedule; returns (model, batch size, schedule).

    `augment` adds random shifts and rotations (and scaling, where the space sets `augment_zoom`),
    active in training only; elastic distortion (the space's `augment_elastic`) is not part of the
    model but of the training batches (see `training_distortion`). The schedule is a CosineDecay,
    or the peak rate itself for schedule="constant" (which a TimeBudget then drives). The peak is
    the searched rate times `rate_scale`, never above the space's learning_rate_max (or the searched rate, if higher).
    `ema`: the optimizer also keeps a moving average of the weights, warmed up (space/averaging.py).
    """
    hp = kt.HyperParameters()
    hp.values = dict(values)
    if augment:
        hypermodel = CNNHyperModel(retrain_space(hypermodel.space, augment), precision=hypermodel.precision)
    model = hypermodel.build(hp)
    batch_size = int(values["batch_size"])
    steps = epochs * math.ceil(train_size / batch_size)
    searched = unwrapped(model.optimizer)  # under float16 Keras wraps it to scale the loss
    peak = peak_rate(float(searched.learning_rate), rate_scale, hypermodel.space)
    schedule = learning_rate_schedule(peak, steps, schedule)
    compile_cnn(model, schedule, float(searched.momentum), EMA_MOMENTUM if ema else None)
    return model, batch_size, schedule


def seconds_per_epoch(
    hypermodel: CNNHyperModel,
    values: dict,
    x: np.ndarray,
    y: np.ndarray,
    augment: bool,
    steps: int = 30,
    strategy=None,
) -> float:
    """Time `steps` training steps of the CNN of `values` in this process, as the retrain will run
    them; returns the seconds one epoch over `x` would take.

    Measured here rather than extrapolated from the trials: on this 2-core machine the same
    network trained 20-30% slower late in a long search process than the trials predicted.
    A few dozen steps still err either way on a shared machine (80 s predicted for 61 s epochs,
    46 s for epochs that averaged 73 s); FitInSeconds corrects the plan epoch by epoch.
    """
    keras.backend.clear_session()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model, batch_size, _ = build_for_retrain(hypermodel, values, 1, len(x), "constant", augment)
    # Whole batches only: a partial last batch would trace the step again inside the timing.
    count = batch_size * max(1, min(steps, len(x) // batch_size))
    callbacks = [StopOnInterrupt()]
    distort = training_distortion(retrain_space(hypermodel.space, augment))
    fit = functools.partial(fit_arrays, model, batch_size=batch_size, distort=distort, epochs=1, verbose=0)
    fit(x[: batch_size * 2], y[: batch_size * 2], callbacks=callbacks)
    started = time.perf_counter()
    fit(x[:count], y[:count], callbacks=callbacks)
    per_step = (time.perf_counter() - started) / math.ceil(count / batch_size)
    keras.backend.clear_session()
    return per_step * math.ceil(len(x) / batch_size)


# Retrain options added after runs were saved: a saved request without one asked for its default,
# so a run finished or planned before the option existed still answers the same request.
REQUEST_DEFAULTS = {"members": 1, "rate_scale": 1.0}


def with_request_defaults(saved: dict) -> dict:
    """A saved retrain request with REQUEST_DEFAULTS for the options it does not name."""
    return {**REQUEST_DEFAULTS, **saved}


def plan_epochs(
    plan_path: Path, request: dict, hypermodel: CNNHyperModel, x, y, display: Display, strategy=None
) -> tuple[int, float | None]:
    """How many epochs the retrain runs (each network, under --members), and the measured seconds of
    one (None when not capped).

    Under `retrain_minutes` the count depends on the speed measured now, so it is written to
    `plan_path` before training: a retrain redone after a kill or Ctrl-C runs the same epochs again.
    """
    plan = read_json(plan_path)
    if plan and isinstance(plan.get("request"), dict) and with_request_defaults(plan["request"]) == request:
        epochs, epoch_seconds = plan["epochs"], plan.get("epoch_seconds")
    else:
        started = time.time()
        epochs, epoch_seconds, minutes = request["epochs_asked"], None, request["retrain_minutes"]
        if minutes:
            values, augment = request["hyperparameters"], request["augment"]
            epoch_seconds = round(seconds_per_epoch(hypermodel, values, x, y, augment, strategy=strategy), 2)
            seconds_left = minutes * 60 - (time.time() - started)
            # --members: each network has its share of the minutes.
            share = seconds_left / request["members"]
            epochs = max(1, min(epochs, int(share // epoch_seconds)))
        atomic.write_json(plan_path, {"request": request, "epochs": epochs, "epoch_seconds": epoch_seconds})
    if epochs < request["epochs_asked"]:
        display.message(
            f"retraining {epochs} of {request['epochs_asked']} epochs: one takes about {epoch_seconds:.0f} s here, "
            f"and the retrain has {request['retrain_minutes']:g} min (--retrain-minutes)"
        )
    return epochs, epoch_seconds


class EpochSeconds(keras.callbacks.Callback):
    """Records how long each epoch took, from the end of the one before (the first includes tracing)."""

    clock = staticmethod(time.perf_counter)

    def __init__(self):
        super().__init__()
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs=None):
        self.started = self.last = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.epoch_seconds.append(now - self.last)
        self.last = now


class FitInSeconds(EpochSeconds):
    """Keeps a retrain inside `seconds`: after each epoch it keeps only the epochs that still fit at
    the pace seen, and shortens the cosine decay to end with them.

    The timing before the retrain is a few dozen steps and errs either way on a noisy machine
    (42 s and 80 s predicted for epochs that ran 66 s and 61 s), and a shared machine can slow
    down mid-run (a first epoch of 49 s, then 18 of about 73 s). The pace is the slower of the
    mean epoch and the latest one. The warm-up is unchanged, so the first epoch trains the same
    whatever the outcome; a trim later on steps the rate down to the shortened decay.
    """

    def __init__(self, seconds: float, epochs: int, steps_per_epoch: int, schedule):
        super().__init__()
        self.seconds, self.epochs, self.steps_per_epoch, self.schedule = seconds, epochs, steps_per_epoch, schedule
        self.trimmed_from: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        done = epoch + 1
        elapsed = self.last - self.started
        pace = max(elapsed / done, self.epoch_seconds[-1])
        fit = max(done, done + int((self.seconds - elapsed) // pace))
        if fit < self.epochs:
            self.trimmed_from = self.trimmed_from or self.epochs
            self.epochs = fit
            if fit > done and isinstance(self.schedule, keras.optimizers.schedules.CosineDecay):
                self.schedule.decay_steps = max(1, fit * self.steps_per_epoch - self.schedule.warmup_steps)
                self.model.make_train_function(force=True)  # the step reads the schedule when traced
        if done >= self.epochs:
            self.model.stop_training = True


def retrain(
    hypermodel: CNNHyperModel,
    values: dict,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    display: Display | None = None,
    schedule: str = "cosine",
    augment: bool = False,
    strategy=None,
    seconds: float | None = None,
    time_budget: float | None = None,
    ema: bool = False,
    rate_scale: float = 1.0,
) -> tuple[keras.Model, list[dict], dict | None]:
    """Train the best CNN from scratch on (x, y); returns the model, one dict per epoch, and with `ema`
    which weights were kept (see choose_weights; None without `ema`).

    `strategy`: a tf.distribute strategy to build the model under (several GPUs).
    `seconds`: stop at the epochs that fit in this time, judged epoch by epoch (see FitInSeconds).
    `time_budget`: ignore `epochs`; train for this many seconds with the learning rate driven
    by the share of them spent (see TimeBudget); the last epoch is usually partial.
    `ema`: the model returned holds the moving average of its weights, unless the raw weights read a
    sample of the training images better.
    `rate_scale`: the peak learning rate is the searched one times this (see build_for_retrain).
    Each epoch's dict holds its metrics, `seconds` and `steps`.
    """
    keras.utils.set_random_seed(seed)
    timed = time_budget is not None
    if timed:
        epochs, schedule = UNTIL_TIME_IS_UP, "constant"
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model, batch_size, rate = build_for_retrain(
            hypermodel, values, epochs, len(x), schedule, augment, ema, rate_scale
        )
    callbacks = [
        StopOnDivergence("retraining the best trial"),
        StopOnInterrupt(),
        DisplayCallback(display or Display(), label="retrain"),
    ]
    steps_per_epoch = math.ceil(len(x) / batch_size)
    timer = _timer(time_budget, seconds, epochs, steps_per_epoch, rate)
    callbacks.insert(0, timer)
    try:
        distort = training_distortion(retrain_space(hypermodel.space, augment))
        history = fit_arrays(model, x, y, batch_size, epochs=epochs, callbacks=callbacks, verbose=0, distort=distort)
    except kt.errors.FailedTrialError as e:
        raise RetrainError(str(e)) from None
    times = timer.epoch_seconds
    if isinstance(timer, FitInSeconds) and timer.trimmed_from:
        (display or Display()).message(
            f"retrained {len(times)} of the {timer.trimmed_from} epochs planned: epochs took {min(times):.0f}-"
            f"{max(times):.0f} s, more would not have fit in {seconds / 60:.1f} min"
        )
    steps = getattr(timer, "epoch_steps", None) or [steps_per_epoch] * len(times)
    weights = choose_weights(model, x, y, seed) if ema else None
    return model, epoch_records(history, times, steps, steps_per_epoch), weights


def choose_weights(model: keras.Model, x: np.ndarray, y: np.ndarray, seed: int) -> dict | None:
    """Leave in `model` its moving average of the weights or its raw weights, whichever reads a sample of
    the training images (x, y) better (the average on a tie), compiled with plain SGD so that the saved
    model loads with plain Keras. Returns what was kept, for metrics.json: {"kept": "average" or "raw",
    "sample", "average_accuracy", "raw_accuracy"}; None when the model kept no average."""
    average = average_of(model)
    if average is None:  # no step was taken: no average to choose
        compile_plain(model)
        return None
    pick = np.random.default_rng(seed).choice(len(x), size=min(CHOICE_SAMPLE, len(x)), replace=False)
    sample = (x[pick], y[pick])
    raw = [w.numpy() for w in model.trainable_weights]
    raw_accuracy = _accuracy(model, *sample)
    for weight, value in zip(model.trainable_weights, average, strict=True):
        weight.assign(value)
    average_accuracy = _accuracy(model, *sample)
    kept = "average" if average_accuracy >= raw_accuracy else "raw"
    if kept == "raw":
        for weight, value in zip(model.trainable_weights, raw, strict=True):
            weight.assign(value)
    compile_plain(model)
    return {
        "kept": kept,
        "sample": int(len(pick)),
        "average_accuracy": round(average_accuracy, 6),
        "raw_accuracy": round(raw_accuracy, 6),
    }


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    probabilities = model.predict(batches(x, batch_size=512), verbose=0)
    return float(np.mean(probabilities.argmax(axis=1) == y))


def _timer(time_budget, seconds, epochs, steps_per_epoch, rate) -> keras.callbacks.Callback:
    """The callback that times the epochs and, under a budget, ends the retrain."""
    if time_budget is not None:
        return TimeBudget(time_budget, float(rate))
    if seconds is not None:
        return FitInSeconds(seconds, epochs, steps_per_epoch, rate)
    return EpochSeconds()


def epoch_records(history, seconds: list[float], steps: list[int], steps_per_epoch: int) -> list[dict]:
    """One dict per epoch of a keras History: its metrics, `seconds` and `steps`, and `partial` (the
    share of an epoch it ran) for an epoch the clock stopped."""
    records = []
    for epoch in range(len(history.epoch)):
        entry = {"epoch": epoch + 1}
        entry.update({k: float(v[epoch]) for k, v in history.history.items()})
        entry["seconds"] = round(seconds[epoch], 2)
        entry["steps"] = int(steps[epoch])
        if steps[epoch] < steps_per_epoch:  # stopped by the clock: metrics over the batches it ran
            entry["partial"] = round(steps[epoch] / steps_per_epoch, 4)
        records.append(entry)
    return records


def evaluate(model: keras.Model, x_test: np.ndarray, y_test: np.ndarray) -> tuple[dict, np.ndarray]:
    """The one test evaluation: accuracy, loss, per-class accuracy, confusion matrix; and the probabilities."""
    probabilities = model.predict(batches(x_test, batch_size=512), verbose=0)
    predicted = probabilities.argmax(axis=1)
    loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(y_test, probabilities)))
    matrix = confusion_matrix(y_test, predicted, labels=list(range(10)))
    totals = matrix.sum(axis=1)
    per_class = [float(matrix[i, i] / totals[i]) if totals[i] else None for i in range(10)]
    metrics = {
        "test_accuracy": float(np.mean(predicted == y_test)),
        "test_loss": loss,
        "test_count": int(len(y_test)),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }
    return metrics, probabilities.astype(np.float32)
