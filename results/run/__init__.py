"""Reading a run directory: its contract, safe writes and checked reads, and the finished run itself.

- `layout`: the file names, trials.csv's columns and statuses that `search` writes and `results` reads;
- `atomic`: writes that never leave a half-written file (search writes every file through it);
- `files`: reading a file with a reason when it is damaged;
- `Run`, `open_run`, `RunError`: a finished run, read-only (`reader`).
"""

from results.run import atomic, files, layout
from results.run.reader import REPAIR, Run, RunError, open_run

__all__ = ["REPAIR", "Run", "RunError", "atomic", "files", "layout", "open_run"]
