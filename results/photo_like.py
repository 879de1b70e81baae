"""Photo-like pictures of handwritten digits, made from clean MNIST-style digits, for measuring how
well digits are read from people's photos against the same digits in clean form.

Each picture is a digit (or a number of 3 to 5 digits side by side, with gaps from touching to
wide) written in dark ink on paper, under one condition:

- plain: grey paper with grain;
- uneven_light: plain, under a light gradient and a soft shadow (down to 45% of the light);
- ruled: plain, with a notebook's ruled lines (and sometimes its margin line) that the ink may cross;
- grid: plain, on squared paper.

Every picture is also photographed: a random size and off-centre place, a slight tilt of the
lines, blur, sensor noise and JPEG compression.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image
from scipy import ndimage

CONDITIONS = ("plain", "uneven_light", "ruled", "grid")


@dataclasses.dataclass
class Picture:
    """A photo-like greyscale picture (uint8), the digits written on it left to right, and their boxes
    (x0, y0, x1, y1) in its pixels."""

    pixels: np.ndarray
    digits: list[int]
    boxes: list[tuple[int, int, int, int]]

    @property
    def number(self) -> str:
        return "".join(map(str, self.digits))


def _ink_at_height(image: np.ndarray, height: int) -> np.ndarray:
    """A clean MNIST-style digit (light on dark) cut to its ink and scaled to `height` pixels tall, 0-1."""
    rows = np.flatnonzero(image.max(axis=1) > 30)
    cols = np.flatnonzero(image.max(axis=0) > 30)
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    width = max(1, round(ink.shape[1] * height / ink.shape[0]))
    big = Image.fromarray(ink, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float64) / 255.0, 0, 1)


def _paper(shape: tuple[int, int], condition: str, rng: np.random.Generator, line_gap: float) -> np.ndarray:
    """Paper's brightness (0-255) with its lines and lighting, before the ink."""
    height, width = shape
    paper = np.full(shape, rng.uniform(170, 235))
    grain = ndimage.gaussian_filter(rng.normal(0, 6, shape), 1.5)
    paper += grain
    yy, xx = np.mgrid[0:height, 0:width]
    if condition in ("ruled", "grid"):
        tilt = np.tan(np.deg2rad(rng.uniform(-3, 3)))
        thickness = rng.uniform(1.0, 2.8)
        darkness = rng.uniform(0.18, 0.4)
        phase = rng.uniform(0, line_gap)
        distance = np.abs(((yy - xx * tilt - phase) + line_gap / 2) % line_gap - line_gap / 2)
        lines = np.clip(thickness / 2 + 0.5 - distance, 0, 1)
        if condition == "grid":
            across = np.abs(((xx + yy * tilt - phase) + line_gap / 2) % line_gap - line_gap / 2)
            lines = np.maximum(lines, np.clip(thickness / 2 + 0.5 - across, 0, 1))
        elif rng.random() < 0.4:  # a margin line down the page
            margin = rng.uniform(0.05, 0.2) * width
            lines = np.maximum(lines, np.clip(thickness / 2 + 0.5 - np.abs(xx + yy * tilt - margin), 0, 1))
        paper *= 1 - darkness * lines
    if condition == "uneven_light":
        angle = rng.uniform(0, 2 * np.pi)
        along = (xx * np.cos(angle) + yy * np.sin(angle)) / max(height, width)
        along = (along - along.min()) / max(np.ptp(along), 1e-9)
        light = 1 - rng.uniform(0.35, 0.55) * along
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.3, 0.6) * max(height, width)
        light *= 1 - rng.uniform(0.1, 0.3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        paper *= light
    return paper


def _photograph(page: np.ndarray, digit_height: int, rng: np.random.Generator) -> np.ndarray:
    """The page as a phone camera gives it: blur, sensor noise and JPEG compression."""
    page = ndimage.gaussian_filter(page, rng.uniform(0.0, 1.2) * digit_height / 60)
    page = page + rng.normal(0, rng.uniform(2, 6), page.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(page), 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=int(rng.integers(40, 91))
    )
    buffer.seek(0)
    with Image.open(buffer) as jpeg:
        return np.asarray(jpeg.convert("L"))


def make_picture(images: list[np.ndarray], labels: list[int], condition: str, rng: np.random.Generator) -> Picture:
    """A photo-like picture of `images` (clean MNIST-style digits) written left to right under `condition`.

    One image: a digit 40-120 pixels tall, anywhere on a page 2 to 4 times its size. Several: a
    number 40-100 pixels tall, the digits' gaps from touching (-5% of the height) to wide (50%),
    each digit a little larger or smaller and higher or lower than its neighbours.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    several = len(images) > 1
    height = int(rng.integers(40, 101 if several else 121))
    inks = [
        _ink_at_height(image, max(12, round(height * (rng.uniform(0.9, 1.1) if several else 1)))) for image in images
    ]
    gaps = [round(rng.uniform(-0.05, 0.5) * height) for _ in inks[1:]]
    span = sum(ink.shape[1] for ink in inks) + sum(gaps)
    tallest = max(ink.shape[0] for ink in inks)
    page_width = round(span + rng.uniform(0.6, 2.0 if several else 3.0) * height)
    page_height = round(tallest * (rng.uniform(1.6, 2.6) if several else rng.uniform(2.0, 4.0)))
    line_gap = height * rng.uniform(1.1, 1.6)
    page = _paper((page_height, page_width), condition, rng, line_gap)

    x = int(rng.integers(0, page_width - span + 1))
    baseline = int(rng.integers(tallest, page_height + 1))
    ink_layer = np.zeros_like(page)
    boxes = []
    for i, ink in enumerate(inks):
        h, w = ink.shape
        y = int(np.clip(baseline - h + rng.normal(0, 0.04 * height), 0, page_height - h))
        ink_layer[y : y + h, x : x + w] = np.maximum(ink_layer[y : y + h, x : x + w], ink)
        boxes.append((x, y, x + w, y + h))
        x += w + (gaps[i] if i < len(gaps) else 0)
    page *= 1 - rng.uniform(0.6, 0.85) * ink_layer
    return Picture(_photograph(page, height, rng), [int(d) for d in labels], boxes)
