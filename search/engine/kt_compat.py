"""Every use of Keras Tuner beyond its documented API, in one place.

Checked against keras-tuner 1.4.8 (pyproject.toml pins keras-tuner below 1.5): the names below
are internals (`keras_tuner.src.*`, oracle attributes and private methods) that a new minor
version may change. The one other place is search/engine/bohb.py: BOHB's oracle subclasses
HyperbandOracle and overrides its `_random_values()` hook (reading `_seed_state`, `_duplicate`
and `_max_collisions`), which cannot live elsewhere than in the subclass; its docstring lists them.
Anything else in this project uses `keras_tuner.*` only.
"""

from __future__ import annotations

import json

from results import atomic

CHECKED_WITH = "1.4.8"
# How a FailedTrialError's line starts in a trial's message (which holds the whole traceback).
FAILED_TRIAL_PREFIX = "keras_tuner.src.errors.FailedTrialError: "


def quiet_failed_trials() -> None:
    """Keras Tuner prints every failed trial's traceback; the display reports failures itself."""
    from keras_tuner.src import config

    config.DEBUG = False


def make_writes_atomic() -> None:
    """Keras Tuner writes oracle.json and trial.json in place; a kill mid-write would leave a run
    that cannot resume. Route its JSON writer through the atomic one."""
    from keras_tuner.src import utils

    if getattr(utils.save_json, "_atomic", False):
        return

    def save_json(path, obj):
        text = json.dumps(obj)
        atomic.write_text(path, text)
        return text

    save_json._atomic = True
    utils.save_json = save_json


def holds_trials(oracle) -> bool:
    """Whether `oracle` holds the trials itself (False for a distributed worker's client of the chief's)."""
    return hasattr(oracle, "trials")


def trials_in_start_order(oracle) -> list:
    """The oracle's trials, in the order they started."""
    return [oracle.trials[trial_id] for trial_id in list(oracle.start_order)]


def trials_in_end_order(oracle) -> list:
    """The oracle's ended trials, in the order they ended."""
    return [oracle.trials[trial_id] for trial_id in list(oracle.end_order)]


def set_trial_limit(oracle, limit: int | None) -> None:
    """Cap the trials the oracle hands out (Hyperband takes no max_trials argument, yet honours it)."""
    oracle.max_trials = limit


def stop_new_trials(oracle) -> None:
    """Hand out no new trial: the oracle stops once it holds max_trials of them (one at least,
    or there would be nothing to retrain)."""
    oracle.max_trials = max(1, len(oracle.trials))


def hyperband_trials_per_iteration(oracle) -> int | None:
    """How many trials one Hyperband iteration of `oracle` runs (None for other oracles)."""
    import keras_tuner as kt

    if not isinstance(oracle, kt.oracles.HyperbandOracle):
        return None
    return sum(
        oracle._get_size(bracket, round_num)
        for bracket in range(oracle._get_num_brackets())
        for round_num in range(oracle._get_num_rounds(bracket))
    )
