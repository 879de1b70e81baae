"""Classifying people's own digit images with a run's best model."""

from __future__ import annotations

import dataclasses

import numpy as np

from results.images import ImageError, load_digit

TOP = 3


@dataclasses.dataclass
class Prediction:
    """The answer for one image file: the digit, its probability, and the `TOP` likeliest digits."""

    file: str
    digit: int
    probability: float
    top3: list[tuple[int, float]]

    def as_dict(self) -> dict:
        """JSON-ready: {"file", "digit", "probability", "top3": [[digit, probability], ...] likeliest first}."""
        return {
            "file": self.file,
            "digit": self.digit,
            "probability": self.probability,
            "top3": [[d, p] for d, p in self.top3],
        }

    def as_text(self) -> str:
        """One line: 'FILE: 7 (98.6%)  top 3: 7 98.6%, 1 0.9%, 2 0.3%'."""
        top = ", ".join(f"{d} {p:.1%}" for d, p in self.top3)
        return f"{self.file}: {self.digit} ({self.probability:.1%})  top {len(self.top3)}: {top}"


@dataclasses.dataclass
class Failure:
    """A file that could not be classified, and why (one line)."""

    file: str
    reason: str


def predict_files(run, paths: list[str]) -> list[Prediction | Failure]:
    """One Prediction or Failure per path, in order. The model is loaded only when some image is readable
    (RunError when it cannot be)."""
    loaded = []
    for path in paths:
        try:
            loaded.append(load_digit(path))
        except ImageError as e:
            loaded.append(Failure(str(path), " ".join(str(e).split())))
    good = [(str(path), image) for path, image in zip(paths, loaded, strict=True) if not isinstance(image, Failure)]
    if not good:
        return loaded
    names, images = zip(*good, strict=True)
    answers = iter(classify(run.load_model(), np.stack(images), list(names)))
    return [item if isinstance(item, Failure) else next(answers) for item in loaded]


def classify(model, images: np.ndarray, names: list[str]) -> list[Prediction]:
    """Predictions of `model` for a batch of 28x28 uint8 images (raw 0-255 pixels: the model rescales)."""
    if len(images) == 0:
        return []
    probabilities = np.asarray(model.predict(images[..., None], verbose=0), dtype=np.float64)
    out = []
    for name, p in zip(names, probabilities, strict=True):
        order = np.argsort(-p, kind="stable")[:TOP]
        top = [(int(d), round(float(p[d]), 6)) for d in order]
        out.append(Prediction(name, top[0][0], top[0][1], top))
    return out
