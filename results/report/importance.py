"""Hyperparameter importance from a run's completed trials, in the manner of fANOVA.

A random forest (scikit-learn) is fitted to the trials' validation accuracy as a function of the
encoded hyperparameters. For every tree, the main effect of hyperparameter j is its partial
dependence: the tree's prediction with x_j set to v, averaged over the other hyperparameters' values
as the trials had them, for v over a grid of j's range. The variance of that curve over the grid is
j's main-effect variance in that tree. fANOVA (Hutter et al. 2014) computes the same first-order
terms exactly from each tree's partition, marginalising over a uniform measure on the space; here
the other hyperparameters are marginalised over the observed trials instead, which keeps the code
short and reads well on the small, non-uniform samples a tuner leaves. Each tree's main-effect
variances are normalised to shares, the shares are averaged over trees and renormalised to sum to 1
(as Optuna's fANOVA evaluator reports them): the share of the explained variance that is due to each
hyperparameter alone, interactions left out.

Encoding: log-sampled hyperparameters on log10, numbers as they are, choices (text, booleans) as
ordinal codes (a tree splits them at any point, so order only limits which groupings one split can
make). A conditional hyperparameter that is inactive in a trial takes a sentinel value below its
range, so "inactive" is a value of its own.

Hyperband trains trials for different numbers of epochs; scores at different budgets are not
comparable, so the trials of the largest budget with at least MIN_TRIALS completed trials are used,
and the result says which budget. With fewer trials than that the answer is None with a reason:
a forest fitted to a handful of points draws noise.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MIN_TRIALS = 10
TREES = 64
GRID = 16
SEED = 0
METHOD = (
    "fANOVA-style main effects: random forest of {trees} trees on the completed trials; per tree, the variance of "
    "each hyperparameter's partial dependence, as a share; averaged over trees, normalised to sum to 1"
)


@dataclasses.dataclass
class Importance:
    """The importance of each searched hyperparameter, or None with the reason why not."""

    shares: dict[str, float] | None
    reason: str | None
    trials: int  # completed trials the forest was fitted to (or found, when too few)
    budget: int | None  # Hyperband: the epochs of the trials used; None when all trials had the same budget
    method: str = METHOD.format(trees=TREES)

    def as_dict(self) -> dict:
        """The report.json entry: importance, and what it was computed from."""
        return {
            "importance": self.shares,
            "importance_reason": self.reason,
            "importance_basis": {"trials": self.trials, "budget_epochs": self.budget, "method": self.method},
        }

    def describe(self) -> str:
        """One sentence on what the numbers rest on (or why there are none)."""
        if self.shares is None:
            return f"No importance: {self.reason}."
        on = f"{self.trials} completed trials"
        if self.budget is not None:
            on += f" trained for {self.budget} epochs (Hyperband's largest budget with at least {MIN_TRIALS} trials)"
        return f"Share of the validation accuracy's explained variance due to each hyperparameter alone, from {on}."


def run_importance(run, min_trials: int = MIN_TRIALS, seed: int = SEED) -> Importance:
    """The importance of `run`'s searched hyperparameters (a results.run.Run)."""
    return trials_importance(run.trials, run.hyperparameter_names, run.log_scaled, min_trials, seed)


def trials_importance(
    trials: list[dict],
    names: list[str],
    log_scaled: set[str] | frozenset[str] = frozenset(),
    min_trials: int = MIN_TRIALS,
    seed: int = SEED,
) -> Importance:
    """Importance from trial rows (dicts with the hyperparameters, `status`, `val_accuracy`, and for
    Hyperband `tuner/epochs`)."""
    done = [t for t in trials if _completed(t)]
    budgets = {t.get("tuner/epochs") for t in done if t.get("tuner/epochs") is not None}
    budget = None
    if len(budgets) > 1:
        enough = [b for b in sorted(budgets) if sum(t.get("tuner/epochs") == b for t in done) >= min_trials]
        if not enough:
            most = max(sum(t.get("tuner/epochs") == b for t in done) for b in budgets)
            return Importance(
                None,
                f"too few trials: at most {most} completed at any one Hyperband budget, fewer than {min_trials}",
                most,
                None,
            )
        budget = enough[-1]
        done = [t for t in done if t.get("tuner/epochs") == budget]
    if len(done) < min_trials:
        return Importance(None, f"too few trials: {len(done)} completed, fewer than {min_trials}", len(done), budget)
    if not names:
        return Importance(None, "no searched hyperparameters", len(done), budget)
    y = np.array([float(t["val_accuracy"]) for t in done])
    if np.ptp(y) == 0:
        return Importance(None, "every trial scored the same validation accuracy", len(done), budget)
    x = encode(done, names, log_scaled)
    shares = main_effect_shares(x, y, seed=seed)
    if shares is None:
        return Importance(None, "the hyperparameters that varied explain none of the variation", len(done), budget)
    return Importance(dict(zip(names, (float(s) for s in shares), strict=True)), None, len(done), budget)


def encode(trials: list[dict], names: list[str], log_scaled) -> np.ndarray:
    """One row per trial, one column per hyperparameter (see the module's docstring)."""
    columns = []
    for name in names:
        values = [t.get(name) for t in trials]
        numeric = [v for v in values if _is_number(v)]
        if numeric and len(numeric) == sum(v is not None for v in values):
            log = name in log_scaled and min(numeric) > 0
            encoded = [math.log10(v) if log else float(v) for v in numeric]
            low, high = min(encoded), max(encoded)
            sentinel = low - max(high - low, 1.0)
            it = iter(encoded)
            columns.append([next(it) if v is not None else sentinel for v in values])
        else:
            categories = sorted({str(v) for v in values if v is not None})
            code = {c: float(i) for i, c in enumerate(categories)}
            columns.append([code[str(v)] if v is not None else -1.0 for v in values])
    return np.array(columns, dtype=float).T


def main_effect_shares(x: np.ndarray, y: np.ndarray, seed: int = SEED, trees: int = TREES) -> np.ndarray | None:
    """Each column's share of the forest's main-effect variance (>= 0, sum 1), or None when all are 0."""
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=trees, max_features=1.0, min_samples_leaf=1, random_state=seed)
    forest.fit(x, y)
    grids = [_grid(x[:, j]) for j in range(x.shape[1])]
    per_tree = []
    for tree in forest.estimators_:
        variances = np.zeros(x.shape[1])
        for j, grid in enumerate(grids):
            if len(grid) < 2:
                continue
            probe = np.repeat(x[None, :, :], len(grid), axis=0)  # grid x trials x features
            probe[:, :, j] = grid[:, None]
            curve = tree.predict(probe.reshape(-1, x.shape[1])).reshape(len(grid), -1).mean(axis=1)
            variances[j] = curve.var()
        total = variances.sum()
        if total > 0:
            per_tree.append(variances / total)
    if not per_tree:
        return None
    shares = np.mean(per_tree, axis=0)
    return shares / shares.sum()


def _grid(column: np.ndarray) -> np.ndarray:
    values = np.unique(column)
    if len(values) <= GRID:
        return values
    return np.linspace(values.min(), values.max(), GRID)


def _completed(trial: dict) -> bool:
    return trial.get("status") == "COMPLETED" and _is_number(trial.get("val_accuracy"))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
