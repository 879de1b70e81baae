"""Turning a photo or scan of one digit into what the model was trained on: MNIST's convention.

MNIST digits are light ink on black, their ink box scaled into 20x20 pixels (aspect kept), placed in
a 28x28 image with the centre of mass at the centre; pixels are raw 0-255 (the model rescales).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

SIZE = 28
BOX = 20
INK_THRESHOLD = 0.25  # of the ink's full strength: fainter pixels are paper noise when finding the box


class ImageError(ValueError):
    """A file that is not an image, or an image with no digit in it."""


def read_greyscale(path: str | Path) -> np.ndarray:
    """The image at `path` as greyscale floats 0-255; transparent parts count as white paper."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                image = image.convert("RGBA")
                paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(paper, image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and float scans: convert("L") would clip
                grey = np.asarray(image, dtype=np.float64)
                top = 65535.0 if image.mode.startswith("I;16") else max(grey.max(), 1.0)
                return np.clip(grey * (255.0 / top), 0, 255)
            return np.asarray(image.convert("L"), dtype=np.float64)
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
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = ink.shape
    scale = BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(ink.astype(np.uint8)).resize(new_size, resample), dtype=np.float64)
    # Resampling averages the strokes down; MNIST's digits reach full strength, so stretch back to 255.
    small *= 255.0 / max(small.max(), 1.0)

    out = np.zeros((SIZE, SIZE))
    top, left = (SIZE - small.shape[0]) // 2, (SIZE - small.shape[1]) // 2
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
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
