"""The mechanism shared by every tuner variant: per-trial seeding, divergence guard,
early stopping, timing records, the time budget and the progress display."""

from __future__ import annotations

import math
import time
import warnings
import zlib
from pathlib import Path

import keras
import keras_tuner as kt

from results.run import atomic, layout
from search import interrupts
from search.display import Display, DisplayCallback
from search.engine import kt_compat
from search.engine.memory import Recycle, grown_too_much, release_memory, resident_mb
from search.engine.records import best_score, last_error_line, searched_values
from search.errors import CannotWrite, SearchError, cannot_write

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


class StopSearch(CannotWrite, kt.errors.FatalError):
    """Raised in a trial to end the whole search (Keras Tuner leaves the trial to re-run on resume)."""


class StopOnInterrupt(keras.callbacks.Callback):
    """Acts on a requested Ctrl-C after every batch (see search.interrupts)."""

    def on_train_batch_end(self, batch, logs=None):
        interrupts.check()


class TrialEngine:
    """Mixed in before a Keras Tuner tuner class (see search.engine.tuners).

    Keyword arguments it takes on top of the tuner's: `run_seed` (trial seeds derive from it),
    `deadline` (time.time() after which no trial starts), `display`, `patience`, `recycle`
    (raise memory.Recycle between trials once the process has grown: see search/cli.py).
    """

    def __init__(
        self,
        *args,
        run_seed: int = 0,
        deadline: float | None = None,
        display: Display | None = None,
        patience: int | None = 3,
        recycle: bool = False,
        **kwargs,
    ):
        kt_compat.make_writes_atomic()
        kt_compat.quiet_failed_trials()
        # Hyperband continues a trial from its predecessor's weights, without optimizer state:
        # Keras warns about the optimizer variables it skips, as expected.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        self.base_seed = run_seed
        self.deadline = deadline
        self.display = display or Display()
        self.patience = patience
        self.budget_stopped = False
        self.recycle = recycle
        self._first_rss = None
        self._trial_started = {}
        self._epoch_logs = {}
        super().__init__(*args, **kwargs)

    # --- the time budget -------------------------------------------------
    def pre_create_trial(self):
        super().pre_create_trial()
        interrupts.check()
        if self.deadline is not None and time.time() >= self.deadline and not self.budget_stopped:
            if not kt_compat.holds_trials(self.oracle):
                return  # a distributed worker: its chief enforces the budget (ChiefMonitor)
            self.budget_stopped = True
            kt_compat.stop_new_trials(self.oracle)

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
        try:
            return super().run_trial(trial, *args, **kwargs)
        except OSError as e:
            # A full disk is no fault of the trial: stop the search with the trial left to re-run.
            failed_write = cannot_write(e)
            if failed_write is None:
                raise
            raise StopSearch(str(failed_write)) from e

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
        self.display.trial_begin(trial.trial_id, searched_values(trial.hyperparameters.values))

    def on_trial_end(self, trial):
        seconds = time.time() - self._trial_started.pop(trial.trial_id, time.time())
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        history = self._epoch_logs.pop(trial.trial_id, [])
        release_memory()
        rss = resident_mb()
        atomic.write_json(
            Path(self.get_trial_dir(trial.trial_id)) / layout.TRIAL_RECORD,
            {
                "seconds": round(seconds, 3),
                "epochs": len(history),
                "tuner_id": self.tuner_id,
                "rss_mb": round(rss, 1),
                "history": history,
            },
        )
        best = self.best_score()
        self.display.trial_end(trial.trial_id, ended.status, ended.score, best, last_error_line(ended.message))
        self._give_up_if_nothing_works(best)
        self._first_rss = self._first_rss or rss
        if self.recycle and grown_too_much(self._first_rss, rss):
            raise Recycle  # everything of this trial is saved: a fresh process resumes after it

    def _give_up_if_nothing_works(self, best):
        # Failures are expected (a diverging learning rate); only a search where
        # nothing has worked after several tries is hopeless.
        if not kt_compat.holds_trials(self.oracle):
            return  # a distributed worker: the chief's oracle holds the trials
        ended = kt_compat.trials_in_end_order(self.oracle)
        if best is None and len(ended) >= FAILURES_BEFORE_GIVING_UP:
            raise SearchError(
                f"the first {len(ended)} trials all failed; the last error: {last_error_line(ended[-1].message)}"
            )

    def best_score(self) -> float | None:
        """Best validation accuracy over completed trials so far."""
        return best_score(self.oracle)
