"""The run directory's contract: file names, trials.csv columns, trial statuses, format version.

`search` writes a run through these names and `results` reads it through them; nothing else
spells a file name of a run. docs/run-directory.md describes every file.
"""

from __future__ import annotations

# Raised when a file's layout or meaning changes: a run of another format is refused with one line.
# 2: config.json holds "format"; the space ranges always list filters_doubling; metrics.json's
# "retrain" always holds epochs_asked and retrain_minutes.
FORMAT_VERSION = 2
FORMAT_KEY = "format"

CONFIG = "config.json"
BEST_HPS = "best_hyperparameters.json"
MODEL = "best_model.keras"
HISTORY = "history.json"
METRICS = "metrics.json"
TRIALS = "trials.csv"
PREDICTIONS = "test_predictions.npz"
RETRAIN_PLAN = "retrain_plan.json"
CALIBRATION = "calibration.npz"  # a stratified sample of the training images (uint8 "images", "labels"), for export
CALIBRATION_SIZE = 1000
REPORT = "report"  # written by report.py:
REPORT_HTML = "index.html"
REPORT_JSON = "report.json"
EXPORT = "export"  # written by export.py (default folder):
EXPORT_JSON = "export.json"
EXPORT_ONNX = "model.onnx"
EXPORT_TFLITE = "model.tflite"
EXPORT_TFLITE_INT8 = "model_int8.tflite"
LOCK_SUFFIX = ".lock"  # .NAME.lock beside the run directory NAME: held by the search running there
WORKERS = "workers"  # logs of the local worker processes of --workers
WORKER_LOG = "{tuner_id}.log"  # inside WORKERS: one per worker, appended across its restarts
TUNER = "tuner"  # Keras Tuner's own project folder
ORACLE = "oracle.json"  # inside TUNER
TRIAL_PREFIX = "trial_"  # TUNER/trial_<id>/
TRIAL_RECORD = "mnist_tuner.json"  # our record beside Keras Tuner's trial.json
# Keras Tuner's own files: oracle.json (above), <tuner_id>.json, and in each TRIAL_PREFIX<id>/ folder:
KT_TRIAL = "trial.json"
KT_CHECKPOINT = "checkpoint.weights.h5"
KT_BUILD_CONFIG = "build_config.json"
COPY_SUFFIX = ".copy"  # every Keras Tuner state file is kept as a copy beside it, to restore a damaged one
DAMAGED = "damaged"  # RUN/damaged/: where repair moves damaged files, never deleting them
MODEL_MEMBERS = ("config.json", "model.weights.h5")  # what a .keras file (a zip) must hold to load

# Trial statuses, as Keras Tuner writes them.
COMPLETED = "COMPLETED"
FAILED = "FAILED"
INVALID = "INVALID"
RUNNING = "RUNNING"
ENDED = (COMPLETED, FAILED, INVALID)
UNSUCCESSFUL = (FAILED, INVALID)

# trials.csv: these first, then one column per hyperparameter, then TRIALS_TAIL.
TRIALS_HEAD = ("trial_id", "status")
TRIALS_TAIL = ("val_accuracy", "epochs", "seconds", "rss_mb", "message")
# Hyperband's bookkeeping kept in trials.csv: how long a trial trained, and the trial it continued.
KEPT_TUNER_KEYS = ("tuner/epochs", "tuner/trial_id")
# Columns that stay text even when they look like numbers ("0000" is a Hyperband id).
TEXT_COLUMNS = ("trial_id", "status", "message", "tuner/trial_id")

# What metrics.json holds at least.
METRICS_KEYS = ("test_accuracy", "test_loss", "test_count", "per_class_accuracy", "confusion_matrix")


def is_searched(name: str) -> bool:
    """Whether a hyperparameter name is one of the space's, not a tuner's bookkeeping (`tuner/...`)."""
    return not name.startswith("tuner/")


def format_of(config: dict) -> int:
    """The format version of a run from its config.json (runs written before versioning are 1)."""
    value = config.get(FORMAT_KEY, 1)
    return value if isinstance(value, int) else 1


def best_completed(trials, score=lambda t: t["val_accuracy"], status=lambda t: t["status"]):
    """The completed trial with the highest score, or None; ties go to the one that started first."""
    best = None
    for trial in trials:
        if status(trial) == COMPLETED and score(trial) is not None and (best is None or score(trial) > score(best)):
            best = trial
    return best
