"""Reading a finished run: best model, trials, metrics, plots and the report.

`results` reads only the run directory that `search` wrote; it never trains.
"""

from results.run import Run, RunError, open_run

__all__ = ["Run", "RunError", "open_run"]
