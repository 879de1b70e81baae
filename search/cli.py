"""`mnist-search` / `python scripts/search.py`: parse arguments, run the search, report."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from search import interrupts
from search.config import TUNERS, ConfigError, RunConfig
from search.data import DATASETS, DataError, load_dataset
from search.engine_errors import RetrainError, SearchError
from search.quiet_import import import_tensorflow
from search.split import SplitError
from space import SpaceConfig, SpaceError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
BAD_INPUT = (ConfigError, DataError, SplitError, SpaceError, SearchError, RetrainError)


def build_parser() -> argparse.ArgumentParser:
    """The command line of a search."""
    d = RunConfig.__dataclass_fields__
    p = argparse.ArgumentParser(
        prog="mnist-search",
        description="Search CNN architectures for handwritten digits with Keras Tuner, retrain the best "
        "on train+validation, test it once, and save the run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dataset", choices=DATASETS, default=d["dataset"].default, help="which images")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="a Keras-layout .npz or a folder of IDX files (default: $MNIST_DATA for mnist, else Keras' download)",
    )
    p.add_argument("--tuner", default=d["tuner"].default, help=f"search algorithm: {', '.join(TUNERS)}")
    p.add_argument(
        "--max-trials",
        type=int,
        metavar="N",
        help="most trials to run (default: all of Hyperband's schedule; 10 for the other tuners)",
    )
    p.add_argument(
        "--max-epochs",
        type=int,
        default=d["max_epochs"].default,
        metavar="N",
        help="most epochs one trial trains (Hyperband's max_epochs)",
    )
    p.add_argument(
        "--epochs", type=int, metavar="N", help="retraining epochs (default: the epoch at which the best trial peaked)"
    )
    p.add_argument("--subset", type=int, metavar="N", help="use only N training images, stratified (quick runs)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d["val_fraction"].default,
        metavar="F",
        help="fraction of the training images held out for validation during the search",
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        metavar="M",
        help="start no new trial after M minutes of search, then retrain (default: no limit)",
    )
    p.add_argument("--space", metavar="FILE.toml", help="search-space ranges (see space/config.py for the keys)")
    p.add_argument(
        "--seed",
        type=int,
        default=d["seed"].default,
        help="seed of the split, the sampling and the weights (0 is a fixed seed too)",
    )
    p.add_argument("--run-dir", metavar="DIR", help="where the run is written (default: runs/DATASET-TUNER)")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run in --run-dir and start afresh")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs (with HParams) of every trial here")
    p.add_argument("--quiet", action="store_true", help="no live progress; print only the final summary")
    return p


def config_from_args(args: argparse.Namespace):
    """A RunConfig from parsed arguments (raises ConfigError/SpaceError on bad values)."""
    space = SpaceConfig.from_toml(args.space) if args.space else SpaceConfig()
    return RunConfig(
        dataset=args.dataset,
        data=args.data,
        tuner=args.tuner,
        max_trials=args.max_trials,
        max_epochs=args.max_epochs,
        epochs=args.epochs,
        subset=args.subset,
        val_fraction=args.val_fraction,
        budget_minutes=args.budget_minutes,
        space=space,
        space_file=args.space,
        seed=args.seed,
        run_dir=args.run_dir,
        overwrite=args.overwrite,
        quiet=args.quiet,
        tensorboard=args.tensorboard,
    )


def resume_command(argv: list[str]) -> str:
    """The command that resumes this run: the same one, without --overwrite."""
    prog = sys.argv[0]
    prefix = ["python", prog] if prog.endswith(".py") else [os.path.basename(prog)]
    return shlex.join(prefix + [a for a in argv if a != "--overwrite"])


def main(argv: list[str] | None = None) -> int:
    """Run a search from the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    interrupts.install()
    try:
        return _search(args)
    except BAD_INPUT as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are saved. Resume with:\n  " + resume_command(argv), file=sys.stderr)
        return EXIT_INTERRUPTED


def _search(args: argparse.Namespace) -> int:
    # Refuse bad options and data before TensorFlow takes seconds to load.
    config = config_from_args(args)
    dataset = load_dataset(config.dataset, config.data)
    import_tensorflow()
    interrupts.check()
    from search.display_summary import print_summary
    from search.progress import Display, RichDisplay
    from search.run import run_search

    summary = run_search(config, Display() if args.quiet else RichDisplay(), dataset)
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
