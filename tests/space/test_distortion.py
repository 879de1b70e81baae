"""Elastic distortion: each image moved by its own smooth field of the size asked, digits kept whole,
applied to training batches in the input pipeline only where the space asks for it."""

from __future__ import annotations

import dataclasses

import keras
import keras_tuner as kt
import numpy as np
import pytest

from space import CNNHyperModel, SpaceConfig
from space.distortion import elastic_distortion
from space.feeding import batches
from space.hypermodel import training_distortion

EDGE = 8  # pixels of margin where zeros coming in from outside the image could bend the ramp


def _ramps(count: int) -> np.ndarray:
    """`count` images whose pixels hold 10 times their column plus `rows` times their row."""
    ramp = np.arange(28, dtype=np.float32) * 10
    return np.repeat(ramp[None, None, :, None], count, axis=0).repeat(28, axis=1)


def _moves(images: np.ndarray, pixels: float, seed=(1, 2)) -> np.ndarray:
    """How far each inner pixel's value moved, in pixels of the ramp: bilinear resampling of a
    linear image is exact, so the change is the field's move itself."""
    moved = elastic_distortion(images, pixels, seed=seed).numpy()
    return ((moved - images) / 10)[:, EDGE:-EDGE, EDGE:-EDGE, 0]


@pytest.mark.parametrize("pixels", [0.5, 1.5])
def test_pixels_move_by_the_standard_deviation_asked(pixels):
    moves = _moves(_ramps(64), pixels)
    assert moves.std() == pytest.approx(pixels, rel=0.2)
    assert abs(moves.mean()) < 0.2 * pixels
    assert not np.allclose(moves, _moves(_ramps(64), pixels, seed=(5, 6)))


def test_the_two_directions_are_independent_fields():
    # Keras' RandomElasticTransform (3.15) moves every pixel along a diagonal: one seed draws both.
    across = _ramps(64)
    diagonal = across + np.transpose(across, (0, 2, 1, 3))  # 10 x (column + row): the two moves add up
    total = _moves(diagonal, 1.0)
    # One field for both would move the sum by twice it (std 2); two independent ones by sqrt(2).
    assert total.std() == pytest.approx(np.sqrt(2), rel=0.15)


def test_each_image_gets_its_own_field_a_seed_repeats_it_and_zero_pixels_changes_nothing(batch):
    x = np.repeat(batch[0][:1], 4, axis=0)
    moved = elastic_distortion(x, 1.0, seed=(7, 8)).numpy()
    assert all(not np.allclose(moved[0], moved[i]) for i in range(1, 4))
    np.testing.assert_array_equal(elastic_distortion(x, 1.0, seed=(7, 8)).numpy(), moved)
    np.testing.assert_array_equal(elastic_distortion(x, 0.0).numpy(), x.astype(np.float32))


def test_digits_keep_their_ink_and_the_background_stays_black(batch):
    x = batch[0]
    moved = elastic_distortion(x, 1.0, seed=(9, 10)).numpy()
    assert moved.dtype == np.float32 and moved.shape == x.shape
    assert moved.min() >= 0 and moved.max() <= 255.001
    ink = lambda images: images.astype(np.float64).sum(axis=(1, 2, 3))  # noqa: E731
    # Locally the field stretches or squeezes strokes (a quarter more or less ink); on the whole it keeps them.
    np.testing.assert_allclose(ink(moved), ink(x), rtol=0.4)
    assert ink(moved).sum() == pytest.approx(ink(x).sum(), rel=0.05)
    assert (moved[:, :2, :2] == 0).all()  # MNIST's corners are background, and stay so
    assert not np.allclose(moved, x)


def test_the_pipeline_distorts_every_training_batch_a_partial_one_too_and_keeps_the_labels(batch):
    x, y = batch[0][:12], batch[1][:12]
    distort = training_distortion(SpaceConfig(augment=True, augment_elastic=1.0))
    sizes, seen = [], []
    for images, labels in batches(x, y, batch_size=5, distort=distort):
        sizes.append(len(labels))
        seen.append(images.numpy())
        np.testing.assert_array_equal(labels.numpy(), y[sum(sizes[:-1]) : sum(sizes)])
    assert sizes == [5, 5, 2]
    assert not np.allclose(np.concatenate(seen), x)
    # Under a global seed (the retrain sets one) each epoch still draws new fields, and the seed repeats them.
    keras.utils.set_random_seed(4)
    data = batches(x, y, batch_size=12, distort=distort)
    first, second = (next(iter(data))[0].numpy() for _ in range(2))
    assert not np.allclose(first, second)
    keras.utils.set_random_seed(4)
    np.testing.assert_array_equal(next(iter(batches(x, y, batch_size=12, distort=distort)))[0].numpy(), first)


def test_distortion_belongs_to_the_augmentation_and_trains_a_hypermodel(batch):
    space = SpaceConfig(
        conv_blocks_min=1, conv_blocks_max=1, filters_min=8, filters_max=8, batch_size_min=32, learning_rate_max=0.05
    )
    assert training_distortion(space) is None
    assert training_distortion(dataclasses.replace(space, augment_elastic=1.0)) is None  # needs augment
    assert training_distortion(dataclasses.replace(space, augment=True)) is None  # and an amount
    elastic = dataclasses.replace(space, augment=True, augment_elastic=1.0)
    keras.utils.set_random_seed(0)
    hp = kt.HyperParameters()
    hp.values = {"learning_rate": 0.05}
    hypermodel = CNNHyperModel(elastic)
    model = hypermodel.build(hp)
    x, y = batch
    history = hypermodel.fit(hp, model, x, y, epochs=4, validation_data=(x, y), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def _batch(n: int = 200) -> np.ndarray:
    from search.data import load_digits

    return load_digits().x_train[:n].astype(np.float32)


def test_stroke_width_thins_two_thirds_and_thickens_a_third_of_its_share():
    from space.distortion import stroke_width

    images = _batch()
    out = stroke_width(images, 1.0, seed=[1, 2]).numpy()
    ink, changed = images.sum(axis=(1, 2, 3)), out.sum(axis=(1, 2, 3))
    thinner, thicker = np.mean(changed < ink), np.mean(changed > ink)
    assert thinner + thicker == 1.0  # every image changed
    assert 0.55 < thinner < 0.78  # two thirds thinned (200 draws)
    half = stroke_width(images, 0.5, seed=[1, 2]).numpy()
    assert 0.35 < np.mean([np.array_equal(a, b) for a, b in zip(half, images, strict=True)]) < 0.65
    assert np.array_equal(stroke_width(images, 0.0, seed=[1, 2]).numpy(), images)
    assert np.array_equal(out, stroke_width(images, 1.0, seed=[1, 2]).numpy())


def test_sensor_noise_stays_in_range_below_its_most_and_leaves_the_rest_of_its_share_clean():
    from space.distortion import sensor_noise

    images = _batch()
    out = sensor_noise(images, 40.0, seed=[5, 6]).numpy()
    assert out.min() >= 0 and out.max() <= 255
    # Where the image is mid-grey nothing clips; elsewhere clipping only shrinks the change.
    spread = (out - images).reshape(len(images), -1).std(axis=1)
    assert 0.35 < np.mean(spread == 0) < 0.65  # half the images clean (200 draws)
    assert spread.max() < 40 * 1.2 and np.median(spread[spread > 0]) > 2
    everyone = sensor_noise(images, 40.0, seed=[5, 6], share=1.0).numpy()
    assert np.all((everyone - images).reshape(len(images), -1).std(axis=1) > 0)
    assert not np.array_equal(out, sensor_noise(images, 40.0, seed=[5, 7]).numpy())


def _ink_rows(images: np.ndarray) -> np.ndarray:
    """How many rows of each image hold ink (the digit's height in pixels)."""
    return (images[..., 0] > 64).any(axis=2).sum(axis=1)


def test_shrink_writes_its_share_smaller_about_the_centre_and_leaves_the_rest():
    from space.distortion import SHRINK_RANGE, shrink

    images = _batch()
    out = shrink(images, 1.0, seed=[7, 8]).numpy()
    ratio = _ink_rows(out) / _ink_rows(images)
    # Heights come in whole rows: a pixel either way of the scale drawn.
    assert ratio.min() > SHRINK_RANGE[0] - 0.12 and ratio.max() < SHRINK_RANGE[1] + 0.08
    assert ratio.max() - ratio.min() > 0.2  # each image its own scale
    assert out.min() >= 0 and out.max() <= 255
    # About the centre: the ink's middle row stays near the original's, pulled towards row 13.5.
    rows = np.arange(28)[None, :]
    middle = lambda a: (a[..., 0].sum(axis=2) * rows).sum(axis=1) / a[..., 0].sum(axis=(1, 2))  # noqa: E731
    assert np.all(np.abs(middle(out) - 13.5) <= np.abs(middle(images) - 13.5) + 0.5)
    half = shrink(images, 0.5, seed=[7, 8]).numpy()
    assert 0.35 < np.mean([np.array_equal(a, b) for a, b in zip(half, images, strict=True)]) < 0.65
    assert np.array_equal(shrink(images, 0.0, seed=[7, 8]).numpy(), images)


def test_hairline_redraws_its_share_as_lines_inside_the_ink_at_full_strength():
    from space.distortion import hairline

    images = _batch()
    out = hairline(images, 1.0, seed=[9, 10]).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    line, ink = out > 128, images > 0
    # The centre line lies within the strokes and holds much less ink than they do.
    assert not np.any(line & ~ink)
    assert np.all(line.sum(axis=(1, 2, 3)) < 0.6 * (images > 128).sum(axis=(1, 2, 3)))
    assert np.allclose(out.max(axis=(1, 2, 3)), 255, atol=0.01)
    half = hairline(images, 0.5, seed=[9, 10]).numpy()
    assert 0.35 < np.mean([np.array_equal(a, b) for a, b in zip(half, images, strict=True)]) < 0.65
    assert np.array_equal(half, hairline(images, 0.5, seed=[9, 10]).numpy())
    blank = np.zeros((2, 28, 28, 1), np.float32)
    assert np.array_equal(hairline(blank, 1.0, seed=[9, 10]).numpy(), blank)


def test_the_training_distortion_applies_what_the_space_sets():
    from space import SpaceConfig
    from space.hypermodel import training_distortion

    assert training_distortion(SpaceConfig(augment=True)) is None
    assert training_distortion(SpaceConfig(augment=False, augment_strokes=0.5)) is None
    distort = training_distortion(SpaceConfig(augment=True, augment_strokes=0.5, augment_noise=20))
    images = _batch(32)
    out = distort(images, np.array([3, 4], dtype=np.int64)).numpy()
    assert out.shape == images.shape and not np.array_equal(out, images)
    shrinking = training_distortion(SpaceConfig(augment=True, augment_shrink=1.0))
    assert np.all(_ink_rows(shrinking(images, np.array([3, 4], dtype=np.int64)).numpy()) < _ink_rows(images))


def test_stroke_width_erodes_and_dilates_by_the_cross_as_scipy_does():
    from scipy import ndimage

    from space.distortion import stroke_width

    images = _batch(50)
    cross = ndimage.generate_binary_structure(2, 1)[..., None]
    out = stroke_width(images, 1.0, seed=[3, 4], thinned=1.0).numpy()
    assert np.array_equal(out, np.stack([ndimage.grey_erosion(i, footprint=cross) for i in images]))
    out = stroke_width(images, 1.0, seed=[3, 4], thinned=0.0).numpy()
    assert np.array_equal(out, np.stack([ndimage.grey_dilation(i, footprint=cross) for i in images]))
