"""What a run was started with: the options, which of them decide the search, and their hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from space import SpaceConfig

TUNERS = ("hyperband", "bohb", "bayesian", "random", "grid")
HYPERBAND_LIKE = ("hyperband", "bohb")  # sized by Hyperband's brackets, take its factor and iterations
DEFAULT_MAX_TRIALS = 10  # for tuners other than Hyperband, which sizes itself


class ConfigError(ValueError):
    """Options that cannot start a run, or that differ from the run directory's."""


@dataclasses.dataclass
class RunConfig:
    """Every option of a run. `search_key()` holds the ones that decide the search."""

    dataset: str = "mnist"
    data: str | None = None
    tuner: str = "hyperband"
    max_trials: int | None = None
    max_epochs: int = 6
    hyperband_factor: int = 3
    hyperband_iterations: int | None = 1  # None: repeat Hyperband's brackets until the budget or max_trials
    epochs: int | None = None
    subset: int | None = None
    search_subset: int | None = None
    val_fraction: float = 0.1
    budget_minutes: float | None = None
    space: SpaceConfig = dataclasses.field(default_factory=SpaceConfig)
    space_file: str | None = None
    seed: int = 42
    run_dir: str | None = None
    overwrite: bool = False
    quiet: bool = False
    tensorboard: str | None = None
    early_stopping_patience: int = 3
    retrain_schedule: str = "cosine"
    retrain_augment: bool = False
    retrain_minutes: float | None = None  # fewer retraining epochs where they would not fit
    preset: str | None = None
    distribution: str | None = None  # "mirrored": tf.distribute.MirroredStrategy over the visible GPUs

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError on an option no run can use."""
        if self.tuner not in TUNERS:
            raise ConfigError(f"unknown tuner {self.tuner!r} (choose from {', '.join(TUNERS)})")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError(f"--max-trials must be at least 1, got {self.max_trials}")
        if self.max_epochs < 1:
            raise ConfigError(f"--max-epochs must be at least 1, got {self.max_epochs}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}")
        if self.subset is not None and self.subset < 20:
            raise ConfigError(f"--subset must be at least 20 images, got {self.subset}")
        if self.search_subset is not None and self.search_subset < 20:
            raise ConfigError(f"--search-subset must be at least 20 images, got {self.search_subset}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")
        if self.retrain_minutes is not None and self.retrain_minutes <= 0:
            raise ConfigError(f"--retrain-minutes must be positive, got {self.retrain_minutes}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ConfigError(f"--budget-minutes must be positive, got {self.budget_minutes}")
        if (
            self.tuner in HYPERBAND_LIKE
            and self.hyperband_iterations is None
            and not (self.budget_minutes or self.max_trials)
        ):
            raise ConfigError("endless Hyperband iterations need --budget-minutes or --max-trials")
        if self.hyperband_factor < 2:
            raise ConfigError(f"Hyperband's factor must be at least 2, got {self.hyperband_factor}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")

    @property
    def trial_limit(self) -> int | None:
        """The cap on trials: --max-trials, else Hyperband's own schedule or a default."""
        if self.max_trials is not None:
            return self.max_trials
        return None if self.tuner in HYPERBAND_LIKE else DEFAULT_MAX_TRIALS

    def default_run_dir(self) -> Path:
        """runs/DATASET-TUNER: the same command finds the same run again."""
        return Path("runs") / f"{self.dataset}-{self.tuner}"

    def search_key(self, data_fingerprint: str) -> dict:
        """The options that decide which trials run and what they see."""
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
