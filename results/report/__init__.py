"""The report of a finished run: tables for the terminal and HTML, six pictures, report.json, index.html.

- `build`: `write_report` writes RUN/report/;
- `tables`: the tables as plain rows, rendered by rich or as HTML;
- `plots`, `plots_explain`: the pictures, each returning (figure, data);
- `importance`: hyperparameter importance from the completed trials.
"""

from results.report.build import Report, write_report
from results.report.tables import (
    TableData,
    configuration_table,
    fmt,
    report_tables,
    to_html,
    to_rich,
    top_trials_table,
)

__all__ = [
    "Report",
    "TableData",
    "configuration_table",
    "fmt",
    "report_tables",
    "to_html",
    "to_rich",
    "top_trials_table",
    "write_report",
]
