"""The report of a finished run: six PNG pictures, report.json and one self-contained index.html."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from pathlib import Path

from results.report import plots, plots_explain
from results.report.importance import run_importance
from results.report.tables import TableData, ranked_trials, report_tables, to_html
from results.run import Run, atomic, layout

PICTURES = ("predictions", "confusion", "curves", "trials", "importance", "parallel")
CAPTIONS = {
    "predictions": "Test images with the predicted digit and its probability; mistakes in red with the true digit.",
    "confusion": "Rows are the true digit, columns the predicted one; every cell holds its count.",
    "curves": "Retraining loss and accuracy per epoch; validation accuracy per epoch of the best trials of the search.",
    "trials": "Validation accuracy of each completed trial against each hyperparameter (the best is the star), "
    "and trial by trial in the order they ran.",
    "importance": "Hyperparameter importance: the share of the validation accuracy's variance, as modelled by a random "
    "forest of the completed trials, that each hyperparameter explains alone (fANOVA-style main effects).",
    "parallel": "Parallel coordinates: one line per trial through its hyperparameters to its val accuracy, coloured by "
    "val accuracy; the best trial in orange, failed trials as grey dashes, inactive conditional values at 'off'.",
}
DPI = 90


@dataclasses.dataclass
class Report:
    """What write_report wrote: the folder, the file paths, and what each picture shows."""

    folder: Path
    files: dict[str, Path]
    pictures: dict[str, dict]
    tables: list[TableData]


def build_pictures(run: Run) -> dict[str, tuple]:
    """{name: (figure, data)} of the pictures of `run`."""
    predictions = run.test_predictions
    top_ids = [t["trial_id"] for t in ranked_trials(run)[: plots.TOP_TRIAL_CURVES]]
    return {
        "predictions": plots.predictions_figure(predictions.images, predictions.labels, predictions.probabilities),
        "confusion": plots.confusion_figure(run.metrics["confusion_matrix"], run.metrics.get("per_class_accuracy")),
        "curves": plots.curves_figure(run.history, run.trial_histories, top_ids),
        "trials": plots.trials_figure(run.trials, run.hyperparameter_names, run.log_scaled),
        "importance": plots_explain.importance_figure(run_importance(run)),
        "parallel": plots_explain.parallel_figure(run.trials, run.hyperparameter_names, run.log_scaled),
    }


def write_report(run: Run, dpi: int = DPI) -> Report:
    """Write RUN/report/: the PNGs, report.json and index.html (last), each atomically."""
    folder = run.report_dir
    files, data, images = {}, {}, {}
    for name, (fig, shown) in build_pictures(run).items():
        images[name] = plots.png_bytes(fig, dpi=dpi)
        files[name] = folder / f"{name}.png"
        atomic.write_bytes(files[name], images[name])
        data[name] = shown
    tables = report_tables(run)
    files["json"] = folder / layout.REPORT_JSON
    summary = {
        "run": str(run.path),
        "test_accuracy": run.metrics.get("test_accuracy"),
        "test_count": run.metrics.get("test_count"),
        "pictures": {name: {"file": files[name].name, "shows": CAPTIONS[name], **data[name]} for name in PICTURES},
        "tables": [t.as_dict() for t in tables],
        **run_importance(run).as_dict(),
    }
    atomic.write_text(files["json"], json.dumps(summary, indent=1) + "\n")
    files["html"] = folder / layout.REPORT_HTML
    atomic.write_text(files["html"], render_html(run, tables, images))
    return Report(folder, files, data, tables)


def render_html(run: Run, tables: list[TableData], images: dict[str, bytes]) -> str:
    """One page holding everything: tables as HTML, pictures as base64 data URIs (readable offline)."""
    e = html.escape
    configuration, top, failed, per_class, importance = tables

    def picture(name: str) -> str:
        uri = "data:image/png;base64," + base64.b64encode(images[name]).decode("ascii")
        return (
            f'<figure id="{name}"><img src="{uri}" alt="{e(name)}.png: {e(CAPTIONS[name])}">'
            f"<figcaption>{e(name)}.png: {e(CAPTIONS[name])}</figcaption></figure>"
        )

    m = run.metrics
    sections = [
        f"<h1>mnist-tuner run {e(run.name)}</h1>",
        f'<p class="lead">Test accuracy <b>{m["test_accuracy"]:.2%}</b> on {m["test_count"]:,} test images '
        f"(loss {m['test_loss']:.4f}) of the CNN retrained with the best hyperparameters.</p>",
        "<h2>Test result</h2>",
        to_html(per_class),
        picture("confusion"),
        picture("predictions"),
        "<h2>Training curves</h2>",
        picture("curves"),
        "<h2>Trials</h2>",
        to_html(top),
        to_html(failed),
        picture("trials"),
        "<h2>What mattered</h2>",
        to_html(importance),
        picture("importance"),
        picture("parallel"),
        "<h2>Configuration</h2>",
        to_html(configuration),
    ]
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mnist-tuner report: {e(run.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1em 0 2em; font-size: 0.9em; }}
caption {{ text-align: left; font-weight: bold; padding-bottom: 0.4em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }}
th {{ background: #f0f0f0; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.note {{ color: #777; font-style: italic; }}
figure {{ margin: 1em 0 2em; }}
img {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
figcaption {{ color: #555; font-size: 0.9em; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
