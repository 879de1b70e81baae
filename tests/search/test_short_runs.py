"""Short runs are never silently wrong: the default preset (weight averaging on) with a few retrain
epochs tests as well as without the average, says which weights it kept, and warns when the tested
model is far below its trial."""

from __future__ import annotations

import json

import pytest

from results.run import layout, open_run
from runs import run_cli

# One search, four retrains: the retrain options are not part of the search, so the same run
# directory retrains again for each (the trials stay).
SEARCH = ("--dataset", "digits", "--max-trials", "2", "--max-epochs", "2", "--seed", "0", "--quiet")


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory) -> dict:
    """(metrics.json, stdout) of the default preset for --epochs 1 and 2, as it is and with --no-ema, and
    under "best" the best trial's validation accuracy."""
    run_dir = tmp_path_factory.mktemp("short") / "run"
    out = {}
    for epochs in (1, 2):
        for ema in (False, True):
            # The average is the preset's own default: only its absence is asked for.
            done = run_cli(*SEARCH, "--epochs", epochs, *([] if ema else ["--no-ema"]), "--run-dir", run_dir)
            assert done.returncode == 0, done.stderr
            out[(epochs, ema)] = (json.loads((run_dir / layout.METRICS).read_text()), done.stdout)
    out["best"] = max(trial["val_accuracy"] for trial in open_run(run_dir).completed_trials)
    return out


@pytest.mark.parametrize("epochs", [1, 2])
def test_the_average_tests_within_two_points_of_no_average(short_runs, epochs):
    with_average, _ = short_runs[(epochs, True)]
    without, _ = short_runs[(epochs, False)]
    # Keras' own average, without a warm-up, tested 10.6% here against 91.4% without it.
    assert abs(with_average["test_accuracy"] - without["test_accuracy"]) <= 0.02
    assert with_average["retrain"]["ema"] is True


def test_the_run_says_which_weights_it_kept(short_runs):
    metrics, stdout = short_runs[(2, True)]
    (kept,) = metrics["retrain"]["weights_kept"]
    assert kept["network"] == 1 and kept["kept"] in ("average", "raw")
    assert kept["sample"] == 1437  # all of the digits set's train+validation: under CHOICE_SAMPLE
    better = max(kept["average_accuracy"], kept["raw_accuracy"])
    assert kept[f"{kept['kept']}_accuracy"] == better
    assert "network 1 kept" in " ".join(stdout.split())
    assert "weights_kept" not in short_runs[(2, False)][0]["retrain"]


def test_a_tested_model_far_below_its_trial_is_warned_of(short_runs):
    # One retrain epoch on 1,437 images, with the default preset's augmentation, tests 11-37% where its
    # trial, two epochs long and not augmented, read 78%.
    metrics, stdout = short_runs[(1, False)]
    assert metrics["test_accuracy"] < 0.6
    (warning,) = metrics["warnings"]
    assert "below the best trial's validation accuracy" in warning
    assert "warning:" in stdout
    # Every short run warns exactly when it tests 10 points or more below the best trial.
    for key in ((1, True), (2, False), (2, True)):
        metrics, stdout = short_runs[key]
        far_below = metrics["test_accuracy"] < short_runs["best"] - 0.10
        assert bool(metrics["warnings"]) == far_below == ("warning:" in stdout), key


def test_a_short_default_run_keeps_the_presets_retrain_and_tests_above_chance(short_runs):
    # test_preset_accuracy.py's case of the default preset: the command line with only --epochs 2.
    metrics, _ = short_runs[(2, True)]
    assert {k: metrics["retrain"][k] for k in ("augment", "ema", "tta")} == dict.fromkeys(
        ("augment", "ema", "tta"), True
    )
    # 83.6% with --epochs 2 before the retrain learnt pens and cameras; 67% with stroke widths, noise
    # and zoom; 28-48% with hairlines, small digits and wider moves too (44 steps of heavy augmentation
    # on 1,437 images; the run warns, above). Keras' average without a warm-up saved 10.0%: chance.
    assert metrics["test_accuracy"] >= 0.2, metrics["retrain"]
