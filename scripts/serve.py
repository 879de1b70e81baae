"""Serve a run's best model: a page to draw digits on and an HTTP API (see --help)."""

import sys
from pathlib import Path

# Run from a checkout: put the project root, not scripts/, first on the path (as scripts/search.py does).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from results.cli import serve_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(serve_main())
