"""Atomic writes: a writer killed mid-write leaves only a temp file, and the next run removes it
while a write still going on is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from results.run import atomic
from search.repair import repair_run

# Opens an atomic write of `target`, writes half of it, says so and waits to be killed.
WRITER = """
import sys, time
from results.run import atomic
with atomic.atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half of it")
    print("writing", flush=True)
    time.sleep(600)
"""


def start_writer(target):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_a_killed_write_leaves_its_target_untouched_and_repair_removes_its_temp_file(tmp_path):
    run_dir = tmp_path / "run"
    atomic.write_text(run_dir / "notes.txt", "before")
    killed = start_writer(run_dir / "notes.txt")
    deep = start_writer(run_dir / "tuner" / "trial_0" / "trial.json")
    alive = start_writer(run_dir / "history.json")
    try:
        for proc in (killed, deep):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert (run_dir / "notes.txt").read_text() == "before"
        left = sorted(p.name for p in run_dir.rglob(".*.tmp*"))
        assert len(left) == 3

        notes = repair_run(run_dir)

        assert len(notes) == 1 and "removed 2 temp file(s)" in notes[0], notes
        kept = list(run_dir.rglob(".*.tmp*"))
        assert [p.name.startswith(".history.json.") for p in kept] == [True], "a live write lost its file"
        assert atomic.stale_temp_files(run_dir) == []
    finally:
        alive.kill()
        alive.wait()
    assert [p.name for p in atomic.stale_temp_files(run_dir)] == [kept[0].name]


def test_a_temp_file_from_another_host_is_stale_only_when_old(tmp_path):
    path = tmp_path / ".trial.json.w-otherhost-4242.abc123.tmp"
    path.write_text("x")
    assert atomic.stale_temp_files(tmp_path) == []
    old = time.time() - atomic.FOREIGN_STALE_SECONDS - 60
    os.utime(path, (old, old))
    assert atomic.stale_temp_files(tmp_path) == [path]


def test_files_that_are_not_our_temp_files_are_never_listed(tmp_path):
    for name in (".bashrc.tmp", "notes.tmp", ".model.keras.abc.tmp"):
        (tmp_path / name).write_text("x")
    assert atomic.stale_temp_files(tmp_path) == []
