"""Benchmark: tuner overhead, input pipeline, and time to accuracy on MNIST (see --help)."""

import sys
from pathlib import Path

# Run from a checkout: the repository root holds the packages.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from search.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
