"""The search pipeline end to end: command line, every tuner, failures, seeding, budget."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from results.run import layout
from runs import LEARNING_SPACE, RUN_FILES, TINY_SPACE, run_cli, write_space
from search.config import RunConfig
from search.errors import SearchError
from search.pipeline import run_search
from space import CNNHyperModel, SpaceConfig


def read_trials(run_dir) -> list[dict]:
    with open(run_dir / layout.TRIALS) as f:
        return list(csv.DictReader(f))


def tiny_config(run_dir, **overrides) -> RunConfig:
    options = dict(
        dataset="digits",
        tuner="random",
        max_trials=2,
        max_epochs=2,
        epochs=2,
        run_dir=str(run_dir),
        space=SpaceConfig(**TINY_SPACE),
        quiet=True,
    )
    options.update(overrides)
    return RunConfig(**options)


@pytest.mark.slow
def test_command_line_writes_a_complete_run_whose_model_loads_with_plain_keras(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "--dataset",
        "digits",
        "--max-trials",
        "3",
        "--max-epochs",
        "2",
        "--epochs",
        "3",
        "--run-dir",
        run_dir,
        "--quiet",
        "--space",
        write_space(tmp_path / "space.toml", **LEARNING_SPACE),
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert (run_dir / layout.TUNER / layout.ORACLE).is_file()
    metrics = json.loads((run_dir / layout.METRICS).read_text())
    assert metrics["dataset"]["name"] == "digits"
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["test_count"] == 360
    assert metrics["trials"]["completed"] >= 1
    assert set(metrics["timings"]) >= {"search_seconds", "retrain_seconds", "total_seconds"}
    assert metrics["versions"]["keras_tuner"]
    history = json.loads((run_dir / layout.HISTORY).read_text())["epochs"]
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert metrics["retrain"]["tta"]  # the default preset's: the saved model averages over shifts

    # A fresh interpreter that knows nothing of this project reloads the model and finds the same accuracy.
    check = f"""
import sys, json, numpy as np, keras
from sklearn.datasets import load_digits
model = keras.saving.load_model({str(run_dir / layout.MODEL)!r})
assert 'space' not in sys.modules and 'search' not in sys.modules
data = np.load({str(run_dir / layout.PREDICTIONS)!r}, allow_pickle=False)
probs = model.predict(data['images'][..., None], verbose=0)
print(json.dumps(float(np.mean(probs.argmax(1) == data['labels']))))
"""
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    reloaded_accuracy = json.loads(out.stdout.strip().splitlines()[-1])
    assert reloaded_accuracy == pytest.approx(metrics["test_accuracy"])
    # The default preset's retrain (augmentation, weight average, shift averaging) for 3 epochs of this
    # space tested 96.1%; Keras' average without a warm-up, saved near the initial weights, 9.7%.
    assert reloaded_accuracy >= 0.8, metrics["retrain"]


@pytest.mark.slow
def test_the_test_images_stored_are_the_datasets_test_set(tmp_path):
    from search.data import load_digits

    run_search(tiny_config(tmp_path / "r", max_trials=1, epochs=1))
    stored = np.load(tmp_path / "r" / layout.PREDICTIONS, allow_pickle=False)
    digits = load_digits()
    assert np.array_equal(stored["images"], digits.x_test[..., 0])
    assert np.array_equal(stored["labels"], digits.y_test)


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["hyperband", "bohb", "bayesian", "random", "grid"])
def test_every_tuner_searches_the_same_space(tmp_path, tuner):
    summary = run_search(
        tiny_config(tmp_path / tuner, tuner=tuner, max_trials=3, epochs=3, space=SpaceConfig(**LEARNING_SPACE))
    )
    rows = read_trials(tmp_path / tuner)
    assert 1 <= len(rows) <= 3
    assert all(r["status"] == "COMPLETED" for r in rows)
    for row in rows:
        depth = int(row["conv_blocks"])
        # Per-block widths exist only for the blocks a trial has.
        assert row["filters_0"] != ""
        assert (row.get("filters_1", "") != "") == (depth >= 2)
    # Measured 89-97% over the five tuners (3 epochs of retrain); a model at chance tests about 10%.
    assert summary.metrics["test_accuracy"] >= 0.75, summary.metrics["retrain"]
    best = json.loads((tmp_path / tuner / layout.BEST_HPS).read_text())
    assert not any(k.startswith("tuner/") for k in best)
    assert summary.metrics["retrain"]["hyperparameters"] == best


@pytest.mark.slow
def test_a_diverging_learning_rate_fails_its_trial_and_the_search_goes_on(tmp_path):
    # Grid search walks the learning rate from 0.01 upward; the large ones make SGD diverge.
    space = SpaceConfig(
        **{
            **TINY_SPACE,
            "conv_blocks_max": 1,
            "filters_max": 8,
            "dense_units_max": 16,
            "batch_size_max": 64,
            "momentum_max": 0.0,
            "dropout_max": 0.0,
            "learning_rate_min": 0.01,
            "learning_rate_max": 1e4,
        }
    )
    summary = run_search(tiny_config(tmp_path / "r", tuner="grid", max_trials=10, max_epochs=1, space=space))
    rows = read_trials(tmp_path / "r")
    failed = [r for r in rows if r["status"] == "FAILED"]
    completed = [r for r in rows if r["status"] == "COMPLETED"]
    assert failed and completed
    assert all("diverged" in r["message"] for r in failed)
    # The small rates train; divergence is what fails a trial. (A huge rate can also kill
    # every ReLU and leave a finite, flat loss, so failures need not be the top of the grid.)
    assert all(r["status"] == "COMPLETED" for r in rows if float(r["learning_rate"]) <= 0.1)
    assert min(float(r["learning_rate"]) for r in failed) > 0.1
    # The search went on past its first failed trial.
    assert rows.index(failed[0]) < len(rows) - 1
    assert summary.metrics["trials"]["failed"] == len(failed)
    assert (tmp_path / "r" / layout.MODEL).is_file()


@pytest.mark.slow
def test_a_search_where_every_trial_diverges_ends_with_one_clear_error(tmp_path):
    space_file = write_space(
        tmp_path / "space.toml",
        learning_rate_min=1e20,
        learning_rate_max=1e30,
        conv_blocks_max=1,
        filters_max=8,
        dense_units_max=16,
    )
    result = run_cli(
        "--dataset",
        "digits",
        "--tuner",
        "random",
        "--max-trials",
        "8",
        "--max-epochs",
        "1",
        "--run-dir",
        tmp_path / "r",
        "--quiet",
        "--space",
        space_file,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "failed" in lines[-1] and "diverged" in lines[-1]
    assert "Traceback" not in result.stderr
    assert len(read_trials_from_oracle(tmp_path / "r")) == 5  # gave up after five failures, not eight


def read_trials_from_oracle(run_dir) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / layout.TUNER).glob("trial_*/trial.json"))]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_trials_and_another_seed_other_ones(tmp_path):
    first = run_search(tiny_config(tmp_path / "a", seed=7))
    second = run_search(tiny_config(tmp_path / "b", seed=7))
    a, b = read_trials(tmp_path / "a"), read_trials(tmp_path / "b")
    drop = ("seconds", "rss_mb")
    assert [{k: v for k, v in r.items() if k not in drop} for r in a] == [
        {k: v for k, v in r.items() if k not in drop} for r in b
    ]
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]

    run_search(tiny_config(tmp_path / "c", seed=8, epochs=1, max_epochs=1))
    hp = ("conv_blocks", "filters_0", "dense_units", "learning_rate", "batch_size")
    assert [[r[k] for k in hp] for r in a] != [[r[k] for k in hp] for r in read_trials(tmp_path / "c")]


@pytest.mark.slow
def test_the_time_budget_stops_new_trials_and_still_retrains(tmp_path):
    summary = run_search(tiny_config(tmp_path / "r", max_trials=20, budget_minutes=0.001))
    assert summary.metrics["trials"]["total"] == 1
    assert summary.metrics["budget_stopped"] is True
    assert (tmp_path / "r" / layout.MODEL).is_file()


@pytest.mark.slow
def test_retraining_defaults_to_the_epoch_where_the_best_trial_peaked(tmp_path):
    summary = run_search(tiny_config(tmp_path / "r", epochs=None, max_trials=1, max_epochs=3))
    oracle_trial = read_trials_from_oracle(tmp_path / "r")[0]
    assert summary.metrics["retrain"]["epochs"] == oracle_trial["best_step"] + 1
    assert len(json.loads((tmp_path / "r" / layout.HISTORY).read_text())["epochs"]) == oracle_trial["best_step"] + 1


@pytest.mark.slow
def test_no_trial_succeeding_is_reported_not_crashed(tmp_path):
    # Rates this large overflow to NaN at once (merely large ones can leave a dead, finite network).
    space = SpaceConfig(**{**TINY_SPACE, "learning_rate_min": 1e20, "learning_rate_max": 1e30})
    with pytest.raises(SearchError, match="failed"):
        run_search(tiny_config(tmp_path / "r", max_trials=2, max_epochs=1, space=space))


@pytest.mark.slow
def test_the_retrain_cap_trims_epochs_by_measured_speed_and_a_resume_keeps_the_model(tmp_path):
    capped = tiny_config(tmp_path / "r", max_trials=1, epochs=6, retrain_minutes=1e-4)
    summary = run_search(capped)
    assert summary.metrics["retrain"]["epochs"] == 1  # a fraction of a second fits less than one: never below 1
    assert summary.metrics["retrain"]["epochs_asked"] == 6
    # Resuming the finished run measures nothing again and keeps the retrained model.
    assert run_search(capped).resumed_complete

    roomy = run_search(tiny_config(tmp_path / "s", max_trials=1, epochs=3, retrain_minutes=60))
    assert roomy.metrics["retrain"]["epochs"] == 3
    plan = json.loads((tmp_path / "s" / layout.RETRAIN_PLAN).read_text())
    assert plan["epochs"] == 3 and plan["epoch_seconds"] > 0


@pytest.mark.slow
def test_a_run_directory_of_another_format_gets_one_line_and_report_still_reads_it(tmp_path):
    config = tiny_config(tmp_path / "r", max_trials=1)
    run_search(config)
    config_path = tmp_path / "r" / layout.CONFIG
    record = json.loads(config_path.read_text())
    assert record["format"] == 2
    del record["format"]  # as runs were written before the format was versioned
    config_path.write_text(json.dumps(record))
    result = run_cli(
        "--dataset", "digits", "--tuner", "random", "--max-trials", "1", "--run-dir", tmp_path / "r", "--quiet"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'r'} was written by an earlier mnist-tuner (run-directory format 1; this one writes 2): "
        "report.py still reads a finished one; give --overwrite to search afresh there, or another --run-dir"
    ]
    from results import open_run

    # report.py's reader takes the old run whole: the accuracy it reads is that of the stored answers.
    run = open_run(tmp_path / "r")
    answers = run.test_predictions.probabilities.argmax(axis=1)
    assert run.metrics["test_accuracy"] == pytest.approx(float(np.mean(answers == run.test_predictions.labels)))


def test_one_retrain_epoch_is_timed_in_this_process():
    from search.data import load_dataset
    from search.retrain import seconds_per_epoch

    digits = load_dataset("digits")
    values = {"conv_blocks": 1, "filters_0": 8, "dense_units": 16, "learning_rate": 0.01, "batch_size": 64}
    hypermodel = CNNHyperModel(SpaceConfig(**TINY_SPACE))
    seconds = seconds_per_epoch(hypermodel, values, digits.x_train, digits.y_train, augment=True, steps=5)
    assert 0 < seconds < 60  # about 23 steps of a tiny CNN


def _guard_on_a_clock(seconds, epochs, steps, schedule, ticks):
    """A FitInSeconds whose clock reads `ticks` in turn: a machine whose epochs take what the test says."""
    from search.retrain import FitInSeconds

    readings = iter(ticks)
    guard = FitInSeconds(seconds, epochs, steps, schedule)
    guard.clock = lambda: next(readings)
    return guard


def _rate_now(model) -> float:
    import keras

    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_a_retrain_whose_epochs_show_the_rest_would_not_fit_stops_with_its_decay_complete():
    from search.data import load_dataset
    from search.retrain import FitInSeconds, build_for_retrain

    digits = load_dataset("digits")
    x, y = digits.x_train, digits.y_train
    values = {"conv_blocks": 1, "filters_0": 8, "dense_units": 16, "learning_rate": 0.05, "batch_size": 64}
    hypermodel = CNNHyperModel(SpaceConfig(**TINY_SPACE))
    steps = -(-len(x) // 64)

    # A slow first epoch: 2,500 s hold two epochs of 1,000 s, not six.
    model, batch_size, rate = build_for_retrain(hypermodel, values, 6, len(x), "cosine")
    guard = _guard_on_a_clock(2500, 6, steps, rate, [0, 1000, 2000])
    history = model.fit(x, y, batch_size=batch_size, epochs=6, callbacks=[guard], verbose=0)
    assert len(history.epoch) == 2 and guard.trimmed_from == 6 and guard.epoch_seconds == [1000, 1000]
    # The cosine decay now ends with the second epoch: the rate is back to 0, not mid-way down.
    assert _rate_now(model) < 1e-6

    # A machine that slows down mid-run: 100 s epochs, then a 200 s one; 600 s then hold 4 epochs.
    model, batch_size, rate = build_for_retrain(hypermodel, values, 6, len(x), "cosine")
    guard = _guard_on_a_clock(600, 6, steps, rate, [0, 100, 200, 400, 500])
    history = model.fit(x, y, batch_size=batch_size, epochs=6, callbacks=[guard], verbose=0)
    assert len(history.epoch) == 4 and guard.trimmed_from == 6
    assert _rate_now(model) < 1e-6

    model, batch_size, rate = build_for_retrain(hypermodel, values, 3, len(x), "cosine")
    roomy = FitInSeconds(600, 3, steps, rate)
    assert len(model.fit(x, y, batch_size=batch_size, epochs=3, callbacks=[roomy], verbose=0).epoch) == 3
    assert roomy.trimmed_from is None and len(roomy.epoch_seconds) == 3
