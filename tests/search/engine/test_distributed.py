"""Distributed search on Keras Tuner's chief/worker engine: --workers on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results.run import layout
from runs import MAX_TRIALS, ROOT, SEARCH_SCRIPT, assert_complete_run, search_args, write_space
from search.engine import distributed
from search.errors import ConfigError


def args_for(run_dir: Path, space: Path, *extra) -> list[str]:
    return search_args(run_dir, space, "--no-augment", *extra, max_epochs=2, epochs=2)


def trials_by_worker(run_dir: Path) -> dict[str, str]:
    """trial id -> the worker that finished it (our per-trial record)."""
    out = {}
    for path in (run_dir / layout.TUNER).glob("trial_*/mnist_tuner.json"):
        out[path.parent.name] = json.loads(path.read_text())["tuner_id"]
    return out


def _worker_pid(run_dir: Path, tuner_id: str) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if f"KERASTUNER_TUNER_ID={tuner_id}".encode() in environ and str(run_dir).encode() in cmdline:
            return int(entry)
    return None


def _ongoing(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / layout.TUNER / layout.ORACLE).read_text())["ongoing_trials"]
    except (OSError, ValueError, KeyError):
        return {}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the worker through /proc")
def test_two_local_workers_share_the_trials_and_a_killed_one_is_replaced_and_its_trial_rerun(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    chief = subprocess.Popen(
        [sys.executable, str(SEARCH_SCRIPT), *args_for(run_dir, write_space(tmp_path / "s.toml")), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    while "tuner1" not in _ongoing(run_dir):
        assert chief.poll() is None, chief.communicate()
        assert time.time() < deadline, "worker tuner1 never started a trial"
        time.sleep(0.1)
    killed_trial = _ongoing(run_dir)["tuner1"]
    os.kill(_worker_pid(run_dir, "tuner1"), signal.SIGKILL)
    out, err = chief.communicate(timeout=600)
    assert chief.returncode == 0, err
    assert "tuner1 died" in err and "restarted" in err
    assert_complete_run(run_dir, MAX_TRIALS)
    assert (
        json.loads((run_dir / layout.TUNER / f"trial_{killed_trial}" / "trial.json").read_text())["status"]
        == "COMPLETED"
    )
    # Both workers took trials at once (tuner1 was running one when killed), the chief retrained once.
    for worker in ("tuner0", "tuner1"):
        assert (run_dir / layout.TUNER / f"{worker}.json").is_file()
    done_by = trials_by_worker(run_dir)
    assert len(done_by) == MAX_TRIALS and "tuner0" in done_by.values(), done_by
    assert out.count("test accuracy") == 1


def test_roles_follow_keras_tuners_environment_variables(monkeypatch):
    for name in (distributed.TUNER_ID, distributed.ORACLE_IP, distributed.ORACLE_PORT):
        monkeypatch.delenv(name, raising=False)
    assert distributed.role() == "single"
    monkeypatch.setenv(distributed.TUNER_ID, "tuner3")
    with pytest.raises(ConfigError, match="KERASTUNER_ORACLE_IP"):
        distributed.role()
    monkeypatch.setenv(distributed.ORACLE_IP, "127.0.0.1")
    monkeypatch.setenv(distributed.ORACLE_PORT, "8000")
    assert distributed.role() == "worker"
    monkeypatch.setenv(distributed.TUNER_ID, "chief")
    assert distributed.role() == "chief"


def test_workers_run_the_same_search_without_wiping_the_shared_folder():
    argv = ["--dataset", "digits", "--workers", "2", "--overwrite", "--run-dir", "r", "--workers=3"]
    assert distributed.worker_argv(argv) == ["--dataset", "digits", "--run-dir", "r", "--quiet"]


def test_workers_is_refused_where_keras_tuner_variables_already_say_the_role(tmp_path):
    env_args = ("--dataset", "digits", "--workers", "2", "--run-dir", tmp_path / "r")
    result = subprocess.run(
        [sys.executable, str(SEARCH_SCRIPT), *map(str, env_args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "KERASTUNER_TUNER_ID": "chief",
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": "1",
        },
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: --workers")
    assert not (tmp_path / "r").exists()
