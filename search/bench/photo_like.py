"""Photo-like pictures of handwritten digits, made from clean MNIST-style digits, for measuring how
well digits are read from people's photos against the same digits in clean form.

Each picture is a digit (or a number of 3 to 5 digits side by side, with gaps from touching to
wide) written in dark ink on paper, under one condition:

- plain: grey paper with grain;
- uneven_light: plain, under a light gradient and a soft shadow (down to 45% of the light);
- ruled: plain, with a notebook's ruled lines (and sometimes its margin line) that the ink may cross;
- grid: plain, on squared paper;
- shadow: plain, partly under the shadow of something between the lamp and the page (a hand, the
  phone), its edge at any angle, sharp or blurred, and 30-55% of the light gone;
- boxes: plain, each digit written in its own box of a form (separate boxes or a row sharing sides).

Every picture is also photographed: a random size and off-centre place, a slight tilt of the
lines, blur, sensor noise and JPEG compression.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image
from scipy import ndimage

from results.photos import ink_at_height

CONDITIONS = ("plain", "uneven_light", "ruled", "grid", "shadow", "boxes")


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


def _cast_shadow(shape: tuple[int, int], digit_height: int, rng: np.random.Generator) -> np.ndarray:
    """The light left on the page (0-1) under a cast shadow: a straight edge at any angle through the
    middle third of the page, from sharp to blurred over a fifth of a digit's height."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    across = (xx - rng.uniform(1 / 3, 2 / 3) * width) * np.cos(angle) + (
        yy - rng.uniform(1 / 3, 2 / 3) * height
    ) * np.sin(angle)
    blur = rng.uniform(0.5, 0.2 * digit_height)
    return 1 - rng.uniform(0.3, 0.55) / (1 + np.exp(-np.clip(across / blur, -50, 50)))


def _form_boxes(
    shape: tuple[int, int], boxes: list, cell: float, band: tuple[float, float], left: int, slope: float, rng
) -> np.ndarray:
    """How much of the light a form's printed boxes take (0-1): a box `cell` wide round each digit of
    `boxes`, from row band[0] to band[1] at the row's start `left`, climbing `slope`; apart, or for
    several digits sometimes a row sharing sides; outlines 1-3 pixels wide."""
    from PIL import ImageDraw

    inset = 0.0 if len(boxes) > 1 and rng.random() < 0.5 else rng.uniform(0.03, 0.1) * cell
    lines = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(lines)
    width = int(rng.integers(1, 4))
    for x0, _, x1, _ in boxes:
        ends = ((x0 + x1) / 2 - cell / 2 + inset, (x0 + x1) / 2 + cell / 2 - inset)
        corners = [(x, y + (x - left) * slope) for y in band for x in (ends if y == band[0] else ends[::-1])]
        draw.line([*corners, corners[0]], fill=255, width=width)
    return rng.uniform(0.3, 0.75) * np.asarray(lines, dtype=np.float64) / 255.0


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
    each digit a little larger or smaller and higher or lower than its neighbours; in a form's
    boxes, each digit about the middle of a box 1.2-1.5 times its height wide, the row tilted up
    to 3 degrees.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    several = len(images) > 1
    height = int(rng.integers(40, 101 if several else 121))
    inks = [
        ink_at_height(image, max(12, round(height * (rng.uniform(0.9, 1.1) if several else 1)))) for image in images
    ]
    slope, margin, aside = 0.0, 0.0, 0
    if condition == "boxes":  # each digit about the middle of its box
        cell = max(rng.uniform(1.2, 1.5) * height, max(ink.shape[1] for ink in inks) + 0.15 * height)
        gaps = [round(cell - (a.shape[1] + b.shape[1]) / 2) for a, b in zip(inks[:-1], inks[1:], strict=True)]
        slope, margin, aside = np.tan(np.deg2rad(rng.uniform(-3, 3))), 0.3 * height, round(cell / 2)
    else:
        gaps = [round(rng.uniform(-0.05, 0.5) * height) for _ in inks[1:]]
    span = sum(ink.shape[1] for ink in inks) + sum(gaps)
    tallest = max(ink.shape[0] for ink in inks)
    climb = slope * span
    page_width = round(span + rng.uniform(0.6, 2.0 if several else 3.0) * height) + 2 * aside
    page_height = round(
        tallest * (rng.uniform(1.6, 2.6) if several else rng.uniform(2.0, 4.0)) + abs(climb) + 2 * margin
    )
    line_gap = height * rng.uniform(1.1, 1.6)
    page = _paper((page_height, page_width), condition, rng, line_gap)

    x = left = int(rng.integers(aside, page_width - span - aside + 1))
    lowest = round(tallest + margin + max(0.0, -climb))
    baseline = int(rng.integers(lowest, max(lowest, round(page_height - margin - max(0.0, climb))) + 1))
    ink_layer = np.zeros_like(page)
    boxes = []
    for i, ink in enumerate(inks):
        h, w = ink.shape
        y = int(np.clip(baseline - h + rng.normal(0, 0.04 * height) + (x - left) * slope, 0, page_height - h))
        ink_layer[y : y + h, x : x + w] = np.maximum(ink_layer[y : y + h, x : x + w], ink)
        boxes.append((x, y, x + w, y + h))
        x += w + (gaps[i] if i < len(gaps) else 0)
    page *= 1 - rng.uniform(0.6, 0.85) * ink_layer
    if condition == "shadow":
        page *= _cast_shadow(page.shape, height, rng)
    if condition == "boxes":
        band = (baseline - tallest - rng.uniform(0.1, 0.25) * height, baseline + rng.uniform(0.1, 0.25) * height)
        page *= 1 - _form_boxes(page.shape, boxes, cell, band, left, slope, rng)
    return Picture(_photograph(page, height, rng), [int(d) for d in labels], boxes)
