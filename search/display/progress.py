"""Progress of a search: a rich live display, or nothing (--quiet).

Keras Tuner's own printing is switched off (verbose=0); the tuner engine and a Keras
callback drive a `Display` instead.
"""

from __future__ import annotations

import math
import sys
import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from results.run import layout


def format_seconds(seconds: float) -> str:
    """H:MM:SS or M:SS."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_values(values: dict) -> str:
    """hyperparameters as 'name=value' pairs, floats short."""
    return "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


class Display:
    """Receives the events of a search; this base class shows nothing (--quiet)."""

    def search_begin(self, total_trials: int | None, done_trials: int, deadline: float | None) -> None:
        """A search starts (or resumes with `done_trials` already finished)."""

    def trial_begin(self, trial_id: str, values: dict) -> None:
        """A trial starts with these hyperparameters."""

    def fit_begin(self, label: str) -> None:
        """Training starts (a trial's, or the retrain)."""

    def epoch_begin(self, epoch: int, epochs: int, steps: int | None) -> None:
        """An epoch of `steps` batches starts."""

    def batch_end(self, step: int, logs: dict) -> None:
        """A batch ended."""

    def epoch_end(self, epoch: int, logs: dict) -> None:
        """An epoch ended."""

    def trial_end(
        self, trial_id: str, status: str, score: float | None, best: float | None, message: str | None
    ) -> None:
        """A trial ended; `best` is the best validation accuracy so far."""

    def search_end(self) -> None:
        """No more trials will start."""

    def message(self, text: str) -> None:
        """A line worth showing even with --quiet: a spent budget, a worker that died."""
        print(text, file=sys.stderr)


class DisplayCallback(keras.callbacks.Callback):
    """Feeds a Display from Keras' training loop.

    Keras Tuner deep-copies callbacks for every execution; the display holds a lock that
    cannot be copied, and every copy must drive the same display, so copies are the original.
    """

    def __init__(self, display: Display, label: str = "trial"):
        super().__init__()
        self.display = display
        self.label = label
        self.epochs = 0

    def __deepcopy__(self, memo):
        return self

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs") or 0
        self.display.fit_begin(self.label)

    def on_epoch_begin(self, epoch, logs=None):
        self.display.epoch_begin(epoch, self.epochs, self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self.display.batch_end(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.display.epoch_end(epoch, logs or {})


class RichDisplay(Display):
    """Trial n of N, the trial's hyperparameters, an epoch bar with loss and accuracy,
    the best validation accuracy so far, elapsed time and time left in the budget."""

    REFRESH_SECONDS = 0.25

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.trials_task = None
        self.epoch_task = None
        self.total = None
        self.number = 0
        self.best = None
        self.deadline = None
        self._last_refresh = 0.0

    def _trials_info(self) -> str:
        best = f"best val acc {self.best:.4f}" if self.best is not None else "no result yet"
        if self.deadline is None:
            return best
        return f"{best} · budget left {format_seconds(self.deadline - time.time())}"

    def search_begin(self, total_trials, done_trials, deadline):
        self.total, self.number, self.deadline = total_trials, done_trials, deadline
        self.progress.start()
        self.trials_task = self.progress.add_task(
            "search", total=total_trials, completed=done_trials, info=self._trials_info()
        )
        if done_trials:
            self.console.print(f"resuming: {done_trials} trial(s) already finished")

    def trial_begin(self, trial_id, values):
        self.number += 1
        total = self.total if self.total is not None else "?"
        self.console.print(f"[bold]trial {self.number} of {total}[/bold] (id {trial_id})  {format_values(values)}")
        self.progress.update(self.trials_task, description=f"trial {self.number}/{total}", info=self._trials_info())

    def fit_begin(self, label):
        if self.epoch_task is None:
            self.progress.start()
            self.epoch_task = self.progress.add_task(label, total=None, info="")
        self.progress.update(self.epoch_task, description=label)

    def epoch_begin(self, epoch, epochs, steps):
        self.progress.reset(self.epoch_task, total=steps, description=f"  epoch {epoch + 1}/{epochs}", info="")

    def batch_end(self, step, logs):
        now = time.monotonic()
        if now - self._last_refresh < self.REFRESH_SECONDS:
            return
        self._last_refresh = now
        self.progress.update(self.epoch_task, completed=step, info=_format_logs(logs))
        if self.trials_task is not None and self.deadline is not None:
            self.progress.update(self.trials_task, info=self._trials_info())

    def epoch_end(self, epoch, logs):
        task = self.progress.tasks[self.epoch_task]
        self.progress.update(self.epoch_task, completed=task.total or 0, info=_format_logs(logs))

    def trial_end(self, trial_id, status, score, best, message):
        self.best = best
        self.progress.update(self.trials_task, advance=1, info=self._trials_info())
        result = f"val acc {score:.4f}" if score is not None and math.isfinite(score) else ""
        why = f" — {message}" if message and status != layout.COMPLETED else ""
        colour = "green" if status == layout.COMPLETED else "red"
        self.console.print(f"  [{colour}]{status.lower()}[/{colour}] {result}{why}")

    def search_end(self):
        self.progress.stop()

    def message(self, text):
        self.console.print(text)


def _format_logs(logs: dict) -> str:
    parts = []
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            parts.append(f"{key.replace('accuracy', 'acc')} {float(logs[key]):.4f}")
    return "  ".join(parts)
