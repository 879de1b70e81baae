"""Damaged files in a run directory, through the real command line: search.py repairs what can be
rebuilt and says so in one line per repair, or stops with one line naming the file."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
from pathlib import Path

import pytest

from results.run import layout
from runs import MAX_TRIALS, assert_complete_run, damage, one_error_line, run_cli, search_args, trial_statuses

# (file, damage): every file of a finished run, and every kind of damage on the likeliest victims.
REPAIRED = [
    *[
        (name, "truncated")
        for name in (
            "tuner/trial_1/trial.json",
            "tuner/oracle.json",
            "tuner/tuner0.json",
            "tuner/trial_2/checkpoint.weights.h5",
            "tuner/trial_0/mnist_tuner.json",
            "tuner/trial_0/build_config.json",
            layout.METRICS,
            layout.MODEL,
            layout.HISTORY,
            layout.TRIALS,
            layout.BEST_HPS,
            layout.RETRAIN_PLAN,
            layout.PREDICTIONS,
        )
    ],
    *[
        (f"tuner/trial_{i % MAX_TRIALS}/trial.json", kind)
        for i, kind in enumerate(("empty", "garbage", "json-list", "json-no-keys", "folder"))
    ],
    *[("tuner/oracle.json", kind) for kind in ("json-no-keys", "folder")],
    *[(layout.MODEL, kind) for kind in ("empty", "garbage", "folder")],
    (layout.METRICS, "json-list"),
    ("tuner/trial_2/checkpoint.weights.h5", "folder"),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A finished digits run made through the command line, and its space file: copy it, then damage it."""
    from runs import write_space

    root = tmp_path_factory.mktemp("damage")
    space = write_space(root / "space.toml")
    run_dir = root / "run"
    done = run_cli(*damage_args(run_dir, space))
    assert done.returncode == 0, done.stderr
    return run_dir, space


def copy_of(finished, tmp_path) -> tuple[Path, list[str]]:
    source, space = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    return run_dir, damage_args(run_dir, space)


def damage_args(run_dir: Path, space: Path) -> list[str]:
    """The search every test here runs: a retrain of 2 epochs (a repair may retrain; its length matters
    to nothing checked here)."""
    return search_args(run_dir, space, epochs=2)


def damage_sets(pairs: list[tuple[str, str]], count: int) -> list[list[tuple[str, str]]]:
    """Deal (file, damage) pairs into `count` sets, no file twice in a set: each set is one run, so a
    run repairs several files at once (as a crash leaves them) and the suite stays short."""
    sets: list[list[tuple[str, str]]] = [[] for _ in range(count)]
    for name, kind in pairs:
        min((s for s in sets if name not in dict(s)), key=len).append((name, kind))
    return sets


DAMAGE_SETS = damage_sets(REPAIRED, count=4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "damaged", DAMAGE_SETS, ids=[",".join(f"{Path(n).name}-{k}" for n, k in s) for s in DAMAGE_SETS]
)
def test_damaged_files_are_repaired_each_said_and_the_run_finishes(finished, tmp_path, damaged):
    run_dir, args = copy_of(finished, tmp_path)
    for name, kind in damaged:
        damage(run_dir / name, kind)
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    said = [line for line in result.stderr.splitlines() if line.startswith("repaired: ")]
    for name, kind in damaged:
        assert any(line.startswith(f"repaired: {run_dir / name}:") for line in said), (name, kind, said)
        assert (run_dir / "damaged" / name).exists(), f"damaged {name} was not kept in RUN/damaged/"
    if layout.RETRAIN_PLAN in dict(damaged) and not (run_dir / layout.RETRAIN_PLAN).exists():
        # The epoch plan is written again only when a retrain needs one (another file of the set may
        # have made it retrain); a finished run's retrain is done.
        shutil.copy(finished[0] / layout.RETRAIN_PLAN, run_dir / layout.RETRAIN_PLAN)
    assert_complete_run(run_dir, MAX_TRIALS)
    again = run_cli(*args)
    assert again.returncode == 0 and "repaired" not in again.stderr, again.stderr[-3000:]


def test_each_damage_set_names_a_file_once_and_together_they_hold_every_case():
    assert sorted(pair for s in DAMAGE_SETS for pair in s) == sorted(REPAIRED)
    assert all(len(dict(s)) == len(s) for s in DAMAGE_SETS)


@pytest.mark.slow
def test_a_trial_json_lost_with_its_copy_is_marked_failed_and_the_search_goes_on(finished, tmp_path):
    run_dir, args = copy_of(finished, tmp_path)
    trial = run_dir / layout.TUNER / "trial_1"
    damage(trial / "trial.json", "truncated")
    (trial / "trial.json.copy").unlink()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trial 1 marked FAILED" in result.stderr and "Traceback" not in result.stderr
    assert sorted(trial_statuses(run_dir)) == ["COMPLETED"] * (MAX_TRIALS - 1) + ["FAILED"]
    metrics = json.loads((run_dir / layout.METRICS).read_text())
    assert metrics["trials"]["failed"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated", "json-list", "json-no-keys", "folder"])
def test_a_damaged_config_json_stops_with_one_line_and_overwrite_starts_afresh(finished, tmp_path, kind):
    run_dir, args = copy_of(finished, tmp_path)
    damage(run_dir / layout.CONFIG, kind)
    line = one_error_line(run_cli(*args), str(run_dir / layout.CONFIG), "--overwrite")
    assert "restore it" in line
    if kind == "truncated":
        assert run_cli(*args, "--overwrite").returncode == 0


@pytest.mark.slow
def test_oracle_json_lost_with_its_copy_stops_with_one_line(finished, tmp_path):
    run_dir, args = copy_of(finished, tmp_path)
    oracle = run_dir / layout.TUNER / layout.ORACLE
    damage(oracle, "garbage")
    damage(Path(f"{oracle}.copy"), "truncated")
    one_error_line(run_cli(*args), str(oracle), "--overwrite")


def _without_root_file_access() -> None:
    """In the child, before it starts: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set,
    so that root, once it execs, obeys files' modes as any user does (prctl PR_CAPBSET_DROP)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {capability})")


@pytest.mark.slow
def test_an_unreadable_trial_json_is_repaired(finished, tmp_path):
    run_dir, args = copy_of(finished, tmp_path)
    path = run_dir / layout.TUNER / "trial_1" / "trial.json"
    path.chmod(0)
    as_root = os.geteuid() == 0  # root reads a file whatever its mode, unless it gives up that right
    result = run_cli(*args, preexec_fn=_without_root_file_access if as_root else None)
    assert result.returncode == 0 and f"repaired: {path}: unreadable" in result.stderr, result.stderr[-3000:]
