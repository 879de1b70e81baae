"""Hyperparameter importance (fANOVA-style) and the parallel-coordinates picture."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from results.report.importance import MIN_TRIALS, trials_importance
from results.report.plots import png_bytes
from results.report.plots_explain import importance_figure, parallel_figure

NAMES = ["learning_rate", "filters", "optimizer", "dense"]


def synthetic_trials(n: int = 40, seed: int = 1) -> list[dict]:
    """val accuracy depends only on the learning rate (log scale); the rest is noise-free decoration."""
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, -1))
        trials.append(
            {
                "trial_id": f"{i:02d}",
                "status": "COMPLETED",
                "learning_rate": lr,
                "filters": int(rng.choice([8, 16, 32])),
                "optimizer": str(rng.choice(["sgd", "adam"])),
                "dense": int(rng.integers(16, 129)) if rng.random() < 0.6 else None,  # conditional
                "val_accuracy": 0.9 - 0.05 * (np.log10(lr) + 2.5) ** 2,
            }
        )
    return trials


def test_the_only_hyperparameter_that_matters_ranks_first_and_shares_sum_to_one():
    result = trials_importance(synthetic_trials(), NAMES, {"learning_rate"})
    assert result.reason is None
    shares = result.shares
    assert set(shares) == set(NAMES)
    assert all(s >= 0 for s in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0)
    assert max(shares, key=shares.get) == "learning_rate"
    assert shares["learning_rate"] > 0.8


def test_importance_is_deterministic():
    a = trials_importance(synthetic_trials(), NAMES, {"learning_rate"})
    b = trials_importance(synthetic_trials(), NAMES, {"learning_rate"})
    assert a.shares == b.shares


def test_too_few_trials_gives_no_numbers_but_a_reason():
    result = trials_importance(synthetic_trials(MIN_TRIALS - 1), NAMES, {"learning_rate"})
    assert result.shares is None
    assert "too few trials" in result.reason
    fig, data = importance_figure(result)
    assert data["shares"] is None
    png_bytes(fig)


def test_hyperband_uses_the_largest_budget_with_enough_trials():
    trials = synthetic_trials(30)
    for i, t in enumerate(trials):
        t["tuner/epochs"] = 1 if i < 20 else 3  # 20 at 1 epoch, 10 at 3 epochs
    result = trials_importance(trials, NAMES, {"learning_rate"})
    assert result.budget == 3 and result.trials == 10
    for t in trials[20:25]:
        t["status"] = "FAILED"
    result = trials_importance(trials, NAMES, {"learning_rate"})
    assert result.budget == 1 and result.trials == 20


def test_parallel_coordinates_draws_every_trial_and_marks_the_best():
    trials = synthetic_trials(15)
    trials[3]["status"] = "FAILED"
    trials[3]["val_accuracy"] = None
    fig, data = parallel_figure(trials, NAMES, {"learning_rate"})
    assert png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["lines"] == 15 and data["failed"] == 1
    best = max((t for t in trials if t["val_accuracy"] is not None), key=lambda t: t["val_accuracy"])
    assert data["best_trial_id"] == best["trial_id"]
    assert data["log_scale"] == ["learning_rate"]


def test_report_of_a_small_run_says_too_few_trials(digits_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    shutil.rmtree(run_dir / "report", ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "scripts/report.py", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "too few trials" in result.stdout
    summary = json.loads((run_dir / "report" / "report.json").read_text())
    assert summary["importance"] is None
    assert "too few trials" in summary["importance_reason"]
    assert (run_dir / "report" / "parallel.png").is_file()
    html = (run_dir / "report" / "index.html").read_text()
    assert 'id="parallel"' in html and 'id="importance"' in html
