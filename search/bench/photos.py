"""How well a model reads digits from photo-like pictures, per condition, against the same digits in
clean form (the 28x28 images themselves). `python scripts/bench.py --photos RUN_DIR` prints the table."""

from __future__ import annotations

import dataclasses

import numpy as np

from results.photos import ImageError, classify, find_digits_in, read_found
from search.bench.photo_like import CONDITIONS, make_picture


@dataclasses.dataclass
class ConditionScore:
    """One condition's figures: single digits read right, photo-like and clean; numbers read exactly,
    photo-like, and numbers whose every digit is read right in clean form; how often a wrong answer
    was flagged unsure, and how often a right one was."""

    condition: str
    digits: int
    digit_photo: float
    digit_clean: float
    numbers: int
    number_photo: float
    number_clean: float
    wrong_flagged: float
    right_flagged: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def measure(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    conditions: tuple[str, ...] = CONDITIONS,
    digits: int = 100,
    numbers: int = 60,
    seed: int = 0,
) -> list[ConditionScore]:
    """Score `model` per condition on `digits` single-digit pictures and `numbers` pictures of 3-5 digits,
    drawn from `images` (clean 28x28 MNIST-style digits) with `seed`; the same digits for every condition."""
    rng = np.random.default_rng(seed)
    singles = rng.choice(len(images), size=digits, replace=len(images) < digits)
    groups = [rng.choice(len(images), size=int(rng.integers(3, 6)), replace=False) for _ in range(numbers)]
    clean_right = np.array([top[0][0] for top, _ in classify(model, images)]) == labels
    scores = []
    for condition in conditions:
        picture_rng = np.random.default_rng([seed, CONDITIONS.index(condition)])
        single = [_read(model, images[[i]], labels[[i]], condition, picture_rng) for i in singles]
        several = [_read(model, images[g], labels[g], condition, picture_rng) for g in groups]
        flags = [(right, unsure) for right, unsure in single + several]
        wrong = [unsure for right, unsure in flags if not right]
        right = [unsure for r, unsure in flags if r]
        scores.append(
            ConditionScore(
                condition,
                digits,
                float(np.mean([r for r, _ in single])) if digits else float("nan"),
                float(clean_right[singles].mean()) if digits else float("nan"),
                numbers,
                float(np.mean([r for r, _ in several])) if numbers else float("nan"),
                float(np.mean([clean_right[g].all() for g in groups])) if numbers else float("nan"),
                float(np.mean(wrong)) if wrong else float("nan"),
                float(np.mean(right)) if right else float("nan"),
            )
        )
    return scores


def _read(model, images, labels, condition, rng) -> tuple[bool, bool]:
    """(read exactly right, flagged unsure) for one photo-like picture of `images`."""
    picture = make_picture(list(images), [int(y) for y in labels], condition, rng)
    try:
        prediction = read_found(model, find_digits_in(picture.pixels), "picture")
    except ImageError:
        return False, True
    return prediction.number == picture.number, prediction.unsure


def table(scores: list[ConditionScore]) -> str:
    """The scores as a Markdown table, as README shows it."""
    lines = [
        "| condition | digits: photo | digits: clean | numbers: photo | numbers: clean | wrong flagged unsure "
        "| right flagged unsure |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        lines.append(
            f"| {s.condition} | {s.digit_photo:.0%} | {s.digit_clean:.0%} | {s.number_photo:.0%} "
            f"| {s.number_clean:.0%} | {s.wrong_flagged:.0%} | {s.right_flagged:.0%} |"
        )
    return "\n".join(lines)
