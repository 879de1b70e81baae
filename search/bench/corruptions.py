"""How well a model reads MNIST-style digits that people's pens and cameras change: thin and thick
strokes, sensor noise, blur, faint ink, shifts, rotations and scale. `python scripts/bench.py
--corruptions RUN_DIR` prints the table and writes bench_corruptions.json.

Each corruption is made here with SciPy and scikit-image on the run's test digits (28x28, light ink
on black, as the model takes them), independently of the retrain's own augmentation (space/), so
that the benchmark never measures the training code against itself. Every corruption is seeded:
the same digits are changed the same way in every run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

CROSS = ndimage.generate_binary_structure(2, 1)  # the 3x3 cross: one pixel off each side of a stroke


def thin(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fine pen: the strokes eroded by one pixel each side (grey erosion with a 3x3 cross)."""
    return ndimage.grey_erosion(image, footprint=CROSS)


def hairline(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The finest pen: the stroke's centre line, one pixel wide and softened at its edges."""
    line = skeletonize(image > 96).astype(np.float64) * 255
    soft = ndimage.gaussian_filter(line, 0.5)
    return soft * (255 / max(soft.max(), 1e-6))


def thick(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A marker: the strokes dilated by one pixel each side (grey dilation with a 3x3 cross)."""
    return ndimage.grey_dilation(image, footprint=CROSS)


def noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone camera's sensor noise in dim light: Gaussian, 70 of 255 levels."""
    return image + rng.normal(0, 70, image.shape)


def speckle(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dust and dropouts: 4% of the pixels set to a random level."""
    out = image.astype(np.float64).copy()
    hit = rng.random(image.shape) < 0.04
    out[hit] = rng.uniform(0, 255, int(hit.sum()))
    return out


def blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Out of focus: a Gaussian blur of 1 pixel, the ink brought back to full strength."""
    soft = ndimage.gaussian_filter(image.astype(np.float64), 1.0)
    return soft * (255 / max(soft.max(), 1e-6))


def faint(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pale ink: the strokes at 40% of their strength."""
    return image * 0.4


def shift(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Off centre: moved 3 pixels along each axis, each way at random."""
    rows, columns = rng.choice([-3, 3], size=2)
    return ndimage.shift(image.astype(np.float64), (rows, columns), order=0, cval=0)


def rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slanted: turned 20 degrees, either way at random."""
    return ndimage.rotate(image.astype(np.float64), rng.choice([-20, 20]), reshape=False, order=1, cval=0)


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` scaled by `factor` about its centre, same size (cropped or padded with black)."""
    centre = (np.array(image.shape) - 1) / 2
    matrix = np.eye(2) / factor
    return ndimage.affine_transform(image.astype(np.float64), matrix, offset=centre - matrix @ centre, order=1, cval=0)


def small(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Written small: scaled to 60% (12 pixels tall where MNIST's are 20)."""
    return _scaled(image, 0.6)


def large(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Written large: scaled to 125% (25 pixels tall), filling the frame."""
    return _scaled(image, 1.25)


CORRUPTIONS = {
    "thin": thin,
    "hairline": hairline,
    "thick": thick,
    "noise": noise,
    "speckle": speckle,
    "blur": blur,
    "faint": faint,
    "shift": shift,
    "rotate": rotate,
    "small": small,
    "large": large,
}


def corrupted(images: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """`images` (N, 28, 28) uint8 under the corruption `name`, as uint8; the same for the same seed."""
    rng = np.random.default_rng([seed, list(CORRUPTIONS).index(name)])
    change = CORRUPTIONS[name]
    out = np.stack([change(image, rng) for image in images])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclasses.dataclass
class Score:
    """A model's accuracy on one corruption of the test digits, and on the same digits clean."""

    corruption: str
    accuracy: float
    clean_accuracy: float
    count: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def measure(model, images: np.ndarray, labels: np.ndarray, names=tuple(CORRUPTIONS), seed: int = 0) -> list[Score]:
    """The accuracy of `model` (raw 0-255 pixels in) on each corruption of `images` (N, 28, 28) uint8."""
    clean = _accuracy(model, images, labels)
    return [Score(name, _accuracy(model, corrupted(images, name, seed), labels), clean, len(labels)) for name in names]


def _accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    probabilities = model.predict(images[..., None].astype("float32"), batch_size=512, verbose=0)
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def table(scores: list[Score]) -> str:
    """The scores as a plain text table: corruption, accuracy, change from clean."""
    lines = [f"{'corruption':<11} {'accuracy':>9} {'vs clean':>9}"]
    lines.append(f"{'clean':<11} {scores[0].clean_accuracy:>9.2%} {'':>9}" if scores else "")
    for s in scores:
        lines.append(f"{s.corruption:<11} {s.accuracy:>9.2%} {(s.accuracy - s.clean_accuracy) * 100:>+8.2f}p")
    worst = min(scores, key=lambda s: s.accuracy) if scores else None
    if worst:
        lines.append(f"worst: {worst.corruption} {worst.accuracy:.2%}")
    return "\n".join(lines)
