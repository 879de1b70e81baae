"""--precision: which type trials and the retrain compute in, and for `auto` a measurement of this machine.

`auto` times a few training steps of the default preset's typical winning network in each candidate
precision (float32 and bfloat16; float16 too where there is a GPU), interleaved in one process, and keeps
the fastest, but leaves float32 only when it trains at least MARGIN times float32's images per second.
The choice is cached per machine (CPU model and flags, library versions, devices) in
$XDG_CACHE_HOME/mnist-tuner/precision.json (default ~/.cache), so a run pays for the measurement once.

Precision is not part of the search key (search/config.py): it changes how fast a network trains,
not which networks the search tries, as --workers or --quiet do not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from results.run import atomic
from search.config import PRECISION_MARGIN as MARGIN
from space.hypermodel import build_cnn, compile_cnn
from space.precision import POLICIES

# The default preset's typical winner (3 doubling blocks of 32/64/128, dense 256, batch 64), as the retrain
# trains it (with augmentation): most of a run's time goes to that retrain.
NETWORK = {"filters": [32, 64, 128], "dense_units": 256, "dropout": 0.25, "batch_size": 64, "augment": True}
# Short interleaved rounds, compared pairwise: on a shared machine one precision's rounds ranged from 386
# to 974 images/s within seconds, while the ratio of the two precisions within a round moved far less.
ROUNDS = 5
STEPS = 4  # timed steps per round and precision, after two untimed ones (tracing, oneDNN's first call)
CACHE_VERSION = 1


@dataclasses.dataclass
class Choice:
    """What a run computes in and why: asked for, measured now, or read from the cache of a measurement."""

    asked: str
    used: str
    how: str  # "asked", "measured" or "cached"
    rounds: dict[str, list[float]] | None = None  # images/s of each measured round, per precision
    measure_seconds: float | None = None  # what the measurement took, when it was made
    spent_seconds: float = 0.0  # what deciding cost this process (measuring, or reading the cache)

    @property
    def policy(self) -> str:
        """The Keras dtype policy of `used`."""
        return POLICIES[self.used]

    def record(self) -> dict:
        """For metrics.json["precision"]."""
        out = {"asked": self.asked, "used": self.used, "policy": self.policy, "how": self.how}
        if self.rounds:
            out.update(
                images_per_second={p: round(statistics.median(r), 1) for p, r in self.rounds.items()},
                speedup=speedups(self.rounds),
                rounds=self.rounds,
                margin=MARGIN,
                network=NETWORK,
                measure_seconds=self.measure_seconds,
                cache=str(cache_path()),
            )
        out["spent_seconds"] = round(self.spent_seconds, 2)
        return out


def resolve(asked: str) -> Choice:
    """The precision a run computes in: `asked` itself, or for "auto" this machine's cached choice, measured
    (see `measure`) and cached where there is none."""
    if asked != "auto":
        return Choice(asked, asked, "asked")
    started = time.perf_counter()
    key, machine = machine_key()
    cached = _read_cache().get(key)
    if cached is not None:
        return Choice(
            asked,
            cached["choice"],
            "cached",
            cached["rounds"],
            cached["measure_seconds"],
            time.perf_counter() - started,
        )
    rounds = measure(candidates())
    seconds = round(time.perf_counter() - started, 2)
    choice = Choice(asked, choose(rounds), "measured", rounds, seconds, seconds)
    _write_cache(key, machine, choice)
    return choice


def candidates() -> list[str]:
    """The precisions `auto` measures here: float32 and bfloat16, and float16 where there is a GPU
    (on a CPU float16 has no fast units to gain from)."""
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    return ["float32", "bfloat16", "float16"] if gpu else ["float32", "bfloat16"]


def speedups(rounds: dict[str, list[float]]) -> dict[str, float]:
    """Each precision's images/s over float32's, the median over rounds of the two in the same round."""
    return {
        p: round(statistics.median(a / b for a, b in zip(r, rounds["float32"], strict=True)), 3)
        for p, r in rounds.items()
        if p != "float32"
    }


def choose(rounds: dict[str, list[float]], margin: float = MARGIN) -> str:
    """The precision with the largest speed-up over float32 (see `speedups`), where it is at least `margin`;
    else float32."""
    gains = speedups(rounds)
    best = max(gains, key=gains.get, default="float32")
    return best if best != "float32" and gains[best] >= margin else "float32"


def measure(
    precisions: list[str], rounds: int = ROUNDS, steps: int = STEPS, network: dict = NETWORK
) -> dict[str, list[float]]:
    """Images per second of each of `rounds` rounds of `steps` training steps of `network`, per precision.

    The precisions take turns within a round, in reversed order every other round, so that a machine
    slowing down or speeding up (other jobs, its clock) weighs on each alike. The data are random pixels
    and labels: speed does not depend on them. Leaves a fresh Keras session.
    """
    batch = network["batch_size"]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, batch)
    models = {}
    for precision in precisions:
        model = build_cnn(
            network["filters"], network["dense_units"], network["dropout"], network["augment"], precision=precision
        )
        compile_cnn(model, 0.01, 0.9)
        for _ in range(2):
            model.train_on_batch(x, y)
        models[precision] = model
    speeds = {p: [] for p in precisions}
    for round_ in range(rounds):
        for precision in precisions if round_ % 2 == 0 else precisions[::-1]:
            started = time.perf_counter()
            for _ in range(steps):
                models[precision].train_on_batch(x, y)
            speeds[precision].append(round(steps * batch / (time.perf_counter() - started), 1))
    # The measured models' layer names would shift the trials' (conv2d_4 for conv2d): a run that measured
    # and one that read the cache build alike.
    keras.backend.clear_session()
    return speeds


def cache_path() -> Path:
    """Where `auto`'s choices are cached: $XDG_CACHE_HOME/mnist-tuner/precision.json, ~/.cache without it."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist-tuner" / "precision.json"


def machine_key() -> tuple[str, dict]:
    """A hash of what decides which precision is fastest here, and those things: the CPU's model and
    flags, TensorFlow's and Keras' versions, the devices, and what is measured."""
    import tensorflow as tf

    model, flags = _cpu()
    devices = []
    for device in tf.config.list_physical_devices():
        details = tf.config.experimental.get_device_details(device) if device.device_type == "GPU" else {}
        devices.append(f"{device.device_type}:{details.get('device_name', device.name)}")
    machine = {
        "cpu": model,
        "cpu_flags": hashlib.sha256(flags.encode()).hexdigest()[:16],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "devices": devices,
        "network": NETWORK,
        "margin": MARGIN,
        "rounds": [ROUNDS, STEPS],
    }
    return hashlib.sha256(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:16], machine


def _cpu() -> tuple[str, str]:
    """The CPU's model name and its flags (Linux's /proc/cpuinfo; elsewhere what `platform` says)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine(), ""
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    model = fields.get("model name") or fields.get("Model") or platform.processor() or platform.machine()
    return model, fields.get("flags") or fields.get("Features") or ""


def _read_cache() -> dict:
    """The cached choices by machine key; {} where the file is missing or damaged (measured again)."""
    try:
        cache = json.loads(cache_path().read_text())
        machines = cache["machines"] if cache.get("version") == CACHE_VERSION else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    needed = ("choice", "rounds", "measure_seconds")

    def sound(entry) -> bool:
        return (
            isinstance(entry, dict)
            and all(n in entry for n in needed)
            and entry["choice"] in POLICIES
            and isinstance(entry["rounds"], dict)
        )

    return {k: v for k, v in machines.items() if sound(v)} if isinstance(machines, dict) else {}


def _write_cache(key: str, machine: dict, choice: Choice) -> None:
    """Add this machine's choice to the cache (atomically); a cache that cannot be written is left alone:
    the next run measures again."""
    machines = _read_cache()
    machines[key] = {
        "choice": choice.used,
        "rounds": choice.rounds,
        "measure_seconds": choice.measure_seconds,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
    }
    try:
        cache_path().parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(cache_path(), {"version": CACHE_VERSION, "machines": machines})
    except OSError:
        pass
