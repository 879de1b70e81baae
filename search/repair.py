"""Repairing a run directory before a search resumes it: every file is checked, and a damaged one
is rebuilt (Keras Tuner's state: search/engine/repair.py; trials.csv and best_hyperparameters.json
after the search; the retrain plan, model, curves, predictions and metrics by retraining and
testing again). Damaged files are moved to RUN/damaged/; each repair is one line for the user.
Temp files left by a write that was killed are deleted: they never held a finished file.
"""

from __future__ import annotations

from pathlib import Path

from results.run import atomic, layout
from results.run.files import DamagedFile, check_csv, check_zip, exists, problem, read_json
from search.engine.repair import DAMAGED, repair_tuner, set_aside

# Rebuilt when next needed: the first two from the tuner's trials after every search, the plan
# (with the epoch timing it holds) before the next retrain, the calibration sample from the data.
REWRITTEN = {
    layout.TRIALS: (check_csv, layout.TRIALS_HEAD),
    layout.BEST_HPS: (read_json,),
    layout.RETRAIN_PLAN: (read_json, ("request", "epochs")),
    layout.CALIBRATION: (check_zip, ("images.npy", "labels.npy")),
}
# What the retrain and the test write; metrics.json last. One of them damaged: both run again.
RETRAIN_OUTPUTS = {
    layout.MODEL: (check_zip, layout.MODEL_MEMBERS),
    layout.HISTORY: (read_json, ("epochs",)),
    layout.PREDICTIONS: (check_zip, ("images.npy", "labels.npy", "probabilities.npy")),
    layout.METRICS: (read_json, layout.METRICS_KEYS),
}
# Needed by a finished run (metrics.json present): missing is damaged too.
FINISHED = (layout.MODEL, layout.HISTORY, layout.PREDICTIONS)


def repair_run(run_dir: Path) -> list[str]:
    """Check every file of `run_dir` and repair what is damaged; returns one line per repair.

    Raises SearchStateLost (a UserError) when Keras Tuner's oracle.json and its copy are both lost.
    """
    notes = _remove_stale_temp_files(run_dir)
    notes += repair_tuner(run_dir)
    for name, (check, *args) in REWRITTEN.items():
        damaged = _damaged(run_dir / name, check, *args)
        if damaged:
            set_aside(run_dir, damaged.path)
            notes.append(f"{damaged}; moved to {run_dir / DAMAGED}, written again when next needed")
    finished = exists(run_dir / layout.METRICS)
    redo = []
    for name, (check, *args) in RETRAIN_OUTPUTS.items():
        path = run_dir / name
        if not exists(path):
            if finished and name in FINISHED:
                redo.append(f"{path}: missing")
            continue
        damaged = problem(check, path, *args)
        if damaged:
            set_aside(run_dir, path)
            redo.append(f"{damaged}; moved to {run_dir / DAMAGED}")
    if redo:
        (run_dir / layout.METRICS).unlink(missing_ok=True)
        notes += [f"{line}; the retrain and the test run again" for line in redo]
    return notes


def _remove_stale_temp_files(run_dir: Path) -> list[str]:
    stale = atomic.stale_temp_files(run_dir)
    for path in stale:
        path.unlink(missing_ok=True)
    if not stale:
        return []
    shown = ", ".join(str(p.relative_to(run_dir)) for p in stale[:3]) + (" ..." if len(stale) > 3 else "")
    return [f"{run_dir}: removed {len(stale)} temp file(s) of writes that were killed ({shown})"]


def _damaged(path: Path, check, *args) -> DamagedFile | None:
    return problem(check, path, *args) if exists(path) else None
