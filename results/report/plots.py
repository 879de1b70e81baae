"""The report's pictures. Each function returns (figure, data): `data` is what the picture shows,
as plain JSON-ready values, so that report.json and the tests can check it.

Figures are built with matplotlib's object API on the Agg canvas: no pyplot, so no GUI backend is
touched and no global figure list keeps them alive.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from results.run import layout

WRONG = "#d62728"
RIGHT = "#1a1a1a"
BEST = "#ff7f0e"
TOP_TRIAL_CURVES = 5


def new_figure(width: float, height: float) -> Figure:
    """A figure drawn by Agg, with constrained layout so labels never overlap."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, facecolor="white")
    fig.clear()  # drop the artists now rather than when the garbage collector gets to them
    return out.getvalue()


def predictions_figure(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, sample: int = 40, mistakes: int = 16
) -> tuple[Figure, dict]:
    """Two grids: the first `sample` test images with predicted digit and confidence (wrong ones in red),
    and the `mistakes` most confident mistakes."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    shown = np.arange(min(sample, len(labels)))
    wrong = np.flatnonzero(predicted != labels)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:mistakes]

    columns = 8
    rows_top = max(1, math.ceil(len(shown) / columns))
    rows_bottom = max(1, math.ceil(len(worst) / columns))
    fig = new_figure(columns * 1.45, (rows_top + rows_bottom) * 1.6 + 1.2)
    top, bottom = fig.subfigures(2, 1, height_ratios=[rows_top + 0.4, rows_bottom + 0.4], hspace=0.04)
    errors_in_sample = int(np.sum(predicted[shown] != labels[shown]))
    top.suptitle(
        f"First {len(shown)} test images: predicted digit and confidence ({errors_in_sample} wrong, in red)",
        fontsize=12,
    )
    _image_grid(top, shown, images, labels, predicted, confidence, rows_top, columns)
    bottom.suptitle(
        f"The {len(worst)} most confident mistakes (of {len(wrong):,} in {len(labels):,} test images)"
        if len(worst)
        else f"No mistakes in {len(labels):,} test images",
        fontsize=12,
    )
    _image_grid(bottom, worst, images, labels, predicted, confidence, rows_bottom, columns)

    def cells(indices):
        return [
            {
                "index": int(i),
                "label": int(labels[i]),
                "predicted": int(predicted[i]),
                "confidence": float(confidence[i]),
            }
            for i in indices
        ]

    return fig, {"sample": cells(shown), "mistakes": cells(worst), "mistakes_total": int(len(wrong))}


def _image_grid(fig, indices, images, labels, predicted, confidence, rows, columns) -> None:
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for ax, i in zip(axes.flat, indices, strict=False):
        ok = predicted[i] == labels[i]
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        title = (
            f"{predicted[i]}  {confidence[i]:.0%}" if ok else f"{predicted[i]}  {confidence[i]:.0%} (is {labels[i]})"
        )
        ax.set_title(title, fontsize=9, color=RIGHT if ok else WRONG, fontweight="normal" if ok else "bold")
        if not ok:
            ax.set_frame_on(True)
            for spine in ax.spines.values():
                spine.set_color(WRONG)
                spine.set_linewidth(2.5)


def confusion_figure(matrix, per_class_accuracy=None) -> tuple[Figure, dict]:
    """The confusion matrix (rows = true digit, columns = predicted) with the count in every cell."""
    counts = np.asarray(matrix, dtype=np.int64)
    total = int(counts.sum())
    correct = int(np.trace(counts))
    fig = new_figure(7.6, 6.6)
    ax = fig.add_subplot()
    # A log colour scale: the diagonal holds ~1,000 per cell, the mistakes a handful.
    image = ax.imshow(counts, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2, counts.max())), interpolation="nearest")
    drawn = np.ma.filled(image.get_array(), 0).astype(np.int64)
    n = counts.shape[0]
    for r in range(n):
        for c in range(n):
            value = int(counts[r, c])
            dark = value > 0 and image.norm(value) > 0.6
            colour = "white" if dark else ("#1a1a1a" if value else "#bbbbbb")
            ax.text(c, r, str(value), ha="center", va="center", fontsize=8 if value < 1000 else 7, color=colour)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    accuracy = correct / total if total else 0.0
    ax.set_title(f"Confusion matrix: {total:,} test images, {correct:,} correct ({accuracy:.2%})")
    if per_class_accuracy is not None:
        right = ax.secondary_yaxis("right")
        right.set_yticks(range(n), labels=[_percent(a) for a in per_class_accuracy])
        right.set_ylabel("accuracy of the true digit")
    return fig, {"matrix": drawn.tolist(), "total": int(drawn.sum()), "correct": int(np.trace(drawn))}


def _percent(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def curves_figure(
    history: list[dict], trial_histories: dict[str, list[dict]], top_trials: list[str]
) -> tuple[Figure, dict]:
    """Retraining loss and accuracy per epoch, and the validation accuracy per epoch of the top trials."""
    fig = new_figure(16.5, 4.4)
    loss_ax, acc_ax, val_ax = fig.subplots(1, 3)
    # A retrain stopped by the clock ends with part of an epoch: drawn at its fraction, not a whole epoch.
    epochs = [e.get("epoch", i + 1) - 1 + e.get("partial", 1) for i, e in enumerate(history)]
    loss = [e.get("loss") for e in history]
    accuracy = [e.get("accuracy") for e in history]
    # --members: one line per network, each from its own epoch 1.
    members = [e.get("member", 1) for e in history]
    networks = sorted(set(members))
    for number in networks:
        rows = [i for i, m in enumerate(members) if m == number]
        label = f"network {number}" if len(networks) > 1 else None
        style = "o-" if len(networks) == 1 else ("o-", "s--", "^:", "d-.")[(number - 1) % 4]
        loss_ax.plot([epochs[i] for i in rows], [loss[i] for i in rows], style, color="#1f77b4", label=label)
        acc_ax.plot([epochs[i] for i in rows], [accuracy[i] for i in rows], style, color="#2ca02c", label=label)
    if len(networks) > 1:
        loss_ax.legend(fontsize=8)
        acc_ax.legend(fontsize=8)
    loss_ax.set_title("Retraining loss (train + validation images)")
    loss_ax.set_ylabel("cross-entropy loss")
    acc_ax.set_title("Retraining accuracy (train + validation images)")
    acc_ax.set_ylabel("accuracy")

    curves = {}
    for trial_id in top_trials:
        points = [(e["epoch"], e["val_accuracy"]) for e in trial_histories.get(trial_id, []) if "val_accuracy" in e]
        if not points:
            continue
        x, y = zip(*points, strict=True)
        curves[trial_id] = {"epochs": list(x), "val_accuracy": list(y)}
        val_ax.plot(x, y, "o-", label=f"{trial_id} ({max(y):.4f})")
    val_ax.set_title(f"Search: validation accuracy of the top {len(curves)} trials")
    val_ax.set_ylabel("validation accuracy")
    if curves:
        # Outside the axes: inside, it would hide some curve whatever the corner.
        val_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), title="trial (best val acc)")
    else:
        val_ax.text(0.5, 0.5, "no trial curves recorded", ha="center", va="center", transform=val_ax.transAxes)
    for ax in (loss_ax, acc_ax, val_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    data = {"retrain": {"epochs": epochs, "loss": loss, "accuracy": accuracy}, "trials": curves}
    if len(networks) > 1:
        data["retrain"]["member"] = members
    return fig, data


def trials_figure(trials: list[dict], hp_names: list[str], log_scaled: set[str]) -> tuple[Figure, dict]:
    """Validation accuracy against each hyperparameter, and per trial in the order they ran with the best so far."""
    done = [t for t in trials if t.get("status") == layout.COMPLETED and _is_number(t.get("val_accuracy"))]
    best = max(done, key=lambda t: t["val_accuracy"]) if done else None
    shown = [name for name in hp_names if any(_is_number(t.get(name)) for t in done)]
    columns = min(4, max(1, len(shown)))
    rows = math.ceil(len(shown) / columns) if shown else 0
    fig = new_figure(3.7 * columns + 0.5, 3.1 * rows + 3.6)
    grid = fig.add_gridspec(rows + 1, columns, height_ratios=[1] * rows + [1.15])
    fig.suptitle(
        f"Trials: validation accuracy against each hyperparameter ({len(done)} completed of {len(trials)} run; "
        "\u2605 = best trial)",
        fontsize=13,
    )

    scores_shown = [t["val_accuracy"] for t in done]
    low, high = (min(scores_shown), max(scores_shown)) if scores_shown else (0.0, 1.0)
    pad = max(0.02, (high - low) * 0.12)
    points, first, log_axes = {}, None, []
    for k, name in enumerate(shown):
        # One shared y-range: a panel with a single point must not zoom into it.
        ax = fig.add_subplot(grid[k // columns, k % columns], sharey=first)
        first = first or ax
        pairs = [(t[name], t["val_accuracy"]) for t in done if _is_number(t.get(name))]
        points[name] = [list(p) for p in pairs]
        x, y = zip(*pairs, strict=True)
        ax.scatter(x, y, s=28, alpha=0.8, color="#1f77b4", edgecolor="none", zorder=2)
        if best is not None and _is_number(best.get(name)):
            ax.scatter([best[name]], [best["val_accuracy"]], marker="*", s=180, color=BEST, zorder=3, label="best")
        log = name in log_scaled or name == "learning_rate"
        if log and min(x) > 0:
            ax.set_xscale("log")
            ticks = sorted(set(x)) if all(isinstance(v, int) for v in x) else _log_ticks(min(x), max(x))
            ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
            ax.minorticks_off()
        elif all(isinstance(v, int) for v in x):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(x=0.15)
        ax.set_ylim(low - pad, high + pad)
        if ax.get_xscale() == "log":
            log_axes.append(name)
        ax.set_xlabel(name + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel("val accuracy")
        ax.grid(alpha=0.3)

    # Failed trials have no score: drawn on a line of their own, below the rest.
    order = _trials_in_order(fig.add_subplot(grid[rows, :]), trials, done, (low - pad, high + pad), low - pad / 2)
    data = {"hyperparameters": points, "log_scale": log_axes, "order": order}
    return fig, data


def _trials_in_order(order_ax, trials: list[dict], done: list[dict], ylim: tuple, floor: float) -> dict:
    """Each trial's val accuracy in start order, the best so far, and failed trials on the line at `floor`."""
    number = list(range(1, len(trials) + 1))
    done_ids = {id(t) for t in done}
    scores = [t["val_accuracy"] if id(t) in done_ids else None for t in trials]
    best_so_far, running = [], None
    for s in scores:
        if s is not None:
            running = s if running is None else max(running, s)
        best_so_far.append(running)
    ok = [(n, s) for n, s in zip(number, scores, strict=True) if s is not None]
    failed = [n for n, s in zip(number, scores, strict=True) if s is None]
    if ok:
        order_ax.scatter(*zip(*ok, strict=True), s=30, color="#1f77b4", label="completed trial", zorder=3)
    steps = [(n, b) for n, b in zip(number, best_so_far, strict=True) if b is not None]
    if steps:
        order_ax.step(*zip(*steps, strict=True), where="post", color=BEST, linewidth=2, label="best so far")
    if failed:
        order_ax.scatter(failed, [floor] * len(failed), marker="x", s=40, color=WRONG, label="failed trial", zorder=3)
    order_ax.margins(x=0.02)
    order_ax.set_ylim(*ylim)
    order_ax.set_title("Trials in the order they ran")
    order_ax.set_xlabel("trial number (start order)")
    order_ax.set_ylabel("val accuracy")
    order_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    order_ax.grid(alpha=0.3)
    if ok or failed:
        order_ax.legend(fontsize=8, loc="best")
    return {"trial_id": [t.get("trial_id") for t in trials], "val_accuracy": scores, "best_so_far": best_so_far}


def _log_ticks(low: float, high: float) -> list[float]:
    """Round ticks (1, 2, 5 or 1, 3 per decade) covering [low, high] on a log axis."""
    decades = math.log10(high / low)
    steps = (1, 2, 5) if decades <= 1.5 else (1, 3) if decades <= 3 else (1,)
    ticks = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        ticks += [float(f"{m * 10.0**exponent:.12g}") for m in steps]
    inside = [t for t in ticks if low / 1.3 <= t <= high * 1.3]
    return inside if len(inside) >= 2 else [low, high] if low != high else [low]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
