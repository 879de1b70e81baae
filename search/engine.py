"""The mechanism shared by every tuner variant: per-trial seeding, divergence guard,
early stopping, timing records, the time budget and the progress display."""

from __future__ import annotations

import json
import math
import time
import warnings
import zlib
from pathlib import Path

import keras
import keras_tuner as kt
from keras_tuner.src import config as kt_config

from search import atomic, interrupts
from search.engine_errors import SearchError
from search.memory import resident_mb
from search.progress import Display, DisplayCallback

TIMING_FILE = "mnist_tuner.json"  # our record beside Keras Tuner's trial.json
FAILURES_BEFORE_GIVING_UP = 5


class StopOnDivergence(keras.callbacks.Callback):
    """Fail the trial as soon as the loss stops being a finite number."""

    def __init__(self, what: str = "training"):
        super().__init__()
        self.what = what
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise kt.errors.FailedTrialError(
                f"{self.what} diverged: loss became {float(loss)} in epoch {self.epoch + 1}, batch {batch + 1} "
                "(learning rate too high?)"
            )


class StopOnInterrupt(keras.callbacks.Callback):
    """Acts on a requested Ctrl-C after every batch (see search.interrupts)."""

    def on_train_batch_end(self, batch, logs=None):
        interrupts.check()


class TrialEngine:
    """Mixed in before a Keras Tuner tuner class (see search.tuners).

    Keyword arguments it takes on top of the tuner's: `run_seed` (trial seeds derive from it),
    `deadline` (time.time() after which no trial starts), `display`, `patience`.
    """

    def __init__(
        self,
        *args,
        run_seed: int = 0,
        deadline: float | None = None,
        display: Display | None = None,
        patience: int | None = 3,
        **kwargs,
    ):
        atomic.make_keras_tuner_writes_atomic()
        # Keras Tuner prints every failed trial's traceback; the display reports failures itself.
        kt_config.DEBUG = False
        # Hyperband continues a trial from its predecessor's weights, without optimizer state:
        # Keras warns about the optimizer variables it skips, as expected.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        self.base_seed = run_seed
        self.deadline = deadline
        self.display = display or Display()
        self.patience = patience
        self.budget_stopped = False
        self._trial_started = {}
        self._epoch_logs = {}
        super().__init__(*args, **kwargs)

    # --- the time budget -------------------------------------------------
    def pre_create_trial(self):
        super().pre_create_trial()
        interrupts.check()
        if self.deadline is not None and time.time() >= self.deadline and not self.budget_stopped:
            # The oracle stops handing out trials once it holds max_trials of them;
            # one trial at least, or there would be nothing to retrain.
            self.budget_stopped = True
            self.oracle.max_trials = max(1, len(self.oracle.trials))

    # --- running one trial -----------------------------------------------
    def trial_seed(self, trial_id: str) -> int:
        """The seed a trial's weights and shuffling use: fixed by the run seed and trial id."""
        return zlib.crc32(f"{self.base_seed}:{trial_id}".encode()) & 0x7FFFFFFF

    def run_trial(self, trial, *args, **kwargs):
        keras.utils.set_random_seed(self.trial_seed(trial.trial_id))
        callbacks = list(kwargs.pop("callbacks", []))
        callbacks.append(StopOnDivergence())
        callbacks.append(StopOnInterrupt())
        if self.patience:
            callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=self.patience, mode="max"))
        callbacks.append(DisplayCallback(self.display))
        kwargs["callbacks"] = callbacks
        kwargs.setdefault("verbose", 0)
        return super().run_trial(trial, *args, **kwargs)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        # Keras Tuner keeps only each trial's best epoch; the curves are ours to keep.
        super().on_epoch_end(trial, model, epoch, logs=logs)
        entry = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        self._epoch_logs.setdefault(trial.trial_id, []).append(entry)

    def on_trial_begin(self, trial):
        interrupts.check()
        super().on_trial_begin(trial)
        self._trial_started[trial.trial_id] = time.time()
        self._epoch_logs[trial.trial_id] = []
        self.display.trial_begin(trial.trial_id, _shown_values(trial.hyperparameters.values))

    def on_trial_end(self, trial):
        seconds = time.time() - self._trial_started.pop(trial.trial_id, time.time())
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        history = self._epoch_logs.pop(trial.trial_id, [])
        atomic.write_json(
            Path(self.get_trial_dir(trial.trial_id)) / TIMING_FILE,
            {
                "seconds": round(seconds, 3),
                "epochs": len(history),
                "tuner_id": self.tuner_id,
                "rss_mb": round(resident_mb(), 1),
                "history": history,
            },
        )
        best = self.best_score()
        self.display.trial_end(trial.trial_id, ended.status, ended.score, best, last_error_line(ended.message))
        self._give_up_if_nothing_works(best)

    def _give_up_if_nothing_works(self, best):
        # Failures are expected (a diverging learning rate); only a search where
        # nothing has worked after several tries is hopeless.
        if not hasattr(self.oracle, "trials"):
            return  # a distributed worker: the chief's oracle holds the trials
        ended = [t for t in self.oracle.trials.values() if t.status in ("COMPLETED", "FAILED", "INVALID")]
        if best is None and len(ended) >= FAILURES_BEFORE_GIVING_UP and not any(t.status == "COMPLETED" for t in ended):
            raise SearchError(
                f"the first {len(ended)} trials all failed; the last error: {last_error_line(ended[-1].message)}"
            )

    def best_score(self) -> float | None:
        """Best validation accuracy over completed trials so far."""
        # Keras Tuner pads its best trials with failed ones when too few completed.
        best = [t for t in self.oracle.get_best_trials(1) if t.status == "COMPLETED"]
        return best[0].score if best else None


def _shown_values(values: dict) -> dict:
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def last_error_line(message: str | None) -> str | None:
    """The error line of a Keras Tuner failure message (which holds the whole traceback)."""
    if not message:
        return None
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix(f"{kt.errors.FailedTrialError.__module__}.FailedTrialError: ") if lines else None


def read_trial_timing(trial_dir: str | Path) -> dict:
    """Our timing record of a trial ({} when it never finished)."""
    path = Path(trial_dir) / TIMING_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
