"""The rich summary printed when a run finishes: top trials and the test result."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from search.progress import format_seconds


def print_summary(summary, console: Console | None = None) -> None:
    """Print the top trials, the best hyperparameters and the test result."""
    console = console or Console()
    metrics = summary.metrics
    if summary.top_trials:
        hp_names = [k for k in summary.best_values]
        table = Table(title="Top trials (validation accuracy)")
        for column in ["trial", *hp_names, "val acc", "epochs", "seconds"]:
            table.add_column(column, justify="right")
        for row in summary.top_trials:
            cells = [_cell(row.get(name)) for name in hp_names]
            table.add_row(
                row["trial_id"],
                *cells,
                f"{row['val_accuracy']:.4f}",
                _cell(row.get("epochs")),
                _cell(row.get("seconds")),
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


def _cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
