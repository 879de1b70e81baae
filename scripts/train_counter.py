"""Retrain the digit counter that ships with the package, results/photos/counter.keras (see --help)."""

import argparse
import os
import sys
from pathlib import Path

# Run from a checkout: the repository root holds the packages.
sys.path[0] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results.photos.counter import COUNTER_PATH, write_counter  # noqa: E402
from search.data.load import load_dataset  # noqa: E402
from search.errors import DataError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Train the counter that tells one digit from touching digits (results/photos/counter.py) on groups "
        "composed from MNIST's training digits, and save it. Prints its accuracy on groups of held-out digits.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", help="MNIST as .npz or IDX folder (default: $MNIST_DATA, then Keras' download)")
    p.add_argument("--out", default=str(COUNTER_PATH), help="where the counter is written (.keras)")
    p.add_argument("--groups", type=int, default=120000, help="training groups composed")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.groups < 10 or args.epochs < 1:
        print("error: --groups must be at least 10 and --epochs at least 1", file=sys.stderr)
        return 2
    try:
        images = load_dataset("mnist", args.data).x_train[..., 0]
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        accuracy = write_counter(images, args.out, size=args.groups, epochs=args.epochs, seed=args.seed)
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {accuracy:.1%} of groups of held-out digits counted right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
