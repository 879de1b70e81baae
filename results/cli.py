"""`mnist-report`, `mnist-predict`, `mnist-export` and `mnist-serve` (scripts/report.py, scripts/predict.py,
scripts/export.py, scripts/serve.py): parse arguments, call one function."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, `error: ...`, and exit 2, like every other expected
    failure of the commands (argparse prints its whole usage first)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


# What reading a file of the right form but with wrong values inside (a damaged run) raises.
DAMAGE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def unreadable(run_dir: str, error: Exception) -> str:
    """One line for a run whose files hold what no check foresaw."""
    from results.run import REPAIR

    return f"{run_dir}: a file of the run holds what it should not ({type(error).__name__}: {error}); {REPAIR}"


def report_parser() -> argparse.ArgumentParser:
    """The command line of a report."""
    p = OneLineParser(
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

    from results.report import report_tables, to_rich, top_trials_table, write_report
    from results.run import RunError, open_run

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
    p = OneLineParser(
        prog="mnist-predict",
        description="Read handwritten digits, or numbers written left to right, from image files with a run's "
        "best model: photos of paper (uneven light, shadows, ruled or squared paper) as well as clean scans, "
        "dark ink on light or MNIST-style light on dark; PNG, JPEG or anything Pillow reads. The paper is "
        "cleaned (lighting evened, local threshold, ruled lines and specks removed), the digits are found left "
        "to right, and each is scaled into 20x20 and centred by mass in 28x28, as MNIST is.",
        epilog="Output: one line per file: 'FILE: DIGIT (PROBABILITY)  top 3: ...' for one digit, 'FILE: NUMBER  "
        "digits: D P, ...' for several; 'unsure' marks an answer the model is not sure of or ink that does not "
        'look like a digit. With --json, one JSON object per line: {"file", "digit", "probability", "top3" '
        '(for several digits these three are null), "number" (the digits left to right, e.g. "2026"), "unsure", '
        '"digits": [{"digit", "probability", "box": [x0, y0, x1, y1], "unsure"}, ...]}; boxes are in the '
        "image's pixels. A file that cannot be read gets one 'error: FILE: ...' line on stderr; the others are "
        "still answered, and the exit code is 2.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (its best_model.keras is used)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files of a digit or a written number")
    p.add_argument("--json", action="store_true", help="print one JSON object per line instead of text")
    p.add_argument(
        "--annotate",
        metavar="OUT",
        help="write each image with its digits' boxes and answers drawn on it: to OUT.png for one image, "
        "into the folder OUT (as NAME.annotated.png) for several",
    )
    return p


def predict_main(argv: list[str] | None = None) -> int:
    """Read image files from the command line; returns the exit code."""
    args = predict_parser().parse_args(argv)
    from results.photos import Failure, predict_files
    from results.run import RunError, open_run

    try:
        with warnings.catch_warnings(record=True) as warned:
            answers = predict_files(open_run(args.run_dir), args.images)
        for warning in warned:  # one line each, without Python's file and line
            print(f"warning: {warning.message}", file=sys.stderr)
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
    failed = any(isinstance(a, Failure) for a in answers)
    if args.annotate:
        failed |= not _annotate_all(answers, args.annotate, several=len(args.images) > 1)
    return EXIT_BAD_INPUT if failed else 0


def _annotate_all(answers, out: str, several: bool) -> bool:
    """Write the annotated images; False (with one line on stderr) when one cannot be written."""
    from pathlib import Path

    from results.photos import Failure, annotate

    for answer in answers:
        if isinstance(answer, Failure):
            continue
        target = Path(out) / f"{Path(answer.file).stem}.annotated.png" if several else Path(out)
        try:
            if several and Path(out).exists() and not Path(out).is_dir():
                raise NotADirectoryError(f"{out} is a file; with several images --annotate names a folder")
            annotate(answer.file, answer, target)
        except OSError as e:
            print(f"error: cannot write {target}: {e.strerror or e}", file=sys.stderr)
            return False
    return True


def serve_parser() -> argparse.ArgumentParser:
    """The command line of serve."""
    p = OneLineParser(
        prog="mnist-serve",
        description="Serve a finished run's best model on this machine: a page to draw a digit on (or drop a "
        "photo of a number) and see the answer, and an HTTP API. POST /predict with an image file's bytes as "
        'the body answers with the JSON of `mnist-predict RUN_DIR FILE --json` (?name=FILE sets its "file", '
        'by default "upload"); GET /health answers {"status": "ok", "run", "test_accuracy", ...}; /report/ is '
        "the run's report, once mnist-report has written it. Bodies over 10 MB are refused (413), anything "
        'that is not an image with 400; every error is JSON {"error": "..."}. Ctrl-C stops it.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (its best_model.keras is served)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    return p


def serve_main(argv: list[str] | None = None) -> int:
    """Serve a run's model from the command line until stopped; returns the exit code."""
    args = serve_parser().parse_args(argv)
    from results.deploy import serve_run
    from results.run import RunError

    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port}: choose between 0 and 65535", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        serve_run(args.run_dir, args.host, args.port, announce=lambda line: print(line, flush=True))
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DAMAGE as e:
        print(f"error: {unreadable(args.run_dir, e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # the port is taken, the address is not this machine's
        print(f"error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C, the way to stop a server: uvicorn has shut down and raises it again
        pass
    return 0


def export_parser() -> argparse.ArgumentParser:
    """The command line of export."""
    p = OneLineParser(
        prog="mnist-export",
        description="Export a finished run's best model as ONNX (float32) and LiteRT (float32, and int8 by "
        "full-integer post-training quantization on the run's calibration.npz, 1,000 training images), each "
        "doing what best_model.keras does at inference (test-time averaging over shifted images included) and "
        "taking raw 0-255 pixels shaped (N, 28, 28, 1) (the int8 file as uint8). Each file is then run in its own "
        "runtime (onnxruntime, the LiteRT interpreter) over the whole test set against Keras' "
        "model(x, training=False): test accuracy, argmax agreement, largest probability difference, file size, "
        "median latency at batch 1 (200 calls) and images per second at batch 256, printed as a table and "
        "written to export.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (its best_model.keras is exported)")
    p.add_argument(
        "--formats",
        default="onnx,tflite,tflite-int8",
        help="comma-separated: onnx (model.onnx), tflite (model.tflite), tflite-int8 (model_int8.tflite)",
    )
    p.add_argument("--out", metavar="DIR", help="the folder to write into (default: RUN_DIR/export)")
    return p


def export_main(argv: list[str] | None = None) -> int:
    """Export a run's best model from the command line; returns the exit code."""
    args = export_parser().parse_args(argv)
    from rich.console import Console

    from results.deploy.export import FORMATS, ExportError, export_folder, export_run, parse_formats
    from results.report.tables import export_record_table, to_rich
    from results.run import RunError, layout, open_run

    console = Console()
    try:
        formats = parse_formats(args.formats)
        run = open_run(args.run_dir)
        out = export_folder(run, args.out)
        record = export_run(run, formats, out, say=lambda line: console.print(line))
    except (RunError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:  # the folder filled up or was taken away while writing
        where = getattr(e, "filename", None) or args.out or args.run_dir
        print(f"error: cannot write {where}: {e.strerror or e}; fix that path and run again", file=sys.stderr)
        return EXIT_BAD_INPUT
    console.print(to_rich(export_record_table(record)))
    console.print(f"export: {out / layout.EXPORT_JSON}")
    for name in formats:
        console.print(f"        {out / FORMATS[name]}")
    return 0
