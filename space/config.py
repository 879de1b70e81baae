"""Ranges of the search space: a dataclass with defaults, loadable from TOML."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

IMAGE_SIZE = 28
ELASTIC_MAX_PIXELS = 4.0


# Fields added after runs were saved: left out of to_dict at their default, so a run saved before a
# field existed keeps its search key and resumes.
OPTIONAL_FIELDS = (
    "augment_zoom",
    "augment_elastic",
    "augment_strokes",
    "augment_noise",
    "augment_shift",
    "augment_rotation",
    "augment_zoom_out",
    "augment_shrink",
    "augment_hairline",
)
# Fields that are a share of the training images (changed in the input pipeline, space/distortion.py).
SHARE_FIELDS = ("augment_hairline", "augment_shrink", "augment_strokes")
NOISE_MAX = 128.0  # of 255 levels: beyond it the noise hides the digit


class SpaceError(ValueError):
    """A search-space range that cannot build a valid model."""


def max_pooling_blocks(size: int = IMAGE_SIZE) -> int:
    """How many 2x2 max-pools a `size`-pixel square survives (28 -> 14 -> 7 -> 3 -> 1)."""
    blocks = 0
    while size >= 2:
        size //= 2
        blocks += 1
    return blocks


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    """Ranges of every hyperparameter a candidate CNN may take.

    Each conv block is Conv2D(3x3) -> BatchNorm -> ReLU -> MaxPool(2x2); the head is
    Dropout -> Dense -> ReLU -> Dropout -> Dense(10, softmax).

    Values are drawn on a grid that starts at each `_min`: filters, dense units and batch
    size double (16, 32, 64, ...), dropout steps by 0.1 and momentum by 0.05, the learning
    rate is continuous on a log scale. A `_max` off that grid is never reached (filters
    16-100 tries 16, 32, 64).

    Each block's width is searched on its own, unless `filters_doubling`: then only the first
    block's width (filters_0) is searched and every later block has twice the one before
    (32 -> 64 -> 128), the usual shape of a CNN that pools as it goes.

    `augment` adds random shifts (by up to `augment_shift` of the side, each axis) and rotations (by
    up to `augment_rotation` of a turn, either way) in training; `augment_zoom` (with `augment`) also
    scales each image by up to that fraction either way (`augment_zoom_out`, where larger, is the
    most it zooms out: digits drawn smaller than MNIST's), and `augment_elastic` (with `augment`)
    distorts each one elastically, its pixels moved by a smooth field of that standard deviation
    in pixels (see space/distortion.py). `augment_strokes` (with `augment`): that share of the
    images has its strokes thinned or thickened by a pixel each side (two thinned for one thickened),
    as fine pens and markers write; `augment_noise` (with `augment`): half the images get Gaussian
    sensor noise of a standard deviation drawn up to that many of 255 levels; `augment_shrink` (with
    `augment`): that share is written small, scaled to 55-90% of its size about the centre;
    `augment_hairline` (with `augment`): that share is redrawn as its strokes' centre line, as the
    finest pens write.
    """

    conv_blocks_min: int = 1
    conv_blocks_max: int = 3
    filters_min: int = 16
    filters_max: int = 128
    dense_units_min: int = 32
    dense_units_max: int = 256
    learning_rate_min: float = 1e-3
    learning_rate_max: float = 0.3
    momentum_min: float = 0.0
    momentum_max: float = 0.95
    dropout_min: float = 0.0
    dropout_max: float = 0.5
    batch_size_min: int = 32
    batch_size_max: int = 256
    augment: bool = False
    filters_doubling: bool = False
    augment_zoom: float = 0.0
    augment_elastic: float = 0.0
    augment_strokes: float = 0.0
    augment_noise: float = 0.0
    augment_shift: float = 0.08
    augment_rotation: float = 0.03
    augment_zoom_out: float = 0.0
    augment_shrink: float = 0.0
    augment_hairline: float = 0.0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise SpaceError naming the first field that cannot build a model."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = bool if field.type == "bool" else (int if field.type == "int" else (int, float))
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                raise SpaceError(f"space field {field.name}: expected {field.type}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise SpaceError(f"space field {field.name}: must be finite, got {value!r}")
        positive = ("conv_blocks", "filters", "dense_units", "learning_rate", "batch_size")
        for name in positive:
            if getattr(self, f"{name}_min") <= 0:
                raise SpaceError(f"space field {name}_min: must be positive, got {getattr(self, f'{name}_min')}")
        for name in ("momentum", "dropout"):
            low, high = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            if low < 0:
                raise SpaceError(f"space field {name}_min: must be >= 0, got {low}")
            if high >= 1:
                raise SpaceError(f"space field {name}_max: must be < 1, got {high}")
        for name in positive + ("momentum", "dropout"):
            low, high = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            if low > high:
                raise SpaceError(f"space field {name}_min: {low} is greater than {name}_max {high}")
        if not 0 <= self.augment_zoom < 1:
            raise SpaceError(f"space field augment_zoom: must be >= 0 and < 1, got {self.augment_zoom}")
        if not 0 <= self.augment_zoom_out <= 1:
            raise SpaceError(f"space field augment_zoom_out: must be >= 0 and <= 1, got {self.augment_zoom_out}")
        # A quarter of the side moves a digit's ink off a 28x28 image; a quarter turn makes 6 of 9.
        if not 0 <= self.augment_shift <= 0.25:
            raise SpaceError(f"space field augment_shift: a share of the side from 0 to 0.25, got {self.augment_shift}")
        if not 0 <= self.augment_rotation <= 0.125:
            raise SpaceError(
                f"space field augment_rotation: a share of a turn from 0 to 0.125, got {self.augment_rotation}"
            )
        # Beyond a few pixels the field tears strokes apart: a digit of 28x28 is no longer one.
        if not 0 <= self.augment_elastic <= ELASTIC_MAX_PIXELS:
            raise SpaceError(
                f"space field augment_elastic: must be >= 0 and <= {ELASTIC_MAX_PIXELS} pixels, "
                f"got {self.augment_elastic}"
            )
        for name in SHARE_FIELDS:
            if not 0 <= getattr(self, name) <= 1:
                raise SpaceError(f"space field {name}: a share from 0 to 1, got {getattr(self, name)}")
        if not 0 <= self.augment_noise <= NOISE_MAX:
            raise SpaceError(f"space field augment_noise: 0 to {NOISE_MAX:g} levels, got {self.augment_noise}")
        limit = max_pooling_blocks()
        if self.conv_blocks_max > limit:
            raise SpaceError(
                f"space field conv_blocks_max: {self.conv_blocks_max} blocks pool a "
                f"{IMAGE_SIZE}x{IMAGE_SIZE} image below 1 pixel (at most {limit})"
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> SpaceConfig:
        """Read ranges from a TOML file; keys are this dataclass' field names."""
        path = Path(path)
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise SpaceError(f"space file {path}: no such file") from None
        except OSError as e:
            raise SpaceError(f"space file {path}: cannot read ({e.strerror})") from None
        except tomllib.TOMLDecodeError as e:
            raise SpaceError(f"space file {path}: not valid TOML ({e})") from None
        except UnicodeDecodeError:
            raise SpaceError(f"space file {path}: not valid TOML (not UTF-8 text)") from None
        return cls.from_dict(data, source=f"space file {path}")

    @classmethod
    def from_dict(cls, data: dict, source: str = "space ranges") -> SpaceConfig:
        """Build from a mapping of field names to values, refusing unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpaceError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values = dict(data)
        for field in dataclasses.fields(cls):
            # TOML writes 1 for 1.0; accept integers where a float is meant.
            if (
                field.type == "float"
                and isinstance(values.get(field.name), int)
                and not isinstance(values[field.name], bool)
            ):
                values[field.name] = float(values[field.name])
        try:
            return cls(**values)
        except SpaceError as e:
            raise SpaceError(f"{source}: {e}") from None

    def to_dict(self) -> dict:
        """The ranges as a plain mapping (for config.json); the augmentation amounts only when set."""
        ranges = dataclasses.asdict(self)
        defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name in OPTIONAL_FIELDS:
            if ranges[name] == defaults[name]:
                del ranges[name]
        return ranges
