"""Helpers shared by the tests that make real runs: tiny spaces and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from results.run import layout

ROOT = Path(__file__).resolve().parent.parent
RUN_FILES = (
    layout.CONFIG,
    layout.BEST_HPS,
    layout.MODEL,
    layout.HISTORY,
    layout.METRICS,
    layout.TRIALS,
    layout.PREDICTIONS,
    layout.RETRAIN_PLAN,
)
SEARCH_SCRIPT = ROOT / "scripts" / "search.py"

# Small enough that a trial on the digits set takes a couple of seconds on 2 cores.
TINY_SPACE = dict(
    conv_blocks_min=1,
    conv_blocks_max=2,
    filters_min=8,
    filters_max=16,
    dense_units_min=16,
    dense_units_max=32,
    batch_size_min=64,
    batch_size_max=128,
)

# TINY_SPACE where every point learns the digits set within a few epochs (steady rates, momentum, no
# dropout, batches of 32): a search of it that tests near chance is broken, not unlucky. In TINY_SPACE
# itself the smallest network at the slowest rate tested 14-31% after two or three epochs (measured).
LEARNING_SPACE = dict(
    TINY_SPACE,
    dense_units_min=32,
    dense_units_max=64,
    learning_rate_min=0.02,
    learning_rate_max=0.03,
    momentum_min=0.9,
    momentum_max=0.9,
    dropout_min=0.0,
    dropout_max=0.0,
    batch_size_min=32,
    batch_size_max=32,
)


def write_space(path: Path, **overrides) -> Path:
    """Write a TOML space file of TINY_SPACE with `overrides`."""
    values = {**TINY_SPACE, **overrides}
    # TOML spells booleans in lower case; repr() gives the rest (numbers) as TOML reads them.
    lines = [f"{k} = {(str(v).lower() if isinstance(v, bool) else repr(v))}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(*args, script: Path = SEARCH_SCRIPT, timeout: float = 600, **popen) -> subprocess.CompletedProcess:
    """Run a project script as a user would, capturing its output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=popen.pop("cwd", ROOT),
        **popen,
    )


def trial_statuses(run_dir: Path) -> list[str]:
    """The status Keras Tuner recorded for each trial of a run."""
    return [json.loads(p.read_text())["status"] for p in (run_dir / "tuner").glob("trial_*/trial.json")]


def assert_complete_run(run_dir: Path, trials: int) -> dict:
    """Every file of a finished run is there, `trials` trials completed, no temp file is left and
    the model loads; returns metrics.json."""
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.rglob(".*.tmp*")), "a temp file was left behind"
    assert sorted(trial_statuses(run_dir)) == ["COMPLETED"] * trials
    metrics = json.loads((run_dir / layout.METRICS).read_text())
    assert metrics["trials"] == {"total": trials, "completed": trials, "failed": 0}
    import keras

    keras.saving.load_model(run_dir / layout.MODEL)
    return metrics


# Searches on the digits set that tests interrupt: small enough to finish in seconds.
MAX_TRIALS = 3


def search_args(run_dir: Path, space: Path, *extra, max_epochs: int = 3, epochs: int = 4) -> list[str]:
    """The command line of a MAX_TRIALS-trial random search of `space` on the digits set, plus `extra`."""
    return [
        "--dataset",
        "digits",
        "--tuner",
        "random",
        "--max-trials",
        str(MAX_TRIALS),
        "--max-epochs",
        str(max_epochs),
        "--epochs",
        str(epochs),
        "--run-dir",
        str(run_dir),
        "--space",
        str(space),
        "--quiet",
        *extra,
    ]


def start_search(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, str(SEARCH_SCRIPT), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"search ended before the moment to interrupt it: {proc.communicate()}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the moment to interrupt the search")
        time.sleep(0.05)


def trial_status(run_dir: Path, trial_id: str) -> str | None:
    try:
        return json.loads((run_dir / layout.TUNER / f"trial_{trial_id}" / "trial.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


# Ways a file of a run directory gets damaged: what a crash, a full disk or a stray command leaves.
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _replace_with_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "stray").write_text("a folder where a file should be")


DAMAGE = {
    "truncated": _truncate,
    "empty": lambda path: path.write_bytes(b""),
    "garbage": lambda path: path.write_bytes(bytes(range(256)) * 4),
    "json-list": lambda path: path.write_text("[1, 2, 3]"),
    "json-no-keys": lambda path: path.write_text('{"unexpected": true}'),
    "folder": _replace_with_folder,
}


def damage(path: Path, kind: str) -> None:
    """Damage the file at `path` in the way `kind` names (a key of DAMAGE)."""
    DAMAGE[kind](path)


def one_error_line(result: subprocess.CompletedProcess, *names: str) -> str:
    """The one line a command that stops printed on stderr; it names each of `names`."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]
