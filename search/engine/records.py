"""What the engine knows of trials without Keras: the best one, its values, its error line, our record.

Imports nothing heavy, so the command line and the distributed chief's monitor can use it
before TensorFlow loads.
"""

from __future__ import annotations

import json
from pathlib import Path

from results.run import layout
from search.engine import kt_compat


def best_trial(oracle):
    """The completed trial with the best validation accuracy, or None.

    An oracle that holds the trials (a lone search, the chief) is read directly, not through
    oracle.get_best_trials: that pads its answer with failed trials when too few completed. A
    distributed worker's oracle is Keras Tuner's gRPC client of the chief's, which holds no
    trials: it is asked, and a padded answer (not COMPLETED) means none completed yet.
    """
    if not kt_compat.holds_trials(oracle):
        answer = oracle.get_best_trials(1)
        return answer[0] if answer and answer[0].status == layout.COMPLETED else None
    return layout.best_completed(oracle.trials.values(), score=lambda t: t.score, status=lambda t: t.status)


def best_score(oracle) -> float | None:
    """The best validation accuracy over the oracle's completed trials, or None."""
    best = best_trial(oracle)
    return best.score if best else None


def searched_values(values: dict) -> dict:
    """A trial's hyperparameter values without the tuner's `tuner/*` bookkeeping."""
    return {k: v for k, v in values.items() if layout.is_searched(k)}


def last_error_line(message: str | None) -> str | None:
    """The error line of a Keras Tuner failure message (which holds the whole traceback)."""
    if not message:
        return None
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix(kt_compat.FAILED_TRIAL_PREFIX) if lines else None


def read_trial_record(trial_dir: str | Path) -> dict:
    """Our timing record of a trial ({} when it never finished)."""
    path = Path(trial_dir) / layout.TRIAL_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
