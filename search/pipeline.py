"""The main job, stage by stage: prepare data -> search -> pick the best -> retrain -> test -> write.

Every stage is a function below `run_search`, in the order it runs. The run directory is
written through search/rundir.py and the contract in results/run/layout.py.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from results.run import atomic, layout
from search import interrupts, repair, rundir
from search.config import RunConfig
from search.data import Dataset, load_dataset, stratified_subset, train_val_split
from search.display import Display, precision_line, weights_line
from search.engine import distributed, kt_compat, make_tuner, planned_trials
from search.engine.memory import Recycle, what_is_loaded_frozen
from search.engine.records import best_trial, last_error_line, searched_values
from search.errors import RetrainError, SearchError, UserError
from search.precision import Choice
from search.precision import resolve as resolve_precision
from search.retrain import evaluate, member_rate_scales, peak_rate, plan_epochs, retrain, with_request_defaults
from space import CNNHyperModel, averaged, shift_averaged
from space.precision import float32_copy

__all__ = ["RunSummary", "SearchError", "run_search"]


@dataclasses.dataclass
class RunSummary:
    """What a finished run reports back."""

    run_dir: Path
    metrics: dict
    best_values: dict
    top_trials: list[dict]
    resumed_complete: bool


@dataclasses.dataclass
class SearchData:
    """The arrays of one run: what trials train on, the validation split, and both together for the retrain."""

    dataset: Dataset
    fingerprint: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_search: np.ndarray
    y_search: np.ndarray


@dataclasses.dataclass
class SearchOutcome:
    """The searched tuner and what its search took."""

    tuner: object
    seconds: float
    budget_stopped: bool


def run_search(
    config: RunConfig,
    display: Display | None = None,
    dataset: Dataset | None = None,
    workers: distributed.WorkerPool | None = None,
    started: float | None = None,
    search_started: float | None = None,
) -> RunSummary | None:
    """Run (or resume) the search `config` describes; returns the finished run's summary.

    `started`: when the job began (time.time()), from which --minutes counts; default now.
    `search_started`: when this job's search began, where an earlier process of the same job
    searched before it (search/cli.py's replacement); default when the search starts.
    `dataset` is the one `config` names, when the caller has loaded it already. Under Keras
    Tuner's distributed environment variables this process is the chief (it serves the
    oracle, then retrains and tests; `workers` are local worker processes it starts and
    watches) or a worker (it runs trials and returns None).
    """
    started, display = started or time.time(), display or Display()
    data = prepare_data(config, dataset)
    key = config.search_key(data.fingerprint)
    choice = resolve_precision(config.precision)
    if choice.how == "measured":
        display.message(precision_line(choice.record()))
    if distributed.role() == "worker":  # runs the chief's trials in the chief's directory, which the chief holds
        run_dir = rundir.prepare(config.resolved_run_dir(), config, key)
        search(config, data, run_dir, display, None, precision=choice.used)
        return None
    with rundir.claimed(config.resolved_run_dir()):
        return _run_stages(config, data, key, display, workers, started, search_started, choice)


def _run_stages(
    config: RunConfig,
    data,
    key: dict,
    display: Display,
    workers,
    started: float,
    search_started: float | None,
    choice: Choice,
) -> RunSummary:
    # Only now, with every input checked and the directory held, does anything get written.
    run_dir = rundir.prepare(config.resolved_run_dir(), config, key)
    for line in repair.repair_run(run_dir):
        display.message(f"repaired: {line}")
    outcome = search(config, data, run_dir, display, workers, search_started, choice.used)
    interrupts.check()
    write_calibration(run_dir, data)
    best = pick_best(outcome.tuner)
    rows = rundir.trial_rows(outcome.tuner.oracle, run_dir)
    rundir.write_trials_csv(run_dir, rows)
    request = retrain_request(config, best)
    if rundir.read_json(run_dir / layout.BEST_HPS) != request["hyperparameters"]:
        atomic.write_json(run_dir / layout.BEST_HPS, request["hyperparameters"])
    finished = already_retrained(run_dir, request, rows)
    if finished is not None:
        return RunSummary(run_dir, finished[0], request["hyperparameters"], top_trials(rows), finished[1])

    retrain_started = time.time()
    model, retrain_record = retrain_best(config, data, run_dir, request, display, started, choice.used)
    retrain_seconds = time.time() - retrain_started
    interrupts.check()
    test_metrics = test_once(model, data.dataset, run_dir)
    test_metrics["warnings"] = result_warnings(test_metrics["test_accuracy"], best.score)
    timings = {"search": outcome.seconds, "retrain": retrain_seconds, "total": time.time() - started}
    metrics = write_metrics(
        run_dir, test_metrics, timings, rows, data, retrain_record, outcome.budget_stopped, choice.record()
    )
    return RunSummary(run_dir, metrics, request["hyperparameters"], top_trials(rows), resumed_complete=False)


def prepare_data(config: RunConfig, dataset: Dataset | None) -> SearchData:
    """Load the data (unless given), take the subset, split off validation, and the trials' subset."""
    dataset = dataset or load_dataset(config.dataset, config.data)
    x, y = dataset.x_train, dataset.y_train
    if config.subset:
        x, y = stratified_subset(x, y, config.subset, config.seed)
    x_train, y_train, x_val, y_val = train_val_split(x, y, config.val_fraction, config.seed)
    # Trials may train on fewer images than the retrain: a ranking needs less data than a final model.
    x_search, y_search = x_train, y_train
    if config.search_subset:
        x_search, y_search = stratified_subset(x_train, y_train, config.search_subset, config.seed)
    return SearchData(dataset, dataset.fingerprint(), x_train, y_train, x_val, y_val, x_search, y_search)


def write_calibration(run_dir: Path, data: SearchData) -> None:
    """RUN/calibration.npz, once: a stratified sample of the training images, from which export.py draws the
    int8 model's representative set (a run directory holds no training data otherwise; never test images)."""
    path = run_dir / layout.CALIBRATION
    if path.exists():
        return
    x, y = stratified_subset(data.x_train, data.y_train, layout.CALIBRATION_SIZE, seed=0)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=x[..., 0], labels=y)


def search(
    config: RunConfig,
    data: SearchData,
    run_dir: Path,
    display: Display,
    workers: distributed.WorkerPool | None,
    started: float | None = None,
    precision: str = "float32",
) -> SearchOutcome | None:
    """Run the trials (resuming those already run), within the time budget; None in a distributed worker.
    `started`: when the search began, where an earlier process began it; default now. `precision`: what the
    trials compute in."""
    role = distributed.role()
    keras.utils.set_random_seed(config.seed)
    already_spent = sum(r.get("seconds", 0) for r in rundir.trial_records(run_dir).values())
    deadline = time.time() + config.search_minutes * 60 - already_spent if config.search_minutes else None
    tuner = load_tuner(config, run_dir, display, deadline, role, precision)
    callbacks = [keras.callbacks.TensorBoard(config.tensorboard)] if config.tensorboard else []
    fit = dict(epochs=config.max_epochs, validation_data=(data.x_val, data.y_val), callbacks=callbacks, verbose=0)
    if role == "worker":
        with what_is_loaded_frozen():
            tuner.search(data.x_search, data.y_search, **fit)
        return None

    started = started or time.time()
    display.search_begin(planned_trials(tuner), len(kt_compat.trials_in_end_order(tuner.oracle)), deadline)
    monitor = distributed.ChiefMonitor(tuner.oracle, display, deadline, workers) if role == "chief" else None
    try:
        if monitor:
            if workers:
                workers.start()
            monitor.start()
        with what_is_loaded_frozen():
            tuner.search(data.x_search, data.y_search, **fit)
    except Recycle as replaced:
        replaced.search_started = started  # the fresh process' search carries on this one's clock
        raise
    finally:
        if monitor:
            monitor.stop()
        if workers:
            workers.stop()
        display.search_end()
    budget_stopped = tuner.budget_stopped or bool(monitor and monitor.budget_stopped)
    if budget_stopped:
        display.message(f"search budget of {config.search_minutes:g} min reached: no new trials started")
    return SearchOutcome(tuner, time.time() - started, budget_stopped)


def load_tuner(
    config: RunConfig, run_dir: Path, display: Display, deadline: float | None, role: str, precision: str = "float32"
):
    """The tuner of `config` in `run_dir`: new, or reloaded with the trials already run there.
    A reload that fails where repair_run saw nothing wrong ends with one line (SearchError)."""
    reloading = (run_dir / layout.TUNER / layout.ORACLE).exists()
    try:
        return make_tuner(
            config.tuner,
            CNNHyperModel(config.space, precision=precision),
            run_dir,
            max_trials=config.trial_limit,
            max_epochs=config.max_epochs,
            seed=config.seed,
            factor=config.hyperband_factor,
            iterations=config.hyperband_iterations,
            deadline=deadline,
            display=display,
            patience=config.early_stopping_patience,
            distribution_strategy=strategy(config.distribution),
            # Only a lone search process is replaced; a chief trains nothing, workers are watched by it.
            recycle=role == "single",
        )
    except Exception as e:
        if not reloading or isinstance(e, UserError):
            raise
        raise SearchError(
            f"{run_dir / layout.TUNER}: Keras Tuner cannot reload it ({type(e).__name__}: {last_error_line(str(e))}); "
            "restore the damaged file, or give --overwrite to search afresh"
        ) from None


def pick_best(tuner):
    """The completed trial with the best validation accuracy (SearchError when none completed)."""
    best = best_trial(tuner.oracle)
    if best is not None:
        return best
    trials = kt_compat.trials_in_start_order(tuner.oracle)
    failed = [t for t in trials if t.status in layout.UNSUCCESSFUL]
    why = f"; the last error: {last_error_line(failed[-1].message)}" if failed and failed[-1].message else ""
    raise SearchError(f"no trial succeeded ({len(failed)} of {len(trials)} failed){why}")


def retrain_request(config: RunConfig, best) -> dict:
    """What decides the retrain: the best trial's values and the options; the epochs run may then
    depend on measured speed."""
    return {
        "hyperparameters": searched_values(best.hyperparameters.values),
        "epochs_asked": None if config.retrain_timed else config.epochs or (best.best_step + 1),
        "retrain_minutes": config.retrain_minutes,
        "minutes": config.minutes,
        "timed": config.retrain_timed,
        "schedule": config.retrain_schedule,
        "augment": config.retrain_augment,
        "ema": config.retrain_ema,
        "tta": config.retrain_tta,
        "trial_id": best.trial_id,
        "members": config.retrain_members,
        "rate_scale": config.retrain_rate_scale,
    }


def already_retrained(run_dir: Path, request: dict, rows: list[dict]) -> tuple[dict, bool] | None:
    """(metrics, nothing new) where a finished run's model already answers `request`, else None.

    New trials that did not change the best only update the counts in metrics.json. Otherwise
    the run is unfinished again until metrics.json is back.
    """
    previous = rundir.read_json(run_dir / layout.METRICS)
    if previous and _asked(previous.get("retrain")) == request and (run_dir / layout.MODEL).exists():
        counts = rundir.trial_counts(rows)
        nothing_new = previous.get("trials") == counts
        if not nothing_new:
            previous["trials"] = counts
            previous["timings"]["trial_seconds_all_sessions"] = rundir.trial_seconds(rows)
            atomic.write_json(run_dir / layout.METRICS, previous)
        return previous, nothing_new
    (run_dir / layout.METRICS).unlink(missing_ok=True)
    return None


def _asked(record: dict | None) -> dict | None:
    # What measured speed chose is not part of what was asked.
    return with_request_defaults({k: v for k, v in record.items() if k not in MEASURED}) if record else None


MEASURED = (
    "epochs",
    "epoch_seconds",
    "seconds_budget",
    "seconds_trained",
    "share_used",
    "member_peak_rates",
    "members_left_out",
    "weights_kept",
)


def retrain_best(
    config: RunConfig,
    data: SearchData,
    run_dir: Path,
    request: dict,
    display: Display,
    run_started: float,
    precision: str = "float32",
) -> tuple[keras.Model, dict]:
    """Retrain the best CNN from scratch on train+validation (--members: several, one after the other,
    each with an equal share of what time is left), computing in `precision`; write the model (computing
    in float32) and its curves.
    Returns the model and the retrain's record for metrics.json."""
    started = time.time()
    x_all, y_all = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    hypermodel = CNNHyperModel(config.space, precision=precision)
    run_strategy = strategy(config.distribution)
    time_budget = retrain_seconds(config, run_started) if config.retrain_timed else None
    epochs, epoch_seconds = request["epochs_asked"], None
    if not config.retrain_timed:
        epochs, epoch_seconds = plan_epochs(
            run_dir / layout.RETRAIN_PLAN, request, hypermodel, x_all, y_all, display, run_strategy
        )
    interrupts.check()
    deadline = started + time_budget if time_budget is not None else None
    capped = started + config.retrain_minutes * 60 if config.retrain_minutes else None
    models, history, left_out, kept_weights = retrain_members(
        config, hypermodel, request, (x_all, y_all), epochs, deadline, capped, display, run_strategy
    )
    display.search_end()
    model = averaged(models)
    if config.retrain_tta:
        model = shift_averaged(model)
    # Trained in bfloat16 or float16, the model is saved (and tested) as it would compute anywhere: in float32.
    model = float32_copy(model)
    atomic.save_model(model, run_dir / layout.MODEL)
    atomic.write_json(run_dir / layout.HISTORY, {"epochs": history})
    # Fewer epochs than planned where the epochs run showed the rest would not fit.
    record = {**request, "epochs": len(history), "epoch_seconds": epoch_seconds}
    if kept_weights:
        record["weights_kept"] = kept_weights
    if config.retrain_members > 1 or config.retrain_rate_scale != 1:
        record["member_peak_rates"] = [round(rate, 6) for _, rate in member_rates(config, request)]
        if config.retrain_members > 1:
            record["members_left_out"] = left_out
    if time_budget is not None:
        trained = sum(e["seconds"] for e in history)
        record.update(seconds_budget=round(time_budget, 2), seconds_trained=round(trained, 2))
        record["share_used"] = round(trained / time_budget, 4)
    return model, record


def member_rates(config: RunConfig, request: dict) -> list[tuple[float, float]]:
    """Each network's (multiple of the searched learning rate, peak learning rate), capped as
    `peak_rate` caps it: --rate-scale times the spread of `member_rate_scales`."""
    searched = float(request["hyperparameters"]["learning_rate"])
    scales = [config.retrain_rate_scale * k for k in member_rate_scales(config.retrain_members)]
    return [(k, peak_rate(searched, k, config.space)) for k in scales]


def retrain_members(
    config: RunConfig, hypermodel, request: dict, data, epochs, deadline, capped, display: Display, run_strategy
) -> tuple[list[keras.Model], list[dict], list[dict], list[dict]]:
    """Train the --members networks one after the other, each with an equal share of the time left
    before `deadline` (a clock-driven retrain) or `capped` (--retrain-minutes with --epochs).

    Deadlines, not durations: what one network leaves unused, or overruns, the next ones share.
    Returns the models kept, the epochs of all (each marked with its `member` when there are
    several) and the networks left out, each {"network": its number, "why": ...}: diverged, or
    far behind the best in training error (see LEFT_OUT_ERROR_RATIO), and with --ema which weights each
    network kept ({"network": n, **choose_weights' record}).
    """
    rates = member_rates(config, request)
    models, history, left_out, kept_weights = [], [], [], []
    for member, (scale, rate) in enumerate(rates):
        interrupts.check()
        networks_left = len(rates) - member
        if len(rates) > 1:
            display.message(f"retraining network {member + 1} of {len(rates)}, at a peak learning rate of {rate:.4g}")
        try:
            model, epochs_run, weights = retrain(
                hypermodel,
                request["hyperparameters"],
                *data,
                epochs,
                seed=config.seed + member,
                display=display,
                schedule=config.retrain_schedule,
                augment=config.retrain_augment,
                strategy=run_strategy,
                seconds=None if deadline is not None or capped is None else (capped - time.time()) / networks_left,
                time_budget=None if deadline is None else max(1.0, (deadline - time.time()) / networks_left),
                ema=config.retrain_ema,
                rate_scale=scale,
            )
        except RetrainError as e:
            if member == 0:
                raise
            # A faster network that diverged loses only itself: the ones trained are kept.
            display.message(f"network {member + 1} of {len(rates)} left out, it diverged: {e}")
            left_out.append({"network": member + 1, "why": "diverged"})
            continue
        models.append((member + 1, model, epochs_run))
        if weights is not None:
            kept_weights.append({"network": member + 1, **weights})
            display.message(weights_line(kept_weights[-1]))
    kept = [m for m in models if not _learnt_far_less(m[2], [other[2] for other in models])]
    for number, _, _ in models:
        if all(number != k[0] for k in kept):
            display.message(
                f"network {number} of {len(rates)} left out: its training error ended more than "
                f"{LEFT_OUT_ERROR_RATIO:g} times the best network's"
            )
            left_out.append({"network": number, "why": f"training error over {LEFT_OUT_ERROR_RATIO:g}x the best's"})
    for number, _, epochs_run in models:
        history += [dict(e, member=number) for e in epochs_run] if len(rates) > 1 else epochs_run
    return [k[1] for k in kept], history, sorted(left_out, key=lambda e: e["network"]), kept_weights


# --members: an average is only as good as its members are alike in skill; a network that ended with
# more than this multiple of the best one's training error (a rate too fast for the data) would mostly
# add its mistakes. On full MNIST two networks of 21 minutes, at the searched rate and 3x it, ended at
# 0.46% and 0.36% (docs/experiments.md); on the digits set 3x the rate ended at 83% against 20%.
LEFT_OUT_ERROR_RATIO = 2.0


def _learnt_far_less(epochs_run: list[dict], all_runs: list[list[dict]]) -> bool:
    """Whether a network's training error at its last whole epoch is over LEFT_OUT_ERROR_RATIO times the best's."""
    errors = [_final_error(run) for run in all_runs]
    return _final_error(epochs_run) > LEFT_OUT_ERROR_RATIO * min(errors)


def _final_error(epochs_run: list[dict]) -> float:
    whole = [e for e in epochs_run if "partial" not in e] or epochs_run
    return 1.0 - float(whole[-1].get("accuracy", 0.0))


def retrain_seconds(config: RunConfig, run_started: float) -> float:
    """The clock-driven retrain's seconds: --retrain-minutes, else what --minutes leaves after the search
    and the test's reserve (at least one second: a search that overran its share leaves the retrain little)."""
    if config.retrain_minutes:
        return config.retrain_minutes * 60
    left = run_started + config.minutes * 60 - config.test_reserve_seconds - time.time()
    return max(1.0, left)


def test_once(model: keras.Model, dataset: Dataset, run_dir: Path) -> dict:
    """The one evaluation on the test set; writes the test predictions and returns the test metrics."""
    test_metrics, probabilities = evaluate(model, dataset.x_test, dataset.y_test)
    with atomic.atomic_path(run_dir / layout.PREDICTIONS) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=dataset.x_test[..., 0], labels=dataset.y_test, probabilities=probabilities)
    return test_metrics


# A tested model this far below the best trial's validation accuracy is suspect: the trial read held-out
# images of the same training set, and a sound retrain on more data tests near it or above.
SUSPICIOUS_DROP = 0.10


def result_warnings(test_accuracy: float, best_val_accuracy: float | None) -> list[str]:
    """One line per reason to doubt the tested model, for metrics.json and the summary."""
    if best_val_accuracy is None or test_accuracy >= best_val_accuracy - SUSPICIOUS_DROP:
        return []
    return [
        f"the tested model ({test_accuracy:.2%}) is {best_val_accuracy - test_accuracy:.1%} below the best "
        f"trial's validation accuracy ({best_val_accuracy:.2%}): the retrain was too short or went wrong "
        "(see history.json)"
    ]


def write_metrics(
    run_dir: Path,
    test_metrics: dict,
    timings: dict,
    rows: list[dict],
    data: SearchData,
    retrain_record: dict,
    budget_stopped: bool,
    precision_record: dict | None = None,
) -> dict:
    """metrics.json, written last: its presence marks the run finished. `precision_record`: what the run
    computed in and why (search/precision.py's Choice.record)."""
    metrics = {
        **test_metrics,
        "timings": {
            **{f"{stage}_seconds": round(seconds, 2) for stage, seconds in timings.items()},
            "trial_seconds_all_sessions": rundir.trial_seconds(rows),
        },
        "trials": rundir.trial_counts(rows),
        "dataset": {
            "name": data.dataset.name,
            "source": data.dataset.source,
            "fingerprint": data.fingerprint,
            "train": int(len(data.x_train)),
            "search_train": int(len(data.x_search)),
            "validation": int(len(data.x_val)),
            "test": int(len(data.dataset.y_test)),
        },
        "retrain": retrain_record,
        "budget_stopped": budget_stopped,
        "precision": precision_record,
        "versions": versions(),
    }
    atomic.write_json(run_dir / layout.METRICS, metrics)
    return metrics


def top_trials(rows: list[dict], n: int = 5) -> list[dict]:
    """The `n` completed trials with the best validation accuracy, best first."""
    done = [r for r in rows if r["val_accuracy"] is not None]
    return sorted(done, key=lambda r: -r["val_accuracy"])[:n]


@functools.cache
def strategy(name: str | None):
    """The tf.distribute strategy --distribution names, or None for one device: built once a process,
    for the search and the retrain alike (each MirroredStrategy claims the devices anew)."""
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
