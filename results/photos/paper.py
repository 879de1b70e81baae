"""Cleaning a photo or scan of paper down to its ink: the document-image steps before segmentation.

A phone photo of a digit on paper has uneven light, shadows, ruled or grid lines, specks and
sometimes the page's edge. The steps, in order:

1. `working_scale`: resample so that the smaller side is at least MIN_SIDE pixels and the larger at
   most MAX_SIDE (thin strokes survive, big photos stay fast).
2. `ink_strength`: estimate the paper by a wide median (it ignores thin strokes), with the sharp
   edges of cast shadows put back (`with_shadows`), and measure the ink against it, relative to the
   paper's brightness: shadows and light gradients cancel out.
   The ink's polarity (dark on light paper, or light on dark as MNIST) is whichever side has the
   heavier tail away from the paper.
3. `ink_mask`: scikit-image's Sauvola local threshold, with a global floor against paper grain.
4. `ruled_lines`, `remove_ruled_lines`: long, thin, straight runs (ruled or grid lines, a few
   degrees of tilt allowed, or shorter from edge to edge of the photo), found among all that stands
   out from the paper however faintly, are taken out of the ink; strokes that cross them are
   reconnected, and an upright run as strong as ink and shorter than the page (a thin "1" touching
   a ruled line) stays.
5. `frame_lines`: boxes drawn round the digits (a form's fields) go the same way, however dark.
6. `remove_clutter`: specks and the page's edge (ink that runs along the photo's border) go.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import filters, measure, morphology
from skimage.filters import rank

MIN_SIDE = 96
MAX_SIDE = 720
LINE_MIN_ASPECT = 18  # a ruled line is at least this many times longer than it is thick; a "1" or a 7's bar is not
LINE_MIN_SPAN = 0.5  # of the photo's width (or height): a ruled line crosses most of the photo
LINE_EDGE_SPAN = 0.25  # of the width: a tilted line the photo's top or bottom cuts short runs edge to edge
LINE_EDGE_REACH = 4  # pixels: a run ending this near the photo's edge runs to it (its faint end fades)
LINE_MAX_STRENGTH = 0.6  # of the ink's strength: ruled lines are fainter than pen or pencil
UPRIGHT_ON_ITS_OWN = True  # False judges an upright run with the lines it touches alone (for comparing)
UPRIGHT_STROKE_SPAN = 0.75  # of the photo's height: an upright run shorter than this may be a stroke
LINE_TILTS = np.deg2rad(np.arange(-6.0, 6.01, 1.5))  # photos are rarely square to the page
STRONG_INK = 0.6  # of the strongest ink: ink whatever the local threshold says
MIN_CONTRAST = 0.1  # ink is at least 10% darker than its paper (or brighter than a dark ground)
SPARSE_INK_PIXELS = 20  # the strongest ink of a photo holds at least this many working pixels (a thin "1")
SHADOWS = True  # False keeps the smooth light alone (for comparing the two)
SHADOW_WINDOW = 0.35  # of the photo's smaller side: the shadows' median is this wide (0.15 ate a marker's strokes)
SHADOW_SIDE = 160  # pixels: the shadows' median is taken on the photo shrunk to about this size
SHADOW_DIFFERS = 0.05  # of the paper's brightness: the median and the smooth light disagree
SHADOW_EXPLAINED = 0.6  # of a region's pixels lie near the median: the region is shadowed paper
FRAMES = True  # False leaves boxes drawn round digits in (for comparing)
FRAME_MIN_SIDE = 16  # pixels: a box round a digit is bigger than this
FRAME_BAND = 0.1  # of the box's smaller side: how far in from each edge its side may run
FRAME_CLOSED = 0.9  # of each edge: a box's side runs along nearly all of it (a digit's curve does not)
FRAME_SPAN = 0.9  # of the box: a side is this long (a "1" inside it is shorter)
FRAME_MIN_ASPECT = 8  # a closed box's sides are straight runs across it; in a small photo they are short
FRAME_TILTS = np.deg2rad(np.arange(-6.0, 6.01, 0.25))  # finer: a side is one run from end to end
SPECK_SHARE = 0.012  # of the largest ink component's area: smaller pieces are dirt or noise


def working_scale(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """`grey` resampled to the working size; returns (image, scale) with scale = working / original pixels."""
    height, width = grey.shape
    scale = max(MIN_SIDE / min(height, width), 1.0) if min(height, width) < MIN_SIDE else 1.0
    scale = min(scale, MAX_SIDE / max(height, width)) if max(height, width) * scale > MAX_SIDE else scale
    if scale == 1.0:
        return grey.astype(np.float64), 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.LANCZOS
    resized = Image.fromarray(grey.astype(np.float32), mode="F").resize(size, resample)
    return np.asarray(resized, dtype=np.float64), scale


def paper_estimate(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel: a median over a window wider than any stroke, computed
    small and scaled back up (smooth light changes survive, ink does not). The photo is extended past
    its edges by odd reflection, which carries a gradient on straight, so the edges get no false ink."""
    height, width = grey.shape
    shrink = min(1.0, 96 / max(height, width))
    size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    small = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX), float)
    window = max(3, int(0.75 * min(small.shape)) | 1)
    pad = window // 2 + 1
    padded = np.pad(small, pad, mode="reflect", reflect_type="odd")
    background = _median(padded, window)
    background = ndimage.uniform_filter(background, size=max(3, window // 3))[pad:-pad, pad:-pad]
    return ndimage.zoom(background, (height / small.shape[0], width / small.shape[1]), order=1, mode="nearest")[
        :height, :width
    ]


def _median(image: np.ndarray, window: int) -> np.ndarray:
    """A `window`-square median with scipy's "reflect" border, to half a grey level: scikit-image's
    sliding histogram on whole levels, some 70 times faster than scipy's exact one at this size
    (0.014 s against 1.0 s on 160x130 pixels, window 55). Odd reflection can carry values a little
    past 0-255, hence the offset."""
    low = np.floor(image.min())
    half = window // 2
    # rank filters shrink the window at the border; mirror the image out as scipy's "reflect" does.
    levels = np.pad(np.rint(image - low).astype(np.uint16), half, mode="symmetric")
    median = rank.median(levels, footprint=np.ones((window, window), bool))[half:-half, half:-half]
    return median.astype(np.float64) + low


def with_shadows(grey: np.ndarray, background: np.ndarray) -> np.ndarray:
    """`background` (paper_estimate's smooth light) with the edges of cast shadows put back: the smooth
    light blurs a shadow's edge across a band, which would read as ink. A median over a window far
    wider than a stroke keeps the edge where it is; where the two disagree over a region that reaches
    the photo's border and most of whose pixels lie near the median, the median is the paper."""
    height, width = grey.shape
    shrink = min(1.0, SHADOW_SIDE / min(height, width))  # the median is costly at full size
    size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    small = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX), float)
    window = max(9, int(SHADOW_WINDOW * min(small.shape)) | 1)
    local = _median(small, window)
    smooth = np.asarray(
        Image.fromarray(background.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX), float
    )
    differs = np.abs(local - smooth) > SHADOW_DIFFERS * np.maximum(smooth, 16.0)
    # A shadow is paper at the median's level: most of its pixels are near it. Where a digit's thick
    # strokes fill most of the window instead, the median falls between ink and paper, near neither.
    labels, count = ndimage.label(differs)
    if count == 0:
        return background
    near = np.abs(small - local) <= SHADOW_DIFFERS * np.maximum(local, 16.0)
    explained = np.asarray(ndimage.mean(near, labels, index=np.arange(1, count + 1))) >= SHADOW_EXPLAINED
    # A shadow is cast from outside the photo, so it reaches the photo's edge; a blot of ink need not.
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    shadow = np.concatenate([[False], explained & np.isin(np.arange(1, count + 1), border)])[labels]
    if not shadow.any():
        return background
    zoom = (height / small.shape[0], width / small.shape[1])
    local = ndimage.zoom(local, zoom, order=0, mode="nearest")[:height, :width]
    shadow = ndimage.zoom(shadow, zoom, order=0, mode="nearest")[:height, :width]
    paper = np.where(shadow, local, background)
    # The small median places the edge only to within a few pixels: there, a pixel between the two
    # sides' paper is paper, and only a darker (or lighter) one is ink.
    reach = 4 * int(np.ceil(1 / shrink)) + 3
    lo, hi = ndimage.minimum_filter(paper, size=reach), ndimage.maximum_filter(paper, size=reach)
    edge = hi - lo > MIN_CONTRAST * np.maximum(hi, 16.0)
    return np.where(edge, np.clip(grey, lo, hi), paper)


def ink_strength(grey: np.ndarray) -> np.ndarray:
    """How strongly each pixel is ink, 0 (paper) to 255 (the strongest ink), lighting evened out."""
    background = paper_estimate(grey)
    if SHADOWS:
        background = with_shadows(grey, background)
    residual = grey - background
    noise = max(1.4826 * float(np.median(np.abs(residual - np.median(residual)))), 2.0)
    strong = max(4 * noise, 12.0)
    if -residual[residual < -strong].sum() >= residual[residual > strong].sum():
        # Dark ink on lighter paper: measured relative to the paper, so shade and light cancel out.
        ink = np.clip(-residual, 0, None) / np.maximum(background, 16.0)
        grain = noise / max(float(np.median(background)), 16.0)
    else:  # light ink on a dark ground, as MNIST
        ink = np.clip(residual, 0, None) / np.maximum(255.0 - background, 64.0)
        grain = noise / max(255.0 - float(np.median(background)), 64.0)
    least = max(MIN_CONTRAST, 5 * grain)
    top = np.percentile(ink, 99.9)
    if top < least:
        # Ink on under 0.1% of the photo (a pen's thin strokes on a whole page), or none at all:
        # the strongest ink, past a few stray pixels, has to stand out from the paper's own grain.
        top = np.partition(ink.ravel(), -SPARSE_INK_PIXELS)[-SPARSE_INK_PIXELS]
        if top < least:
            return np.zeros_like(ink)
    return np.clip(ink * (255.0 / top), 0, 255)


def faint_mask(ink: np.ndarray) -> np.ndarray:
    """Everything that stands out from the paper's grain, however faintly: ruled lines whole, as well as ink.
    Smoothed first, so that grain and JPEG noise fall below the line's strength."""
    smooth = ndimage.gaussian_filter(ink, 1.0)
    paper = smooth[smooth < np.percentile(smooth, 50)]
    noise = float(paper.std()) if paper.size else 0.0
    return smooth > max(float(np.median(smooth)) + 4 * noise, 0.06 * 255)


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Which pixels are ink: above Sauvola's local threshold (on the inverted ink, as for dark text)
    and above a global floor that keeps paper grain and JPEG noise out; and every pixel of strong ink,
    which the local threshold misses inside a stroke or blot wider than its window."""
    if ink.max() <= 0:
        return np.zeros(ink.shape, dtype=bool)
    window = max(15, (min(ink.shape) // 4) | 1)
    local = filters.threshold_sauvola(255.0 - ink, window_size=window, k=0.2)
    floor = max(0.5 * filters.threshold_otsu(ink), 0.15 * 255)
    return (((255.0 - ink) < local) & (ink > floor)) | (ink > STRONG_INK * 255)


def ruled_lines(faint: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The ruled or grid lines of `faint` (see faint_mask): runs, horizontal or vertical give or take
    LINE_TILTS, at least LINE_MIN_SPAN of the photo long (LINE_EDGE_SPAN from one edge of the photo to
    another, as a tilted line that leaves it by its top or bottom), LINE_MIN_ASPECT times longer than thick,
    and mostly fainter than the ink (a notebook's lines are; a row of touching digits is not)."""
    across, upright = _lines_along(faint, edge_span=LINE_EDGE_SPAN), _lines_along(faint.T, edge_span=LINE_EDGE_SPAN).T
    candidates = across | upright
    labels, count = ndimage.label(candidates, structure=np.ones((3, 3)))
    if count == 0:
        return candidates
    strong = np.percentile(ink[ink > 0], 99) if (ink > 0).any() else 255.0
    lines = _faint_parts(labels, count, ink, LINE_MAX_STRENGTH * strong)
    if UPRIGHT_ON_ITS_OWN:
        # A thin "1" whose top touches a ruled line is one piece with it, and as faint as the line on the
        # whole; on its own it is as strong as ink. (Not so across: a ruled line through a row of digits
        # takes strength from the strokes that run along it.)
        labels, count = ndimage.label(upright, structure=np.ones((3, 3)))
        stroke = ~_faint_parts(labels, count, ink, LINE_MAX_STRENGTH * strong)
        # A margin line runs the page's height; a "1" does not.
        spans = [rows.stop - rows.start for rows, _ in ndimage.find_objects(labels)]
        short = np.concatenate([[False], np.array(spans) < UPRIGHT_STROKE_SPAN * faint.shape[0]])[labels]
        lines &= ~(upright & ~across & stroke & short)
    return lines


def _faint_parts(labels: np.ndarray, count: int, ink: np.ndarray, limit: float) -> np.ndarray:
    """The labelled parts whose median ink strength is under `limit`."""
    if count == 0:
        return np.zeros(labels.shape, bool)
    strength = ndimage.median(ink, labels, index=np.arange(1, count + 1))
    return np.concatenate([[False], np.asarray(strength) < limit])[labels]


def remove_ruled_lines(
    mask: np.ndarray, lines: np.ndarray, ink: np.ndarray, as_dark_as_ink: bool = False
) -> np.ndarray:
    """`mask` without the `lines` (widened by a pixel for their soft edges). Kept: line pixels with ink
    on both sides across the line (a stroke crossing it), and line pixels far darker than the line
    itself (a stroke drawn along it, as a "1" on a grid line), unless the lines are `as_dark_as_ink`
    (a form's boxes may be printed as dark as a pen writes)."""
    if not lines.any():
        return mask
    on_top = ink > (np.inf if as_dark_as_ink else _darker_than_lines(mask, lines, ink))
    lines = ndimage.binary_dilation(lines, structure=np.ones((3, 3), bool)) & ~on_top
    cleaned = mask & ~lines
    thickness = max(3, 2 * _median_line_thickness(lines) + 1)
    across = np.ones((thickness, 1), bool)
    rejoined = ndimage.binary_closing(cleaned, structure=across) | ndimage.binary_closing(cleaned, structure=across.T)
    return cleaned | (lines & mask & rejoined)


def _darker_than_lines(mask: np.ndarray, lines: np.ndarray, ink: np.ndarray) -> float:
    """The ink strength halfway between the lines' and the strokes' off the lines: above it is a stroke."""
    line_strength = float(np.median(ink[lines]))
    elsewhere = ink[mask & ~lines]
    if elsewhere.size < 0.05 * lines.sum():  # hardly any ink off the lines: nothing to tell apart
        return np.inf
    stroke_strength = float(np.percentile(elsewhere, 90))
    if stroke_strength < 1.3 * line_strength:  # strokes no darker than the lines: keep no line pixel
        return np.inf
    return (line_strength + stroke_strength) / 2


def remove_line_remnants(
    mask: np.ndarray, lines: np.ndarray, ink: np.ndarray, as_dark_as_ink: bool = False
) -> np.ndarray:
    """`mask` without the pieces that lie mostly along the removed lines and are no darker than them:
    bits of a line's edge. A stroke crossing a line has most of its ink off the line; a stroke drawn
    along one is darker than the line."""
    if not lines.any():
        return mask
    near_line = ndimage.binary_dilation(lines, structure=np.ones((3, 3), bool), iterations=2)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return mask
    on_line = ndimage.sum_labels(near_line, labels, index=np.arange(1, count + 1))
    area = ndimage.sum_labels(np.ones_like(mask), labels, index=np.arange(1, count + 1))
    strength = ndimage.median(ink, labels, index=np.arange(1, count + 1))
    faint = np.asarray(strength) <= (np.inf if as_dark_as_ink else _darker_than_lines(mask, lines, ink))
    remnant = np.concatenate([[False], (on_line > 0.6 * area) & faint])
    return mask & ~remnant[labels]


def frame_lines(faint: np.ndarray) -> np.ndarray:
    """The sides of boxes drawn round digits (a form's fields, one box or a row of them): pieces of
    `faint` closed on all four sides, and the straight lines that run across them. Lines that run
    from edge to edge of the photo are a ruled or squared page's, left to `ruled_lines` (a box's
    sides may be among those too: its upright sides cross most of a photo cropped close)."""
    found = np.zeros_like(faint)
    for region in measure.regionprops(measure.label(faint, connectivity=2)):
        y0, x0, y1, x1 = region.bbox
        off_the_photo = (x0 == 0 and x1 == faint.shape[1]) or (y0 == 0 and y1 == faint.shape[0])
        if min(y1 - y0, x1 - x0) < FRAME_MIN_SIDE or off_the_photo:  # a ruled page's lines run off the photo
            continue
        height = _closed_height(region.image)
        if not height:
            continue
        piece = region.image
        # A tilted row of boxes is taller than each box: its upright sides span the box's height, and
        # its top and bottom climb through the rows that the tilt adds. A line across the middle of a
        # box is a wide digit's stroke touching both sides, not a side.
        upright = _lines_along(piece.T, FRAME_SPAN * height / piece.shape[0], FRAME_TILTS, FRAME_MIN_ASPECT).T
        across = _lines_along(piece, FRAME_SPAN, FRAME_TILTS, FRAME_MIN_ASPECT)
        edge = round(FRAME_BAND * min(height, piece.shape[1])) + piece.shape[0] - height
        across[edge + 1 : piece.shape[0] - edge - 1] = False
        found[y0:y1, x0:x1] |= upright | across
    return found


def _closed_height(piece: np.ndarray) -> int:
    """When `piece` runs along nearly all of each edge of its box, straightened at the tilt of
    LINE_TILTS that makes it lowest (a row of boxes photographed at 3 degrees climbs a third of its
    height): the box's height, straightened. Otherwise 0."""
    columns = np.arange(piece.shape[1])
    heights = []
    for tilt in LINE_TILTS:
        shift = np.round(columns * np.tan(tilt)).astype(int)
        reach = int(np.abs(shift).max())
        sheared = _shear(np.pad(piece, ((reach, reach), (0, 0))), -shift)
        rows = np.flatnonzero(sheared.any(axis=1))
        heights.append((rows[-1] + 1 - rows[0], sheared[rows[0] : rows[-1] + 1]))
    height, box = min(heights, key=lambda item: item[0])
    band = max(2, round(FRAME_BAND * min(box.shape)))
    edges = (box[:band].any(axis=0), box[-band:].any(axis=0), box[:, :band].any(axis=1), box[:, -band:].any(axis=1))
    return int(height) if min(edge.mean() for edge in edges) >= FRAME_CLOSED else 0


def _lines_along(
    mask: np.ndarray,
    span: float = LINE_MIN_SPAN,
    tilts: np.ndarray = LINE_TILTS,
    aspect: float = LINE_MIN_ASPECT,
    edge_span: float | None = None,
) -> np.ndarray:
    """Near-horizontal lines of `mask`: runs at least `span` of the width long, or `edge_span` from one
    edge of `mask` to another (`mask` being the whole photo), and `aspect` times longer than thick,
    tried at each of `tilts`."""
    height, width = mask.shape
    min_length = max(12, round(span * width))
    lengths = [(min_length, False)] + ([(max(12, round(edge_span * width)), True)] if edge_span else [])
    columns = np.arange(width)
    # Room above and below: sheared straight, a tilted line near the top or bottom edge would leave the frame.
    room = int(np.ceil(width * np.tan(np.abs(tilts).max()))) + 1
    padded = np.pad(mask, ((room, room), (0, 0)))
    photo = np.pad(np.ones_like(mask), ((room, room), (0, 0)))
    found = np.zeros_like(padded)
    for tilt in tilts:
        shift = np.round(columns * np.tan(tilt)).astype(int)
        sheared = _shear(padded, -shift)
        bridged = ndimage.binary_closing(sheared, structure=np.ones((1, 5), bool))  # faint spots break a line
        for length, edge_to_edge in lengths:
            runs = _long_runs(bridged, length, _shear(photo, -shift) if edge_to_edge else None) & sheared
            if runs.any():
                found |= _shear(_thin_parts(runs, length, aspect), shift)
    return found[room : room + height]


def _shear(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Column x moved down by shift[x] rows (up when negative); what leaves the frame is dropped."""
    height = mask.shape[0]
    out = np.zeros_like(mask)
    for x, s in enumerate(shift):
        if abs(s) >= height:
            continue
        if s >= 0:
            out[s:, x] = mask[: height - s, x]
        else:
            out[: height + s, x] = mask[-s:, x]
    return out


def _long_runs(mask: np.ndarray, min_length: int, photo: np.ndarray | None = None) -> np.ndarray:
    """The pixels of `mask` in horizontal runs of at least `min_length`; given `photo` (where the photo
    lies in `mask`'s frame), only the runs from one of its edges to another, give or take LINE_EDGE_REACH."""
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    outside = None if photo is None else ~np.pad(photo, ((0, 0), (1, 1)))  # past either side is outside too
    edges = np.diff(padded, axis=1)
    out = np.zeros_like(mask)
    reach = LINE_EDGE_REACH
    for row in np.flatnonzero(mask.sum(axis=1) >= min_length):
        starts = np.flatnonzero(edges[row] == 1)
        ends = np.flatnonzero(edges[row] == -1)
        for start, end in zip(starts, ends, strict=True):
            # In the padded row the run is start+1 .. end: the `reach` pixels each side of it are looked at.
            if end - start >= min_length and (
                outside is None
                or (
                    outside[row, max(0, start + 1 - reach) : start + 1].any()
                    and outside[row, end + 1 : end + 1 + reach].any()
                )
            ):
                out[row, start:end] = True
    return out


def _thin_parts(runs: np.ndarray, min_length: int, aspect: float) -> np.ndarray:
    """The connected pieces of `runs` that are thin lines (long, and `aspect` times longer than thick)."""
    labels, count = ndimage.label(runs, structure=np.ones((3, 3)))
    keep = np.zeros(count + 1, bool)
    for region in measure.regionprops(labels):
        length = region.bbox[3] - region.bbox[1]
        if length >= min_length and length >= aspect * (region.area / length):
            keep[region.label] = True
    return keep[labels]


def _median_line_thickness(lines: np.ndarray) -> int:
    """The typical thickness of the line pixels, in pixels across the line."""
    rows = lines.sum(axis=0)
    cols = lines.sum(axis=1)
    thickness = [np.median(v[v > 0]) for v in (rows, cols) if (v > 0).any()]
    return int(round(min(thickness))) if thickness else 1


def remove_clutter(mask: np.ndarray) -> np.ndarray:
    """`mask` without specks (components under SPECK_SHARE of the largest) and without the page's
    edge or a desk's shadow (a component lying along more than half of one side of the photo)."""
    labels = measure.label(mask, connectivity=2)
    if labels.max() == 0:
        return mask
    regions = measure.regionprops(labels)
    height, width = mask.shape
    edge = np.zeros(labels.max() + 1, bool)
    for side, length in ((labels[0], width), (labels[-1], width), (labels[:, 0], height), (labels[:, -1], height)):
        touching, counts = np.unique(side[side > 0], return_counts=True)
        edge[touching[counts > length / 2]] = True
    keep = mask & ~edge[labels]
    areas = [r.area for r in regions if not edge[r.label]]
    if not areas:
        return keep
    return morphology.remove_small_objects(keep, max_size=int(SPECK_SHARE * max(areas)), connectivity=2)


def clean_ink(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The whole clean-up: returns (ink strength 0-255, ink mask, scale) at the working scale, where
    scale is working pixels per original pixel."""
    work, scale = working_scale(np.asarray(grey, dtype=np.float64))
    ink = ink_strength(work)
    faint = faint_mask(ink)
    lines = ruled_lines(faint, ink)
    mask = remove_line_remnants(remove_ruled_lines(ink_mask(ink), lines, ink), lines, ink)
    if FRAMES:
        frames = frame_lines(faint)
        mask = remove_ruled_lines(mask, frames, ink, as_dark_as_ink=True)
        mask = remove_line_remnants(mask, frames, ink, as_dark_as_ink=True)
    return ink, remove_clutter(mask), scale
