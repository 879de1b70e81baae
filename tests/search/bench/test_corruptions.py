"""`bench.py --corruptions`: the corrupted test digits, and the benchmark through the command line."""

from __future__ import annotations

import json

import numpy as np
from scipy import ndimage

from runs import ROOT, run_cli
from search.bench.corruptions import CORRUPTIONS, corrupted
from search.data import load_digits

BENCH_SCRIPT = ROOT / "scripts" / "bench.py"


def _digits(n: int = 40) -> np.ndarray:
    return load_digits().x_test[:n, ..., 0]


def test_each_corruption_is_repeatable_and_changes_the_digits():
    images = _digits()
    for name in CORRUPTIONS:
        once, again = corrupted(images, name, seed=3), corrupted(images, name, seed=3)
        assert once.dtype == np.uint8 and once.shape == images.shape, name
        assert np.array_equal(once, again), name
        assert not np.array_equal(once, images), name


def test_strokes_thin_and_thicken_by_a_pixel_each_side():
    images = _digits()
    ink = (images > 128).sum(axis=(1, 2))
    thinner = (corrupted(images, "thin") > 128).sum(axis=(1, 2))
    thicker = (corrupted(images, "thick") > 128).sum(axis=(1, 2))
    assert np.all(thinner <= ink) and np.all(thicker >= ink)
    assert np.median(thinner / ink) < 0.6 and np.median(thicker / ink) > 1.4
    hairline = corrupted(images, "hairline")
    # One pixel wide: eroding it by a pixel each side leaves almost nothing strong, where the digits
    # themselves keep much of their ink.
    cross = ndimage.generate_binary_structure(2, 1)[None]
    assert (ndimage.grey_erosion(hairline, footprint=cross) > 128).sum() < 0.05 * (hairline > 128).sum()
    assert (ndimage.grey_erosion(images, footprint=cross) > 128).sum() > 0.3 * (images > 128).sum()


def test_small_digits_are_smaller_and_shifts_move_the_centre():
    images = _digits()

    def height(image):
        rows = np.flatnonzero(image.max(axis=1) > 64)
        return rows[-1] - rows[0] + 1

    small = corrupted(images, "small")
    assert np.median([height(s) / height(i) for s, i in zip(small, images, strict=True)]) < 0.7
    moved = corrupted(images, "shift")
    centres = np.array([ndimage.center_of_mass(m) for m in moved]) - [ndimage.center_of_mass(i) for i in images]
    assert np.median(np.abs(centres)) > 2


def test_the_benchmark_reads_every_corruption_of_a_run(digits_run, tmp_path):
    done = run_cli("--corruptions", digits_run, script=BENCH_SCRIPT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "bench_corruptions.json").read_text())
    scores = {s["corruption"]: s for s in record["corruptions"]}
    assert list(scores) == list(CORRUPTIONS)
    tested = json.loads((digits_run / "metrics.json").read_text())["test_accuracy"]
    # The clean figure is the run's own test accuracy, read again by the benchmark.
    assert all(s["clean_accuracy"] == tested and s["count"] == 360 for s in scores.values())
    assert all(0 <= s["accuracy"] <= 1 for s in scores.values())
    assert "worst:" in done.stdout and all(name in done.stdout for name in CORRUPTIONS)


def test_a_missing_run_is_one_line(tmp_path):
    done = run_cli("--corruptions", tmp_path / "nothing", script=BENCH_SCRIPT, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bench_corruptions.json").exists()
