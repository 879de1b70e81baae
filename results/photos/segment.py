"""Finding the digits in a cleaned ink mask, left to right.

Connected components of the ink are grouped into digits: pieces that share most of their columns
are one digit (the broken bar of a 5, a 4 drawn in two strokes); a piece far shorter than the
digits joins the digit it all but touches, or is left out. A group wide enough to be several
digits touching gets the ways to cut it, along the paths through the least ink near the even cuts, and
for two, near several shares of its width (digits of unequal width, one reaching under the other) and
near either edge (a narrow "1" touching its neighbour, also in a group too narrow for two even cuts);
the classifier and the digit counter choose among them (results/photos/read.py, results/photos/counter.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from skimage import measure

SAME_DIGIT_OVERLAP = 0.5  # of the narrower piece's width shared with another: both are one digit
SMALL_PIECE = 0.6  # of the typical digit's height: a separate piece this short is a stroke or a remnant, not a digit
STROKE_GAP = 0.12  # of the typical digit's height: a short piece this close to a digit is one of its strokes
JOINED_WIDEST = 1.6  # of the typical digit's height: a stroke joined to a digit leaves it no wider (a long 5: 1.4)
WIDEST_DIGIT = 1.2  # width / height above which a group is most likely touching digits
DIGIT_WIDTH = 0.72  # a handwritten digit's typical width / height, for guessing how many touch
MAX_DIGIT_WIDTH = 2.0  # no one digit is wider than this (a 5 with a long slanted bar comes close)
MIN_PAIR_WIDTH = 0.3  # of the height per digit: two touching digits are at least this wide (a "11" 0.6 of it)
SLANT_COST = 0.05  # of crossing one pixel of ink: a cut leans only to go round ink
# A "1" touching a wider neighbour: the cut falls far from the middle, where an even cut does not look.
ONE_WIDTH = (0.05, 0.45)  # of the height: how narrow to how wide a cut-off "1" may be
ONE_HEIGHT = 0.75  # of the group's height: a "1" is about as tall as the digits beside it
BESIDE_ONE = 1.1  # of the height: the digit beside the "1" is no wider than this (92% of MNIST's are not)
ONE_CUT_STROKES = 1  # the cut that frees a "1" crosses at most this many strokes
ONE_PAIR_WIDTH = 0.5  # of the height: a group this wide may be a "1" touching a neighbour, though narrow for two
EDGE_CUTS = True  # False offers the even cuts alone (for comparing the two)
# Two digits that overlap (one's stroke reaching under the other's) part where neither the even cut nor
# an edge cut looks: a pair is also offered cut near each of these shares of its width.
PAIR_CUTS = (0.3, 0.4, 0.5, 0.6, 0.7)
PAIR_REACH = 0.05  # of the width, either side of each


@dataclasses.dataclass
class Digit:
    """One digit's ink: its box (x0, y0, x1, y1; x1, y1 exclusive) and its mask within the box."""

    box: tuple[int, int, int, int]
    mask: np.ndarray
    cut_ink: float = 0.0  # when cut from touching digits: the ink the cut crossed / the height
    cut_strokes: int = 0  # and how many separate strokes it crossed (touching digits: mostly one)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def find_digits(mask: np.ndarray) -> list[list[list[Digit]]]:
    """The digits in `mask` (a cleaned boolean ink mask), left to right, as groups of ink: for each group
    the ways to read it, as one digit or cut into touching digits (the likeliest by width first)."""
    labels = measure.label(mask, connectivity=2)
    pieces = [_piece(region) for region in measure.regionprops(labels)]
    if not pieces:
        return []
    groups = _attach_or_drop_small(_merge_overlapping(sorted(pieces, key=lambda d: d.box[0])))
    typical_height = float(np.median([g.height for g in groups]))
    return [ways_to_cut(group, max(group.height, typical_height)) for group in groups]


def ways_to_cut(group: Digit, height: float) -> list[list[Digit]]:
    """The plausible readings of `group` as 1 or more touching digits `height` tall, each cut at the
    path through the least ink near where an even cut would fall; the count its width suggests comes first.
    A group that may be two digits, or is at least ONE_PAIR_WIDTH wide, is also offered as a "1" at either
    edge and the digit beside it."""
    likeliest = max(1, round(group.width / (DIGIT_WIDTH * height))) if group.width > WIDEST_DIGIT * height else 1
    fewest = max(1, math.ceil(group.width / (MAX_DIGIT_WIDTH * height)))
    most = max(fewest, math.floor(group.width / (MIN_PAIR_WIDTH * height)))
    counts = sorted(range(fewest, most + 1), key=lambda k: (abs(k - likeliest), k))[:4]
    ways = [_cut(group, k) for k in counts]
    more = _more_pair_cuts(group) if 2 in counts and PAIR_CUTS else []
    if EDGE_CUTS and (2 in counts or group.width >= ONE_PAIR_WIDTH * height):
        # Too narrow for two even cuts: a "1" beside a digit of a digit's width, not a "1" in two strokes.
        more += _one_at_an_edge(group, height, wide_neighbour=2 not in counts)
    offered = {tuple(d.box for d in way) for way in ways}
    for way in more:
        if (boxes := tuple(d.box for d in way)) not in offered:
            offered.add(boxes)
            ways.append(way)
    return ways


def _more_pair_cuts(group: Digit) -> list[list[Digit]]:
    """`group` cut in two along the path through the least ink near each of PAIR_CUTS, where both pieces
    stand as tall as digits beside each other do."""
    ways = []
    for share in PAIR_CUTS:
        lo = max(1, round((share - PAIR_REACH) * group.width))
        hi = min(group.width - 1, round((share + PAIR_REACH) * group.width))
        if lo >= hi:
            continue
        way = _cut_along(group, [cut_path(group.mask, lo, hi)])
        if len(way) == 2 and min(d.height for d in way) >= ONE_HEIGHT * group.height:
            ways.append(way)
    return ways


def _one_at_an_edge(group: Digit, height: float, wide_neighbour: bool = False) -> list[list[Digit]]:
    """`group` read as a "1" touching the digit beside it, on the left or on the right: cut where the
    least ink lies within a 1's width of either edge, and offered only when both pieces stand as tall
    as the group, the digit beside it is no wider than a digit (and, with `wide_neighbour`, wider than
    a "1") and the cut crossed a single stroke."""
    narrowest, widest = (max(1, round(share * height)) for share in ONE_WIDTH)
    width = group.width
    if width < 2 * narrowest + 2:
        return []
    ways = []
    for lo, hi, one in (
        (narrowest, min(widest, width // 2), 0),
        (max(width // 2, width - widest), width - narrowest, 1),
    ):
        if lo >= hi:
            continue
        way = _cut_along(group, [cut_path(group.mask, lo, hi)])
        if len(way) != 2:
            continue
        piece, beside = way[one], way[1 - one]
        if (
            piece.height >= ONE_HEIGHT * group.height
            and beside.height >= ONE_HEIGHT * group.height  # not a slanted stroke cut in two, one part over the other
            and piece.width <= ONE_WIDTH[1] * height
            and beside.width <= BESIDE_ONE * height
            and (not wide_neighbour or beside.width > ONE_WIDTH[1] * height)
            and way[1].cut_strokes <= ONE_CUT_STROKES
        ):
            ways.append(way)
    return ways


def _piece(region) -> Digit:
    y0, x0, y1, x1 = region.bbox
    return Digit((x0, y0, x1, y1), region.image)  # the component's own pixels within its box


def joined(pieces: list[Digit]) -> Digit:
    """The ink that `pieces` (a way of reading a group, or any digits) make together: one box round
    them all and their masks in it."""
    return functools.reduce(_union, pieces)


def _union(a: Digit, b: Digit) -> Digit:
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for d in (a, b):
        mask[d.box[1] - y0 : d.box[3] - y0, d.box[0] - x0 : d.box[2] - x0] |= d.mask
    return Digit((x0, y0, x1, y1), mask)


def _column_overlap(a: Digit, b: Digit) -> float:
    """The share of the narrower piece's columns that the other shares; 0 for pieces far apart up or down
    (a line's remnant under a number is not part of its digits)."""
    vertical_gap = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
    if vertical_gap > 0.25 * max(a.height, b.height):
        return 0.0
    shared = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    return max(0, shared) / max(1, min(a.width, b.width))


def _merge_overlapping(pieces: list[Digit]) -> list[Digit]:
    """Join pieces that share most of the narrower one's columns, until none do."""
    groups = list(pieces)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _column_overlap(groups[i], groups[j]) >= SAME_DIGIT_OVERLAP:
                    groups[i] = _union(groups[i], groups.pop(j))
                    merged = True
                    break
            if merged:
                break
    return sorted(groups, key=lambda d: d.box[0])


def _attach_or_drop_small(groups: list[Digit]) -> list[Digit]:
    """Pieces far shorter than the tallest digits (a "1" is tall) are not digits: one that all but touches
    a digit is a stroke of it (the top bar of a 5 that the pen lifted from) and joins it; the rest are
    remnants of lines, smudges or stray marks, and are left out."""
    if len(groups) < 2:
        return groups
    heights = np.array([g.height for g in groups], dtype=float)
    typical = float(np.median(heights[heights >= 0.5 * heights.max()]))
    digits = [g for g in groups if g.height >= SMALL_PIECE * typical]
    for piece in (g for g in groups if g.height < SMALL_PIECE * typical):
        if not digits:
            break
        nearest = min(range(len(digits)), key=lambda i: _box_gap(piece, digits[i]))
        joined = _union(piece, digits[nearest])
        if _box_gap(piece, digits[nearest]) <= STROKE_GAP * typical and joined.width <= JOINED_WIDEST * typical:
            digits[nearest] = joined
    return sorted(digits, key=lambda d: d.box[0])


def _box_gap(a: Digit, b: Digit) -> float:
    dx = max(0, max(a.box[0], b.box[0]) - min(a.box[2], b.box[2]))
    dy = max(0, max(a.box[1], b.box[1]) - min(a.box[3], b.box[3]))
    return float(np.hypot(dx, dy))


def _cut(group: Digit, count: int) -> list[Digit]:
    """`group` cut into `count` digits along the paths through the least ink near the even cuts."""
    if count == 1:
        return [group]
    width = group.width
    cuts = []
    for k in range(1, count):
        guess = round(k * width / count)
        reach = max(1, round(0.25 * width / count))
        lo, hi = max(int(cuts[-1][0].max()) + 1 if cuts else 0, guess - reach), min(width - 1, guess + reach)
        if lo >= hi:
            continue
        cuts.append(cut_path(group.mask, lo, hi))
    return _cut_along(group, cuts)


def _cut_along(group: Digit, cuts: list[tuple[np.ndarray, np.ndarray]]) -> list[Digit]:
    """`group` cut along `cuts` (each cut_path's columns and crossed rows, left to right)."""
    height, width = group.mask.shape
    # The group's edges are cuts too.
    paths = [(np.zeros(height, int), np.zeros(height, bool)), *cuts, (np.full(height, width), np.zeros(height, bool))]
    columns = np.arange(width)
    digits = []
    for (left, crossed), (right, _) in zip(paths[:-1], paths[1:], strict=True):
        part = group.mask & (columns >= left[:, None]) & (columns < right[:, None])
        rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if rows.size == 0:
            continue
        box = (
            group.box[0] + cols[0],
            group.box[1] + rows[0],
            group.box[0] + cols[-1] + 1,
            group.box[1] + rows[-1] + 1,
        )
        strokes = int(np.count_nonzero(np.diff(np.r_[False, crossed].astype(int)) == 1))
        mask = part[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        digits.append(Digit(box, mask, float(crossed.sum()) / height, strokes))
    return digits


def cut_path(mask: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The path from top to bottom of `mask` that crosses the least ink, within columns lo..hi-1 and
    moving at most one column a row (touching digits lean, and the straight column between them often
    runs through one of them): its column in each row, and whether it crossed ink there. A sideways
    step between two diagonal ink pixels crosses a stroke too: the strokes are 8-connected."""
    ink = mask[:, lo:hi]
    rows, cols = ink.shape
    # slip_left[r, c]: stepping from (r-1, c-1) to (r, c) passes between (r-1, c) and (r, c-1); slip_right alike.
    slip_left = np.zeros((rows, cols), bool)
    slip_right = np.zeros((rows, cols), bool)
    slip_left[1:, 1:] = ink[:-1, 1:] & ink[1:, :-1]
    slip_right[1:, :-1] = ink[:-1, :-1] & ink[1:, 1:]
    total = ink[0].astype(float)
    came_from = np.zeros((rows, cols), int)
    columns, moves = np.arange(cols), np.array([0, -1, 1])
    # Rows of the three ways into each column, filled in place (a row per image row is the hot loop).
    options = np.full((3, cols), np.inf)
    for r in range(1, rows):
        options[0] = total
        options[1, 1:] = total[:-1] + SLANT_COST + slip_left[r, 1:]  # from the column to the left
        options[2, :-1] = total[1:] + SLANT_COST + slip_right[r, :-1]  # from the column to the right
        step = np.argmin(options, axis=0)
        came_from[r] = columns + moves[step]
        total = options[step, columns] + ink[r]
    path = np.empty(rows, int)
    # Of equal paths, the one nearest the middle of the window.
    path[-1] = int(np.argmin(total + 1e-6 * np.abs(columns - cols / 2)))
    for r in range(rows - 1, 0, -1):
        path[r - 1] = came_from[r, path[r]]
    crossed = ink[np.arange(rows), path].copy()
    moved = np.diff(path)
    crossed[1:] |= ((moved == 1) & slip_left[np.arange(1, rows), path[1:]]) | (
        (moved == -1) & slip_right[np.arange(1, rows), path[1:]]
    )
    return path + lo, crossed
