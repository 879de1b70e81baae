"""The report's tables as plain rows of text, rendered for the terminal (rich) and for HTML."""

from __future__ import annotations

import dataclasses
import html

from rich.table import Table
from rich.text import Text

from results.run import Run, files, layout

TOP_TRIALS = 10


@dataclasses.dataclass
class TableData:
    """A titled table of text cells; `note` is shown when there are no rows."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    numeric: tuple[int, ...] = ()  # indices of right-aligned columns

    def as_dict(self) -> dict:
        """The table as JSON-ready values."""
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


def fmt(value) -> str:
    """A cell: '-' for nothing, floats short, the rest as text."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def seconds(value) -> str:
    """Seconds as H:MM:SS or M:SS."""
    if value is None:
        return "-"
    whole = max(0, int(round(value)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def configuration_table(run: Run) -> TableData:
    """What the run was started with, what data it saw, and how long it took."""
    options = run.config.get("options", {})
    metrics = run.metrics
    data = metrics.get("dataset", {})
    timings = metrics.get("timings", {})
    counts = metrics.get("trials", {})
    retrain = metrics.get("retrain", {})
    versions = metrics.get("versions", {})
    rows = [
        ["run directory", str(run.path)],
        ["started", fmt(run.config.get("created"))],
        ["dataset", f"{fmt(data.get('name', options.get('dataset')))} ({fmt(data.get('source'))})"],
        [
            "images",
            f"{_count(data.get('train'))} train, {_count(data.get('validation'))} validation, "
            f"{_count(data.get('test'))} test"
            + (f" (a subset of {_count(options['subset'])})" if options.get("subset") else ""),
        ],
        ["tuner", fmt(options.get("tuner"))],
        ["max trials", fmt(options.get("max_trials"))],
        ["max epochs per trial", fmt(options.get("max_epochs"))],
    ]
    if options.get("tuner") in ("hyperband", "bohb"):
        rows.append(["hyperband factor", fmt(options.get("hyperband_factor"))])
    rows += [
        ["early stopping patience", fmt(options.get("early_stopping_patience"))],
        ["time budget (minutes)", _budget(options)],
        ["seed", fmt(options.get("seed"))],
        [
            "retrain",
            f"trial {fmt(retrain.get('trial_id'))}'s hyperparameters, {fmt(retrain.get('epochs'))} epochs"
            f"{_trimmed(retrain)}, "
            f"{fmt(retrain.get('schedule'))} learning-rate schedule{_timed(retrain)}{_members(retrain)}",
        ],
        ["best hyperparameters", _values(run.best_hyperparameters)],
        ["search space", _space(options.get("space") or run.config.get("search", {}).get("space") or {})],
        [
            "trials",
            f"{fmt(counts.get('total'))} run: {fmt(counts.get('completed'))} completed, "
            f"{fmt(counts.get('failed'))} failed"
            + (" (stopped by the time budget)" if metrics.get("budget_stopped") else ""),
        ],
        [
            "time",
            f"search {seconds(timings.get('search_seconds'))}, retrain {seconds(timings.get('retrain_seconds'))}, "
            f"total {seconds(timings.get('total_seconds'))} (last session); "
            f"all trials {seconds(timings.get('trial_seconds_all_sessions'))}",
        ],
        ["versions", ", ".join(f"{k} {v}" for k, v in versions.items() if k in ("tensorflow", "keras", "keras_tuner"))],
        ["config hash", fmt(run.config.get("hash"))],
    ]
    return TableData("Run configuration", ["setting", "value"], rows)


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else fmt(value)


def _values(values: dict) -> str:
    return "  ".join(f"{k}={fmt(v)}" for k, v in values.items())


def _space(space: dict) -> str:
    names = [k.removesuffix("_min") for k in space if k.endswith("_min")]
    parts = [f"{n} {fmt(space[n + '_min'])}-{fmt(space.get(n + '_max'))}" for n in names]
    parts += [f"{k}={fmt(v)}" for k, v in space.items() if not k.endswith(("_min", "_max"))]
    return ", ".join(parts)


def ranked_trials(run: Run) -> list[dict]:
    """Completed trials, best validation accuracy first (ties keep start order)."""
    return sorted(run.completed_trials, key=lambda t: -t["val_accuracy"])


def top_trials_table(run: Run, n: int = TOP_TRIALS, compact: bool = False) -> TableData:
    """The best `n` trials with their hyperparameters and validation accuracy.

    `compact` puts all hyperparameters in one column (for narrow terminals).
    """
    top = ranked_trials(run)[:n]
    names = [k for k in run.hyperparameter_names if any(t.get(k) is not None for t in top)]
    extra = [k for k in ("tuner/epochs",) if any(t.get(k) is not None for t in top)]
    head = ["rank", "trial", "val accuracy"]
    tail = ["epochs", "seconds"]
    if compact:
        columns = head + tail + ["hyperparameters"]
        rows = [
            [str(i), t["trial_id"], f"{t['val_accuracy']:.4f}", fmt(t.get("epochs")), fmt(t.get("seconds"))]
            + [_values({k: t[k] for k in names + extra if t.get(k) is not None})]
            for i, t in enumerate(top, 1)
        ]
        numeric = (0, 1, 2, 3, 4)
    else:
        columns = head + names + extra + tail
        rows = [
            [str(i), t["trial_id"], f"{t['val_accuracy']:.4f}"]
            + [fmt(t.get(k)) for k in names + extra]
            + [fmt(t.get("epochs")), fmt(t.get("seconds"))]
            for i, t in enumerate(top, 1)
        ]
        numeric = tuple(range(len(columns)))
    total = len(ranked_trials(run))
    title = f"Top {len(top)} of {total} completed trials (validation accuracy)"
    return TableData(title, columns, rows, note="no trial completed", numeric=numeric)


def failed_trials_table(run: Run) -> TableData:
    """Trials that did not complete, and why."""
    failed = [t for t in run.trials if t.get("status") != layout.COMPLETED]
    names = run.hyperparameter_names
    rows = [
        [t["trial_id"], fmt(t.get("status")), _values({k: t[k] for k in names if t.get(k) is not None}), _why(t)]
        for t in failed
    ]
    return TableData(
        f"Failed trials ({len(failed)})" if failed else "Failed trials",
        ["trial", "status", "hyperparameters", "why"],
        rows,
        note="none",
        numeric=(0,),
    )


def _why(trial: dict) -> str:
    if trial.get("message"):
        return str(trial["message"])
    if trial.get("status") == "RUNNING":
        return "was running when the search stopped"
    return "-"


def per_class_table(run: Run) -> TableData:
    """Test accuracy of each digit, and what it was most often mistaken for."""
    matrix = run.metrics.get("confusion_matrix") or []
    accuracy = run.metrics.get("per_class_accuracy") or [None] * len(matrix)
    rows = []
    for digit, (row, acc) in enumerate(zip(matrix, accuracy, strict=False)):
        wrong = [(count, other) for other, count in enumerate(row) if other != digit and count]
        count, other = max(wrong) if wrong else (0, None)
        rows.append(
            [
                str(digit),
                str(sum(row)),
                str(row[digit]),
                "-" if acc is None else f"{acc:.2%}",
                f"{other} ({count}x)" if other is not None else "-",
            ]
        )
    m = run.metrics
    title = f"Test accuracy {m['test_accuracy']:.2%} (loss {m['test_loss']:.4f}, {m['test_count']:,} images): per digit"
    return TableData(
        title, ["digit", "images", "correct", "accuracy", "most often taken for"], rows, numeric=(0, 1, 2, 3)
    )


def report_tables(run: Run, compact: bool = False) -> list[TableData]:
    """Every table of the report, in the order they are shown."""
    return [
        configuration_table(run),
        top_trials_table(run, compact=compact),
        failed_trials_table(run),
        per_class_table(run),
        importance_table(run),
        *([export_table(run)] if files.exists(run.path / layout.EXPORT / layout.EXPORT_JSON) else []),
    ]


def importance_table(run: Run) -> TableData:
    """Each searched hyperparameter's importance share, largest first; a note when there are too few trials."""
    from results.report.importance import run_importance

    importance = run_importance(run)
    shares = importance.shares or {}
    rows = [[name, f"{share:.1%}"] for name, share in sorted(shares.items(), key=lambda kv: -kv[1])]
    title = "Hyperparameter importance (fANOVA-style main effects)"
    if shares:
        title += f": {importance.describe()}"
    return TableData(title, ["hyperparameter", "share"], rows, note=importance.describe(), numeric=(1,))


EXPORT_NAMES = {"keras": "Keras", "onnx": "ONNX", "tflite": "LiteRT", "tflite-int8": "LiteRT int8"}


def export_table(run: Run) -> TableData:
    """The run's exported models (RUN/export/export.json) against Keras; a note when export.json is damaged."""
    path = run.path / layout.EXPORT / layout.EXPORT_JSON
    try:
        return export_record_table(files.read_json(path, ("models", "test_count")))
    except files.DamagedFile as e:
        return TableData("Exported models", [], [], note=f"{e}; run export.py again")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return TableData("Exported models", [], [], note=f"{path}: holds what it should not ({e}); run export.py again")


def export_record_table(record: dict) -> TableData:
    """export.json's record as a table: each model's size, test accuracy, argmax agreement with Keras and
    largest probability difference, median batch-1 latency and images per second at batch 256."""
    rows = []
    for name, m in record["models"].items():
        agree = "-" if m["agreement"] is None else f"{m['agreement']:.2%}"
        diff = "-" if m["max_prob_diff"] is None else f"{m['max_prob_diff']:.1e}"
        rows.append(
            [
                EXPORT_NAMES.get(name, name),
                f"{m['bytes'] / 1024:,.0f} KiB",
                f"{m['test_accuracy']:.2%}",
                agree,
                diff,
                f"{m['latency_ms']:.2f}",
                f"{m['images_per_second']:,.0f}",
            ]
        )
    measured = record.get("measured", {})
    on = f" ({measured['cpu']}, {measured['threads']} threads)" if "cpu" in measured else ""
    title = f"Exported models on the {record['test_count']:,} test images{on}"
    columns = ["model", "size", "accuracy", "agrees with Keras", "max |dp|", "ms at batch 1", "images/s at 256"]
    return TableData(title, columns, rows, numeric=(1, 2, 3, 4, 5, 6))


def to_rich(table: TableData) -> Table | Text:
    """A rich Table of `table`; a table without rows is one line: its title and note."""
    if not table.rows:
        return Text.assemble((table.title, "bold"), f": {table.note}")
    out = Table(title=table.title, title_style="bold")
    for i, column in enumerate(table.columns):
        out.add_column(column, justify="right" if i in table.numeric else "left", overflow="fold")
    for row in table.rows:
        out.add_row(*row)
    return out


def to_html(table: TableData) -> str:
    """An HTML <table> of `table` (text escaped)."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
    cell = ('<td class="num">{}</td>', "<td>{}</td>")
    body = "".join(
        "<tr>" + "".join(cell[i not in table.numeric].format(e(c)) for i, c in enumerate(row)) + "</tr>"
        for row in table.rows
    )
    if not table.rows:
        body = f'<tr><td colspan="{len(table.columns)}" class="note">{e(table.note)}</td></tr>'
    return (
        f"<table>\n<caption>{e(table.title)}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>"
    )


def _budget(options: dict) -> str:
    """'20 in all' under --minutes, else the search's budget."""
    if options.get("minutes"):
        search = f", search {options['budget_minutes']:g}" if options.get("budget_minutes") else ""
        return f"{options['minutes']:g} in all{search}"
    return fmt(options.get("budget_minutes"))


def _timed(retrain: dict) -> str:
    """' over 12.3 min by the clock (99.8% used), weights averaged' for a clock-driven retrain."""
    out = ""
    if retrain.get("timed") and retrain.get("seconds_budget"):
        out = f" over {retrain['seconds_budget'] / 60:.1f} min by the clock ({retrain['share_used']:.1%} used)"
    out += ", weights averaged (EMA)" if retrain.get("ema") else ""
    return out + (", answers averaged over 5 shifts (TTA)" if retrain.get("tta") else "")


def _members(retrain: dict) -> str:
    """'; 2 networks at peak rates 0.0154 and 0.0463, answers averaged' for a retrain of --members N,
    '; peak rate 0.0463 (3x the searched one)' for one of --rate-scale 3."""
    rates = retrain.get("member_peak_rates")
    if not isinstance(rates, list) or not rates:
        return ""
    if retrain.get("members", 1) == 1:  # one network, at --rate-scale times the searched rate
        return f"; peak rate {fmt(rates[0])} ({fmt(retrain.get('rate_scale'))}x the searched one)"
    out = f"; {retrain['members']} networks at peak rates {' and '.join(fmt(r) for r in rates)}, answers averaged"
    left_out = [e for e in retrain.get("members_left_out") or [] if isinstance(e, dict)]
    return out + "".join(f"; network {fmt(e.get('network'))} left out ({fmt(e.get('why'))})" for e in left_out)


def _trimmed(retrain: dict) -> str:
    """' of 30 asked (what fit in 16 min)' where the retrain's time cap trimmed the epochs."""
    asked, minutes = retrain.get("epochs_asked"), retrain.get("retrain_minutes")
    if asked is not None and isinstance(retrain.get("members"), int):  # every network but a diverged one
        left_out = [e for e in retrain.get("members_left_out") or [] if isinstance(e, dict)]
        asked *= retrain["members"] - sum(e.get("why") == "diverged" for e in left_out)
    if asked is None or not minutes or asked == retrain.get("epochs"):
        return ""
    return f" of {asked} asked (what fit in {minutes:g} min)"
