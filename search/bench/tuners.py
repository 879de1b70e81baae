"""Benchmark of the tuners against each other: `scripts/bench.py --tuners`.

Every tuner gets the same task (a stratified subset of MNIST's training images, a stratified
validation split of it, the quick preset's space, trials of up to --max-epochs epochs), the same wall
budget and the same seeds. Seeds run in turn; within a seed the tuners run one after another, in an
order rotated from seed to seed so that the machine's drift does not favour one. What is measured:
the best val accuracy among trials that ended within the budget, against elapsed time (a trial
running when the budget ends finishes but does not count), per tuner the median and the spread
(min-max) over seeds. Writes bench.json and bench_tuners.png.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import keras

from search.config import HYPERBAND_LIKE, TUNERS
from search.data import load_dataset, stratified_subset, train_val_split
from search.display import Display
from search.engine.tuners import make_tuner
from search.errors import ConfigError
from search.presets import PRESETS
from space import CNNHyperModel, SpaceConfig


class _Clock(Display):
    """Records (seconds since the search began, val accuracy) of every trial as it ends."""

    def __init__(self):
        self.started = time.perf_counter()
        self.ended: list[tuple[float, float | None]] = []

    def trial_end(self, trial_id, status, score, best, message):
        self.ended.append((time.perf_counter() - self.started, score if status == "COMPLETED" else None))

    def message(self, text):
        pass


def one_search(name: str, seed: int, data, budget_s: float, max_epochs: int, space: SpaceConfig) -> dict:
    """One tuner, one seed: trials until the budget; the trials' end times and scores."""
    x, y, xv, yv = data
    keras.backend.clear_session()
    with tempfile.TemporaryDirectory() as directory:
        clock = _Clock()
        tuner = make_tuner(
            name,
            CNNHyperModel(space),
            directory,
            max_trials=None if name in HYPERBAND_LIKE else 10**6,
            max_epochs=max_epochs,
            seed=seed,
            iterations=None,  # Hyperband's brackets repeat until the budget
            deadline=time.time() + budget_s,
            display=clock,
            patience=None,
        )
        clock.started = time.perf_counter()
        tuner.search(x, y, epochs=max_epochs, validation_data=(xv, yv), verbose=0)
        wall = time.perf_counter() - clock.started
        model_based = getattr(tuner.oracle, "model_based", None)  # BOHB: configurations its model proposed
    within = [s for t, s in clock.ended if s is not None and t <= budget_s]
    return {
        "tuner": name,
        "seed": seed,
        "best": max(within) if within else None,
        "trials": len(clock.ended),
        "trials_within_budget": sum(1 for t, _ in clock.ended if t <= budget_s),
        "wall_seconds": wall,
        "model_based": model_based,
        "ended": clock.ended,
    }


def best_so_far(ended: list[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """(time, best val accuracy so far) at each trial end with a score."""
    out, best = [], None
    for t, s in sorted(ended, key=lambda p: p[0]):
        if s is not None and (best is None or s > best):
            best = s
            out.append((t, best))
    return out


def run_tuner_benchmark(
    tuners: list[str],
    seeds: list[int],
    budget_minutes: float,
    data_path: str | None,
    images: int = 12000,
    max_epochs: int = 3,
    out: Path = Path("bench.json"),
    log=print,
) -> dict:
    """Every tuner, every seed; writes `out` (JSON) and a picture beside it; returns the JSON."""
    for name in tuners:
        if name not in TUNERS:
            raise ConfigError(f"unknown tuner {name!r} (choose from {', '.join(TUNERS)})")
    dataset = load_dataset("mnist", data_path)
    x, y = stratified_subset(dataset.x_train, dataset.y_train, images, seed=0)
    data = train_val_split(x, y, 0.2, seed=0)
    space = SpaceConfig.from_dict(PRESETS["quick"]["space"])
    budget_s = budget_minutes * 60
    runs = []
    for k, seed in enumerate(seeds):
        order = tuners[k % len(tuners) :] + tuners[: k % len(tuners)]
        for name in order:
            run = one_search(name, seed, data, budget_s, max_epochs, space)
            runs.append(run)
            log(f"seed {seed} {name}: best {run['best']} after {run['trials_within_budget']} trials in budget")
            _write(out, _summary(tuners, seeds, budget_minutes, images, max_epochs, runs))
    result = _summary(tuners, seeds, budget_minutes, images, max_epochs, runs)
    _write(out, result)
    picture(result, out.with_name(out.stem + "_tuners.png"))
    return result


def _summary(tuners, seeds, budget_minutes, images, max_epochs, runs) -> dict:
    from search.bench.measure import machine

    per_tuner = {}
    for name in tuners:
        bests = [r["best"] for r in runs if r["tuner"] == name and r["best"] is not None]
        per_tuner[name] = {
            "median_best": statistics.median(bests) if bests else None,
            "min_best": min(bests) if bests else None,
            "max_best": max(bests) if bests else None,
            "seeds_done": sum(1 for r in runs if r["tuner"] == name),
            "median_trials": statistics.median([r["trials_within_budget"] for r in runs if r["tuner"] == name] or [0]),
        }
    return {
        "mode": "tuners",
        "task": {
            "images": images,
            "validation_fraction": 0.2,
            "max_epochs": max_epochs,
            "space": "quick preset",
            "budget_minutes": budget_minutes,
            "seeds": seeds,
        },
        "tuners": per_tuner,
        "runs": runs,
        "machine": machine(),
    }


def _write(out: Path, result: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float) + "\n")
    os.replace(tmp, out)


def picture(result: dict, path: Path) -> None:
    """Best val accuracy so far against time, one colour per tuner, one line per seed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = dict(zip(result["tuners"], ("C0", "C1", "C2", "C3", "C4", "C5"), strict=False))
    budget = result["task"]["budget_minutes"] * 60
    for run in result["runs"]:
        steps = [(t, s) for t, s in best_so_far(run["ended"]) if t <= budget]
        if not steps:
            continue
        ts, ss = zip(*steps, strict=True)
        label = run["tuner"] if run["seed"] == result["task"]["seeds"][0] else None
        ax.step([*ts, budget], [*ss, ss[-1]], where="post", color=colours[run["tuner"]], alpha=0.8, label=label)
    ax.set_xlabel("seconds since the search began")
    ax.set_ylabel("best val accuracy so far")
    task = result["task"]
    ax.set_title(
        f"Tuners on {task['images']:,} MNIST images, trials up to {task['max_epochs']} epochs, "
        f"{task['budget_minutes']:g} min, seeds {task['seeds']}",
        fontsize=10,
    )
    finals = [run["best"] for run in result["runs"] if run["best"] is not None]
    if finals:  # the first trials' low scores would squeeze the differences that matter into a line
        ax.set_ylim(max(0.0, min(finals) - 0.02), min(1.0, max(finals) + 0.005))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90, facecolor="white")
    path.write_bytes(out.getvalue())


def as_table(result: dict) -> list[tuple[str, ...]]:
    """Rows: tuner, median best val accuracy, min-max, median trials within the budget."""

    def pct(v):
        return "-" if v is None else f"{v * 100:.2f}%"

    return [
        (name, pct(t["median_best"]), f"{pct(t['min_best'])} - {pct(t['max_best'])}", f"{t['median_trials']:g}")
        for name, t in result["tuners"].items()
    ]
