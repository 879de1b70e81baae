"""What a finished run holds, and what people do with it. `results` reads only the run directory that
`search` wrote; it never trains.

- `run`: the run directory's contract (`layout`), safe writes (`atomic`) and the finished run (`open_run`);
- `report`: the tables and pictures of a run;
- `photos`: reading people's images of digits with the best model (`read_image`);
- `deploy`: the best model outside the toolkit: exported files, a local server;
- `cli`: the thin command-line entry points.
"""

from results.run import Run, RunError, open_run

__all__ = ["Run", "RunError", "open_run"]
