"""Drawing what was read onto the photo: each digit's box and answer, so a person can check it."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from results.photos.read import Prediction
from results.run import atomic

SURE = (0, 150, 60)
UNSURE = (220, 120, 0)


def annotate(photo: str | Path, prediction: Prediction, out: str | Path) -> Path:
    """Write `photo` with a box round each digit of `prediction`, its answer above and its probability
    below (orange, with '?', when unsure) to `out` (PNG); returns the path written."""
    with Image.open(photo) as image:
        canvas = ImageOps.exif_transpose(image).convert("RGB")  # as read_greyscale turns it: the boxes match
    draw = ImageDraw.Draw(canvas)
    heights = [d.box[3] - d.box[1] for d in prediction.digits]
    tallest = max(heights) if heights else 40
    big = ImageFont.load_default(size=max(10, int(0.4 * tallest)))
    small = ImageFont.load_default(size=max(8, int(0.2 * tallest)))
    line = max(1, tallest // 40)
    for digit in prediction.digits:
        colour = UNSURE if digit.unsure else SURE
        x0, y0, x1, y1 = digit.box
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=line)
        answer = f"{digit.digit}{'?' if digit.unsure else ''}"
        _label(draw, canvas.size, answer, big, colour, (x0, y0), above=True)
        _label(draw, canvas.size, f"{digit.probability:.0%}", small, colour, (x0, y1), above=False)
    out = Path(out)
    with atomic.atomic_path(out, ".png") as tmp:
        canvas.save(tmp, format="PNG")
    return out


def _label(draw: ImageDraw.ImageDraw, size, text: str, font, colour, at: tuple[int, int], above: bool) -> None:
    """White `text` on a `colour` tag just above (or below) the point `at`; kept inside a picture of `size`."""
    x, y = at
    line = max(1, getattr(font, "size", 10) // 16)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 2 * line, bottom - top + 2 * line
    y = y - height if above else y
    y = min(max(0, y), size[1] - height)
    x = min(max(0, x), size[0] - width)
    draw.rectangle((x, y, x + width, y + height), fill=colour)
    draw.text((x + line - left, y + line - top), text, fill=(255, 255, 255), font=font)
