"""Surviving kill -9, Ctrl-C, changed configurations and bad input, through the real command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from results.run import atomic, layout
from runs import (
    MAX_TRIALS,
    ROOT,
    SEARCH_SCRIPT,
    assert_complete_run,
    run_cli,
    search_args,
    start_search,
    trial_status,
    wait_for,
    write_space,
)
from search.data.idx import write_idx


def trial_records(run_dir: Path) -> dict[str, tuple[str, int]]:
    """trial id -> (trial.json text, mtime) of every trial Keras Tuner has written."""
    out = {}
    for path in (run_dir / layout.TUNER).glob("trial_*/trial.json"):
        out[path.parent.name] = (path.read_text(), path.stat().st_mtime_ns)
    return out


def interrupted_search(tmp_path: Path, space: Path, moment, how: int):
    """Start a search through the command line and send it `how` (a signal) once `moment(run_dir)`
    holds; returns the run directory, the command's arguments and the process."""
    run_dir = tmp_path / "run"
    args = search_args(run_dir, space)
    proc = start_search(args)
    wait_for(lambda: moment(run_dir), proc)
    proc.send_signal(how)
    return run_dir, args, proc


def second_trial_running(run_dir: Path) -> bool:
    return trial_status(run_dir, "1") == "RUNNING"


def retraining(run_dir: Path) -> bool:
    return (run_dir / layout.RETRAIN_PLAN).exists()  # the epochs were timed: training now


@pytest.mark.slow
def test_kill_9_during_a_trial_then_rerun_finishes_without_repeating_finished_trials(tmp_path, space_file):
    run_dir, args, proc = interrupted_search(tmp_path, space_file, second_trial_running, signal.SIGKILL)
    proc.wait()
    finished = {k: v for k, v in trial_records(run_dir).items() if json.loads(v[0])["status"] == "COMPLETED"}
    assert "trial_0" in finished and not (run_dir / layout.METRICS).exists()

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    metrics = assert_complete_run(run_dir, MAX_TRIALS)
    assert metrics["trials"]["total"] == MAX_TRIALS
    after = trial_records(run_dir)
    for trial, record in finished.items():
        assert after[trial] == record, f"{trial} was run again after it had finished"


# Runs the search with its process killed the moment Keras Tuner has written trial 1's trial.json
# with a status, before it writes oracle.json: a moment kill -9 hits at random, here every time.
KILLED_BETWEEN_THE_TWO_WRITES = """
import os, runpy, sys
sys.path[0] = {root!r}
import search.cli  # what the script imports, in its order, before Keras Tuner is patched
from keras_tuner.src.engine import oracle

write_trial = oracle.Oracle._save_trial

def write_trial_then_die(self, trial):
    write_trial(self, trial)
    if trial.trial_id == "1" and trial.status == {status!r}:
        os._exit(137)

oracle.Oracle._save_trial = write_trial_then_die
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "status, repaired",
    [("RUNNING", "trial 1 was being started when the search stopped"), ("COMPLETED", "recorded as ended")],
    ids=["as-it-starts", "as-it-ends"],
)
def test_killed_between_a_trials_file_and_oracle_json_every_trial_runs_once(tmp_path, space_file, status, repaired):
    run_dir = tmp_path / "run"
    args = search_args(run_dir, space_file)
    killer = tmp_path / "search_killed.py"
    killer.write_text(KILLED_BETWEEN_THE_TWO_WRITES.format(root=str(ROOT), status=status, script=str(SEARCH_SCRIPT)))
    assert run_cli(*args, script=killer).returncode == 137
    assert trial_status(run_dir, "1") == status
    oracle = json.loads((run_dir / layout.TUNER / "oracle.json").read_text())
    assert "1" not in (oracle["start_order"] if status == "RUNNING" else oracle["end_order"])
    before = trial_records(run_dir)

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    metrics = assert_complete_run(run_dir, MAX_TRIALS)
    assert metrics["trials"]["total"] == MAX_TRIALS
    after = trial_records(run_dir)
    assert after["trial_0"] == before["trial_0"]
    if status == "COMPLETED":
        assert after["trial_1"] == before["trial_1"], "trial 1 was run again after it had finished"
    assert repaired in result.stdout + result.stderr


@pytest.mark.slow
def test_kill_9_during_retraining_redoes_only_the_retrain(tmp_path, space_file):
    run_dir, args, proc = interrupted_search(tmp_path, space_file, retraining, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / layout.METRICS).exists()
    trials_before = trial_records(run_dir)
    assert len(trials_before) == MAX_TRIALS

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert_complete_run(run_dir, MAX_TRIALS)
    assert trial_records(run_dir) == trials_before


@pytest.mark.slow
def test_ctrl_c_stops_keeps_finished_trials_and_prints_the_resume_command(tmp_path, space_file):
    run_dir, args, proc = interrupted_search(tmp_path, space_file, second_trial_running, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Resume with" in stderr and "Traceback" not in stderr
    resume = stderr.strip().splitlines()[-1].strip()
    assert "scripts/search.py" in resume and str(run_dir) in resume
    assert trial_status(run_dir, "0") == "COMPLETED"

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert_complete_run(run_dir, MAX_TRIALS)


@pytest.mark.slow
def test_a_finished_run_is_not_redone_and_more_trials_run_only_the_new_ones(tmp_path, space_file):
    run_dir = tmp_path / "run"
    args = [
        "--dataset",
        "digits",
        "--tuner",
        "random",
        "--max-trials",
        "2",
        "--max-epochs",
        "1",
        "--epochs",
        "1",
        "--run-dir",
        str(run_dir),
        "--space",
        str(space_file),
        "--quiet",
    ]
    assert run_cli(*args).returncode == 0
    first = trial_records(run_dir)
    again = run_cli(*args)
    assert again.returncode == 0 and "already complete" in again.stdout
    assert trial_records(run_dir) == first

    more = run_cli(*[a if a != "2" else "3" for a in args])
    assert more.returncode == 0, more.stderr
    records = trial_records(run_dir)
    assert len(records) == 3
    assert {k: records[k] for k in first} == first
    assert json.loads((run_dir / layout.METRICS).read_text())["trials"]["total"] == 3


@pytest.mark.slow
def test_a_changed_configuration_is_refused_naming_what_differs_unless_overwrite(tmp_path, space_file):
    run_dir = tmp_path / "run"
    args = [
        "--dataset",
        "digits",
        "--tuner",
        "random",
        "--max-trials",
        "1",
        "--max-epochs",
        "1",
        "--epochs",
        "1",
        "--run-dir",
        str(run_dir),
        "--space",
        str(space_file),
        "--quiet",
    ]
    assert run_cli(*args).returncode == 0
    config_before = (run_dir / layout.CONFIG).read_text()

    # Refused before TensorFlow loads (the user waits a moment, not its seconds of import): main() in a
    # fresh interpreter, which then says whether TensorFlow was imported.
    changed_args = [*args, "--seed", "5", "--val-fraction", "0.2"]
    code = f"import sys; from search.cli import main; print(main({changed_args!r}), 'tensorflow' in sys.modules)"
    changed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert changed.stdout.split() == ["2", "False"], changed.stdout + changed.stderr
    line = changed.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert "seed (42 -> 5)" in line and "val_fraction (0.1 -> 0.2)" in line and "--overwrite" in line
    assert (run_dir / layout.CONFIG).read_text() == config_before

    other_space = write_space(tmp_path / "other.toml", dense_units_max=64)
    refused = run_cli(*[str(other_space) if a == str(space_file) else a for a in args])
    assert refused.returncode == 2 and "space.dense_units_max (32 -> 64)" in refused.stderr

    fresh = run_cli(*args, "--seed", "5", "--overwrite")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads((run_dir / layout.CONFIG).read_text())["search"]["seed"] == 5


def test_atomic_writes_leave_the_old_file_whole_when_interrupted(tmp_path):
    target = tmp_path / layout.METRICS
    atomic.write_json(target, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_kill_9_at_random_moments_of_writing_never_leaves_a_half_written_file(tmp_path):
    target = tmp_path / "big.json"
    writer = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from results.run import atomic
i = 0
while True:
    atomic.write_json({str(target)!r}, {{"i": i, "payload": "x" * 2_000_000}})
    i += 1
"""
    rng = np.random.default_rng(0)
    rewrites = []
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", writer])
        deadline = time.time() + 60
        while not target.exists():  # the first round: wait for a first whole file, then kill amid rewrites
            assert proc.poll() is None and time.time() < deadline, "the writer never wrote its file"
            time.sleep(0.01)
        time.sleep(0.2 + rng.random() * 0.3)
        proc.kill()
        proc.wait()
        record = json.loads(target.read_text())  # there, and whole: never absent, cut or empty
        assert len(record["payload"]) == 2_000_000
        rewrites.append(record["i"])
    assert max(rewrites) >= 1, f"every kill came before a second write: {rewrites}"  # killed amid rewrites


# ---- bad input: one line, exit code 2, no traceback, nothing written -------------------------------------


def _npz(path: Path, **overrides) -> Path:
    rng = np.random.default_rng(0)
    arrays = dict(
        x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        y_train=np.arange(50) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.arange(20) % 10,
    )
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def _truncated_npz(path: Path) -> Path:
    _npz(path)
    path.write_bytes(path.read_bytes()[:3000])
    return path


def _idx_folder(path: Path, magic_bad: bool = False, short: bool = False) -> Path:
    path.mkdir()
    rng = np.random.default_rng(0)
    write_idx(path / "train-images-idx3-ubyte", rng.integers(0, 256, (50, 28, 28), dtype=np.uint8))
    write_idx(path / "train-labels-idx1-ubyte", (np.arange(50) % 10).astype(np.uint8))
    write_idx(path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    write_idx(path / "t10k-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    images = path / "train-images-idx3-ubyte"
    raw = bytearray(images.read_bytes())
    if magic_bad:
        raw[2] = 0x0D  # float data type
    if short:
        raw = raw[:-100]
    images.write_bytes(bytes(raw))
    return path


def _toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_INPUTS = {
    "missing data path": (lambda d: ["--data", str(d / "nope.npz")], "no such file"),
    "folder without IDX files": (lambda d: ["--data", str(d)], "no train-images-idx3-ubyte"),
    "truncated npz": (lambda d: ["--data", str(_truncated_npz(d / "cut.npz"))], "cut.npz"),
    "IDX wrong magic": (lambda d: ["--data", str(_idx_folder(d / "idx", magic_bad=True))], "magic number"),
    "IDX wrong size": (lambda d: ["--data", str(_idx_folder(d / "idx", short=True))], "bytes of data"),
    "images of the wrong shape": (
        lambda d: ["--data", str(_npz(d / "a.npz", x_train=np.zeros((50, 32, 32), np.uint8)))],
        "(50, 32, 32)",
    ),
    "labels outside 0-9": (lambda d: ["--data", str(_npz(d / "a.npz", y_train=np.full(50, 10)))], "0-9"),
    "train and label counts differ": (
        lambda d: ["--data", str(_npz(d / "a.npz", y_train=np.arange(49) % 10))],
        "49 labels",
    ),
    "space min > max": (
        lambda d: ["--space", str(_toml(d / "s.toml", "filters_min = 64\nfilters_max = 32\n"))],
        "filters_min",
    ),
    "space negative width": (
        lambda d: ["--space", str(_toml(d / "s.toml", "dense_units_min = -8\n"))],
        "dense_units_min",
    ),
    "space too many pools": (
        lambda d: ["--space", str(_toml(d / "s.toml", "conv_blocks_max = 6\n"))],
        "conv_blocks_max",
    ),
    "space unknown key": (lambda d: ["--space", str(_toml(d / "s.toml", "kernel_size = 5\n"))], "kernel_size"),
    "space not TOML": (lambda d: ["--space", str(_toml(d / "s.toml", "filters_min = = 3\n"))], "TOML"),
    "val fraction 0": (lambda d: ["--val-fraction", "0"], "--val-fraction"),
    "val fraction 1": (lambda d: ["--val-fraction", "1"], "--val-fraction"),
    "val fraction negative": (lambda d: ["--val-fraction", "-0.2"], "--val-fraction"),
    "max trials 0": (lambda d: ["--max-trials", "0"], "--max-trials"),
    "unknown tuner": (lambda d: ["--tuner", "annealing"], "unknown tuner"),
    "subset too small to split": (
        lambda d: ["--dataset", "digits", "--subset", "25", "--val-fraction", "0.1"],
        "--val-fraction",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(tmp_path, case):
    make_args, expected = BAD_INPUTS[case]
    data_dir = tmp_path / "inputs"
    data_dir.mkdir()
    run_dir = tmp_path / "run"
    args = make_args(data_dir)
    if "--dataset" not in args:
        args = ["--dataset", "mnist", *args]
    result = run_cli(*args, "--run-dir", run_dir, "--quiet", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert not run_dir.exists()
