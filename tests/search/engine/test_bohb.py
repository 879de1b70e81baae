"""--tuner bohb: the model-based sampler, and runs through the command line (resume, budget, workers)."""

from __future__ import annotations

import json
import math

import keras_tuner as kt
import numpy as np
import pytest

from results.run import layout
from runs import assert_complete_run, run_cli, trial_statuses, write_space
from search.engine.bohb import BOHBOracle, propose


def space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Int("units", 8, 128, step=8)
    blocks = hp.Int("blocks", 1, 2)
    hp.Choice("activation", ["relu", "tanh", "elu"])
    for i in range(2):
        with hp.conditional_scope("blocks", list(range(i + 1, 3))):
            hp.Int(f"filters_{i}", 8, 64, step=8)
    del blocks
    return hp


def score(values: dict) -> float:
    """Best near lr 1e-3 with relu: the good region."""
    lr = math.log10(values["learning_rate"])
    return -((lr + 3) ** 2) - (0.0 if values["activation"] == "relu" else 0.5)


def in_good_region(values: dict) -> bool:
    return abs(math.log10(values["learning_rate"]) + 3) < 0.4 and values["activation"] == "relu"


def random_values(hp: kt.HyperParameters, n: int, seed: int) -> list[dict]:
    out = []
    for i in range(n):
        hps = kt.HyperParameters()
        for p in hp.space:
            hps.merge([p])
            if hps.is_active(p):
                hps.values[p.name] = p.random_sample(seed * 1000 + i * 10 + len(hps.values))
        out.append(dict(hps.values))
    return out


def test_the_sampler_proposes_from_the_good_region_far_more_often_than_random():
    hp = space()
    observed = random_values(hp, 40, seed=1)
    scores = [score(v) for v in observed]
    rng = np.random.default_rng(0)
    proposals = [propose(hp, observed, scores, rng) for _ in range(60)]
    model_rate = np.mean([in_good_region(p) for p in proposals])
    random_rate = np.mean([in_good_region(v) for v in random_values(hp, 600, seed=2)])
    assert random_rate < 0.15
    assert model_rate > 3 * random_rate and model_rate > 0.4, (model_rate, random_rate)
    for p in proposals:  # conditional hyperparameters: only the active ones, all of them
        assert ("filters_1" in p) == (p["blocks"] == 2) and "filters_0" in p


def run_oracle(tmp_path, seed: int) -> tuple[BOHBOracle, list[dict]]:
    oracle = BOHBOracle(
        objective=kt.Objective("score", "max"), max_epochs=9, factor=3, hyperparameters=space(), seed=seed
    )
    oracle._set_project_dir(str(tmp_path / f"o{seed}"), "p")
    tried = []
    for i in range(200):
        trial = oracle.create_trial(f"t{i}")
        if trial.status == "STOPPED":
            break
        values = trial.hyperparameters.values
        tried.append(dict(values))
        oracle.update_trial(trial.trial_id, {"score": score(values) + 0.01 * values["tuner/epochs"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return oracle, tried


@pytest.mark.slow
def test_the_oracle_runs_hyperband_brackets_with_model_based_new_configurations(tmp_path):
    oracle, tried = run_oracle(tmp_path, seed=3)
    assert oracle.model_based > 0
    again, tried_again = run_oracle(tmp_path, seed=3)
    assert tried == tried_again  # seeded: the same proposals
    for values in tried:
        assert ("filters_1" in values) == (values["blocks"] == 2)


def args(run_dir, spec, *extra) -> list[str]:
    return [
        "--dataset", "digits", "--tuner", "bohb", "--max-epochs", "3", "--epochs", "1", "--no-augment",
        "--run-dir", str(run_dir), "--space", str(spec), "--quiet", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_bohb_runs_and_resumes_with_more_trials_from_the_command_line(tmp_path):
    run_dir, spec = tmp_path / "run", write_space(tmp_path / "s.toml")
    first = run_cli(*args(run_dir, spec, "--max-trials", "2"))
    assert first.returncode == 0, first.stderr
    assert_complete_run(run_dir, 2)
    before = {
        p.parent.name: json.loads(p.read_text())["hyperparameters"] for p in run_dir.glob("tuner/trial_*/trial.json")
    }
    second = run_cli(*args(run_dir, spec, "--max-trials", "4"))
    assert second.returncode == 0, second.stderr
    assert_complete_run(run_dir, 4)
    after = {
        p.parent.name: json.loads(p.read_text())["hyperparameters"] for p in run_dir.glob("tuner/trial_*/trial.json")
    }
    assert all(after[k] == v for k, v in before.items())
    assert json.loads((run_dir / "config.json").read_text())["search"]["tuner"] == "bohb"


@pytest.mark.slow
def test_bohb_stops_at_the_time_budget(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*args(run_dir, write_space(tmp_path / "s.toml"), "--budget-minutes", "0.001"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["budget_stopped"] is True and metrics["trials"]["total"] == 1


@pytest.mark.slow
def test_bohb_distributes_over_two_workers(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(*args(run_dir, write_space(tmp_path / "s.toml"), "--max-trials", "2", "--workers", "2"))
    assert result.returncode == 0, result.stderr
    assert_complete_run(run_dir, 2)
    assert sorted(trial_statuses(run_dir)) == ["COMPLETED"] * 2
    workers = {json.loads(p.read_text())["tuner_id"] for p in run_dir.glob("tuner/trial_*/mnist_tuner.json")}
    assert workers <= {"tuner0", "tuner1"} and workers
    # No worker died, not even one restarted quietly: the run says nothing of it and each log holds one
    # process, started once, that ended without a traceback.
    assert "died" not in result.stderr and "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    logs = sorted((run_dir / layout.WORKERS).glob("*.log"))
    assert [log.name for log in logs] == ["tuner0.log", "tuner1.log"]
    for log in logs:
        text = log.read_text(errors="replace")
        assert text.count("--- worker ") == 1 and "Traceback" not in text, f"{log}:\n{text[-3000:]}"


def test_tuner_benchmark_summarises_best_so_far_per_tuner(tmp_path):
    from search.bench.tuners import _summary, as_table, best_so_far, picture

    assert best_so_far([(3.0, 0.5), (1.0, 0.4), (2.0, None), (4.0, 0.45)]) == [(1.0, 0.4), (3.0, 0.5)]
    runs = [
        {"tuner": t, "seed": s, "best": b, "trials_within_budget": 3, "ended": [(10.0, b)]}
        for t, s, b in [("random", 1, 0.9), ("random", 2, 0.95), ("bohb", 1, 0.97), ("bohb", 2, 0.93)]
    ]
    result = _summary(["random", "bohb"], [1, 2], 1.0, 12000, 3, runs)
    assert result["tuners"]["bohb"]["median_best"] == pytest.approx(0.95)
    assert result["tuners"]["random"]["min_best"] == 0.9
    assert [row[0] for row in as_table(result)] == ["random", "bohb"]
    picture(result, tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 1000
