"""What each retrain augmentation does to clean accuracy and to each corruption, measured on its own.

`python scripts/bench.py --augmentations RUN_DIR --epochs N` retrains the run's best hyperparameters
on its whole training set once per variant, each for N epochs (a count, not the clock: variants
compare alike however busy the machine; weight average and one-pixel shift averaging, as the
default preset's retrain), tests it on the clean test digits and on every corruption
of search/bench/corruptions.py, and writes bench_augmentations.json. The variants: the run's space as
it was searched ("space"), shifts and rotations alone ("shifts"), then with each extra one alone, then
all together (the default preset's), and wide moves ("wide").
"""

from __future__ import annotations

import dataclasses
import time

from search.bench.corruptions import measure
from search.data import load_dataset
from search.presets import PRESETS
from search.retrain import retrain
from space import CNNHyperModel, SpaceConfig, shift_averaged

# Each extra augmentation at the amount the default preset uses, alone; "all" sets them together (the
# preset's own). "wide" moves far enough to read the benchmark's small digits (60%): not in a preset.
_PRESET = PRESETS["default"]["space"]
EXTRAS = {
    "strokes": {"augment_strokes": _PRESET["augment_strokes"]},
    "noise": {"augment_noise": _PRESET["augment_noise"]},
    "zoom": {"augment_zoom": _PRESET["augment_zoom"]},
    "shrink": {"augment_shrink": _PRESET["augment_shrink"]},
    "hairline": {"augment_hairline": _PRESET["augment_hairline"]},
    "moves": {"augment_shift": _PRESET["augment_shift"], "augment_rotation": _PRESET["augment_rotation"]},
}
# 3.4 pixels, 22 degrees, and every digit zoomed out by up to 1/0.6 - 1.
WIDE = {"augment_shift": 0.12, "augment_rotation": 0.06, "augment_zoom_out": 0.67}
FIELDS = (
    "augment_strokes",
    "augment_noise",
    "augment_zoom",
    "augment_zoom_out",
    "augment_shrink",
    "augment_hairline",
    "augment_shift",
    "augment_rotation",
)
NAMES = ("space", "shifts", *EXTRAS, "all", "wide")


def variants(space: SpaceConfig) -> dict[str, SpaceConfig]:
    """The spaces to retrain from, by the names of NAMES: the run's own ("space"), shifts and rotations
    only ("shifts"), each extra alone, all of them, and wide moves."""
    defaults = {f.name: f.default for f in dataclasses.fields(SpaceConfig) if f.name in FIELDS}
    base = dataclasses.replace(space, augment=True, **defaults)
    out = {"space": dataclasses.replace(space, augment=True), "shifts": base}
    out.update({name: dataclasses.replace(base, **fields) for name, fields in EXTRAS.items()})
    out["all"] = dataclasses.replace(base, **{k: v for fields in EXTRAS.values() for k, v in fields.items()})
    out["wide"] = dataclasses.replace(base, **WIDE)
    return out


def run_augmentation_benchmark(run, epochs: int, seed: int, names: list[str] | None = None) -> dict:
    """Retrain `run`'s best values once per variant (or those `names`) and test each; returns the record."""
    options = run.config["options"]
    dataset = load_dataset(options["dataset"], options.get("data"))
    space = SpaceConfig(**options["space"])
    values = run.best_hyperparameters
    rows = []
    for name, variant in variants(space).items():
        if names and name not in names:
            continue
        started = time.time()
        model, history, _ = retrain(
            CNNHyperModel(variant), values, dataset.x_train, dataset.y_train, epochs, seed=seed, ema=True, augment=True
        )
        scores = measure(shift_averaged(model), dataset.x_test[..., 0], dataset.y_test, seed=seed)
        rows.append(
            {
                "variant": name,
                "fields": {k: getattr(variant, k) for k in FIELDS},
                "epochs": len(history),
                "seconds": round(time.time() - started, 1),
                "clean": scores[0].clean_accuracy,
                "corruptions": {s.corruption: s.accuracy for s in scores},
            }
        )
    return {"run_dir": str(run.path), "epochs": epochs, "seed": seed, "hyperparameters": values, "variants": rows}


def table(record: dict) -> str:
    """One row per variant: epochs, clean accuracy, each corruption's, the worst."""
    names = list(record["variants"][0]["corruptions"]) if record["variants"] else []
    head = f"{'variant':<8} {'epochs':>6} {'clean':>6} " + " ".join(f"{n[:8]:>8}" for n in names) + f" {'worst':>6}"
    lines = [head]
    for row in record["variants"]:
        accuracies = [row["corruptions"][n] for n in names]
        cells = " ".join(f"{a * 100:>8.2f}" for a in accuracies)
        worst = min(accuracies) * 100 if accuracies else float("nan")
        lines.append(f"{row['variant']:<8} {row['epochs']:>6} {row['clean'] * 100:>6.2f} {cells} {worst:>6.2f}")
    return "\n".join(lines)
