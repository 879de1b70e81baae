"""report.py and predict.py on a run with a damaged file: one line naming the file and what to do
(exit 2), never a traceback. Every case goes through the command line's own entry points in this
process; one case each through the scripts themselves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from results.cli import predict_main, report_main
from results.run import layout
from runs import ROOT, damage, one_error_line, run_cli

REPORT = ROOT / "scripts" / "report.py"
PREDICT = ROOT / "scripts" / "predict.py"

# (file, damage) that report.py reads: every file, and every kind of damage on metrics.json.
REPORT_CASES = [
    *[
        (name, "truncated")
        for name in (
            layout.CONFIG,
            layout.METRICS,
            layout.HISTORY,
            layout.TRIALS,
            layout.PREDICTIONS,
            "tuner/trial_0/mnist_tuner.json",
        )
    ],
    *[(layout.METRICS, kind) for kind in ("empty", "garbage", "json-list", "json-no-keys", "folder")],
    (layout.CONFIG, "json-list"),
    (layout.HISTORY, "json-no-keys"),
    (layout.TRIALS, "garbage"),
    (layout.PREDICTIONS, "folder"),
]
PREDICT_CASES = [
    *[(layout.MODEL, kind) for kind in ("truncated", "empty", "garbage", "folder")],
    (layout.CONFIG, "garbage"),
]


def run_main(main, *args, capfd) -> subprocess.CompletedProcess:
    """Run a command line's entry point here, as its script does; its exit code and everything written
    to this process's stdout and stderr meanwhile (TensorFlow's own log lines included)."""
    capfd.readouterr()
    code = main([str(a) for a in args])
    out = capfd.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def damaged_copy(digits_run: Path, tmp_path: Path, name: str, kind: str) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    damage(run_dir / name, kind)
    return run_dir


@pytest.mark.parametrize(("name", "kind"), REPORT_CASES, ids=[f"{n}-{k}" for n, k in REPORT_CASES])
def test_report_on_a_damaged_file_says_which_and_what_to_do(digits_run, tmp_path, capfd, name, kind):
    run_dir = damaged_copy(digits_run, tmp_path, name, kind)
    line = one_error_line(run_main(report_main, run_dir, capfd=capfd), str(run_dir / name))
    assert "restore it" in line if name == layout.CONFIG else "run the search command again" in line


def test_report_with_a_folder_where_a_report_file_goes_names_it(digits_run, tmp_path, capfd):
    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    (run_dir / layout.REPORT / layout.REPORT_HTML).mkdir(parents=True)
    one_error_line(run_main(report_main, run_dir, capfd=capfd), str(run_dir / layout.REPORT / layout.REPORT_HTML))


@pytest.fixture
def digit_png(tmp_path) -> Path:
    image = Image.new("L", (28, 28), 0)
    image.paste(255, (12, 6, 16, 22))  # a one
    image.save(tmp_path / "one.png")
    return tmp_path / "one.png"


@pytest.mark.parametrize(("name", "kind"), PREDICT_CASES, ids=[f"{n}-{k}" for n, k in PREDICT_CASES])
def test_predict_on_a_damaged_file_says_which_and_what_to_do(digits_run, tmp_path, capfd, digit_png, name, kind):
    run_dir = damaged_copy(digits_run, tmp_path, name, kind)
    one_error_line(run_main(predict_main, run_dir, digit_png, capfd=capfd), str(run_dir / name))


def test_the_scripts_themselves_stop_on_a_damaged_file_with_one_line(digits_run, tmp_path, digit_png):
    run_dir = damaged_copy(digits_run, tmp_path, layout.METRICS, "garbage")
    damage(run_dir / layout.MODEL, "truncated")
    one_error_line(run_cli(run_dir, script=REPORT), str(run_dir / layout.METRICS))
    one_error_line(run_cli(run_dir, digit_png, script=PREDICT), str(run_dir / layout.MODEL))
