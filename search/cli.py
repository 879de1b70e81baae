"""`mnist-search` / `python scripts/search.py`: parse arguments, run the search, report."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from search import distributed, interrupts
from search.config import TUNERS, ConfigError, RunConfig
from search.data import DATASETS, DataError, load_dataset
from search.engine_errors import RetrainError, SearchError
from search.presets import DEFAULT_PRESET, PRESETS
from search.quiet_import import import_tensorflow
from search.split import SplitError
from space import SpaceConfig, SpaceError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
BAD_INPUT = (ConfigError, DataError, SplitError, SpaceError, SearchError, RetrainError)


def _preset_help() -> str:
    lines = []
    for name, preset in PRESETS.items():
        lines.append(
            f"{name}: {preset['tuner']}, trials of up to {preset['max_epochs']} epochs on "
            f"{preset['search_subset']} images, {preset['budget_minutes']:g} min of search, retrain up to "
            f"{preset['epochs']} epochs{' with augmentation' if preset['retrain_augment'] else ''}, "
            f"as many as fit in {preset['retrain_minutes']:g} min"
        )
    return "; ".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of a search. Flags left out take the preset's value."""
    d = RunConfig.__dataclass_fields__
    p = argparse.ArgumentParser(
        prog="mnist-search",
        description="Search CNN architectures for handwritten digits with Keras Tuner, retrain the best "
        "on train+validation, test it once, and save the run. Flags not given take the preset's value.",
    )
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=DEFAULT_PRESET,
        help=f"budget and space to start from (default: {DEFAULT_PRESET}). {_preset_help()}",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default=d["dataset"].default,
        help=f"which images (default: {d['dataset'].default})",
    )
    p.add_argument(
        "--data",
        metavar="PATH",
        help="a Keras-layout .npz or a folder of IDX files (default: $MNIST_DATA for mnist, else Keras' download)",
    )
    p.add_argument("--tuner", help=f"search algorithm: {', '.join(TUNERS)} (default: the preset's)")
    p.add_argument(
        "--max-trials",
        type=int,
        metavar="N",
        help="most trials to run (default: all of Hyperband's schedule; 10 for the other tuners)",
    )
    p.add_argument(
        "--max-epochs",
        type=int,
        metavar="N",
        help="most epochs one trial trains; Hyperband's max_epochs (default: the preset's)",
    )
    p.add_argument("--epochs", type=int, metavar="N", help="retraining epochs (default: the preset's)")
    p.add_argument(
        "--subset", type=int, metavar="N", help="use only N training images, stratified, for everything (default: all)"
    )
    p.add_argument(
        "--search-subset",
        type=int,
        metavar="N",
        help="trials train on N of the training images, stratified; the retrain uses all (default: the preset's)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d["val_fraction"].default,
        metavar="F",
        help="fraction of the training images held out for validation during the search "
        f"(default: {d['val_fraction'].default})",
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        metavar="M",
        help="start no new trial after M minutes of search, then retrain (default: the preset's)",
    )
    p.add_argument(
        "--retrain-minutes",
        type=float,
        metavar="M",
        help="retrain only as many of the epochs as fit in M minutes, timed on the best CNN before the retrain "
        "(default: the preset's, unless --epochs is given)",
    )
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random shifts and rotations while retraining (default: the preset's)",
    )
    p.add_argument(
        "--space",
        metavar="FILE.toml",
        help="search-space ranges; keys as in space/config.py (default: the preset's ranges)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d["seed"].default,
        help=f"seed of the split, the sampling and the weights; 0 is a fixed seed too (default: {d['seed'].default})",
    )
    p.add_argument("--run-dir", metavar="DIR", help="where the run is written (default: runs/DATASET-TUNER)")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run in --run-dir and start afresh")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs (with HParams) of every trial here")
    p.add_argument("--quiet", action="store_true", help="no live progress; print only the final summary")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run the trials in N worker processes on this machine, under a chief that retrains "
        "and tests once (default: one process). Across hosts, set KERASTUNER_TUNER_ID, "
        "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT instead (see README)",
    )
    p.add_argument(
        "--distribution",
        choices=["mirrored"],
        help="train each trial and the retrain with tf.distribute.MirroredStrategy over all visible "
        "GPUs (default: one device)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """A RunConfig from parsed arguments and their preset (raises ConfigError/SpaceError on bad values)."""
    preset = PRESETS[args.preset]

    def chosen(flag, key=None):
        value = getattr(args, flag)
        return preset[key or flag] if value is None else value

    space = SpaceConfig.from_toml(args.space) if args.space else SpaceConfig.from_dict(preset["space"])
    return RunConfig(
        dataset=args.dataset,
        data=args.data,
        tuner=chosen("tuner"),
        max_trials=args.max_trials,
        max_epochs=chosen("max_epochs"),
        epochs=chosen("epochs"),
        subset=args.subset,
        search_subset=chosen("search_subset"),
        val_fraction=args.val_fraction,
        budget_minutes=chosen("budget_minutes"),
        hyperband_iterations=preset["hyperband_iterations"],
        retrain_augment=chosen("augment", "retrain_augment"),
        # An explicit --epochs is what the user wants trained: the preset's time cap steps aside.
        retrain_minutes=args.retrain_minutes if args.epochs is not None else chosen("retrain_minutes"),
        space=space,
        space_file=args.space,
        seed=args.seed,
        run_dir=args.run_dir,
        overwrite=args.overwrite,
        quiet=args.quiet,
        tensorboard=args.tensorboard,
        preset=args.preset,
        distribution=args.distribution,
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
        return _search(args, argv)
    except BAD_INPUT as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are saved. Resume with:\n  " + resume_command(argv), file=sys.stderr)
        return EXIT_INTERRUPTED


def _search(args: argparse.Namespace, argv: list[str]) -> int:
    # Refuse bad options and data before TensorFlow takes seconds to load.
    config = config_from_args(args)
    role = distributed.role()
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {args.workers}")
        if role != "single":
            raise ConfigError("--workers starts its own chief: unset the KERASTUNER_* variables to use it")
    dataset = load_dataset(config.dataset, config.data)
    import_tensorflow()
    interrupts.check()
    import tensorflow as tf

    from search.display_summary import print_summary
    from search.progress import Display, RichDisplay
    from search.run import run_search

    if os.environ.get(distributed.THREADS):
        threads = int(os.environ[distributed.THREADS])
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    workers = None
    if args.workers:
        distributed.become_local_chief()
        run_dir = Path(config.run_dir) if config.run_dir else config.default_run_dir()
        workers = distributed.WorkerPool(
            _own_command() + distributed.worker_argv(argv),
            args.workers,
            run_dir / "workers",
            gpus=len(tf.config.list_physical_devices("GPU")),
        )
    summary = run_search(config, Display() if args.quiet else RichDisplay(), dataset, workers)
    if summary is None:
        print(f"worker {os.environ[distributed.TUNER_ID]}: the chief has no more trials")
        return 0
    print_summary(summary)
    return 0


def _own_command() -> list[str]:
    """How this process was started, for starting workers the same way."""
    script = sys.argv[0]
    return [os.path.abspath(script)] if script.endswith(".py") else ["-m", "search.cli"]


if __name__ == "__main__":
    sys.exit(main())
