"""BOHB: Hyperband's brackets, whose new configurations come from a model of the finished trials.

Falkner, Klein & Hutter (2018), "BOHB: Robust and Efficient Hyperparameter Optimization at Scale".
Hyperband decides how many configurations each bracket starts and which survive to longer training;
BOHB changes only where a bracket's new configurations come from. With enough finished trials at some
budget (epochs), it takes the largest such budget, splits its trials into good (the top
GOOD_FRACTION by val accuracy) and bad (the rest), models each group's density with Parzen kernels
(TPE-style, in Keras Tuner's normalised [0, 1] "prob" space, so log-sampled hyperparameters are
modelled on their log scale), draws candidates from around the good trials and keeps the one with the
largest l(x) / g(x). A RANDOM_FRACTION of new configurations stays random (keeps exploring, as in the
paper), and until some budget has enough trials every new configuration is random.

Conditional hyperparameters: a candidate is built in the space's order, as Keras Tuner itself does,
so only hyperparameters active under the values chosen so far get a value; each one's density is
fitted to the trials in which it was active.

Built on Keras Tuner's HyperbandOracle: resume, the time budget, the configuration guard and the
distributed (gRPC) mode work as for Hyperband, the oracle living in the chief. Nothing new is saved:
the model is rebuilt from the trials at each new configuration, and the random draws are seeded from
the oracle's seed and its saved `_seed_state`, so a run is reproducible and a resumed one carries on.

Keras Tuner private API used here, checked against keras-tuner 1.4.8 (keras_tuner/src/tuners/hyperband.py
and keras_tuner/src/engine/oracle.py): HyperbandOracle._random_values() (called by _random_trial when a
bracket's first round needs a new configuration: the hook overridden here), Oracle._seed_state,
Oracle._duplicate(values), Oracle._max_collisions. Re-check them when upgrading Keras Tuner.
"""

from __future__ import annotations

import math

import keras_tuner as kt
import numpy as np

RANDOM_FRACTION = 1 / 3  # share of new configurations that stay random
GOOD_FRACTION = 0.15  # top share of a budget's trials that count as good
CANDIDATES = 64  # candidates drawn from the good density per new configuration
BANDWIDTH_FACTOR = 3.0  # candidates are drawn with a wider kernel than the density's (as in BOHB)
MIN_BANDWIDTH = 0.05  # in [0, 1] prob space: a kernel never collapses onto one value
PRIOR_WEIGHT = 1.0  # weight of a uniform component in every density (observations weigh 1 each)
TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")


class BOHBOracle(kt.oracles.HyperbandOracle):
    """HyperbandOracle whose new configurations are proposed by a TPE-style model (see the module)."""

    def __init__(self, *args, random_fraction: float = RANDOM_FRACTION, min_points: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.random_fraction = random_fraction
        self.min_points = min_points  # None: number of searched dimensions + 2
        self.model_based = 0  # configurations proposed by the model in this process (for tests and display)

    # Keras Tuner 1.4.8: HyperbandOracle._random_trial calls self._random_values() for each new
    # configuration of a bracket's first round; later rounds continue earlier trials and are untouched.
    def _random_values(self):
        rng = np.random.default_rng([int(self.seed or 0), int(self._seed_state)])
        self._seed_state += 1  # saved in oracle.json by Oracle.get_state(): resumes continue the stream
        if rng.random() < self.random_fraction:
            return super()._random_values()
        observations = self.observations()
        if observations is None:
            return super()._random_values()
        values = propose(self.hyperparameters, *observations, rng, duplicate=self._duplicate)
        if values is None:
            return super()._random_values()
        self.model_based += 1
        return values

    def observations(self) -> tuple[list[dict], list[float]] | None:
        """(values, scores) of the completed trials at the largest budget with enough of them; scores are
        made "higher is better". None when no budget has enough."""
        dims = sum(1 for hp in self.hyperparameters.space if _kind(hp) != "fixed")
        needed = self.min_points or dims + 2
        by_budget: dict[int, list] = {}
        for trial in self.trials.values():
            if trial.status != "COMPLETED" or trial.score is None or not math.isfinite(trial.score):
                continue
            budget = trial.hyperparameters.values.get("tuner/epochs", 0)
            by_budget.setdefault(budget, []).append(trial)
        enough = [b for b, trials in by_budget.items() if len(trials) >= needed]
        if not enough:
            return None
        trials = by_budget[max(enough)]
        sign = 1.0 if self.objective.direction == "max" else -1.0
        values = [{k: v for k, v in t.hyperparameters.values.items() if k not in TUNER_KEYS} for t in trials]
        return values, [sign * t.score for t in trials]


def propose(space: kt.HyperParameters, values: list[dict], scores: list[float], rng, duplicate=None) -> dict | None:
    """The candidate (hyperparameter values) maximising l(x)/g(x) among CANDIDATES drawn around the good
    observations; None when every candidate was a duplicate. `duplicate(values)` says if a configuration
    was tried already."""
    order = np.argsort(scores)[::-1]
    n_good = max(2, math.ceil(GOOD_FRACTION * len(scores)))
    n_good = min(n_good, len(scores) - 1)
    good = [values[i] for i in order[:n_good]]
    bad = [values[i] for i in order[n_good:]]
    best, best_ratio = None, -math.inf
    for _ in range(CANDIDATES):
        candidate, log_ratio = _sample(space, good, bad, rng)
        if duplicate is not None and duplicate(candidate):
            continue
        if log_ratio > best_ratio:
            best, best_ratio = candidate, log_ratio
    return best


def _sample(space: kt.HyperParameters, good: list[dict], bad: list[dict], rng) -> tuple[dict, float]:
    """One candidate drawn around a random good observation, and its log l(x) - log g(x)."""
    base = good[rng.integers(len(good))]
    hps = kt.HyperParameters()
    log_ratio = 0.0
    for hp in space.space:
        hps.merge([hp])
        if not hps.is_active(hp):
            continue
        kind = _kind(hp)
        if kind == "fixed":
            hps.values[hp.name] = hp.value
            continue
        good_points = [_position(hp, v[hp.name]) for v in good if hp.name in v]
        bad_points = [_position(hp, v[hp.name]) for v in bad if hp.name in v]
        if kind == "choice":
            options = _options(hp)
            if hp.name in base and rng.random() > 1 / (len(options) + 1):
                index = _position(hp, base[hp.name])
            else:
                weights = _frequencies(good_points, len(options))
                index = int(rng.choice(len(options), p=weights))
            hps.values[hp.name] = options[index]
            log_ratio += math.log(_frequencies(good_points, len(options))[index])
            log_ratio -= math.log(_frequencies(bad_points, len(options))[index])
        else:
            bandwidth = _bandwidth(good_points)
            center = _position(hp, base[hp.name]) if hp.name in base else rng.random()
            prob = float(np.clip(rng.normal(center, bandwidth * BANDWIDTH_FACTOR), 0.0, 1.0 - 1e-9))
            value = hp.prob_to_value(prob)
            hps.values[hp.name] = value
            at = _position(hp, value)
            log_ratio += math.log(_parzen(good_points, at)) - math.log(_parzen(bad_points, at))
    return dict(hps.values), log_ratio


def _kind(hp) -> str:
    name = type(hp).__name__
    if name == "Fixed":
        return "fixed"
    if name in ("Choice", "Boolean"):
        return "choice"
    return "numeric"  # Int, Float


def _options(hp) -> list:
    return [False, True] if type(hp).__name__ == "Boolean" else list(hp.values)


def _position(hp, value):
    """A choice's index, or a number's position in [0, 1] (log-scaled where sampled so)."""
    if _kind(hp) == "choice":
        options = _options(hp)
        return options.index(value) if value in options else 0
    return float(hp.value_to_prob(value))


def _frequencies(indices: list[int], k: int) -> np.ndarray:
    counts = np.bincount(np.asarray(indices, dtype=int), minlength=k).astype(float) if indices else np.zeros(k)
    smoothed = counts + PRIOR_WEIGHT
    return smoothed / smoothed.sum()


def _bandwidth(points: list[float]) -> float:
    if len(points) < 2:
        return 0.25
    return max(float(np.std(points)) * len(points) ** -0.2, MIN_BANDWIDTH)  # Scott's rule, floored


def _parzen(points: list[float], at: float) -> float:
    """Density at `at` of Gaussian kernels on `points`, mixed with a uniform prior on [0, 1]."""
    if not points:
        return 1.0
    h = _bandwidth(points)
    kernels = np.exp(-0.5 * ((at - np.asarray(points)) / h) ** 2) / (h * math.sqrt(2 * math.pi))
    return float((kernels.sum() + PRIOR_WEIGHT) / (len(points) + PRIOR_WEIGHT))


class BOHB(kt.Hyperband):
    """kt.Hyperband with a BOHBOracle: same arguments, plus `random_fraction` and `min_points`."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_epochs=100,
        factor=3,
        hyperband_iterations=1,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        random_fraction: float = RANDOM_FRACTION,
        min_points: int | None = None,
        **kwargs,
    ):
        oracle = BOHBOracle(
            objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            random_fraction=random_fraction,
            min_points=min_points,
        )
        # Skip kt.Hyperband.__init__ (it only builds a plain HyperbandOracle); keep its run_trial etc.
        super(kt.Hyperband, self).__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
