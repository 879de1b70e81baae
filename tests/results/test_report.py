"""The results package and scripts/report.py, on a real (tiny) digits run made once for this module."""

from __future__ import annotations

import base64
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from results.run import layout

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCRIPT = ROOT / "scripts" / "report.py"
PICTURES = ("predictions", "confusion", "curves", "trials", "importance", "parallel")


@pytest.fixture(scope="module")
def run_dir(digits_run) -> Path:
    """The shared finished digits run (see conftest.py)."""
    return digits_run


def run_script(*args, cwd=None) -> subprocess.CompletedProcess:
    """python scripts/report.py ARGS, from another folder than the checkout."""
    return subprocess.run(
        [sys.executable, str(REPORT_SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT.parent,
        timeout=300,
    )


@pytest.fixture(scope="module")
def report(run_dir) -> subprocess.CompletedProcess:
    """scripts/report.py run once on the module's run."""
    return run_script(run_dir)


def copy_run(run_dir: Path, target: Path) -> Path:
    """A copy of the run without the tuner's weight checkpoints (the report does not read them)."""
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("*.weights.h5", "report"))
    return target


def assert_one_error_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]


def test_report_exits_0_and_prints_the_tables(report, run_dir):
    assert report.returncode == 0, report.stderr
    assert "Traceback" not in report.stderr
    for title in ("Run configuration", "Top 2 of 2 completed trials", "Failed trials", "Test accuracy"):
        assert title in report.stdout
    assert str(run_dir / "report" / "index.html") in report.stdout


def test_report_writes_every_file_and_no_temp_file(report, run_dir):
    folder = run_dir / "report"
    names = {p.name for p in folder.iterdir()}
    assert names == {"index.html", "report.json", *(f"{n}.png" for n in PICTURES)}


@pytest.mark.parametrize("name", PICTURES)
def test_each_picture_is_a_valid_png_of_reasonable_size(report, run_dir, name):
    path = run_dir / "report" / f"{name}.png"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        # Not blank: a real plot has many distinct colours.
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert 400 <= width <= 3000 and 250 <= height <= 3000, image.size
    # The shared run has 2 trials: importance.png is a one-line note ("too few trials"), smaller than a plot.
    assert (5_000 if name == "importance" else 10_000) < path.stat().st_size < 1_000_000
    assert colours is None or len(colours) > 20


def test_index_html_embeds_all_pictures_and_holds_the_tables(report, run_dir):
    folder = run_dir / "report"
    page = (folder / "index.html").read_text()
    embedded = page.split('src="data:image/png;base64,')[1:]
    assert len(embedded) == len(PICTURES)
    pngs = {base64.b64decode(chunk.split('"', 1)[0]) for chunk in embedded}
    assert pngs == {(folder / f"{name}.png").read_bytes() for name in PICTURES}
    for name in PICTURES:
        assert f"{name}.png" in page
    # Readable offline: nothing is fetched from elsewhere.
    assert 'src="http' not in page and 'href="http' not in page and "<script" not in page
    assert page.count("<table>") == 5  # configuration, top, failed, per digit, importance
    for caption in ("Run configuration", "Top 2 of 2 completed trials", "Failed trials", "Test accuracy"):
        assert f"<caption>{caption}" in page
    assert "most often taken for" in page


def test_confusion_picture_data_sums_to_the_test_count(report, run_dir):
    from results import open_run
    from results.report.plots import confusion_figure

    run = open_run(run_dir)
    shown = json.loads((run_dir / "report" / "report.json").read_text())["pictures"]["confusion"]
    test_count = run.metrics["test_count"]
    assert test_count == len(run.test_predictions.labels)
    assert np.asarray(shown["matrix"]).shape == (10, 10)
    assert np.asarray(shown["matrix"]).sum() == shown["total"] == test_count
    # What the model answered, counted here from the stored predictions, not from metrics.json.
    labels, answers = run.test_predictions.labels, run.test_predictions.probabilities.argmax(axis=1)
    counted = np.zeros((10, 10), int)
    np.add.at(counted, (labels, answers), 1)
    assert np.asarray(shown["matrix"]).tolist() == counted.tolist()
    _, drawn = confusion_figure(run.metrics["confusion_matrix"], run.metrics["per_class_accuracy"])
    assert drawn["matrix"] == counted.tolist()
    assert drawn["correct"] == int((answers == labels).sum())


def test_report_json_describes_what_each_picture_shows(report, run_dir):
    from results import open_run

    run = open_run(run_dir)
    pictures = json.loads((run_dir / "report" / "report.json").read_text())["pictures"]
    assert set(pictures) == set(PICTURES)
    predictions = run.test_predictions
    for cell in pictures["predictions"]["sample"]:
        assert cell["predicted"] == int(predictions.probabilities[cell["index"]].argmax())
        assert cell["label"] == int(predictions.labels[cell["index"]])
    mistakes = pictures["predictions"]["mistakes"]
    assert all(c["predicted"] != c["label"] for c in mistakes)
    assert [c["confidence"] for c in mistakes] == sorted((c["confidence"] for c in mistakes), reverse=True)
    retrained = run.metrics["retrain"]["epochs"]
    assert pictures["curves"]["retrain"]["epochs"] == list(range(1, retrained + 1))
    assert set(pictures["curves"]["trials"]) == {t["trial_id"] for t in run.trials}
    order = pictures["trials"]["order"]
    assert order["trial_id"] == [t["trial_id"] for t in run.trials]
    assert order["best_so_far"][-1] == max(t["val_accuracy"] for t in run.trials)
    assert "learning_rate" in pictures["trials"]["log_scale"]
    assert len(pictures["trials"]["hyperparameters"]["learning_rate"]) == 2


def test_run_api_reads_the_run_directory(run_dir):
    from results import open_run

    run = open_run(run_dir)
    assert run.config["options"]["dataset"] == "digits"
    assert run.best_hyperparameters == run.metrics["retrain"]["hyperparameters"]
    assert [t["trial_id"] for t in run.trials] == ["0", "1"]
    for trial in run.trials:
        assert trial["status"] == "COMPLETED"
        assert isinstance(trial["val_accuracy"], float)
        assert isinstance(trial["epochs"], int) and isinstance(trial["learning_rate"], float)
    assert "learning_rate" in run.hyperparameter_names
    bookkeeping = {"trial_id", "status", "val_accuracy", "epochs", "seconds", "rss_mb", "message"}
    assert not bookkeeping & set(run.hyperparameter_names)
    assert [e["epoch"] for e in run.history] == list(range(1, run.metrics["retrain"]["epochs"] + 1))
    assert set(run.trial_histories) == {"0", "1"}
    assert all("val_accuracy" in e for h in run.trial_histories.values() for e in h)
    predictions = run.test_predictions
    assert predictions.images.dtype == np.uint8 and predictions.images.shape[1:] == (28, 28)
    assert predictions.probabilities.shape == (len(predictions.labels), 10)


def test_load_model_gives_the_stored_test_probabilities(run_dir):
    from results import open_run

    run = open_run(run_dir)
    model = run.load_model()
    predictions = run.test_predictions
    again = model.predict(predictions.images[:50, ..., None], verbose=0)
    np.testing.assert_allclose(again, predictions.probabilities[:50], atol=1e-4)


def test_load_model_refuses_a_file_that_is_not_a_keras_model(run_dir, tmp_path):
    from results import RunError, open_run

    copy = copy_run(run_dir, tmp_path / "run")
    (copy / layout.MODEL).write_bytes(b"not a zip archive at all")
    with pytest.raises(RunError) as caught:
        open_run(copy).load_model()
    assert "best_model.keras" in str(caught.value) and "\n" not in str(caught.value)


def test_a_failed_trial_is_reported_with_its_reason(run_dir, tmp_path):
    from results import open_run
    from results.report import write_report

    copy = copy_run(run_dir, tmp_path / "run")
    path = copy / layout.TRIALS
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    why = "training diverged: loss became nan in epoch 1, batch 7 (learning rate too high?)"
    rows[1].update(status="FAILED", val_accuracy="", message=why)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    report = write_report(open_run(copy))
    page = report.files["html"].read_text()
    assert "Failed trials (1)" in page and why in page
    order = report.pictures["trials"]["order"]
    assert order["val_accuracy"][1] is None
    assert "Top 1 of 1 completed trials" in page


def test_report_on_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_error_line(run_script(tmp_path), "not a run directory")


def test_report_on_a_missing_folder(tmp_path):
    assert_one_error_line(run_script(tmp_path / "nowhere"), "no such folder")


def test_report_on_an_unfinished_run(run_dir, tmp_path):
    copy = copy_run(run_dir, tmp_path / "run")
    (copy / layout.METRICS).unlink()
    result = run_script(copy)
    assert_one_error_line(result, "in progress or interrupted", "re-run the search command")
    assert not (copy / "report").exists()


def test_results_never_imports_the_search_machinery():
    # results shares search's small file and import helpers, never its data, tuners or training.
    code = (
        "import sys; import results, results.cli, results.report, results.photos.read, results.photos.images; "
        "allowed = {'search', 'search.atomic', 'search.quiet_import'}; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('search', 'space', 'keras_tuner') "
        "and m not in allowed]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def test_report_help_names_the_run_directory():
    result = run_script("--help")
    assert result.returncode == 0 and "RUN_DIR" in result.stdout
