"""The search command's own exit: what it printed is all there, and its exit code is kept."""

from __future__ import annotations

import subprocess
import sys

from runs import ROOT


def test_exit_now_flushes_what_was_printed_and_keeps_the_exit_code():
    # Buffered output (a pipe, not a terminal) must reach the reader although Python's teardown is skipped.
    code = (
        "import sys; from search.cli import exit_now; "
        "print('summary line', end=''); print('to stderr', file=sys.stderr, end=''); exit_now(3)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, "summary line", "to stderr")


def test_a_bad_option_is_one_line_and_exit_2_for_every_command():
    from runs import run_cli

    for script, args in (
        ("search.py", ["--dataset", "nosuchset"]),
        ("search.py", ["--max-trials", "many"]),
        ("report.py", []),
        ("predict.py", ["run-only"]),
        ("bench.py", ["--no-such-flag"]),
    ):
        done = run_cli(*args, script=ROOT / "scripts" / script, timeout=120)
        assert done.returncode == 2, (script, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (script, done.stderr)
        assert "usage:" not in done.stderr and done.stdout == ""
    assert "'nosuchset'" in run_cli("--dataset", "nosuchset").stderr
