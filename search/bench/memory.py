"""`python -m search.bench.memory`: does a long search hold its memory?

Runs a search of many short trials on the offline digits set through the real command line
(as a user runs it) and prints the resident memory trials.csv recorded after
trial 10 and after the last trial, and the growth between them.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from results.cli import OneLineParser
from results.run import layout

ROOT = Path(__file__).resolve().parents[2]
# Small CNNs: the trials are seconds long, so what grows is what the process keeps between trials.
SPACE = """conv_blocks_min = 1
conv_blocks_max = 2
filters_min = 8
filters_max = 16
dense_units_min = 16
dense_units_max = 32
batch_size_min = 64
batch_size_max = 128
"""
FROM_TRIAL = 10


def resident_by_trial(run_dir: Path) -> list[float]:
    """The process' resident MB after each trial, in start order (trials.csv's rss_mb)."""
    with open(run_dir / layout.TRIALS, newline="") as f:
        return [float(row["rss_mb"]) for row in csv.DictReader(f) if row["rss_mb"]]


def growth(rss: list[float], start: int = FROM_TRIAL) -> float:
    """Relative growth of resident memory from trial `start` (counting from 1) to the last trial."""
    return rss[-1] / rss[start - 1] - 1


def main(argv: list[str] | None = None) -> int:
    """Run the search, print the figure; exit 1 when memory grew more than --limit."""
    p = OneLineParser(prog="python -m search.bench.memory", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=100, help="trials to run (default 100)")
    p.add_argument("--limit", type=float, default=0.10, help="largest growth allowed (default 0.10)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.toml"
        space.write_text(SPACE)
        run_dir = Path(tmp) / "run"
        command = [sys.executable, str(ROOT / "scripts" / "search.py"), "--dataset", "digits", "--tuner", "random"]
        command += ["--max-trials", str(args.trials), "--max-epochs", "1", "--epochs", "1"]
        command += ["--budget-minutes", "600", "--space", str(space), "--run-dir", str(run_dir), "--quiet"]
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
        rss = resident_by_trial(run_dir)
    # Keras Tuner says so each time a fresh process reloads the search.
    processes = 1 + done.stdout.count("Reloading Tuner")
    change = growth(rss)
    print(
        f"resident memory over {len(rss)} trials (digits, random search): "
        f"{rss[FROM_TRIAL - 1]:.0f} MB after trial {FROM_TRIAL}, {rss[-1]:.0f} MB after trial {len(rss)}: "
        f"{change:+.1%} (limit {args.limit:+.0%}); min {min(rss):.0f}, max {max(rss):.0f} MB; "
        f"{processes} processes in turn (search/engine/memory.py: Recycle)"
    )
    return 0 if change <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
