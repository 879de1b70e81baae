"""`mnist-report` and `mnist-predict` (scripts/report.py, scripts/predict.py): parse arguments, call one function."""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

EXIT_BAD_INPUT = 2
# What reading a file of the right form but with wrong values inside (a damaged run) raises.
DAMAGE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def unreadable(run_dir: str, error: Exception) -> str:
    """One line for a run whose files hold what no check foresaw."""
    from results.run import REPAIR

    return f"{run_dir}: a file of the run holds what it should not ({type(error).__name__}: {error}); {REPAIR}"


def report_parser() -> argparse.ArgumentParser:
    """The command line of a report."""
    p = argparse.ArgumentParser(
        prog="mnist-report",
        description="Print the tables of a finished run (configuration, top and failed trials, test accuracy per "
        "digit, hyperparameter importance) and write RUN_DIR/report/: predictions.png, confusion.png, curves.png, "
        "trials.png, importance.png, parallel.png, report.json and "
        "a self-contained index.html. Reads only the run directory; never retrains.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by mnist-search / scripts/search.py")
    p.add_argument("--dpi", type=int, default=90, help="resolution of the PNG pictures")
    return p


def report_main(argv: list[str] | None = None) -> int:
    """Report on a finished run from the command line; returns the exit code."""
    args = report_parser().parse_args(argv)
    from rich.console import Console

    from results.report import write_report
    from results.run import RunError, open_run
    from results.tables import report_tables, to_rich, top_trials_table

    if args.dpi < 10 or args.dpi > 600:
        print(f"error: --dpi {args.dpi}: choose between 10 and 600", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        run = open_run(args.run_dir)
        report = write_report(run, dpi=args.dpi)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # a read-only run directory, a full disk, a folder where a report file goes
        where = getattr(e, "filename2", None) or getattr(e, "filename", None) or args.run_dir
        print(f"error: cannot write {where}: {e.strerror or e}; fix that path and run again", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DAMAGE as e:
        print(f"error: {unreadable(args.run_dir, e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    console = Console()
    # One column per hyperparameter when the terminal is wide enough, else all in one column.
    wide_table = to_rich(top_trials_table(run))
    wide = console.measure(wide_table, options=console.options.update(width=10_000)).maximum <= console.width
    for table in report_tables(run, compact=not wide):
        console.print(to_rich(table))
    console.print(f"report: {report.files['html']}")
    for name in ("predictions", "confusion", "curves", "trials", "importance", "parallel"):
        console.print(f"        {report.files[name]}")
    return 0


def predict_parser() -> argparse.ArgumentParser:
    """The command line of predict."""
    p = argparse.ArgumentParser(
        prog="mnist-predict",
        description="Classify image files of single handwritten digits with a run's best model. Any size; dark ink "
        "on light paper or MNIST-style light on dark; PNG, JPEG or anything Pillow reads. Each image is cropped to "
        "its ink, scaled into 20x20 and centred by mass in 28x28, as MNIST is.",
        epilog="Output: one line per file, 'FILE: DIGIT (PROBABILITY)  top 3: ...'. With --json, one JSON object "
        'per line: {"file": "a.png", "digit": 7, "probability": 0.98, "top3": [[7, 0.98], [1, 0.01], [2, 0.004]]} '
        "(top3: [digit, probability] pairs, likeliest first). A file that cannot be read gets one 'error: FILE: ...' "
        "line on stderr; the others are still answered, and the exit code is 2.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (its best_model.keras is used)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files of single digits")
    p.add_argument("--json", action="store_true", help="print one JSON object per line instead of text")
    return p


def predict_main(argv: list[str] | None = None) -> int:
    """Classify image files from the command line; returns the exit code."""
    args = predict_parser().parse_args(argv)
    from results.predict import Failure, predict_files
    from results.run import RunError, open_run

    try:
        answers = predict_files(open_run(args.run_dir), args.images)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DAMAGE as e:
        print(f"error: {unreadable(args.run_dir, e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for answer in answers:
        if isinstance(answer, Failure):
            print(f"error: {answer.file}: {answer.reason}", file=sys.stderr, flush=True)
        else:
            print(json.dumps(answer.as_dict()) if args.json else answer.as_text(), flush=True)
    return EXIT_BAD_INPUT if any(isinstance(a, Failure) for a in answers) else 0
