"""The rich summary printed when a run finishes: top trials and the test result."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from results.run import layout
from search.display.progress import format_seconds, format_values

NOT_HYPERPARAMETERS = {*layout.TRIALS_HEAD, *layout.TRIALS_TAIL}


def print_summary(summary, console: Console | None = None) -> None:
    """Print the top trials, the best hyperparameters and the test result."""
    console = console or Console()
    metrics = summary.metrics
    if summary.top_trials:
        # Hyperparameters share one wrapping column: the table stays readable at 80 columns.
        table = Table(title="Top trials (validation accuracy)")
        for column, justify in (
            ("trial", "right"),
            ("val acc", "right"),
            ("epochs", "right"),
            ("seconds", "right"),
            ("hyperparameters", "left"),
        ):
            table.add_column(column, justify=justify, overflow="fold")
        for row in summary.top_trials:
            values = {
                k: v
                for k, v in row.items()
                if k not in NOT_HYPERPARAMETERS and layout.is_searched(k) and v not in (None, "")
            }
            table.add_row(
                row["trial_id"],
                f"{row['val_accuracy']:.4f}",
                _cell(row.get("epochs")),
                _cell(row.get("seconds")),
                format_values(values),
            )
        console.print(table)
    trials = metrics["trials"]
    timings = metrics["timings"]
    note = " (already complete; nothing to do)" if summary.resumed_complete else ""
    console.print(
        f"[bold]test accuracy {metrics['test_accuracy'] * 100:.2f}%[/bold] "
        f"(loss {metrics['test_loss']:.4f}, {metrics['test_count']} images){note}\n"
        f"trials: {trials['completed']} completed, {trials['failed']} failed · "
        f"search {format_seconds(timings['search_seconds'])}, retrain {format_seconds(timings['retrain_seconds'])}, "
        f"total {format_seconds(timings['total_seconds'])}\n"
        f"run directory: {summary.run_dir}"
    )
    if metrics.get("precision"):
        console.print(precision_line(metrics["precision"]))
    for weights in metrics.get("retrain", {}).get("weights_kept") or []:
        console.print(weights_line(weights))
    for warning in metrics.get("warnings") or []:
        console.print(f"[bold red]warning:[/bold red] {warning}")


def weights_line(weights: dict) -> str:
    """One line on which weights a network kept: its moving average, or its raw weights where those
    read the training sample better."""
    which = "the moving average of its weights" if weights["kept"] == "average" else "its raw weights"
    return (
        f"network {weights['network']} kept {which}: on {weights['sample']} training images the average read "
        f"{weights['average_accuracy']:.2%}, the raw weights {weights['raw_accuracy']:.2%}"
    )


def precision_line(record: dict) -> str:
    """One line on what the run computed in, and for --precision auto what the measurement found
    (`record`: metrics.json's "precision")."""
    if record["how"] == "asked":
        return f"precision {record['used']} (--precision {record['asked']})"
    speeds = record["images_per_second"]
    others = ", ".join(f"{name} {gain:.2f}x" for name, gain in record["speedup"].items())
    when = (
        f"measured here in {record['measure_seconds']:.1f} s"
        if record["how"] == "measured"
        else f"as measured before in {record['measure_seconds']:.1f} s ({record['cache']})"
    )
    return (
        f"precision {record['used']} (auto: float32 trained {speeds['float32']:,.0f} images/s, {others} that; "
        f"another type needs {record['margin']:g}x; {when})"
    )


def _cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
