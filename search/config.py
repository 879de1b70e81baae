"""What a run is started with: the options (each with its flag and help), which of them decide the
search, and their hash. The command line (search/cli.py) is built from these fields."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from search.errors import ConfigError
from search.presets import DEFAULT_PRESET, PRESETS
from space import SpaceConfig, SpaceError

TUNERS = ("hyperband", "bohb", "bayesian", "random", "grid")
HYPERBAND_LIKE = ("hyperband", "bohb")  # sized by Hyperband's brackets, take its factor and iterations
DATASETS = ("mnist", "fashion_mnist", "digits")  # search.data checks the same names when loading
DEFAULT_MAX_TRIALS = 10  # for tuners other than Hyperband, which sizes itself
# --minutes M: the search starts trials for --search-share of M (SEARCH_SHARE unless a preset says);
# the retrain runs until M minus TEST_RESERVE_SECONDS after the run began, so a search that overran
# (its last trial finishing) shortens the retrain, not the run. Searches of 4, 7 and 9 minutes picked
# the same network while accuracy still rose with retrain epochs (docs/experiments.md): most of the
# time goes to the retrain.
SEARCH_SHARE = 0.35
TEST_RESERVE_SECONDS = 10.0  # the test and the saving took 3.3 s on full MNIST; the process then exits
TTA_RESERVE_SECONDS = 15.0  # five passes over the 10,000 test images took 6-10 s more (per network)
AVERAGE_RESERVE_SECONDS = 5.0  # --ema: the average and the raw weights each read a training sample (per network)
MAX_MEMBERS = 4  # each network gets 1/N of the retrain: beyond a few, none trains long enough
PRECISIONS = ("auto", "float32", "bfloat16", "float16")  # space/precision.py's POLICIES, and auto
# --precision auto leaves float32 only for a clear gain (search/precision.py): interleaved rounds of one
# network on a shared 2-core machine differed by up to 30% (2,480 against 3,225 images/s, issue 42), and
# a needless 16-bit type costs digits; where bfloat16 units exist it trained 1.9x float32.
PRECISION_MARGIN = 1.25


def option(default, help: str, *, flag: str | None = None, metavar: str | None = None, choices=None, preset=False):
    """A RunConfig field that is also a command-line flag (`--name-with-dashes` unless `flag` names it).

    `preset`: the flag's default is the preset's value. `help` may hold {default}.
    """
    meta = {"help": help, "flag": flag, "metavar": metavar, "choices": choices, "preset": preset}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass
class RunConfig:
    """Every option of a run. `search_key()` holds the ones that decide the search."""

    dataset: str = option("mnist", "which images", choices=DATASETS)
    data: str | None = option(
        None,
        "a Keras-layout .npz or a folder of IDX files (default: $MNIST_DATA for mnist, else Keras' download)",
        metavar="PATH",
    )
    # No argparse choices: an unknown tuner gets RunConfig's one-line error, like every other bad option.
    tuner: str = option("hyperband", f"search algorithm: {', '.join(TUNERS)}", preset=True)
    max_trials: int | None = option(
        None, "most trials to run (default: all of Hyperband's schedule; 10 for the other tuners)", metavar="N"
    )
    max_epochs: int = option(6, "most epochs one trial trains; Hyperband's max_epochs", metavar="N", preset=True)
    epochs: int | None = option(None, "retraining epochs", metavar="N", preset=True)
    subset: int | None = option(
        None, "use only N training images, stratified, for everything (default: all)", metavar="N"
    )
    search_subset: int | None = option(
        None, "trials train on N of the training images, stratified; the retrain uses all", metavar="N", preset=True
    )
    val_fraction: float = option(
        0.1, "fraction of the training images held out for validation during the search", metavar="F"
    )
    minutes: float | None = option(
        None,
        "the whole job (search, retrain, test) in M minutes: trials start for --search-share of them, "
        f"the retrain trains until {TEST_RESERVE_SECONDS:g} s before the end "
        f"({TEST_RESERVE_SECONDS + TTA_RESERVE_SECONDS:g} s with --tta) with its learning rate driven "
        "by the clock (--budget-minutes and --retrain-minutes, when given, win; with --epochs the retrain "
        "trains those epochs)",
        metavar="M",
        preset=True,
    )
    search_share: float = option(
        SEARCH_SHARE, "the share of --minutes in which trials start; the retrain has the rest", metavar="F", preset=True
    )
    budget_minutes: float | None = option(
        None, "start no new trial after M minutes of search, then retrain (default: from --minutes)", metavar="M"
    )
    retrain_minutes: float | None = option(
        None,
        "retrain for M minutes, the learning rate's warm-up and cosine decay spread over them by the clock; "
        "with --epochs, train only as many of those epochs as fit, timed on the best CNN before the retrain",
        metavar="M",
    )
    retrain_augment: bool = option(
        False,
        "random shifts and rotations while retraining (and scaling or elastic distortion, where the space "
        "sets augment_zoom or augment_elastic)",
        flag="--augment",
        preset=True,
    )
    retrain_ema: bool = option(
        False, "the saved model holds a moving average of the retrain's weights", flag="--ema", preset=True
    )
    retrain_tta: bool = option(
        False,
        "the saved model averages its answers over the image and the image moved one pixel up, down, left "
        "and right (test-time augmentation, five passes a prediction)",
        flag="--tta",
        preset=True,
    )
    retrain_rate_scale: float = option(
        1.0,
        "the retrain's peak learning rate is the searched one times F (never above the space's "
        "learning_rate_max); with --members, the first network's",
        flag="--rate-scale",
        metavar="F",
        preset=True,
    )
    retrain_members: int = option(
        1,
        "retrain N networks of the best trial, each for 1/N of the retrain, at peak learning rates spread "
        "from the --rate-scale one to 3 times it (capped at the space's learning_rate_max); the saved model "
        "averages their answers",
        flag="--members",
        metavar="N",
        preset=True,
    )
    space: SpaceConfig = dataclasses.field(default_factory=SpaceConfig)
    space_file: str | None = option(
        None,
        "search-space ranges; keys as in space/config.py (default: the preset's ranges)",
        flag="--space",
        metavar="FILE.toml",
    )
    seed: int = option(42, "seed of the split, the sampling and the weights; 0 is a fixed seed too")
    run_dir: str | None = option(None, "where the run is written (default: runs/DATASET-TUNER)", metavar="DIR")
    overwrite: bool = option(False, "delete an existing run in --run-dir and start afresh")
    quiet: bool = option(False, "no live progress; print only the final summary")
    tensorboard: str | None = option(None, "write TensorBoard logs (with HParams) of every trial here", metavar="DIR")
    distribution: str | None = option(
        None,
        "train each trial and the retrain with tf.distribute.MirroredStrategy over all visible GPUs "
        "(default: one device)",
        choices=("mirrored",),
    )
    precision: str = option(
        "auto",
        f"what trials and the retrain compute in: {', '.join(PRECISIONS)}. auto times a few training steps in "
        f"each type once on this machine (cached in ~/.cache/mnist-tuner) and leaves float32 only for one at least "
        f"{PRECISION_MARGIN:g}x as fast; bfloat16 and float16 are Keras' mixed precision (float32 weights and "
        "output layer). The saved model computes in float32 whatever was trained. Not part of the search's "
        "configuration: a run resumes under another precision",
    )
    preset: str | None = None
    # Set by presets or by code, not by flags.
    hyperband_factor: int = 3
    hyperband_iterations: int | None = 1  # None: repeat Hyperband's brackets until the budget or max_trials
    early_stopping_patience: int = 3
    retrain_schedule: str = "cosine"

    def __post_init__(self):
        self.validate()

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, **options) -> RunConfig:
        """The preset's values, with `options` (RunConfig fields) given explicitly winning.

        An explicit `epochs` is what the user wants trained, with the step-based schedule: the
        preset's minutes then bound only the search, unless `retrain_minutes` is given too.
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
        values = {k: v for k, v in PRESETS[name].items() if k != "space"}
        values.update({k: v for k, v in options.items() if v is not None})
        if values.get("space_file"):
            values["space"] = space_from_file(values["space_file"])
        elif "space" not in options:
            values["space"] = SpaceConfig.from_dict(PRESETS[name]["space"], source=f"preset {name}")
        return cls(**values, preset=name)

    def validate(self) -> None:
        """Raise ConfigError on an option no run can use."""
        if self.tuner not in TUNERS:
            raise ConfigError(f"unknown tuner {self.tuner!r} (choose from {', '.join(TUNERS)})")
        at_least = {"max_trials": 1, "max_epochs": 1, "epochs": 1, "subset": 20, "search_subset": 20}
        for name, low in at_least.items():
            value = getattr(self, name)
            if value is not None and value < low:
                what = f"{low} images" if "subset" in name else str(low)
                raise ConfigError(f"--{name.replace('_', '-')} must be at least {what}, got {value}")
        if not 0 < self.search_share < 1:
            raise ConfigError(f"--search-share must be between 0 and 1 (exclusive), got {self.search_share}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")
        for name in ("minutes", "retrain_minutes", "budget_minutes"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if (
            self.tuner in HYPERBAND_LIKE
            and self.hyperband_iterations is None
            and not (self.search_minutes or self.max_trials)
        ):
            raise ConfigError("endless Hyperband iterations need --budget-minutes or --max-trials")
        if self.hyperband_factor < 2:
            raise ConfigError(f"Hyperband's factor must be at least 2, got {self.hyperband_factor}")
        if not self.retrain_rate_scale > 0:
            raise ConfigError(f"--rate-scale must be positive, got {self.retrain_rate_scale}")
        if not 1 <= self.retrain_members <= MAX_MEMBERS:
            raise ConfigError(f"--members must be from 1 to {MAX_MEMBERS}, got {self.retrain_members}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r} (choose from {', '.join(PRECISIONS)})")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")

    @property
    def test_reserve_seconds(self) -> float:
        """What a clock-driven retrain leaves of --minutes for the test and the saving."""
        tta = TTA_RESERVE_SECONDS * self.retrain_members if self.retrain_tta else 0.0
        average = AVERAGE_RESERVE_SECONDS * self.retrain_members if self.retrain_ema else 0.0
        return TEST_RESERVE_SECONDS + tta + average

    @property
    def search_minutes(self) -> float | None:
        """Minutes after which no new trial starts: --budget-minutes, else the search's share of --minutes."""
        if self.budget_minutes is not None:
            return self.budget_minutes
        return self.minutes * self.search_share if self.minutes else None

    @property
    def retrain_timed(self) -> bool:
        """Whether the clock ends the retrain (no --epochs, and --retrain-minutes or --minutes)."""
        return self.epochs is None and bool(self.retrain_minutes or self.minutes)

    @property
    def trial_limit(self) -> int | None:
        """The cap on trials: --max-trials, else Hyperband's own schedule or a default."""
        if self.max_trials is not None:
            return self.max_trials
        return None if self.tuner in HYPERBAND_LIKE else DEFAULT_MAX_TRIALS

    def resolved_run_dir(self) -> Path:
        """--run-dir, else runs/DATASET-TUNER: the same command finds the same run again."""
        return Path(self.run_dir) if self.run_dir else Path("runs") / f"{self.dataset}-{self.tuner}"

    def search_key(self, data_fingerprint: str) -> dict:
        """The options that decide which trials run and what they see. Not `precision`: it decides how fast
        they train, as --workers does, so a run resumes under another one."""
        return {
            "dataset": self.dataset,
            "data_fingerprint": data_fingerprint,
            "subset": self.subset,
            "search_subset": self.search_subset,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "tuner": self.tuner,
            "max_epochs": self.max_epochs,
            "hyperband_factor": self.hyperband_factor if self.tuner in HYPERBAND_LIKE else None,
            "hyperband_iterations": self.hyperband_iterations if self.tuner in HYPERBAND_LIKE else None,
            "early_stopping_patience": self.early_stopping_patience,
            "space": self.space.to_dict(),
        }

    def to_dict(self) -> dict:
        """All options as plain JSON-able values."""
        out = dataclasses.asdict(self)
        out["space"] = self.space.to_dict()
        return out


def space_from_file(path: str) -> SpaceConfig:
    """The ranges of a TOML space file (ConfigError naming the file and field when they are bad)."""
    try:
        return SpaceConfig.from_toml(path)
    except SpaceError as e:
        raise ConfigError(str(e)) from None


def key_hash(key: dict) -> str:
    """A stable hash of a search key."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def describe_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'name (old -> new)' for every field that differs, nested fields dotted."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if isinstance(a, dict) and isinstance(b, dict):
            out += describe_differences(a, b, prefix=f"{prefix}{name}.")
        elif a != b:
            out.append(f"{prefix}{name} ({a!r} -> {b!r})")
    return out
