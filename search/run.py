"""The main job: data -> split -> search -> retrain the best -> test once -> run directory."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import platform
import shutil
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from search import atomic, distributed, interrupts
from search.config import ConfigError, RunConfig, describe_differences, key_hash
from search.data import Dataset, load_dataset
from search.engine import SearchError, last_error_line, read_trial_timing
from search.progress import Display
from search.retrain import evaluate, retrain, seconds_per_epoch
from search.split import stratified_subset, train_val_split
from search.tuners import PROJECT, make_tuner, planned_trials
from space import CNNHyperModel

CONFIG = "config.json"
BEST_HPS = "best_hyperparameters.json"
MODEL = "best_model.keras"
HISTORY = "history.json"
METRICS = "metrics.json"
TRIALS = "trials.csv"
PREDICTIONS = "test_predictions.npz"
RETRAIN_PLAN = "retrain_plan.json"
__all__ = ["RunSummary", "SearchError", "run_search"]


@dataclasses.dataclass
class RunSummary:
    """What a finished run reports back."""

    run_dir: Path
    metrics: dict
    best_values: dict
    top_trials: list[dict]
    resumed_complete: bool


def run_search(
    config: RunConfig,
    display: Display | None = None,
    dataset: Dataset | None = None,
    workers: distributed.WorkerPool | None = None,
) -> RunSummary | None:
    """Run (or resume) the search `config` describes; returns the finished run's summary.

    `dataset` is the one `config` names, when the caller has loaded it already. Under Keras
    Tuner's distributed environment variables this process is the chief (it serves the
    oracle, then retrains and tests; `workers` are local worker processes it starts and
    watches) or a worker (it runs trials and returns None).
    """
    role = distributed.role()
    display = display or Display()
    started = time.time()
    dataset = dataset or load_dataset(config.dataset, config.data)
    x, y = dataset.x_train, dataset.y_train
    if config.subset:
        x, y = stratified_subset(x, y, config.subset, config.seed)
    x_train, y_train, x_val, y_val = train_val_split(x, y, config.val_fraction, config.seed)
    # Trials may train on fewer images than the retrain: a ranking needs less data than a final model.
    x_search, y_search = x_train, y_train
    if config.search_subset:
        x_search, y_search = stratified_subset(x_train, y_train, config.search_subset, config.seed)

    # Only now, with every input checked, does anything get written.
    run_dir = Path(config.run_dir) if config.run_dir else config.default_run_dir()
    key = config.search_key(dataset.fingerprint())
    prepare_run_dir(run_dir, config, key)

    keras.utils.set_random_seed(config.seed)
    hypermodel = CNNHyperModel(config.space)
    strategy = _strategy(config.distribution)
    already_spent = sum(t.get("seconds", 0) for t in _timings(run_dir).values())
    deadline = time.time() + config.budget_minutes * 60 - already_spent if config.budget_minutes else None
    tuner = make_tuner(
        config.tuner,
        hypermodel,
        run_dir,
        max_trials=config.trial_limit,
        max_epochs=config.max_epochs,
        seed=config.seed,
        factor=config.hyperband_factor,
        iterations=config.hyperband_iterations,
        deadline=deadline,
        display=display,
        patience=config.early_stopping_patience,
        distribution_strategy=strategy,
    )
    callbacks = [keras.callbacks.TensorBoard(config.tensorboard)] if config.tensorboard else []
    fit = dict(epochs=config.max_epochs, validation_data=(x_val, y_val), callbacks=callbacks, verbose=0)
    if role == "worker":
        # A worker runs the trials the chief hands it; the chief retrains and tests once.
        tuner.search(x_search, y_search, **fit)
        return None

    search_started = time.time()
    display.search_begin(planned_trials(tuner), len(_ended_trials(tuner)), deadline)
    monitor = distributed.ChiefMonitor(tuner.oracle, display, deadline, workers) if role == "chief" else None
    try:
        if monitor:
            if workers:
                workers.start()
            monitor.start()
        tuner.search(x_search, y_search, **fit)
    finally:
        if monitor:
            monitor.stop()
        if workers:
            workers.stop()
        display.search_end()
    search_seconds = time.time() - search_started
    budget_stopped = tuner.budget_stopped or bool(monitor and monitor.budget_stopped)
    if budget_stopped:
        display.message(f"time budget of {config.budget_minutes:g} min reached: no new trials started")

    interrupts.check()
    best_trial = _best_trial(tuner)
    best_values = {k: v for k, v in best_trial.hyperparameters.values.items() if not k.startswith("tuner/")}
    trial_rows = trial_table(tuner)
    _write_trials_csv(run_dir / TRIALS, trial_rows)
    # What decides the retrain; the epoch count may then depend on measured speed.
    retrain_request = {
        "hyperparameters": best_values,
        "epochs_asked": config.epochs or (best_trial.best_step + 1),
        "retrain_minutes": config.retrain_minutes,
        "schedule": config.retrain_schedule,
        "augment": config.retrain_augment,
        "trial_id": best_trial.trial_id,
    }

    previous = _read_json(run_dir / METRICS)
    if previous and _same_retrain(previous.get("retrain"), retrain_request) and (run_dir / MODEL).exists():
        # The best is unchanged: its retrained model stands. New trials only update the counts.
        counts = _trial_counts(trial_rows)
        nothing_new = previous.get("trials") == counts
        if not nothing_new:
            previous["trials"] = counts
            previous["timings"]["trial_seconds_all_sessions"] = round(sum(r["seconds"] or 0 for r in trial_rows), 2)
            atomic.write_json(run_dir / METRICS, previous)
        return RunSummary(run_dir, previous, best_values, _top(trial_rows), resumed_complete=nothing_new)

    (run_dir / METRICS).unlink(missing_ok=True)  # the run is unfinished again until metrics.json is back
    atomic.write_json(run_dir / BEST_HPS, best_values)

    retrain_started = time.time()
    x_all, y_all = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    epochs, epoch_seconds = _plan_retrain(
        run_dir, retrain_request, config, hypermodel, best_values, x_all, y_all, display, strategy
    )
    retrain_key = {**retrain_request, "epochs": epochs, "epoch_seconds": epoch_seconds}
    interrupts.check()
    model, history = retrain(
        hypermodel,
        best_values,
        x_all,
        y_all,
        epochs,
        seed=config.seed,
        display=display,
        schedule=config.retrain_schedule,
        augment=config.retrain_augment,
        strategy=strategy,
        seconds=config.retrain_minutes * 60 - (time.time() - retrain_started) if config.retrain_minutes else None,
    )
    retrain_key["epochs"] = len(history)  # fewer than planned where the epochs run showed the rest would not fit
    display.search_end()
    retrain_seconds = time.time() - retrain_started
    atomic.save_model(model, run_dir / MODEL)
    atomic.write_json(run_dir / HISTORY, {"epochs": history})

    interrupts.check()
    test_metrics, probabilities = evaluate(model, dataset.x_test, dataset.y_test)
    with atomic.atomic_path(run_dir / PREDICTIONS) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=dataset.x_test[..., 0], labels=dataset.y_test, probabilities=probabilities)

    metrics = {
        **test_metrics,
        "timings": {
            "search_seconds": round(search_seconds, 2),
            "retrain_seconds": round(retrain_seconds, 2),
            "total_seconds": round(time.time() - started, 2),
            "trial_seconds_all_sessions": round(sum(r["seconds"] or 0 for r in trial_rows), 2),
        },
        "trials": _trial_counts(trial_rows),
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "fingerprint": key["data_fingerprint"],
            "train": int(len(x_train)),
            "search_train": int(len(x_search)),
            "validation": int(len(x_val)),
            "test": int(len(dataset.y_test)),
        },
        "retrain": retrain_key,
        "budget_stopped": budget_stopped,
        "versions": versions(),
    }
    atomic.write_json(run_dir / METRICS, metrics)
    return RunSummary(run_dir, metrics, best_values, _top(trial_rows), resumed_complete=False)


def _plan_retrain(
    run_dir: Path, request: dict, config: RunConfig, hypermodel, values, x, y, display, strategy
) -> tuple[int, float | None]:
    """How many epochs the retrain runs, and the measured seconds of one (None when not capped).

    Under `retrain_minutes` the count depends on the speed measured now, so it is written down
    before training: a retrain redone after a kill or Ctrl-C runs the same epochs again.
    """
    plan = _read_json(run_dir / RETRAIN_PLAN)
    if plan and plan.get("request") == request:
        epochs, epoch_seconds = plan["epochs"], plan.get("epoch_seconds")
    else:
        started = time.time()
        epochs, epoch_seconds = request["epochs_asked"], None
        if config.retrain_minutes:
            measured = seconds_per_epoch(hypermodel, values, x, y, config.retrain_augment, strategy=strategy)
            epoch_seconds = round(measured, 2)
            seconds_left = config.retrain_minutes * 60 - (time.time() - started)
            epochs = max(1, min(epochs, int(seconds_left // epoch_seconds)))
        plan = {"request": request, "epochs": epochs, "epoch_seconds": epoch_seconds}
        atomic.write_json(run_dir / RETRAIN_PLAN, plan)
    if epochs < request["epochs_asked"]:
        display.message(
            f"retraining {epochs} of {request['epochs_asked']} epochs: one takes about {epoch_seconds:.0f} s here, "
            f"and the retrain has {config.retrain_minutes:g} min (--retrain-minutes)"
        )
    return epochs, epoch_seconds


def _same_retrain(previous: dict | None, request: dict) -> bool:
    """Whether a finished run's retrain answered `request`.

    Records written before the epochs asked and the cap were kept hold neither: those
    compare on what they do hold (hyperparameters, trial, schedule, augmentation).
    """
    if previous is None:
        return False
    # What measured speed chose (epochs, epoch_seconds) is not part of what was asked.
    old = {k: v for k, v in previous.items() if k not in ("epochs", "epoch_seconds")}
    if "epochs_asked" not in old:
        return all(request.get(k) == v for k, v in old.items())
    return old == request


def prepare_run_dir(run_dir: Path, config: RunConfig, key: dict) -> None:
    """Create the run directory, or check that an existing one was started with the same search.

    A different search is refused, naming what differs, unless --overwrite is given.
    """
    config_path = run_dir / CONFIG
    existing = _read_json(config_path) if config_path.exists() else None
    if config_path.exists() and existing is None:
        raise ConfigError(f"{config_path}: unreadable; use --overwrite to start the run afresh")
    if existing is not None and existing.get("hash") != key_hash(key):
        if not config.overwrite:
            differences = describe_differences(existing.get("search", {}), key)
            raise ConfigError(
                f"{run_dir} holds a run with another configuration: {'; '.join(differences) or 'unknown'}; "
                "give --overwrite to start it afresh, or another --run-dir"
            )
    if config.overwrite and run_dir.exists():
        if existing is None and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir} is not empty and not a run directory: refusing to overwrite it")
        if existing is not None:
            shutil.rmtree(run_dir)
            existing = None
    elif run_dir.exists() and existing is None and any(p.name != PROJECT for p in run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is not empty and not a run directory; choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    if existing is None:
        atomic.write_json(
            config_path,
            {
                "hash": key_hash(key),
                "search": key,
                "options": config.to_dict(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )


def trial_table(tuner) -> list[dict]:
    """One row per trial, in the order they started: id, status, hyperparameters, score, epochs, seconds."""
    timings = _timings(Path(tuner.project_dir).parent)
    rows = []
    for trial_id in tuner.oracle.start_order:
        trial = tuner.oracle.trials[trial_id]
        timing = timings.get(trial_id, {})
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append(
            {
                "trial_id": trial_id,
                "status": trial.status,
                **{
                    k: v
                    for k, v in trial.hyperparameters.values.items()
                    if not k.startswith("tuner/") or k in ("tuner/epochs", "tuner/trial_id")
                },
                "val_accuracy": score,
                "epochs": timing.get("epochs"),
                "seconds": timing.get("seconds"),
                "rss_mb": timing.get("rss_mb"),
                "message": last_error_line(trial.message) if trial.status != "COMPLETED" else None,
            }
        )
    return rows


def _write_trials_csv(path: Path, rows: list[dict]) -> None:
    fixed = ["trial_id", "status"]
    tail = ["val_accuracy", "epochs", "seconds", "rss_mb", "message"]
    hp_names = []
    for row in rows:
        hp_names += [k for k in row if k not in fixed + tail and k not in hp_names]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fixed + hp_names + tail, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(path, out.getvalue())


def _timings(run_dir: Path) -> dict:
    project = run_dir / PROJECT
    if not project.is_dir():
        return {}
    return {d.name.removeprefix("trial_"): read_trial_timing(d) for d in project.glob("trial_*") if d.is_dir()}


def _ended_trials(tuner) -> list[str]:
    return [t.trial_id for t in tuner.oracle.trials.values() if t.status in ("COMPLETED", "FAILED", "INVALID")]


def _best_trial(tuner):
    # Keras Tuner pads its best trials with failed ones when too few completed.
    best = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    if best:
        return best[0]
    trials = list(tuner.oracle.trials.values())
    failed = [t for t in trials if t.status in ("FAILED", "INVALID")]
    why = f"; the last error: {last_error_line(failed[-1].message)}" if failed and failed[-1].message else ""
    raise SearchError(f"no trial succeeded ({len(failed)} of {len(trials)} failed){why}")


def _trial_counts(rows: list[dict]) -> dict:
    statuses = [r["status"] for r in rows]
    return {
        "total": len(rows),
        "completed": statuses.count("COMPLETED"),
        "failed": statuses.count("FAILED") + statuses.count("INVALID"),
    }


def _top(rows: list[dict], n: int = 5) -> list[dict]:
    done = [r for r in rows if r["val_accuracy"] is not None]
    return sorted(done, key=lambda r: -r["val_accuracy"])[:n]


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _strategy(name: str | None):
    if name is None:
        return None
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def versions() -> dict:
    """Versions of the libraries that decide the numbers."""
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": kt.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
