"""Failures that lose nothing, through the real command line: a run directory in use, SIGTERM and
SIGHUP, a full disk."""

from __future__ import annotations

import shutil
import signal
import subprocess

import pytest

from results.run import layout
from runs import MAX_TRIALS, assert_complete_run, run_cli, search_args, start_search, trial_status, wait_for


@pytest.mark.slow
def test_a_second_search_on_a_directory_in_use_stops_at_once_and_a_killed_holder_blocks_nobody(tmp_path, space_file):
    run_dir = tmp_path / "run"
    args = search_args(run_dir, space_file)
    first = start_search(args)
    wait_for(lambda: (run_dir / layout.CONFIG).exists(), first)
    second = run_cli(*args, timeout=120)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"in use by process {first.pid}" in lines[0], second.stderr

    first.send_signal(signal.SIGKILL)
    first.wait()
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert_complete_run(run_dir, MAX_TRIALS)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_as_ctrl_c_does(tmp_path, space_file, signum):
    run_dir = tmp_path / "run"
    proc = start_search(search_args(run_dir, space_file))
    wait_for(lambda: trial_status(run_dir, "0") == "RUNNING", proc)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Resume with" in stderr and "Traceback" not in stderr


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 400 KB mounted for the test (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip() or done.returncode})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_the_same_command_resumes_once_there_is_space(small_disk, space_file):
    run_dir = small_disk / "run"
    args = search_args(run_dir, space_file)
    full = run_cli(*args)
    assert full.returncode == 2, full.stderr
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in full.stderr, full.stderr
    assert "run the same command again" in lines[0]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert_complete_run(run_dir, MAX_TRIALS)


def test_a_process_is_replaced_once_it_has_grown():
    from search.engine.memory import RECYCLE_GROWTH_MB, grown_too_much

    assert not grown_too_much(700, 700 + RECYCLE_GROWTH_MB)
    assert grown_too_much(700, 700 + RECYCLE_GROWTH_MB + 1)
    assert not grown_too_much(2000, 2000 + RECYCLE_GROWTH_MB + 1)  # 5% of a large process


@pytest.mark.slow
def test_a_search_recycled_after_every_trial_finishes_with_each_trial_run_once(tmp_path, space_file, monkeypatch):
    monkeypatch.setenv("MNIST_TUNER_RECYCLE_MB", "0")
    run_dir = tmp_path / "run"
    # --overwrite as a first run is often given: each fresh process must resume, not start afresh again.
    # A process runs at least two trials (it grows from its first): four trials make two hand-overs.
    done = run_cli(*search_args(run_dir, space_file), "--max-trials", "4", "--overwrite", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Reloading Tuner") >= 2, "the search was never handed to a fresh process"
    timings = assert_complete_run(run_dir, 4)["timings"]
    # The search's time runs from the first process' start of it, across the replacements.
    assert timings["search_seconds"] >= timings["trial_seconds_all_sessions"]
