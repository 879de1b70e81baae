"""Search CNN architectures, retrain the best, test it once, save the run (see --help)."""

import sys
from pathlib import Path

# Run from a checkout: this folder holds a search.py that would shadow the search package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from search.cli import run  # noqa: E402

if __name__ == "__main__":
    run()
