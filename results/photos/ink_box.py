"""Framing a crop of ink the way the models read it: scaled into a box with its aspect kept, at full
strength, on black. MNIST's digits (images.py) and the digit counter's groups
(counter.py) are both framed so; `ink_at_height` cuts a clean digit to its ink at a given height."""

from __future__ import annotations

import numpy as np
from PIL import Image


def scaled_into(ink: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """An ink crop (light on black, cut to the ink's box, any scale) scaled to fit `box` (height, width)
    with its aspect kept, its strongest ink stretched to 255 (floats)."""
    height, width = ink.shape
    scale = min(box[0] / height, box[1] / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    small = Image.fromarray(np.clip(ink, 0, None).astype(np.float32), mode="F").resize(size, resample)
    small = np.clip(np.asarray(small, dtype=np.float64), 0, None)
    # Resampling averages the strokes down; the models' training ink reaches full strength.
    return small * (255.0 / max(float(small.max()), 1e-6))


def centred_in(small: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """`small` pasted at the centre of a black image of `shape`, with the top and left it was pasted at."""
    out = np.zeros(shape)
    top, left = (shape[0] - small.shape[0]) // 2, (shape[1] - small.shape[1]) // 2
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return out, top, left


def ink_at_height(image: np.ndarray, height: int) -> np.ndarray:
    """A clean MNIST-style digit (light on dark) cut to its ink and scaled to `height` pixels tall, 0-1."""
    rows = np.flatnonzero(image.max(axis=1) > 30)
    cols = np.flatnonzero(image.max(axis=0) > 30)
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    width = max(1, round(ink.shape[1] * height / ink.shape[0]))
    big = Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float64) / 255.0, 0, 1)
