"""Export a run's best model as ONNX and LiteRT (float and int8), each checked against Keras (see --help)."""

import sys
from pathlib import Path

# Run from a checkout: put the project root, not scripts/, first on the path (as scripts/search.py does).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from results.cli import export_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(export_main())
