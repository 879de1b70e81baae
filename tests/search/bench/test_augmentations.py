"""The augmentation benchmark's variants: each extra alone over shifts and rotations at their defaults."""

from __future__ import annotations

import dataclasses

import pytest

from search.bench.augmentations import NAMES, variants
from search.presets import PRESETS
from space import SpaceConfig


@pytest.fixture
def default_space() -> SpaceConfig:
    return SpaceConfig(**PRESETS["default"]["space"])


def test_the_space_variant_is_the_runs_own_and_shifts_is_bare(default_space):
    out = variants(default_space)
    # The preset turns augmentation on in the retrain; the benchmark retrains so too.
    assert out["space"] == dataclasses.replace(default_space, augment=True)
    bare = out["shifts"]
    # Only the network's ranges carried over: every augmentation amount is back at its default.
    amounts = (bare.augment_strokes, bare.augment_noise, bare.augment_zoom, bare.augment_zoom_out, bare.augment_shrink)
    assert amounts == (0, 0, 0, 0, 0)
    assert (bare.augment_shift, bare.augment_rotation) == (0.08, 0.03)
    assert (bare.filters_min, bare.filters_doubling) == (default_space.filters_min, default_space.filters_doubling)


def test_each_extra_changes_only_its_own_fields_and_all_sets_every_one(default_space):
    out = variants(default_space)
    bare = out["shifts"].to_dict()
    changed = {name: {k for k, v in out[name].to_dict().items() if bare.get(k) != v} for name in out}
    assert changed["strokes"] == {"augment_strokes"}
    assert changed["noise"] == {"augment_noise"}
    assert changed["zoom"] == {"augment_zoom"}
    assert changed["shrink"] == {"augment_shrink"}
    assert changed["hairline"] == {"augment_hairline"}
    assert changed["moves"] == {"augment_shift", "augment_rotation"}
    assert changed["wide"] == {"augment_shift", "augment_rotation", "augment_zoom_out"}
    extras = ("strokes", "noise", "zoom", "shrink", "hairline", "moves")
    assert changed["all"] == set().union(*(changed[n] for n in extras))
    assert set(out) == set(NAMES)


def test_all_is_the_default_presets_augmentation(default_space):
    assert variants(default_space)["all"] == dataclasses.replace(default_space, augment=True)
