"""`python scripts/bench.py`: parse arguments, run the benchmark, print its table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from results.cli import OneLineParser
from results.quiet_tf import import_tensorflow
from search.errors import UserError


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _conditions(text: str) -> tuple[str, ...]:
    from search.bench.photo_like import CONDITIONS

    chosen = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in chosen if c not in CONDITIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown condition {', '.join(unknown) or repr(text)}; choose from {', '.join(CONDITIONS)}"
        )
    return chosen


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    p = OneLineParser(
        prog="bench",
        description="Measure tuner overhead (one trial against bare model.fit, interleaved), the input "
        "pipeline (as fed against Keras' own feeding and pre-loaded float32 tensors) and time to accuracy "
        "on MNIST. Writes bench.json in the current directory.",
    )
    _add_timing_arguments(p)
    _add_tuner_arguments(p.add_argument_group("comparing tuners (--tuners)"))
    _add_photo_arguments(p.add_argument_group("reading photos (--photos)"))
    _add_precision_arguments(p.add_argument_group("training precisions (--precision)"))
    corruptions = p.add_argument_group("reading corrupted digits (--corruptions)")
    corruptions.add_argument(
        "--corruptions",
        metavar="RUN_DIR",
        help="read the run's test digits under each corruption (thin, hairline and thick strokes, sensor noise, "
        "speckle, blur, faint ink, shifts, rotations, small and large) with its best model; writes "
        "bench_corruptions.json (see search/bench/corruptions.py)",
    )
    corruptions.add_argument(
        "--augmentations",
        metavar="RUN_DIR",
        help="retrain the run's best network once per augmentation (its own shifts and rotations; with stroke "
        "widths, sensor noise or zoom alone; all together), each for --epochs, and read clean and "
        "corrupted test digits with each; writes bench_augmentations.json (see search/bench/augmentations.py)",
    )
    corruptions.add_argument(
        "--epochs", type=int, default=5, help="with --augmentations: each variant's retrain, in epochs"
    )
    corruptions.add_argument(
        "--variants",
        help="with --augmentations: only these, comma-separated (space, shifts, strokes, noise, zoom, shrink, "
        "hairline, moves, all, wide)",
    )
    return p


def _add_timing_arguments(p: argparse.ArgumentParser) -> None:
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


def _add_tuner_arguments(group) -> None:
    group.add_argument(
        "--tuners",
        nargs="?",
        const="hyperband,bohb,bayesian,random,grid",
        metavar="LIST",
        help="instead: compare tuners (comma-separated; default all) under one wall budget and the same seeds "
        "on one fixed MNIST task; writes bench.json and bench_tuners.png (see search/bench/tuners.py)",
    )
    group.add_argument(
        "--seeds",
        type=_seeds,
        default="1,2,3",
        help="with --tuners: the seeds, comma-separated (default 1,2,3); with --photos and --corruptions: "
        "the first picks the pictures and the corruptions' random draws",
    )
    group.add_argument(
        "--budget-minutes", type=float, default=3.0, help="with --tuners: wall budget per search (default 3)"
    )
    group.add_argument(
        "--images",
        type=int,
        default=12000,
        help="with --tuners: training images, 20%% of them for validation (default 12000)",
    )
    group.add_argument("--max-epochs", type=int, default=3, help="with --tuners: epochs a trial may train (default 3)")


def _add_precision_arguments(group) -> None:
    group.add_argument(
        "--precision",
        action="store_true",
        help="instead: images/s of training --precision auto's network in float32 and bfloat16 (float16 too with "
        "a GPU), interleaved in one process, with the ratio; writes bench_precision.json",
    )
    group.add_argument("--rounds", type=int, default=8, help="with --precision: interleaved rounds (default 8)")
    group.add_argument("--steps", type=int, default=20, help="with --precision: steps a round (default 20)")
    group.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="with --precision: the network without its augmentation layers (as the trials train it)",
    )


def _add_photo_arguments(group) -> None:
    group.add_argument(
        "--photos",
        metavar="RUN_DIR",
        help="instead: how well RUN_DIR's model reads photo-like pictures of its test digits (plain paper, uneven "
        "light, ruled and squared paper, a cast shadow, a form's boxes; single digits and numbers of 3-5 digits) "
        "against the same digits in clean form; writes bench_photos.json (see search/bench/photos.py)",
    )
    group.add_argument("--digits", type=int, default=100, help="with --photos: single-digit pictures per condition")
    group.add_argument("--numbers", type=int, default=60, help="with --photos: number pictures per condition")
    group.add_argument(
        "--conditions",
        type=_conditions,
        help="with --photos: only these conditions, comma-separated (plain, uneven_light, ruled, grid, shadow, "
        "boxes; default all); each condition's pictures are the same as in a run of all six",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit code (2 with one line on a user's mistake)."""
    args = build_parser().parse_args(argv)
    import_tensorflow()
    try:
        if args.precision:
            return _precision_main(args)
        if args.photos:
            return _photos_main(args)
        if args.corruptions:
            return _corruptions_main(args)
        if args.augmentations:
            return _augmentations_main(args)
        return _tuners_main(args) if args.tuners else _presets_main(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _presets_main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from search.bench.measure import as_table, run_benchmark

    result = run_benchmark(args.mode or "quick", args.data, Path("bench.json"), Path(args.run_dir))
    table = Table(title=f"mnist-tuner benchmark ({result['mode']})")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for row in as_table(result):
        table.add_row(*row)
    Console().print(table)
    print("written: bench.json")
    return 0


def _tuners_main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from search.bench.tuners import as_table, run_tuner_benchmark

    result = run_tuner_benchmark(
        [t.strip() for t in args.tuners.split(",") if t.strip()],
        args.seeds,
        args.budget_minutes,
        args.data,
        images=args.images,
        max_epochs=args.max_epochs,
    )
    task = result["task"]
    table = Table(
        title=f"tuners: best val accuracy within {task['budget_minutes']:g} min, seeds {task['seeds']} "
        f"({task['images']:,} images, trials up to {task['max_epochs']} epochs)"
    )
    for column in ("tuner", "median best", "min - max", "median trials"):
        table.add_column(column, justify="left" if column == "tuner" else "right")
    for row in as_table(result):
        table.add_row(*row)
    Console().print(table)
    print("written: bench.json, bench_tuners.png")
    return 0


def _photos_main(args) -> int:
    from results.run import atomic
    from search.bench.photo_like import CONDITIONS
    from search.bench.photos import measure, table

    run, test, model = _finished_run(args.photos)
    seed = args.seeds[0]
    conditions = args.conditions or CONDITIONS
    scores = measure(model, test.images, test.labels, conditions, digits=args.digits, numbers=args.numbers, seed=seed)
    print(f"photo-like pictures of {run.path}'s test digits (seed {seed}):")
    print(table(scores))
    atomic.write_json(
        "bench_photos.json",
        {
            "run_dir": str(run.path),
            "seed": seed,
            "test_accuracy": run.metrics.get("test_accuracy"),
            "conditions": [s.as_dict() for s in scores],
        },
    )
    print("written: bench_photos.json")
    return 0


def _corruptions_main(args) -> int:
    from results.run import atomic
    from search.bench.corruptions import measure, table

    run, test, model = _finished_run(args.corruptions)
    seed = args.seeds[0]
    scores = measure(model, test.images, test.labels, seed=seed)
    print(f"{run.path}'s {len(test.labels):,} test digits, corrupted (seed {seed}):")
    print(table(scores))
    record = {"run_dir": str(run.path), "seed": seed, "corruptions": [s.as_dict() for s in scores]}
    atomic.write_json("bench_corruptions.json", record)
    print("written: bench_corruptions.json")
    return 0


def _augmentations_main(args) -> int:
    from results.run import atomic
    from search.bench.augmentations import NAMES, run_augmentation_benchmark, table

    run, _, _ = _finished_run(args.augmentations)
    names = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    if names is not None and (not names or set(names) - set(NAMES)):
        raise UserError(f"--variants {args.variants}: choose from {', '.join(NAMES)}, separated by commas")
    record = run_augmentation_benchmark(run, args.epochs, args.seeds[0], names)
    print(f"{run.path}'s best network retrained {args.epochs} epochs per augmentation; test accuracy (%):")
    print(table(record))
    atomic.write_json("bench_augmentations.json", record)
    print("written: bench_augmentations.json")
    return 0


def _precision_main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from results.run import atomic
    from search.bench.precision import as_table, run_precision_benchmark

    if args.rounds < 1 or args.steps < 1:
        raise UserError("--rounds and --steps must be at least 1")
    result = run_precision_benchmark(args.rounds, args.steps, args.augment)
    network = result["network"]
    table = Table(
        title=f"training images/s on {result['cpu']}: conv {'/'.join(map(str, network['filters']))}, dense "
        f"{network['dense_units']}, batch {network['batch_size']}{', augmented' if network['augment'] else ''}; "
        f"{args.rounds} interleaved rounds of {args.steps} steps"
    )
    for column in ("precision", "median images/s", "rounds", "vs float32"):
        table.add_column(column, justify="left" if column == "precision" else "right")
    for row in as_table(result):
        table.add_row(*row)
    Console().print(table)
    print(f"--precision auto would choose {result['auto_would_choose']} here ({result['seconds']:g} s)")
    atomic.write_json("bench_precision.json", result)
    print("written: bench_precision.json")
    return 0


def _finished_run(path: str):
    """(run, its test predictions, its model) of a finished run directory; UserError (one line) for one that
    is missing, unfinished or damaged."""
    from results.cli import DAMAGE, unreadable
    from results.run import RunError, open_run

    try:
        run = open_run(path)
        return run, run.test_predictions, run.load_model()
    except RunError as e:
        raise UserError(str(e)) from None
    except DAMAGE as e:
        raise UserError(unreadable(path, e)) from None
