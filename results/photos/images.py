"""Turning a photo or scan of digits into what the model was trained on: MNIST's convention.

`find_digits_in` cleans a photo (results/photos/paper.py), finds its digits left to right
(results/photos/segment.py) and brings each into the convention; `to_mnist` does the same for an image
already holding one clean digit.

MNIST digits are light ink on black, their ink box scaled into 20x20 pixels (aspect kept), placed in
a 28x28 image with the centre of mass at the centre; pixels are raw 0-255 (the model rescales).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from results.photos.counter import group_image
from results.photos.ink_box import centred_in, scaled_into
from results.photos.paper import clean_ink
from results.photos.segment import find_digits, joined

SIZE = 28
BOX = 20
INK_THRESHOLD = 0.25  # of the ink's full strength: fainter pixels are paper noise when finding the box


class ImageError(ValueError):
    """A file that is not an image, or an image with no digit in it."""


# Decoding an image costs about 10 bytes a pixel here, and the cleaning several times that; a phone's
# photo is 12-50 million pixels. Pillow's own guard (DecompressionBombError) starts at 179 million.
MAX_PIXELS = 64_000_000


def read_greyscale(source: str | Path | bytes) -> np.ndarray:
    """The image file at `source` (a path, or the file's bytes) as greyscale floats 0-255; transparent
    parts count as white paper. An image of over MAX_PIXELS pixels is refused from its header, before
    it is decoded."""
    source = io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source)
    try:
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(
                    f"{image.width}x{image.height} pixels is over the {MAX_PIXELS // 1_000_000} million this reads"
                )
            image.load()
            image = ImageOps.exif_transpose(image)  # a phone's portrait photo is stored turned, with a tag
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                image = image.convert("RGBA")
                paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(paper, image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and float scans: convert("L") would clip
                grey = np.asarray(image, dtype=np.float64)
                top = 65535.0 if image.mode.startswith("I;16") else max(grey.max(), 1.0)
                return np.clip(grey * (255.0 / top), 0, 255)
            return np.asarray(image.convert("L"), dtype=np.float64)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except IsADirectoryError:
        raise ImageError("is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file PIL can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"cannot read the image ({e})") from None


def to_mnist(grey: np.ndarray) -> np.ndarray:
    """A greyscale image of one digit (dark on light or light on dark, any size) as a 28x28 uint8 MNIST image."""
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise ImageError(f"expected a 2-D greyscale image, got shape {grey.shape}")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 127:  # light paper: make the ink the bright part, as in MNIST
        grey = 255.0 - grey
        border = 255.0 - border
    background = np.median(border)
    ink = np.clip(grey - background, 0, None)
    strength = ink.max()
    if strength < 16:
        raise ImageError("no digit found (the image is blank or has almost no contrast)")
    ink *= 255.0 / strength  # grey paper and pale pencil become MNIST's black and white

    rows = np.flatnonzero((ink > INK_THRESHOLD * 255).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD * 255).any(axis=0))
    return fit_into_mnist(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def fit_into_mnist(ink: np.ndarray) -> np.ndarray:
    """An ink crop (light ink on black, cut to the ink's box) as a 28x28 uint8 MNIST image: scaled into
    20x20 with its aspect kept, strokes back at full strength, centre of mass at the centre."""
    small = scaled_into(np.clip(ink, 0, 255), (BOX, BOX))
    out, top, left = centred_in(small, (SIZE, SIZE))
    if out.sum() > 0:
        cy, cx = ndimage.center_of_mass(out)
        # Whole-pixel shifts keep the strokes sharp; the limits keep the ink inside the frame.
        dy = int(np.clip(round(SIZE / 2 - cy), -top, SIZE - top - small.shape[0]))
        dx = int(np.clip(round(SIZE / 2 - cx), -left, SIZE - left - small.shape[1]))
        out = ndimage.shift(out, (dy, dx), order=0, mode="constant", cval=0.0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_digit(path: str | Path) -> np.ndarray:
    """The digit image at `path` as a 28x28 uint8 MNIST image (raises ImageError)."""
    return to_mnist(read_greyscale(path))


@dataclasses.dataclass
class FoundDigit:
    """One digit found in a photo: its 28x28 MNIST image, its box in the photo's pixels
    (x0, y0, x1, y1; x1, y1 exclusive) and how it looked before scaling (for judging the answer)."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    aspect: float  # the ink's width / height
    fill: float  # the share of its box the ink covers
    cut_ink: float = 0.0  # when cut from touching digits: the ink the cut crossed / the height
    cut_strokes: int = 0  # and the separate strokes it crossed


class FoundGroup(list):
    """One group of ink in a photo: the ways to read it (each a list of FoundDigit, left to right; one
    digit, or touching digits cut apart, as results/photos/segment.py offers them), and `count_image`, the
    whole group at its own aspect for the digit counter (results/photos/counter.py)."""

    def __init__(self, ways: list[list[FoundDigit]], count_image: np.ndarray):
        super().__init__(ways)
        self.count_image = count_image


def find_digits_in(grey: np.ndarray) -> list[FoundGroup]:
    """The digits of a photo or scan (greyscale 0-255, any size), left to right, as groups of ink, each
    with its ways to be read. Every digit is in MNIST's convention. Raises ImageError when no ink is found."""
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise ImageError(f"expected a 2-D greyscale image, got shape {grey.shape}")
    if np.ptp(grey) < 16:
        raise ImageError("no digit found (the image is blank or has almost no contrast)")
    ink, mask, scale = clean_ink(grey)
    groups = find_digits(mask)
    if not groups:
        raise ImageError("no digit found (no ink stands out from the paper)")
    return [
        FoundGroup(
            [[_found(digit, ink, scale, grey.shape) for digit in way] for way in ways],
            group_image(_strokes_only(ink, joined(ways[0]))),
        )
        for ways in groups
    ]


def _strokes_only(ink: np.ndarray, digit) -> np.ndarray:
    """The ink's own shading inside the strokes of `digit` (a segment.Digit; widened by a pixel for their
    soft edges), and nothing else in its box: no ruled line, no neighbour's stroke."""
    x0, y0, x1, y1 = digit.box
    return np.where(ndimage.binary_dilation(digit.mask, iterations=1), ink[y0:y1, x0:x1], 0.0)


def _found(digit, ink: np.ndarray, scale: float, shape: tuple[int, int]) -> FoundDigit:
    x0, y0, x1, y1 = digit.box
    crop = _strokes_only(ink, digit)
    height, width = shape
    box = (
        max(0, int(np.floor(x0 / scale))),
        max(0, int(np.floor(y0 / scale))),
        min(width, int(np.ceil(x1 / scale))),
        min(height, int(np.ceil(y1 / scale))),
    )
    aspect, fill = digit.width / digit.height, float(digit.mask.mean())
    return FoundDigit(fit_into_mnist(crop), box, aspect, fill, digit.cut_ink, digit.cut_strokes)
