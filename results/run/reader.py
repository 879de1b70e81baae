"""A finished run directory, read-only: configuration, trials, metrics, curves, predictions, model.

The layout is the contract in results/run/layout.py and docs/run-directory.md. Nothing here trains or imports `search`.
"""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from results.run import files, layout
from results.run.layout import BEST_HPS, CONFIG, HISTORY, METRICS, MODEL, ORACLE, PREDICTIONS, REPORT, TRIALS, TUNER


class RunError(ValueError):
    """A folder that is not a finished run directory, or a file of it that cannot be read."""


# What to do about a damaged file: search.py repairs every file but config.json.
REPAIR = "run the search command again: it repairs the run (see docs/run-directory.md)"
RESTORE = "restore it; nothing can rebuild it (search.py --overwrite starts the run afresh)"


def damaged(error: files.DamagedFile) -> RunError:
    """The one line for a damaged file of a run: what is wrong, and what to do."""
    return RunError(f"{error}; {RESTORE if error.path.name == CONFIG else REPAIR}")


class TestPredictions(NamedTuple):
    """The test set as the retrained model saw it: images (uint8, N x 28 x 28), labels (N),
    probabilities (float32, N x 10)."""

    __test__ = False  # not a pytest test class, whatever its name

    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        """The predicted digit of each test image."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of each predicted digit."""
        return self.probabilities.max(axis=1)


def open_run(path: str | Path) -> Run:
    """The finished run at `path`; raises RunError (one line) when it is not one."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: no such folder")
    if not path.is_dir():
        raise RunError(f"{path}: not a folder (give the run directory)")
    if not files.exists(path / CONFIG):
        raise RunError(f"{path}: not a run directory (no {CONFIG})")
    run = Run(path)
    if layout.format_of(run.config) > layout.FORMAT_VERSION:
        raise RunError(
            f"{path}: written by a newer mnist-tuner (run-directory format {layout.format_of(run.config)}, "
            f"this one reads up to {layout.FORMAT_VERSION}); upgrade mnist-tuner to read it"
        )
    if not files.exists(path / METRICS):
        raise RunError(
            f"{path}: run still in progress or interrupted; re-run the search command to finish it (no {METRICS})"
        )
    return run


class Run:
    """One finished run directory. Files are read when first asked for, then kept."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The run directory's folder name."""
        return self.path.resolve().name

    @functools.cached_property
    def config(self) -> dict:
        """config.json: `hash`, `search` (what decides the search), `options`, `created`."""
        return self._json(CONFIG)

    @functools.cached_property
    def metrics(self) -> dict:
        """metrics.json: test accuracy and loss, per-class accuracy, confusion matrix, timings, ..."""
        return self._json(METRICS, layout.METRICS_KEYS)

    @functools.cached_property
    def best_hyperparameters(self) -> dict:
        """{name: value} of the best trial's active hyperparameters."""
        return self._json(BEST_HPS)

    @functools.cached_property
    def history(self) -> list[dict]:
        """The retrain's curves: one dict per epoch ({"epoch", "loss", "accuracy", ...})."""
        epochs = self._json(HISTORY, ("epochs",))["epochs"]
        if not isinstance(epochs, list):
            raise damaged(files.DamagedFile(self.path / HISTORY, "no list under 'epochs'"))
        return epochs

    @property
    def trials(self) -> list[dict]:
        """One dict per trial in start order, from trials.csv: numbers parsed, blanks as None."""
        return self._trials_csv[1]

    @property
    def completed_trials(self) -> list[dict]:
        """The completed trials with a validation accuracy, in start order."""
        return [t for t in self.trials if t.get("status") == layout.COMPLETED and _is_number(t.get("val_accuracy"))]

    @property
    def hyperparameter_names(self) -> list[str]:
        """The searched hyperparameters, in trials.csv's column order (no `tuner/*` bookkeeping).

        trials.csv holds them between `status` and `val_accuracy`; what follows is per-trial bookkeeping.
        """
        header = self._trials_csv[0]
        if "status" in header and "val_accuracy" in header:
            between = header[header.index("status") + 1 : header.index("val_accuracy")]
        else:
            between = [k for k in header if k not in (*layout.TRIALS_HEAD, *layout.TRIALS_TAIL)]
        return [k for k in between if layout.is_searched(k)]

    @functools.cached_property
    def _trials_csv(self) -> tuple[list[str], list[dict]]:
        path = self.path / TRIALS
        try:
            files.check_csv(path, layout.TRIALS_HEAD)
        except files.DamagedFile as e:
            raise damaged(e) from None
        try:
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
                header = list(reader.fieldnames or [])
        except FileNotFoundError:
            raise RunError(f"{path}: missing") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise RunError(f"{path}: cannot read ({e})") from None
        if "trial_id" not in header:
            raise RunError(f"{path}: no trial_id column")
        return header, [{k: _cell(k, v) for k, v in row.items() if k is not None} for row in rows]

    @functools.cached_property
    def trial_histories(self) -> dict[str, list[dict]]:
        """{trial_id: one dict per epoch ({"epoch", "loss", "accuracy", "val_loss", "val_accuracy"})}.

        Trials that never finished have no record and are left out.
        """
        histories = {}
        for record in sorted((self.path / TUNER).glob(f"{layout.TRIAL_PREFIX}*/{layout.TRIAL_RECORD}")):
            trial_id = record.parent.name.removeprefix(layout.TRIAL_PREFIX)
            history = self._json(record.relative_to(self.path)).get("history") or []
            histories[trial_id] = list(history) if isinstance(history, list) else []
        return histories

    @functools.cached_property
    def log_scaled(self) -> set[str]:
        """Names of the hyperparameters sampled on a log scale (from the tuner's oracle.json)."""
        try:
            oracle = json.loads((self.path / TUNER / ORACLE).read_text())
            space = oracle["hyperparameters"]["space"]
            return {hp["config"]["name"] for hp in space if hp["config"].get("sampling") in ("log", "reverse_log")}
        except (OSError, ValueError, KeyError, TypeError):
            return {"learning_rate"}

    @functools.cached_property
    def test_predictions(self) -> TestPredictions:
        """The test images, labels and the retrained model's probabilities."""
        path = self.path / PREDICTIONS
        try:
            files.check_zip(path, tuple(f"{k}.npy" for k in TestPredictions._fields))
        except files.DamagedFile as e:
            raise damaged(e) from None
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = TestPredictions(*(npz[k] for k in TestPredictions._fields))
        except FileNotFoundError:
            raise RunError(f"{path}: missing") from None
        except KeyError as e:
            raise RunError(f"{path}: no array {e} in it") from None
        except (OSError, ValueError) as e:
            raise RunError(f"{path}: not a readable .npz ({e})") from None
        n = len(arrays.labels)
        if arrays.images.shape != (n, 28, 28) or arrays.probabilities.shape != (n, 10):
            raise RunError(
                f"{path}: shapes images {arrays.images.shape}, labels {arrays.labels.shape}, "
                f"probabilities {arrays.probabilities.shape} do not fit (N x 28 x 28, N, N x 10)"
            )
        return arrays

    def calibration_images(self) -> np.ndarray:
        """A stratified sample of the run's training images, (N, 28, 28) uint8 (for an int8 export's
        representative set). RunError when the run predates it or it is damaged."""
        path = self.path / layout.CALIBRATION
        if not path.exists():
            raise RunError(f"{path}: missing (written by runs since export existed); {REPAIR}")
        try:
            with np.load(path) as arrays:
                images = np.asarray(arrays["images"])
        except Exception as e:  # np.load raises anything from OSError to zipfile.BadZipFile on a damaged file
            raise RunError(f"{path}: damaged ({type(e).__name__}: {e}); {REPAIR}") from None
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8 or len(images) == 0:
            shape = f"{images.dtype} images of shape {images.shape}"
            raise RunError(f"{path}: holds {shape}, not N x 28 x 28 uint8; {REPAIR}")
        return images

    @property
    def model_path(self) -> Path:
        """Where the retrained best model is."""
        return self.path / MODEL

    @property
    def report_dir(self) -> Path:
        """Where report.py writes its files."""
        return self.path / REPORT

    def load_model(self):
        """The retrained best CNN (a keras.Model taking raw 0-255 pixels (N, 28, 28, 1))."""
        from results.quiet_tf import import_tensorflow

        path = self.model_path
        try:
            files.check_zip(path, layout.MODEL_MEMBERS)
        except files.DamagedFile as e:
            raise damaged(e) from None
        import_tensorflow()
        import keras

        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as e:  # Keras raises anything from ValueError to zipfile.BadZipFile
            reason = " ".join(str(e).split())[:200] or type(e).__name__
            raise damaged(files.DamagedFile(path, f"not a loadable Keras model ({reason})")) from None

    def _json(self, name: str | Path, keys: tuple[str, ...] = ()) -> dict:
        try:
            return files.read_json(self.path / name, keys)
        except files.DamagedFile as e:
            raise damaged(e) from None


def _cell(column: str, text: str | None):
    if text is None or text == "":
        return None
    if column in layout.TEXT_COLUMNS:
        return text
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
