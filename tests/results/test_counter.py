"""The digit counter (results/photos/counter.py): the shipped network on groups of real MNIST test digits it
never saw, and scripts/train_counter.py retraining it from an MNIST file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from results.photos.counter import COUNTS, HEIGHT, WIDTH, count_shares, group_image, shipped_counter, training_set

ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = ROOT / "scripts" / "train_counter.py"


def test_a_group_keeps_its_aspect_in_the_counters_input():
    wide = np.zeros((40, 100))
    wide[5:35, 10:90] = 200.0
    tall = np.zeros((100, 30))
    tall[10:90, 5:25] = 200.0
    for ink in (wide, tall):
        image = group_image(ink)
        assert image.shape == (HEIGHT, WIDTH) and image.dtype == np.uint8 and image.max() == 255
        rows, cols = np.flatnonzero(image.max(axis=1) > 127), np.flatnonzero(image.max(axis=0) > 127)
        box_aspect = (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)
        assert box_aspect == pytest.approx(ink.any(axis=0).sum() / ink.any(axis=1).sum(), rel=0.15)


def test_the_shipped_counter_tells_one_digit_from_touching_ones(mnist_slice):
    # Groups composed from MNIST's test digits: the counter trained on its training digits alone.
    images, truth = training_set(mnist_slice.x_test, 900, seed=3)
    counted = count_shares(shipped_counter(), images).argmax(axis=1)
    right = {COUNTS[c]: float((counted[truth == c] == c).mean()) for c in range(len(COUNTS))}
    assert right[1] >= 0.97 and right[2] >= 0.93 and right[3] >= 0.8, right


def test_the_counter_is_retrained_from_an_mnist_file(tmp_path, small, write_npz):
    import keras

    data = write_npz(tmp_path / "mnist.npz", **small.as_dict())
    out = tmp_path / "counter.keras"
    done = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--data", str(data), "--out", str(out), "--groups", "300", "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout and "counted right" in done.stdout
    shares = count_shares(keras.saving.load_model(out), np.zeros((2, HEIGHT, WIDTH), np.uint8))
    assert shares.shape == (2, len(COUNTS)) and np.allclose(shares.sum(axis=1), 1, atol=1e-4)
    assert not list(tmp_path.glob(".*.tmp*")), "a temporary file was left behind"


def test_a_bad_data_file_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz")
    out = tmp_path / "counter.keras"
    done = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--data", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
