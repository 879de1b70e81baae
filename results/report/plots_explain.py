"""Two pictures that explain a search: hyperparameter importance and parallel coordinates of all trials.

Same conventions as results/report/plots.py: each function returns (figure, data), data JSON-ready.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from results.report.importance import Importance
from results.report.plots import BEST, new_figure

FAILED = "#b0b0b0"


def importance_figure(importance: Importance) -> tuple:
    """Horizontal bars: each hyperparameter's share, largest on top; or a note saying why there are none."""
    shares = importance.shares
    fig = new_figure(7.5, 0.45 * len(shares) + 1.8 if shares else 3.0)
    ax = fig.add_subplot()
    if not shares:
        ax.axis("off")
        ax.text(0.5, 0.5, f"No hyperparameter importance:\n{importance.reason}.", ha="center", va="center", fontsize=12)
        return fig, {"shares": None, "reason": importance.reason, "trials": importance.trials}
    ranked = sorted(shares.items(), key=lambda kv: kv[1])
    names, values = zip(*ranked, strict=True)
    bars = ax.barh(names, values, color="#1f77b4")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.1%}", va="center", fontsize=9)
    ax.set_xlim(0, max(values) * 1.2 or 1)
    ax.set_xlabel("share of the explained variance of val accuracy (main effects, sum 100%)")
    budget = f", {importance.budget}-epoch trials" if importance.budget is not None else ""
    ax.set_title(f"Hyperparameter importance (fANOVA-style, {importance.trials} trials{budget})", fontsize=12)
    ax.grid(axis="x", alpha=0.3)
    return fig, {
        "shares": dict(shares),
        "ranked": list(reversed(names)),
        "trials": importance.trials,
        "budget_epochs": importance.budget,
    }


def parallel_figure(trials: list[dict], names: list[str], log_scaled) -> tuple:
    """Parallel coordinates: one vertical axis per searched hyperparameter, then val accuracy; one line per
    trial, coloured by val accuracy; failed trials grey; the best one thick and orange. Log-sampled axes are
    log-scaled, choices sit at even positions; an inactive (conditional) value sits on a separate "off" mark
    below its axis."""
    axes_names = [n for n in names if any(t.get(n) is not None for t in trials)]
    done = [t for t in trials if _score(t) is not None]
    best = max(done, key=_score) if done else None
    fig = new_figure(max(7.0, 1.5 * (len(axes_names) + 1) + 2), 5.2)
    ax = fig.add_subplot()
    scales = [_axis_scale(name, [t.get(name) for t in trials], name in log_scaled) for name in axes_names]
    scores = [_score(t) for t in done]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    if high == low:
        low, high = low - 0.005, high + 0.005
    norm = Normalize(low, high)
    cmap = colormaps["viridis"]
    xs = list(range(len(axes_names) + 1))

    def ys(trial):
        position = [scale(trial.get(name)) for name, scale in zip(axes_names, scales, strict=True)]
        s = _score(trial)
        return position + ([(s - low) / (high - low)] if s is not None else [np.nan])

    lines = []
    order = sorted(trials, key=lambda t: (_score(t) is not None, _score(t) or 0.0))  # good ones drawn last
    for trial in order:
        y = ys(trial)
        s = _score(trial)
        if trial is best:
            continue
        if s is None:
            ax.plot(xs[:-1], y[:-1], color=FAILED, linewidth=1, alpha=0.7, linestyle="--", zorder=1)
        else:
            ax.plot(xs, y, color=cmap(norm(s)), linewidth=1.2, alpha=0.75, zorder=2)
        lines.append({"trial_id": trial.get("trial_id"), "val_accuracy": s})
    if best is not None:
        ax.plot(xs, ys(best), color=BEST, linewidth=3.2, zorder=4, label=f"best trial {best.get('trial_id')}")
        ax.plot(xs, ys(best), color="black", linewidth=0.8, zorder=5)
        lines.append({"trial_id": best.get("trial_id"), "val_accuracy": _score(best), "best": True})
    _draw_axes(ax, xs, axes_names, scales, (low, high))
    failed = len(trials) - len(done)
    ax.set_title(
        f"Parallel coordinates of {len(trials)} trials, coloured by val accuracy\n"
        + (f" ({failed} failed, grey dashes)" if failed else "")
        + ("; " if failed else "")
        + "'off' = inactive conditional hyperparameter",
        fontsize=11,
    )
    if best is not None:
        ax.legend(loc="upper left", fontsize=8, bbox_to_anchor=(0, -0.16), frameon=False)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="val accuracy", pad=0.06)
    data = {
        "axes": axes_names + ["val_accuracy"],
        "log_scale": [n for n, s in zip(axes_names, scales, strict=True) if s.log],
        "lines": len(trials),
        "failed": failed,
        "best_trial_id": best.get("trial_id") if best else None,
    }
    return fig, data


def _draw_axes(ax, xs: list[int], axes_names: list[str], scales: list, score_range: tuple[float, float]) -> None:
    """One vertical axis per hyperparameter with its ticks, and the val accuracy axis last."""
    low, high = score_range
    for x, scale in zip(xs, scales, strict=False):
        ax.axvline(x, color="#444", linewidth=0.8, zorder=0)
        for position, label in scale.ticks:
            ax.text(x - 0.04, position, label, ha="right", va="center", fontsize=7.5, color="#333")
    ax.axvline(xs[-1], color="#444", linewidth=0.8, zorder=0)
    for fraction in (0.0, 0.5, 1.0):
        value = low + fraction * (high - low)
        ax.text(xs[-1] + 0.04, fraction, f"{value:.4f}", ha="left", va="center", fontsize=7.5, color="#333")
    labels = [n + (" (log)" if s.log else "") for n, s in zip(axes_names, scales, strict=True)] + ["val accuracy"]
    ax.set_xticks(xs, labels=labels, rotation=20, ha="right", fontsize=9)
    ax.set_yticks([])
    ax.set_ylim(-0.14, 1.06)
    ax.set_xlim(-0.5, xs[-1] + 0.5)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)


class _Scale:
    """Maps a hyperparameter's values to [0, 1]; None (inactive) to OFF below the axis."""

    OFF = -0.08

    def __init__(self, log: bool, categories: list | None, low: float, high: float):
        self.log, self.categories, self.low, self.high = log, categories, low, high
        self.ticks: list[tuple[float, str]] = []

    def __call__(self, value) -> float:
        if value is None:
            return self.OFF
        if self.categories is not None:
            if len(self.categories) == 1:
                return 0.5
            return self.categories.index(_key(value)) / (len(self.categories) - 1)
        v = math.log10(value) if self.log else float(value)
        return 0.5 if self.high == self.low else (v - self.low) / (self.high - self.low)


def _axis_scale(name: str, values: list, log: bool) -> _Scale:
    present = [v for v in values if v is not None]
    has_off = len(present) < len(values)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    distinct = sorted({_key(v) for v in present}, key=lambda v: (isinstance(v, str), v))
    if not numeric or (len(distinct) <= 4 and all(isinstance(v, int) for v in present) and not log):
        scale = _Scale(False, distinct, 0, 0)
        scale.ticks = [(scale(v), str(v)) for v in distinct]
    else:
        log = log and min(present) > 0
        encoded = [math.log10(v) if log else float(v) for v in present]
        scale = _Scale(log, None, min(encoded), max(encoded))
        ticks = sorted(set(present)) if len(set(present)) <= 6 else [min(present), max(present)]
        if len(ticks) == 2 and not log:
            ticks = [min(present), (min(present) + max(present)) / 2, max(present)]
        scale.ticks = [(scale(v), f"{v:.3g}") for v in ticks]
    if has_off:
        scale.ticks.append((_Scale.OFF, "off"))
    return scale


def _key(value):
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else str(value)


def _score(trial: dict) -> float | None:
    s = trial.get("val_accuracy")
    if trial.get("status") != "COMPLETED" or not isinstance(s, (int, float)) or not math.isfinite(s):
        return None
    return float(s)
