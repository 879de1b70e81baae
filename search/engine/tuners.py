"""The four tuner variants: Keras Tuner's own, with this toolkit's engine mixed in."""

from __future__ import annotations

import keras_tuner as kt

from results.run import layout
from search.config import HYPERBAND_LIKE
from search.engine import kt_compat
from search.engine.bohb import BOHB
from search.engine.trials import TrialEngine

OBJECTIVE = "val_accuracy"


class HyperbandTuner(TrialEngine, kt.Hyperband):
    """Hyperband: many short trials, the best continued for longer."""


class BayesianTuner(TrialEngine, kt.BayesianOptimization):
    """Gaussian-process Bayesian optimisation."""


class RandomTuner(TrialEngine, kt.RandomSearch):
    """Random sampling of the space."""


class GridTuner(TrialEngine, kt.GridSearch):
    """Every combination in turn (floats at 10 points)."""


class BOHBTuner(TrialEngine, BOHB):
    """BOHB: Hyperband's brackets, new configurations from a TPE-style model of the finished trials."""


VARIANTS = {
    "hyperband": HyperbandTuner,
    "bohb": BOHBTuner,
    "bayesian": BayesianTuner,
    "random": RandomTuner,
    "grid": GridTuner,
}


def make_tuner(
    name: str,
    hypermodel,
    directory,
    *,
    max_trials: int | None,
    max_epochs: int,
    seed: int,
    factor: int = 3,
    iterations: int | None = 1,
    distribution_strategy=None,
    **engine_kwargs,
):
    """Build tuner `name` writing into `directory`/tuner, resuming what is there.

    `seed` may be 0: Keras Tuner treats a seed of 0 as "pick one at random", so the
    oracle gets seed + 1 and stays fixed.
    """
    common = dict(
        hypermodel=hypermodel,
        objective=kt.Objective(OBJECTIVE, "max"),
        seed=seed + 1,
        directory=str(directory),
        project_name=layout.TUNER,
        overwrite=False,
        # A failed trial never ends the search; the run checks that one succeeded.
        max_consecutive_failed_trials=10**9,
        max_retries_per_trial=0,
    )
    if distribution_strategy is not None:
        common["distribution_strategy"] = distribution_strategy
    engine_kwargs["run_seed"] = seed
    if name in HYPERBAND_LIKE:
        tuner = VARIANTS[name](
            max_epochs=max_epochs, factor=factor, hyperband_iterations=iterations, **common, **engine_kwargs
        )
        kt_compat.set_trial_limit(tuner.oracle, max_trials)
        return tuner
    cls = VARIANTS[name]
    return cls(max_trials=max_trials, **common, **engine_kwargs)


def planned_trials(tuner) -> int | None:
    """How many trials the search will run, where that is known in advance."""
    oracle = tuner.oracle
    if not kt_compat.holds_trials(oracle):
        return None  # a distributed worker's client of the chief's oracle
    limit = oracle.max_trials
    per_iteration = kt_compat.hyperband_trials_per_iteration(oracle)
    if per_iteration is not None:
        planned = per_iteration * oracle.hyperband_iterations  # inf: until the budget runs out
        planned = min(planned, limit) if limit else planned
        return int(planned) if planned != float("inf") else None
    # Grid search may end sooner, when the grid is exhausted; conditional
    # hyperparameters make its size unknown in advance.
    return limit
