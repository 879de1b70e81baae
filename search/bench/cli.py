"""`python scripts/bench.py`: parse arguments, run the benchmark, print its table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from results.quiet_tf import import_tensorflow
from search.errors import UserError


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="bench",
        description="Measure tuner overhead (one trial against bare model.fit, interleaved), the input "
        "pipeline (as fed against pre-loaded float32 tensors) and time to accuracy on MNIST. Writes "
        "bench.json in the current directory.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="minutes: the quick preset on 20,000 MNIST images (the default)",
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help="the default preset on full MNIST (about 30 minutes on 2 cores)",
    )
    p.add_argument("--data", metavar="PATH", help="MNIST as .npz or IDX folder (default: $MNIST_DATA)")
    p.add_argument("--run-dir", default="runs/bench", metavar="DIR", help="where the timed run is written")
    args = p.parse_args(argv)
    import_tensorflow()
    from rich.console import Console
    from rich.table import Table

    from search.bench.measure import as_table, run_benchmark

    try:
        result = run_benchmark(args.mode or "quick", args.data, Path("bench.json"), Path(args.run_dir))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = Table(title=f"mnist-tuner benchmark ({result['mode']})")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for row in as_table(result):
        table.add_row(*row)
    Console().print(table)
    print("written: bench.json")
    return 0
