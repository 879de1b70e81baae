"""Reading people's own digit images with a run's best model: one digit, or a number written left to right."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from results.photos.counter import count_shares, shipped_counter
from results.photos.images import FoundDigit, FoundGroup, ImageError, find_digits_in, read_greyscale

TOP = 3
# Below this top probability an answer is flagged unsure. Measured on 927 digits of photo-like pictures
# (all conditions, singles and numbers; the quick preset's model, 99.21% on MNIST): answers under 0.9
# were 3.7% of all and wrong 44% of the time, and held 79% of the wrong answers; answers at or above
# 0.9 were wrong 0.45% of the time. (Under 0.8: 50% wrong, but only 53% of the wrong answers.)
UNSURE_BELOW = 0.9
# Ink that does not look like a digit: wider than any digit, or a blot filling its box (a "1" may fill
# its narrow box, so only boxes wider than BAR count). None of 677 digits read right tripped these.
WIDEST = 1.8
FULLEST = 0.75
BAR = 0.45
SHORTEST = 0.55
# A cut through ink this thin (the ink its path crossed, as a share of the digit's height) counts for, or against:
CUT_EVIDENCE = ([0.1, 0.35], [0.5, -1.0])
# Each stroke a cut crosses beyond the first, against it: digits touch at one point, while a cut
# through one wide digit (a 0, a 2 drawn broad) crosses two or three strokes. On 440 photo-like numbers
# (plain, ruled, uneven light; the 99.52% default model) 1.0 read 398 right, 0.5 read 397, 0 read 393.
# With the default preset's TTA model, 0.5 together with a count prior of 0.25 read 426 of 450 where
# (1.0, 0.5) read 421, and 89-92% of numbers where 88-91% on other pictures (docs/experiments.md).
EXTRA_STROKE = 0.5
COUNT_PRIOR = 0.25  # per digit more or fewer than a group's width suggests, in log probability
# Of the counter's log share for a way's count of digits (results/photos/counter.py). On 450 photo-like numbers
# of MNIST test digits (seed 2; plain, uneven light, ruled; the default preset's model) 0.25 read 432,
# 0.5 431 and without the counter 425; on 600 numbers of training digits 587, 585 and 571.
COUNTER_WEIGHT = 0.25


@dataclasses.dataclass
class DigitAnswer:
    """The model's answer for one digit of an image: the digit, its probability, the `TOP` likeliest
    digits, its box (x0, y0, x1, y1 in the image's pixels) and whether the answer is unsure."""

    digit: int
    probability: float
    top3: list[tuple[int, float]]
    box: tuple[int, int, int, int]
    unsure: bool

    def as_dict(self) -> dict:
        return {
            "digit": self.digit,
            "probability": self.probability,
            "box": list(self.box),
            "unsure": self.unsure,
        }


@dataclasses.dataclass
class Prediction:
    """The answer for one image file: the digits found in it, left to right."""

    file: str
    digits: list[DigitAnswer]

    @property
    def number(self) -> str:
        """The digits left to right, as a string ("2026"; "7" for one digit)."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def digit(self) -> int | None:
        """The digit, for an image of one digit; None for a number."""
        return self.digits[0].digit if len(self.digits) == 1 else None

    @property
    def probability(self) -> float | None:
        """The digit's probability, for an image of one digit; None for a number."""
        return self.digits[0].probability if len(self.digits) == 1 else None

    @property
    def top3(self) -> list[tuple[int, float]] | None:
        return self.digits[0].top3 if len(self.digits) == 1 else None

    @property
    def unsure(self) -> bool:
        """True when any digit's answer is unsure."""
        return any(d.unsure for d in self.digits)

    def as_dict(self) -> dict:
        """JSON-ready: "file", "digit", "probability", "top3" (null for several digits), "number",
        "unsure" and "digits": [{"digit", "probability", "box", "unsure"}, ...] left to right."""
        return {
            "file": self.file,
            "digit": self.digit,
            "probability": self.probability,
            "top3": None if self.top3 is None else [[d, p] for d, p in self.top3],
            "number": self.number,
            "unsure": self.unsure,
            "digits": [d.as_dict() for d in self.digits],
        }

    def as_text(self) -> str:
        """One line: 'FILE: 7 (98.6%)  top 3: 7 98.6%, 1 0.9%, 2 0.3%' for a digit,
        'FILE: 2026  2 99.1%, 0 97.0%, 2 98.8%, 6 64.0% unsure' for a number."""
        flag = "  unsure" if self.unsure else ""
        if len(self.digits) == 1:
            top = ", ".join(f"{d} {p:.1%}" for d, p in self.top3)
            return f"{self.file}: {self.digit} ({self.probability:.1%})  top {len(self.top3)}: {top}{flag}"
        each = ", ".join(f"{d.digit} {d.probability:.1%}{' unsure' if d.unsure else ''}" for d in self.digits)
        return f"{self.file}: {self.number}  digits: {each}{flag}"


@dataclasses.dataclass
class Failure:
    """A file that could not be read, and why (one line)."""

    file: str
    reason: str


def read_image(source: str | Path | bytes, model: Callable[[], object], name: str | None = None) -> Prediction:
    """The answer for one image file, given as a path or as the file's bytes: the one way from an image to
    an answer for every front end (predict.py, the HTTP API, the page). `model` returns the digit model;
    it is asked for only once the image has been read, so an unreadable image never loads it. `name` is
    the answer's "file" (by default the path; "upload" for bytes). Raises ImageError with one line."""
    groups = find_digits_in(read_greyscale(source))
    if name is None:
        name = "upload" if isinstance(source, bytes | bytearray) else str(source)
    return read_found(model(), groups, name)


def predict_files(run, paths: list[str]) -> list[Prediction | Failure]:
    """One Prediction or Failure per path, in order, through `read_image`. The model is loaded once, when
    the first readable image needs it (RunError when it cannot be)."""
    model = functools.cache(run.load_model)
    out: list[Prediction | Failure] = []
    for path in paths:
        try:
            out.append(read_image(path, model))
        except ImageError as e:
            out.append(Failure(str(path), " ".join(str(e).split())))
    return out


def read_found(model, groups: list[FoundGroup], name: str, counter=None) -> Prediction:
    """The Prediction of `model` for the digits found in one image (see find_digits_in): each group of
    ink is read the way, of those offered, whose digits the model is surest of on average, weighed with
    how many digits `counter` (by default the shipped one, results/photos/counter.py) sees in the group."""
    every = [digit for ways in groups for way in ways for digit in way]
    answers = iter(classify(model, np.stack([d.image for d in every])))
    shares = _counts_seen(groups, counter)
    chosen: list[tuple[FoundDigit, tuple]] = []
    for ways, seen in zip(groups, shares, strict=True):
        scored = [[(digit, next(answers)) for digit in way] for way in ways]
        height = max(d.box[3] - d.box[1] for way in ways for d in way)
        guess = len(ways[0])  # segment.py offers the count the width suggests first
        chosen.extend(max(scored, key=lambda way: _way_score(way, height) + _count_score(len(way), guess, seen)))
    typical = float(np.median([d.box[3] - d.box[1] for d, _ in chosen]))
    out = []
    for found, (top, probability) in chosen:
        odd_shape = found.aspect > WIDEST or (found.fill > FULLEST and found.aspect > BAR)
        too_short = len(chosen) > 1 and (found.box[3] - found.box[1]) < SHORTEST * typical
        unsure = bool(probability < UNSURE_BELOW or odd_shape or too_short)  # numpy.bool_ is no JSON
        out.append(DigitAnswer(top[0][0], top[0][1], top, found.box, unsure))
    return Prediction(name, out)


def _counts_seen(groups: list[FoundGroup], counter) -> list[np.ndarray | None]:
    """For each group offered as different counts of digits, the counter's shares of one, two, three or
    more digits in it; None for a group read one way only, and for every group when no counter loads."""
    undecided = [i for i, ways in enumerate(groups) if len({len(way) for way in ways}) > 1]
    seen: list[np.ndarray | None] = [None] * len(groups)
    counter = shipped_counter() if counter is None and undecided else counter
    if undecided and counter is not None:
        shares = count_shares(counter, np.stack([groups[i].count_image for i in undecided]))
        for i, share in zip(undecided, shares, strict=True):
            seen[i] = share
    return seen


def _count_score(count: int, guess: int, seen: np.ndarray | None) -> float:
    """How likely a group holds `count` digits: against the count its width suggests, and by the counter's
    shares (`seen`; None when the group is read one way only)."""
    score = -COUNT_PRIOR * abs(count - guess)
    if seen is not None:
        score += COUNTER_WEIGHT * float(np.log(max(seen[min(count, len(seen)) - 1], 1e-6)))
    return score


def _way_score(way: list[tuple[FoundDigit, tuple]], height: int) -> float:
    """How good a reading of a group of ink is: the model's mean log probability for its digits, plus
    evidence from the shapes: a cut through a thin neck of ink is likely, one through thick ink
    unlikely, and a cut-off piece much shorter than the group is no digit."""
    score = float(np.mean([np.log(max(p, 1e-9)) for _, (_, p) in way]))
    for found, _ in way[1:]:
        score += float(np.interp(found.cut_ink, *CUT_EVIDENCE)) / len(way)
        score -= EXTRA_STROKE * max(0, found.cut_strokes - 1) / len(way)
    short = sum((d.box[3] - d.box[1]) < SHORTEST * height for d, _ in way)
    return score - 2.0 * short


def classify(model, images: np.ndarray) -> list[tuple[list[tuple[int, float]], float]]:
    """For each 28x28 uint8 image (raw 0-255 pixels: the model rescales), its `TOP` likeliest digits with
    their probabilities, and the top probability."""
    if len(images) == 0:
        return []
    # Called directly rather than through predict(): a few images at a time, predict's setup dominates.
    probabilities = np.asarray(model(images[..., None].astype("float32"), training=False), dtype=np.float64)
    out = []
    for p in probabilities:
        order = np.argsort(-p, kind="stable")[:TOP]
        top = [(int(d), round(float(p[d]), 6)) for d in order]
        out.append((top, top[0][1]))
    return out
