"""`mnist-search` / `python scripts/search.py`: parse arguments, run the pipeline, print the summary.

The flags are RunConfig's fields (search/config.py), each with its help and default.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import sys
import time
from typing import NoReturn

from results.cli import OneLineParser
from search import interrupts, rundir
from search.config import RunConfig
from search.engine import distributed
from search.engine.memory import Recycle
from search.errors import CannotWrite, ConfigError, UserError, cannot_write
from search.presets import DEFAULT_PRESET, PRESETS

# --minutes counts from here: Python's start and TensorFlow's import (~15 s here) are part of the job.
# A process replaced to hand back memory (Recycle) carries on the first one's start, and the search's.
STARTED_ENV = "MNIST_TUNER_STARTED"
SEARCH_STARTED_ENV = "MNIST_TUNER_SEARCH_STARTED"
PROCESS_STARTED = float(os.environ.pop(STARTED_ENV, None) or time.time())
SEARCH_STARTED = float(os.environ.pop(SEARCH_STARTED_ENV, None) or 0) or None
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _preset_help() -> str:
    # %% because argparse %-formats help strings.
    return "; ".join(
        f"{name}: {p['minutes']:g} min in all, the first {round(100 * p['search_share'])}%% for {p['tuner']} "
        f"trials of up to {p['max_epochs']} epochs on {p['search_subset']} images, then a retrain timed by the clock"
        f"{' with augmentation' if p['retrain_augment'] else ''}{' and weight averaging' if p['retrain_ema'] else ''}"
        f"{', answers averaged over shifted images' if p['retrain_tta'] else ''}"
        f"{f', {m} networks averaged' if (m := p.get('retrain_members', 1)) > 1 else ''}"
        for name, p in PRESETS.items()
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of a search: one flag per RunConfig option. Flags left out take the preset's value."""
    p = OneLineParser(
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
    for field in dataclasses.fields(RunConfig):
        if "help" in field.metadata:
            _add_option(p, field)
    _add_distributed_options(p)
    return p


def _add_distributed_options(p: argparse.ArgumentParser) -> None:
    # Which process this is in a distributed search: not RunConfig's (they do not change the run).
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run the trials in N worker processes on this machine, under a chief that retrains "
        "and tests once (default: one process)",
    )
    p.add_argument(
        "--chief",
        metavar="[HOST:]PORT",
        help="serve the trials to workers on other hosts (--worker-of), listening on HOST (default: every "
        "address) and PORT; trains nothing, retrains and tests once they are done (docs/distributed.md)",
    )
    p.add_argument(
        "--worker-of",
        metavar="HOST:PORT",
        help="run trials for the chief at HOST:PORT, in the run directory it uses (a shared file system)",
    )
    p.add_argument(
        "--worker-id",
        metavar="ID",
        help="with --worker-of: this worker's id (default: the host's name); started again with the same "
        "id, a worker re-runs the trial it left",
    )
    p.add_argument(
        "--wait-minutes",
        type=float,
        default=distributed.WAIT_MINUTES,
        metavar="M",
        help="a chief that hears from no worker, or a worker that cannot reach its chief, for M minutes "
        "stops with one line, resumable (default: %(default)g)",
    )


def _add_option(parser: argparse.ArgumentParser, field: dataclasses.Field) -> None:
    meta = field.metadata
    flag = meta["flag"] or "--" + field.name.replace("_", "-")
    kwargs = {"dest": field.name, "help": meta["help"]}
    if meta["choices"]:
        kwargs["choices"] = list(meta["choices"])
    if meta["metavar"]:
        kwargs["metavar"] = meta["metavar"]
    default = field.default
    if field.type == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction if meta["preset"] else "store_true"
        kwargs["default"] = None if meta["preset"] else False
    else:
        kwargs["type"] = {"int": int, "float": float}.get(field.type.split(" | ")[0], str)
        kwargs["default"] = None if meta["preset"] else default
    if meta["preset"]:
        kwargs["help"] += " (default: the preset's)"
    elif "(default" not in meta["help"] and default not in (None, False):
        kwargs["help"] += f" (default: {default})"
    parser.add_argument(flag, **kwargs)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """A RunConfig from parsed arguments and their preset (raises a UserError on bad values)."""
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig) if "help" in f.metadata}
    return RunConfig.from_preset(args.preset, **options)


def resume_command(argv: list[str]) -> str:
    """The command that resumes this run: the same one, without --overwrite."""
    prog = sys.argv[0]
    prefix = ["python", prog] if prog.endswith(".py") else [os.path.basename(prog)]
    return shlex.join(prefix + without_overwrite(argv))


def without_overwrite(argv: list[str]) -> list[str]:
    """`argv` less --overwrite (or an abbreviation of it that argparse accepts): what resumes this run
    rather than starting it afresh."""
    return [a for a in argv if not (len(a) > 2 and "--overwrite".startswith(a))]


def main(argv: list[str] | None = None) -> int:
    """Run a search from the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    interrupts.install()
    try:
        return _search(args, argv)
    except (UserError, OSError) as e:
        failed_write = e if isinstance(e, CannotWrite) else cannot_write(e)
        if failed_write is None and not isinstance(e, UserError):
            # Something in the way that no check foresaw (a folder where a file should be, ...).
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            print(f"error: {where}{e.strerror or e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: {failed_write or e}", file=sys.stderr)
        if failed_write is not None:
            # h5py's half-written checkpoint objects fail again, and can crash the interpreter, when
            # freed at exit; every file that matters is already whole, so leave without freeing anything.
            exit_now(EXIT_BAD_INPUT)
        return EXIT_BAD_INPUT
    except Recycle as replaced:
        # TensorFlow keeps memory of every model a process fitted: the same command, in a fresh
        # process of the same id, resumes after the trials saved so far.
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ[STARTED_ENV] = repr(PROCESS_STARTED)
        if replaced.search_started is not None:
            os.environ[SEARCH_STARTED_ENV] = repr(replaced.search_started)
        # Without --overwrite: the fresh process resumes this run rather than wiping it (and looping).
        os.execv(sys.executable, [sys.executable, *_own_command(), *without_overwrite(argv)])
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are saved. Resume with:\n  " + resume_command(argv), file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> NoReturn:
    """The command's entry point (`mnist-search`, scripts/search.py): main(), then exit_now."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Leave with `code` at once, without Python's teardown. Freeing TensorFlow's objects at exit waits
    on tf.data's threads, one iterator after another: 9 and 20 s after the summary of two 20-minute
    default runs here, past the --minutes the run was given. Every file of the run is already whole
    (written to a temp file and renamed), so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _search(args: argparse.Namespace, argv: list[str]) -> int:
    # Refuse bad options and data before TensorFlow takes seconds to load.
    config = config_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if not args.wait_minutes > 0:
        raise ConfigError(f"--wait-minutes must be positive, got {args.wait_minutes}")
    role = distributed.take_role(args.workers, args.chief, args.worker_of, args.worker_id)
    from search.data import load_dataset

    dataset = load_dataset(config.dataset, config.data)
    rundir.check_before_loading(config, dataset.fingerprint())
    from results.quiet_tf import import_tensorflow

    import_tensorflow()
    interrupts.check()
    from search.display import Display, RichDisplay
    from search.display.summary import print_summary
    from search.pipeline import run_search

    distributed.limit_threads_of_worker()
    workers = None
    if args.workers:
        own = _own_command() + distributed.worker_argv(argv)
        workers = distributed.local_workers(own, args.workers, config, args.wait_minutes)
    elif role == "chief":
        workers = distributed.remote_workers(config, args.wait_minutes)
    display = Display() if args.quiet else RichDisplay()
    serving = distributed.working_for_chief(args.wait_minutes) if role == "worker" else contextlib.nullcontext()
    try:
        with serving:
            summary = run_search(config, display, dataset, workers, PROCESS_STARTED, SEARCH_STARTED)
    except distributed.WorkersLost as e:
        raise distributed.WorkersLost(f"{e}; resume with: {resume_command(argv)}") from None
    if summary is None:
        print(f"worker {os.environ[distributed.TUNER_ID]}: the chief has no more trials")
        return 0
    if workers is not None:
        distributed.write_workers_record(summary.run_dir, workers)
    print_summary(summary)
    return 0


def _own_command() -> list[str]:
    """How this process was started, for starting workers the same way."""
    script = sys.argv[0]
    return [os.path.abspath(script)] if script.endswith(".py") else ["-m", "search.cli"]


if __name__ == "__main__":
    run()
