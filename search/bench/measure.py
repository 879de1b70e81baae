"""Benchmarks (not tests): tuner overhead, input pipeline, time to accuracy.

Ratios are measured side by side in one run, interleaved, so the machine's drift cancels;
absolute figures come with the machine they were taken on.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
from rich.console import Console

from search.config import RunConfig
from search.data import load_dataset, stratified_subset
from search.display import RichDisplay
from search.engine import make_tuner
from search.engine.memory import what_is_loaded_frozen
from search.pipeline import run_search
from space import CNNHyperModel, SpaceConfig
from space.feeding import fit_arrays

# The reference CNN: the hand-picked member of the space (3 blocks of 32/64/128, dense 128).
REFERENCE = {
    "conv_blocks": 3,
    "filters_0": 32,
    "filters_1": 64,
    "filters_2": 128,
    "dense_units": 128,
    "dropout": 0.3,
    "learning_rate": 0.05,
    "momentum": 0.9,
    "batch_size": 128,
}


def machine() -> dict:
    """What the figures were measured on."""
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def fixed_space(values: dict) -> SpaceConfig:
    """A space holding exactly one CNN: `values`."""
    blocks = values["conv_blocks"]
    widths = [values[f"filters_{i}"] for i in range(blocks)]
    if len(set(widths)) != 1:
        raise ValueError("a fixed space needs one width for every block")
    pairs = {
        "conv_blocks": blocks,
        "filters": widths[0],
        "dense_units": values["dense_units"],
        "learning_rate": values["learning_rate"],
        "momentum": values["momentum"],
        "dropout": values["dropout"],
        "batch_size": values["batch_size"],
    }
    return SpaceConfig(**{f"{k}_{end}": v for k, v in pairs.items() for end in ("min", "max")})


def _bare_fit(space: SpaceConfig, x, y, xv, yv, epochs: int, seed: int) -> float:
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = kt.HyperParameters()
    hypermodel = CNNHyperModel(space)
    model = hypermodel.build(hp)
    started = time.perf_counter()
    model.fit(x, y, batch_size=space.batch_size_min, epochs=epochs, validation_data=(xv, yv), verbose=0)
    return time.perf_counter() - started


def _tuner_trial(space: SpaceConfig, x, y, xv, yv, epochs: int, seed: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        display = RichDisplay(Console(file=io.StringIO(), force_terminal=True, width=100))
        started = time.perf_counter()
        tuner = make_tuner(
            "random",
            CNNHyperModel(space),
            directory,
            max_trials=1,
            max_epochs=epochs,
            seed=seed,
            display=display,
            patience=None,
        )
        display.search_begin(1, 0, None)
        tuner.search(x, y, epochs=epochs, validation_data=(xv, yv), verbose=0)
        display.search_end()
        return time.perf_counter() - started


def tuner_overhead(x, y, xv, yv, pairs: int = 3, epochs: int = 1, seed: int = 1) -> dict:
    """One trial through this toolkit's tuner against bare model.fit, interleaved A B A B: their ratio, and
    the seconds a trial costs outside the fit (building the tuner and oracle, checkpoints, the state
    files and their copies, the collections around each trial)."""
    space = fixed_space({**REFERENCE, "conv_blocks": 2, "filters_1": 32})
    bare, tuned = [], []
    _bare_fit(space, x[:512], y[:512], xv[:128], yv[:128], 1, seed)  # warm-up: first graph build is slower
    with what_is_loaded_frozen():  # as the search is during its trials
        for _ in range(pairs):
            bare.append(_bare_fit(space, x, y, xv, yv, epochs, seed))
            tuned.append(_tuner_trial(space, x, y, xv, yv, epochs, seed))
    ratios = [b / a for a, b in zip(bare, tuned, strict=True)]
    fixed = [b - a for a, b in zip(bare, tuned, strict=True)]
    return {
        "bare_seconds": bare,
        "tuner_seconds": tuned,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "fixed_seconds": fixed,
        "median_fixed_seconds": statistics.median(fixed),
    }


def input_pipeline(x, y, pairs: int = 3, seed: int = 1) -> dict:
    """Training images/s of the reference CNN over one epoch of `x`, as the toolkit feeds it (uint8 arrays
    through space/feeding.py), as Keras feeds the same arrays itself, and from pre-loaded float32 tensors."""
    import tensorflow as tf

    hp = kt.HyperParameters()
    hp.values = dict(REFERENCE)
    preloaded = (tf.constant(x.astype(np.float32)), tf.constant(y.astype(np.int32)))
    batch = REFERENCE["batch_size"]

    def toolkit_fit(model, features, labels):
        fit_arrays(model, features, labels, batch, epochs=1, verbose=0)

    def keras_fit(model, features, labels):
        model.fit(features, labels, batch_size=batch, epochs=1, verbose=0)

    arms = {
        "toolkit": (toolkit_fit, (x, y)),
        "keras_arrays": (keras_fit, (x, y)),
        "float32_tensors": (keras_fit, preloaded),
    }
    rates = {name: [] for name in arms}
    for _ in range(pairs):
        for name, (fit, (features, labels)) in arms.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            model = CNNHyperModel(SpaceConfig(conv_blocks_max=3)).build(hp)
            fit(model, features[:256], labels[:256])  # trace once
            started = time.perf_counter()
            fit(model, features, labels)  # whole: no slice copied inside the timing
            rates[name].append(len(x) / (time.perf_counter() - started))
    toolkit, keras_own, floats = (statistics.median(rates[name]) for name in arms)
    return {
        "images_per_second": toolkit,
        "keras_arrays_images_per_second": keras_own,
        "float32_images_per_second": floats,
        "ratio": toolkit / floats,
        "keras_arrays_ratio": toolkit / keras_own,
        "samples": rates,
    }


def time_to_accuracy(preset: str, data: str | None, subset: int | None, run_dir: Path) -> dict:
    """A whole run of `preset` on MNIST: search, retrain and test seconds, test accuracy."""
    config = RunConfig.from_preset(
        preset, dataset="mnist", data=data, subset=subset, run_dir=str(run_dir), overwrite=True, quiet=True
    )
    summary = run_search(config)
    metrics = summary.metrics
    return {
        "preset": preset,
        "subset": subset,
        **metrics["timings"],
        "test_accuracy": metrics["test_accuracy"],
        "trials": metrics["trials"],
        "best": summary.best_values,
        "run_dir": str(run_dir),
    }


def run_benchmark(mode: str, data: str | None, out: Path, run_dir: Path) -> dict:
    """The whole benchmark; writes `out` (bench.json) and returns what it holds."""
    dataset = load_dataset("mnist", data)
    x, y = stratified_subset(dataset.x_train, dataset.y_train, 6000 if mode == "quick" else 20000, seed=0)
    xv, yv = dataset.x_test[:1000], dataset.y_test[:1000]  # validation stand-in: timing only
    overhead = tuner_overhead(x, y, xv, yv, pairs=3, epochs=1 if mode == "quick" else 2)
    # A trial of realistic length (tens of seconds): 3 epochs over 20,000 images, as a default-preset trial.
    wide, labels = stratified_subset(dataset.x_train, dataset.y_train, 20000, seed=0)
    realistic = tuner_overhead(wide, labels, xv, yv, pairs=2 if mode == "quick" else 3, epochs=3)
    pipeline = input_pipeline(x, y, pairs=3 if mode == "quick" else 5)
    if mode == "quick":
        accuracy = time_to_accuracy("quick", data, subset=20000, run_dir=run_dir)
    else:
        accuracy = time_to_accuracy("default", data, subset=None, run_dir=run_dir)
    result = {
        "mode": mode,
        "tuner_overhead_ratio": overhead["median_ratio"],
        "tuner_fixed_seconds": overhead["median_fixed_seconds"],
        "realistic_tuner_overhead_ratio": realistic["median_ratio"],
        "realistic_overhead": realistic,
        "pipeline_ratio": pipeline["ratio"],
        "images_per_second": pipeline["images_per_second"],
        "time_to_accuracy": accuracy,
        "overhead": overhead,
        "pipeline": pipeline,
        "machine": machine(),
    }
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
    os.replace(tmp, out)
    return result


def as_table(result: dict) -> list[tuple[str, str]]:
    """The rows printed at the end of a benchmark."""
    acc = result["time_to_accuracy"]
    return [
        ("tuner overhead (one trial / bare fit, median)", f"{result['tuner_overhead_ratio']:.3f}"),
        ("seconds a trial costs outside its fit (median)", f"{result['tuner_fixed_seconds']:.2f}"),
        (
            "tuner overhead, 3-epoch trial of 20,000 images",
            f"{result['realistic_tuner_overhead_ratio']:.3f} "
            f"(fit {statistics.median(result['realistic_overhead']['bare_seconds']):.0f} s)",
        ),
        ("input pipeline (as fed / float32 tensors)", f"{result['pipeline_ratio']:.3f}"),
        ("input pipeline (as fed / Keras' own feeding)", f"{result['pipeline']['keras_arrays_ratio']:.3f}"),
        ("training images per second (reference CNN)", f"{result['images_per_second']:.0f}"),
        (
            f"preset {acc['preset']}: search / retrain / total seconds",
            f"{acc['search_seconds']:.0f} / {acc['retrain_seconds']:.0f} / {acc['total_seconds']:.0f}",
        ),
        (f"preset {acc['preset']}: test accuracy", f"{acc['test_accuracy'] * 100:.2f}%"),
        ("machine", f"{result['machine']['processor']}, {result['machine']['cpus']} CPUs"),
    ]
