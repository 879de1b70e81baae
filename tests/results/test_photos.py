"""Reading digits and numbers from photo-like pictures: the paper clean-up, the segmentation, and the
accuracy against the same digits in clean form, with a real CNN trained here on real MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from results.photos.images import ImageError, find_digits_in
from results.photos.paper import clean_ink
from search.bench.photo_like import CONDITIONS, make_picture

# --- clean-up and segmentation, without a model -------------------------------------------------


@pytest.fixture(scope="module")
def clean_digits(digits_slice) -> tuple[np.ndarray, np.ndarray]:
    """Handwritten test digits in MNIST's convention (light on dark, 28x28; the digits set, offline) and
    their labels: the clean-up and the segmentation see ink, not a model's answers."""
    return digits_slice.x_test, digits_slice.y_test


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_the_ink_left_after_clean_up_is_the_digit_alone(clean_digits, condition):
    images, labels = clean_digits
    rng = np.random.default_rng(1)
    for i in range(6):
        picture = make_picture([images[i]], [labels[i]], condition, rng)
        ink, mask, scale = clean_ink(picture.pixels.astype(float))
        x0, y0, x1, y1 = (round(v * scale) for v in picture.boxes[0])
        margin = max(2, round(0.08 * (y1 - y0)))
        inside = np.zeros_like(mask)
        inside[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin] = True
        # No ruled line, shadow or speck survives outside the digit; most of the digit does.
        assert mask[~inside].sum() <= 0.02 * mask[inside].sum(), (condition, i)
        truth = np.zeros_like(mask)
        truth[y0:y1, x0:x1] = True
        assert mask[truth].sum() > 0.08 * truth.sum(), (condition, i)


def _cast_shadow(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`pixels` under the shadow of something between the lamp and the page: a straight edge at any
    angle through the middle third, from sharp to a blur of ten pixels, and 30-55% of the light gone."""
    height, width = pixels.shape
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    across = (xx - rng.uniform(0.33, 0.67) * width) * np.cos(angle) + (yy - height / 2) * np.sin(angle)
    shade = 1 / (1 + np.exp(-across / rng.uniform(0.5, 10)))
    return pixels * (1 - rng.uniform(0.3, 0.55) * shade)


def test_the_edge_of_a_cast_shadow_is_not_taken_for_ink(mnist_slice):
    # Real MNIST (skipped without it): its 2% margin was measured on MNIST's strokes; the digits set's
    # 8x8 images scaled up blur past the box (106 stray pixels against 91 allowed, on its first image).
    images, labels = mnist_slice.x_test, mnist_slice.y_test
    rng = np.random.default_rng(4)
    for i in range(8):
        picture = make_picture([images[i]], [labels[i]], "plain", rng)
        ink, mask, scale = clean_ink(_cast_shadow(picture.pixels.astype(float), rng))
        x0, y0, x1, y1 = (round(v * scale) for v in picture.boxes[0])
        margin = max(2, round(0.08 * (y1 - y0)))
        inside = np.zeros_like(mask)
        inside[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin] = True
        assert mask[~inside].sum() <= 0.02 * mask[inside].sum(), i
        groups = find_digits_in(_cast_shadow(picture.pixels.astype(float), np.random.default_rng(i)))
        assert len(groups) == 1 and _iou(groups[0][0][0].box, picture.boxes[0]) > 0.6, i


def _written_in_boxes(images: np.ndarray, row: bool, tilt: float, shade: int) -> tuple[np.ndarray, list]:
    """A form's field: each digit written in its own box drawn `shade` dark (separate boxes, or one row
    of boxes sharing their sides), the boxes tilted `tilt` degrees as a photo takes them; and the
    digits' boxes (x0, y0, x1, y1)."""
    from PIL import ImageDraw

    scale, cell = 4, 150
    page = Image.new("L", (cell * (len(images) + 2), cell * 3), 225)
    draw = ImageDraw.Draw(page)
    slope = np.tan(np.deg2rad(tilt))

    def corner(x, y):
        return (x, y + (x - cell) * slope)

    for j in range(len(images)):
        left, right = cell * (j + 1) + (0 if row else 8), cell * (j + 2) - (0 if row else 8)
        sides = [corner(left, cell), corner(right, cell), corner(right, 2 * cell), corner(left, 2 * cell)]
        draw.line([*sides, sides[0]], fill=shade, width=3)
    pixels = np.asarray(page, dtype=np.float64)
    boxes = []
    for j, image in enumerate(images):
        ink = np.asarray(Image.fromarray(image).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)) / 255.0
        x, y = cell * (j + 1) + 19, round(cell + 19 + (cell * j + 19) * slope)
        region = pixels[y : y + 28 * scale, x : x + 28 * scale]
        region *= 1 - 0.8 * ink
        rows, cols = np.flatnonzero(ink.max(axis=1) > 0.25), np.flatnonzero(ink.max(axis=0) > 0.25)
        if rows.size:
            boxes.append((x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1))
    return pixels, boxes


@pytest.mark.parametrize(("row", "tilt", "shade"), [(False, 0.0, 60), (True, 2.5, 60), (True, -1.5, 150)])
def test_digits_written_in_a_forms_boxes_are_found_without_the_boxes(clean_digits, row, tilt, shade):
    images, _ = clean_digits
    pixels, truth = _written_in_boxes(images[:4], row, tilt, shade)
    groups = find_digits_in(pixels)
    found = [ways[0] for ways in groups]
    assert [len(way) for way in found] == [1, 1, 1, 1], [[d.box for d in way] for way in found]
    for way, box in zip(found, truth, strict=True):
        assert _iou(way[0].box, box) > 0.7, (way[0].box, box)


@pytest.mark.parametrize("condition", ["plain", "uneven_light", "ruled"])
def test_the_digits_of_a_number_are_found_left_to_right_with_the_right_cut_offered(clean_digits, condition):
    images, labels = clean_digits
    rng = np.random.default_rng(2)
    every_digit_found = right_cut_offered = groups_seen = 0
    for _ in range(10):
        picks = rng.choice(len(images), size=int(rng.integers(3, 6)), replace=False)
        picture = make_picture(list(images[picks]), list(labels[picks]), condition, rng)
        groups = find_digits_in(picture.pixels)
        lefts = [ways[0][0].box[0] for ways in groups]
        assert lefts == sorted(lefts)
        centres = [(b[0] + b[2]) / 2 for b in picture.boxes]
        inside = []
        for ways in groups:
            x0, x1 = ways[0][0].box[0], ways[0][-1].box[2]
            inside.append(sum(x0 <= c < x1 for c in centres))
            right_cut_offered += inside[-1] in {len(way) for way in ways}
        groups_seen += len(groups)
        every_digit_found += sum(inside) == len(picture.digits)
    # The classifier picks among the cuts offered (results/photos/read.py); the true one must be there.
    assert every_digit_found >= 9, f"{every_digit_found} of 10 numbers had every digit inside a group"
    assert right_cut_offered >= 0.95 * groups_seen, f"the right cut was offered for {right_cut_offered}/{groups_seen}"


def test_a_cut_leans_between_slanted_digits_and_never_slips_through_a_stroke():
    from results.photos.segment import cut_path

    # Two strokes leaning right, 6 columns apart: no straight column separates them, a leaning path does.
    mask = np.zeros((30, 30), bool)
    for r in range(30):
        mask[r, 2 + r // 4 : 4 + r // 4] = True
        mask[r, 9 + r // 4 : 11 + r // 4] = True
    assert all(mask[:, c].any() for c in range(2, 18))
    path, crossed = cut_path(mask, 4, 16)
    assert not crossed.any() and not mask[np.arange(30), path].any()
    assert path[0] < path[-1]  # it leans with them

    # A stroke one pixel wide on the diagonal: 8-connected, so any path across it crosses it.
    diagonal = np.eye(12, dtype=bool)
    path, crossed = cut_path(diagonal, 3, 9)
    assert crossed.sum() >= 1


def _ring(mask: np.ndarray, centre: tuple[int, int], half_width: int, half_height: int, stroke: int) -> None:
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    outer = ((xx - centre[1]) / half_width) ** 2 + ((yy - centre[0]) / half_height) ** 2 <= 1
    inner = ((xx - centre[1]) / (half_width - stroke)) ** 2 + ((yy - centre[0]) / (half_height - stroke)) ** 2 <= 1
    mask |= outer & ~inner


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_1_touching_a_wide_digit_is_offered_cut_off_at_its_edge(side):
    from results.photos.segment import find_digits

    # A "0" 38 wide and 41 tall with a "1" (a bar 4 wide, as tall) touching its side: the true cut is
    # 4 columns from an edge, far from the middle, where the even cut into two looks.
    mask = np.zeros((60, 70), bool)
    _ring(mask, (30, 33), 19, 20, 4)
    bar = slice(10, 14) if side == "left" else slice(53, 57)
    mask[10:51, bar] = True
    (ways,) = find_digits(mask)
    one = [way for way in ways if len(way) == 2 and way[0 if side == "left" else 1].width <= 6]
    assert one, [[d.box for d in way] for way in ways]
    piece = one[0][0 if side == "left" else 1]
    # The column the cut runs along goes to the piece on its right: a pixel's give at the contact.
    assert abs(piece.box[0] - bar.start) <= 1 and abs(piece.box[2] - bar.stop) <= 1 and piece.height == 41

    # The "0" alone is never read as a "1" and a rest: a cut near its edge crosses two strokes.
    zero = np.zeros((60, 70), bool)
    _ring(zero, (30, 33), 19, 20, 4)
    (ways,) = find_digits(zero)
    assert all(min(d.width for d in way) > 10 for way in ways), [[d.box for d in way] for way in ways]


def test_a_1_touching_a_narrow_digit_is_offered_cut_off_too():
    from results.photos.segment import find_digits

    # A "1" (a bar 4 wide, 41 tall) touching a "0" 24 wide: together 0.68 times as wide as tall, too
    # narrow to be offered as two digits cut evenly, but not too narrow for a "1" and its neighbour.
    mask = np.zeros((60, 50), bool)
    _ring(mask, (30, 28), 12, 20, 4)
    mask[10:51, 12:16] = True
    (ways,) = find_digits(mask)
    assert any(len(way) == 2 and way[0].width <= 6 and way[1].width >= 20 for way in ways), [
        [d.box for d in way] for way in ways
    ]

    # Two thin strokes joined at the top in a group as narrow: one digit's strokes (a "1" the photo broke,
    # a 7, a 4) far more often than two "1"s, so the "1" is not freed from a neighbour as thin as itself.
    mask = np.zeros((60, 50), bool)
    mask[10:51, 12:16] = True
    mask[10:51, 30:34] = True
    mask[10:13, 12:34] = True
    (ways,) = find_digits(mask)
    assert ways == [[ways[0][0]]], [[d.box for d in way] for way in ways]


def test_two_digits_of_unequal_width_are_offered_cut_where_they_touch():
    from results.photos.segment import find_digits

    # A "0" 40 wide touching a "0" 20 wide, both 41 tall, sharing a stroke at columns 45-52: they meet at
    # two thirds of the group's width, beyond the even cut's reach and too far in for a "1" at an edge.
    mask = np.zeros((60, 80), bool)
    _ring(mask, (30, 29), 20, 20, 4)  # columns 9-49
    _ring(mask, (30, 58), 10, 20, 4)  # columns 48-68
    (ways,) = find_digits(mask)
    pairs = [[d.box for d in way] for way in ways if len(way) == 2]
    assert any(45 <= b[0] and a[2] <= 54 for a, b in pairs), pairs  # cut within the shared stroke


def test_a_5_whose_long_bar_the_pen_lifted_from_keeps_its_bar():
    from results.photos.segment import find_digits

    # "0 5 0", 41 tall: the 5's body is a ring under a bar a row of paper above it that runs on past its
    # right side (as MNIST's 5s often do): together 1.44 times as wide as the digits are tall.
    mask = np.zeros((70, 200), bool)
    _ring(mask, (35, 30), 14, 20, 4)
    _ring(mask, (41, 95), 14, 14, 4)  # the body, rows 27-55
    mask[21:26, 96:140] = True  # the bar, over the body's right half and beyond
    _ring(mask, (35, 170), 14, 20, 4)
    groups = find_digits(mask)
    assert len(groups) == 3, [[d.box for d in ways[0]] for ways in groups]
    (five,) = next(way for way in groups[1] if len(way) == 1)  # wide enough to be offered cut in two as well
    assert five.box[1] == 21 and five.box[2] == 140, five.box


def test_a_broken_off_remnant_well_short_of_the_digits_is_no_digit():
    from results.photos.segment import find_digits

    # Two rings 41 tall, and after them a thin upright remnant 24 tall (0.57 of their height), standing
    # apart: what is left of a stroke the clean-up broke, not a "1" (a "1" stands as tall as its neighbours).
    mask = np.zeros((70, 160), bool)
    _ring(mask, (35, 30), 14, 20, 4)
    _ring(mask, (35, 80), 14, 20, 4)
    mask[35:59, 120:123] = True
    groups = find_digits(mask)
    assert [ways[0][0].box[2] for ways in groups] == [45, 95], [[d.box for d in ways[0]] for ways in groups]
    # The same remnant standing as tall as the digits is a digit.
    mask[15:35, 120:123] = True
    assert len(find_digits(mask)) == 3


def test_a_thin_1_touching_a_ruled_line_is_kept_and_the_line_goes():
    # "0 1 0" between two ruled lines, the "1" a thin stroke fainter than the 0s, from the upper line
    # down to the lower one: one piece with the lines, and as faint as they are on the whole.
    yy, xx = np.mgrid[0:160, 0:260]
    page = np.full((160, 260), 225.0)
    page[38:40, :] = page[118:120, :] = 175
    for centre in (60, 200):
        ring = np.hypot((xx - centre) / 22, (yy - 80) / 36)
        page[(ring <= 1) & (ring >= 0.8)] = 60
    page[40:118, 129:132] = 120
    page += np.random.default_rng(0).normal(0, 2, page.shape)
    _, mask, scale = clean_ink(np.clip(page, 0, 255))
    assert scale == 1.0
    assert mask[45:115, 129:132].mean() > 0.9  # the "1"
    assert not mask[36:42, :20].any() and not mask[116:122, :20].any()  # the lines, away from the digits


@pytest.mark.parametrize("leaves_at", [100, 200], ids=["two-thirds-across", "two-fifths-across"])
def test_a_tilted_ruled_line_running_out_of_the_photo_goes_and_the_digits_on_it_come_apart(leaves_at):
    # Three 0s written on a faint ruled line tilted 3 degrees, which leaves the photo at its bottom edge
    # `leaves_at` pixels across: the shear that straightens the line must not push it out of the frame,
    # and a line that the frame cuts short (here to two fifths of the photo's width) is a line still.
    height, width = 160, 340
    yy, xx = np.mgrid[0:height, 0:width]
    page = np.full((height, width), 225.0)
    line_y = (height - 2) - (xx - leaves_at) * np.tan(np.deg2rad(3))
    on_line = np.abs(yy - line_y) <= 0.5  # down to where it leaves the photo
    page[on_line] = 175
    centres = [leaves_at + 30, leaves_at + 70, leaves_at + 110]
    for centre in centres:
        bottom = (height - 2) - (centre - leaves_at) * np.tan(np.deg2rad(3))
        ring = np.hypot((xx - centre) / 16, (yy - (bottom - 35)) / 36)
        page[(ring <= 1) & (ring >= 0.75)] = 60
    page += np.random.default_rng(0).normal(0, 2, page.shape)
    _, mask, scale = clean_ink(np.clip(page, 0, 255))
    assert scale == 1.0
    away = on_line & ((xx < centres[0] - 18) | (xx > centres[-1] + 20))
    assert away.sum() > 10 and not mask[away].any()
    assert len(find_digits_in(np.clip(page, 0, 255))) == 3


def test_a_blank_page_under_uneven_light_has_no_digit():
    yy, xx = np.mgrid[0:300, 0:400]
    page = 220 * (1 - 0.5 * xx / 400) * (1 - 0.2 * yy / 300)
    page += np.random.default_rng(0).normal(0, 3, page.shape)
    with pytest.raises(ImageError, match="no digit"):
        find_digits_in(page)


def test_a_forms_empty_boxes_are_no_digit(clean_digits):
    images, _ = clean_digits
    pixels, _ = _written_in_boxes(images[:3], row=True, tilt=1.0, shade=60)
    empty, _ = _written_in_boxes(images[:3] * 0, row=True, tilt=1.0, shade=60)  # the same boxes, nothing written
    assert len(find_digits_in(pixels)) == 3
    with pytest.raises(ImageError, match="no digit"):
        find_digits_in(empty)


def test_ruled_lines_alone_are_no_digit():
    page = np.full((240, 320), 225.0)
    page[40::40, :] = 150  # ruled lines every 40 pixels, and a margin line
    page[:, 60] = 170
    with pytest.raises(ImageError, match="no digit"):
        find_digits_in(page)


def test_a_fine_pens_digit_on_a_whole_page_is_found(clean_digits):
    from skimage import morphology

    images, _ = clean_digits
    height = 240
    big = np.asarray(Image.fromarray(images[0]).resize((height, height), Image.Resampling.BICUBIC)) > 100
    pen = morphology.dilation(morphology.skeletonize(big), morphology.disk(1))  # strokes 3 pixels wide
    page = np.full((3000, 2250), 205.0)
    page[1400 : 1400 + height, 1000 : 1000 + height][pen] = 70
    page += np.random.default_rng(0).normal(0, 3, page.shape)
    groups = find_digits_in(np.clip(page, 0, 255))
    assert len(groups) == 1
    rows, cols = np.flatnonzero(pen.any(axis=1)), np.flatnonzero(pen.any(axis=0))
    truth = (1000 + cols[0], 1400 + rows[0], 1000 + cols[-1] + 1, 1400 + rows[-1] + 1)
    assert _iou(groups[0][0][0].box, truth) > 0.8, (groups[0][0][0].box, truth)


def test_a_phone_photo_stored_turned_is_read_upright(tmp_path, clean_digits):
    from results.photos.images import read_greyscale

    images, labels = clean_digits
    picture = make_picture([images[0]], [labels[0]], "plain", np.random.default_rng(3))
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; viewers rotate 90 degrees clockwise
    Image.fromarray(picture.pixels).rotate(90, expand=True).save(path, exif=exif)
    np.testing.assert_allclose(read_greyscale(path), picture.pixels, atol=40)


# --- accuracy against clean form, with a real model --------------------------------------------


@pytest.fixture(scope="module")
def mnist_model(mnist_path):
    """A small CNN from the project's own space, trained here on 10,000 real MNIST images for 2 epochs."""
    import keras
    import keras_tuner as kt

    from space import CNNHyperModel, SpaceConfig

    keras.utils.set_random_seed(0)
    with np.load(mnist_path) as npz:
        x, y = npz["x_train"][:10000], npz["y_train"][:10000]
    hp = kt.HyperParameters()
    hp.values = {
        "conv_blocks": 2,
        "filters_0": 32,
        "filters_1": 64,
        "dense_units": 128,
        "dropout": 0.2,
        "learning_rate": 0.05,
        "momentum": 0.9,
        "batch_size": 64,
    }
    model = CNNHyperModel(SpaceConfig()).build(hp)
    model.fit(x[..., None], y, batch_size=64, epochs=2, verbose=0)
    return model


@pytest.fixture(scope="module")
def test_digits(mnist_path):
    with np.load(mnist_path) as npz:
        return npz["x_test"], npz["y_test"]


@pytest.mark.slow
def test_photo_like_digits_and_numbers_are_read_nearly_as_well_as_clean_ones(mnist_model, test_digits):
    from search.bench.photos import measure, table

    images, labels = test_digits
    # The two harder conditions (plain paper is the easy case of both).
    scores = measure(mnist_model, images, labels, ("uneven_light", "ruled"), digits=50, numbers=25, seed=5)
    print(table(scores))
    for s in scores:
        assert s.digit_clean >= 0.93, "the model trained here is too weak to compare with"
        # 50 digits and 25 numbers a condition: wider margins than the README's 200 and 150 need.
        assert s.digit_photo >= s.digit_clean - 0.07, s
        assert s.number_photo >= s.number_clean - 0.2, s
        assert s.wrong_flagged != s.wrong_flagged or s.wrong_flagged >= 0.3, s  # nan: nothing was wrong


def _touching(images: np.ndarray, overlap: float) -> np.ndarray:
    """A photo-like page of MNIST digits written 60 pixels tall in dark ink on grey paper, each reaching
    `overlap` of the height into the one before it."""
    inks = []
    for image in images:
        rows, cols = np.flatnonzero(image.max(axis=1) > 30), np.flatnonzero(image.max(axis=0) > 30)
        crop = Image.fromarray(image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        inks.append(np.asarray(crop.resize((round(60 * crop.width / crop.height), 60), Image.Resampling.BICUBIC)))
    step = round(overlap * 60)
    page = np.zeros((140, sum(ink.shape[1] for ink in inks) + 120))
    x = 60
    for ink in inks:
        page[40:100, x : x + ink.shape[1]] = np.maximum(page[40:100, x : x + ink.shape[1]], ink / 255.0)
        x += ink.shape[1] - step
    page = 215 * (1 - 0.75 * page) + np.random.default_rng(0).normal(0, 3, page.shape)
    return np.clip(page, 0, 255)


def _touching_pairs_read_right(model, images: np.ndarray, labels: np.ndarray) -> int:
    """How many of 30 pairs of touching digits, each digit one the model reads right alone, are read as
    the right two-digit number."""
    from results.photos.read import classify, read_found

    clean = np.array([top[0][0] for top, _ in classify(model, images[:400])]) == labels[:400]
    pairs = np.flatnonzero(clean)[:60].reshape(-1, 2)  # 30 pairs of digits the model reads right alone
    right = 0
    for pair in pairs:
        prediction = read_found(model, find_digits_in(_touching(images[pair], overlap=0.06)), "pair")
        right += prediction.number == "".join(str(labels[i]) for i in pair)
    return right


@pytest.mark.slow
def test_digits_written_touching_are_read_as_two(mnist_model, test_digits):
    right = _touching_pairs_read_right(mnist_model, *test_digits)
    # Measured with this module's model: 22 of 30 read right without the counter and the extra pair cuts,
    # 22 with the counter alone, 24 with the cuts alone, 27 with both.
    assert right >= 25, right


@pytest.mark.slow
def test_a_damaged_counter_file_warns_and_numbers_are_still_read(mnist_model, test_digits, tmp_path, monkeypatch):
    from results.photos import counter
    from results.photos.read import read_found

    damaged = tmp_path / "counter.keras"
    damaged.write_bytes(counter.COUNTER_PATH.read_bytes()[:5000])  # cut short, as a failed copy leaves it
    monkeypatch.setattr(counter, "COUNTER_PATH", damaged)
    counter.shipped_counter.cache_clear()
    images, labels = test_digits
    try:
        with pytest.warns(UserWarning, match="the digit counter does not load"):
            read_found(mnist_model, find_digits_in(_touching(images[:2], overlap=0.06)), "pair")
        right = _touching_pairs_read_right(mnist_model, images, labels)
    finally:
        counter.shipped_counter.cache_clear()
    # Without the counter the pair cuts alone read 24 of the 30 pairs with this module's model (27 with it);
    # a reader that fell back to one digit a group, or gave up, reads none.
    assert right >= 21, right


@pytest.mark.slow
def test_ink_that_is_no_digit_is_flagged_unsure(mnist_model):
    from results.photos.read import read_found

    page = np.full((200, 200), 230.0)
    yy, xx = np.mgrid[0:200, 0:200]
    page[(yy - 100) ** 2 + (xx - 100) ** 2 < 60**2] = 40  # a solid blot of ink
    prediction = read_found(mnist_model, find_digits_in(page), "blot")
    assert prediction.unsure and prediction.as_dict()["unsure"] is True
    assert "unsure" in prediction.as_text()
