"""How many digits a group of touching ink holds: a small CNN that sees the whole group at its own aspect.

The digit model reads a pair of touching digits squeezed into one 20x20 box as one digit, often at
p=1.0 (an "89" as an 8), so its confidence cannot choose between reading a group as one digit or
cutting it. The counter looks at the group as it is, wide or narrow, and says whether it holds one,
two, or three or more digits; results/photos/read.py weighs that with the digit model's answers.

The counter ships with the package (`counter.keras`, 410 KB), trained on groups composed from
MNIST's training digits (singles, and digits written touching or overlapping) by
`python scripts/train_counter.py`; it never sees MNIST's test digits, which the photo benchmark uses.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from results.photos.ink_box import centred_in, ink_at_height, scaled_into

COUNTER_PATH = Path(__file__).with_name("counter.keras")
HEIGHT, WIDTH = 28, 64  # the counter's input: the group's ink, light on black
INNER = (20, 60)  # the group is scaled into this box, aspect kept (a single digit's height is MNIST's 20)
COUNTS = (1, 2, 3)  # the classes: one digit, two, three or more
COUNT_SHARES = (0.4, 0.4, 0.2)  # of the training groups
OVERLAP = (-0.3, 0.04)  # of the height: the gaps between touching digits, from overlapping to a blur apart


def group_image(ink: np.ndarray) -> np.ndarray:
    """A group's ink crop (light on black, any scale, cut to its box) as the counter's HEIGHTxWIDTH uint8
    input: scaled into INNER with its aspect kept, centred, strongest ink at 255."""
    out, _, _ = centred_in(scaled_into(np.asarray(ink, dtype=np.float64), INNER), (HEIGHT, WIDTH))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def compose(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Clean MNIST-style digits (light on black, 28x28) written side by side as a hand writes them
    touching: each a little taller or shorter and higher or lower, each gap drawn from OVERLAP; then a
    pen's thickness and the camera's blur. Returns the ink, cut to its box (0-1)."""
    height = int(rng.integers(40, 80))
    inks = []
    for image in digits:
        inks.append(ink_at_height(image, max(8, round(height * rng.uniform(0.88, 1.12)))))
    gaps = [round(rng.uniform(*OVERLAP) * height) for _ in inks[1:]]
    offsets = [round(rng.normal(0, 0.05 * height)) for _ in inks]
    lefts = np.cumsum([0] + [ink.shape[1] + gap for ink, gap in zip(inks[:-1], gaps, strict=True)])
    lefts -= lefts.min()
    tops = np.array(offsets) - min(offsets)
    canvas = np.zeros(
        (
            max(t + ink.shape[0] for t, ink in zip(tops, inks, strict=True)),
            max(x + ink.shape[1] for x, ink in zip(lefts, inks, strict=True)),
        )
    )
    for ink, x, y in zip(inks, lefts, tops, strict=True):
        region = canvas[y : y + ink.shape[0], x : x + ink.shape[1]]
        np.maximum(region, np.clip(ink, 0, 1), out=region)
    pen = rng.random()
    if pen < 0.25:
        canvas = ndimage.grey_dilation(canvas, size=int(rng.integers(2, 5)))
    elif pen < 0.35:
        canvas = ndimage.grey_erosion(canvas, size=2)
    canvas = ndimage.gaussian_filter(canvas, rng.uniform(0, 1.5))
    rows, cols = np.flatnonzero(canvas.max(axis=1) > 0.2), np.flatnonzero(canvas.max(axis=0) > 0.2)
    return canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def training_set(images: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` groups composed from `images` (MNIST-style digits), as counter inputs and their classes
    (0: one digit, 1: two, 2: three)."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(COUNTS), size=size, p=COUNT_SHARES)
    x = np.empty((size, HEIGHT, WIDTH), np.uint8)
    for i, c in enumerate(classes):
        picks = rng.choice(len(images), size=COUNTS[c], replace=False)
        x[i] = group_image(compose(list(images[picks]), rng))
    return x, classes.astype(np.int64)


def build_counter():
    """The counter's untrained network: raw 0-255 pixels in, the share of each count out."""
    import keras

    return keras.Sequential(
        [
            keras.Input((HEIGHT, WIDTH, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(48, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(len(COUNTS), activation="softmax"),
        ],
        name="digit_counter",
    )


def train_counter(images: np.ndarray, size: int = 120000, epochs: int = 8, seed: int = 0, verbose: int = 0):
    """A counter trained on `size` groups composed from `images` (MNIST's training digits)."""
    import keras

    keras.utils.set_random_seed(seed)
    x, y = training_set(images, size, seed)
    model = build_counter()
    steps = epochs * -(-size // 128)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[..., None], y, batch_size=128, epochs=epochs, verbose=verbose)
    return model


def write_counter(images: np.ndarray, target: str | Path = COUNTER_PATH, **train_args) -> float:
    """Train a counter on `images` (MNIST's training digits; see train_counter for `train_args`) and save
    it to `target` atomically, without the optimizer's state (the shipped file stays small). Returns its
    accuracy on groups composed from the last tenth of `images`, which it did not train on."""
    from results.run import atomic

    held_out = max(1, len(images) // 10)
    model = train_counter(images[:-held_out], **train_args)
    x, y = training_set(images[-held_out:], 6000, seed=train_args.get("seed", 0) + 1)
    accuracy = float((count_shares(model, x).argmax(axis=1) == y).mean())
    bare = build_counter()
    bare.set_weights(model.get_weights())
    atomic.save_model(bare, target)
    return accuracy


@functools.cache
def shipped_counter():
    """The counter that ships with the package (loaded once); None, with a warning, where its file is
    missing or damaged: groups are then counted by their width alone."""
    import keras

    try:
        return keras.saving.load_model(COUNTER_PATH)
    except Exception as e:  # Keras raises anything from ValueError to BadZipFile on a bad file
        warnings.warn(
            f"{COUNTER_PATH}: the digit counter does not load ({type(e).__name__}: {e}); touching digits are "
            "counted by the width of their ink alone. Rebuild it with: python scripts/train_counter.py",
            stacklevel=2,
        )
        return None


def count_shares(model, images: np.ndarray) -> np.ndarray:
    """For each counter input (HEIGHTxWIDTH uint8), the shares of one, two, and three or more digits."""
    if len(images) == 0:
        return np.zeros((0, len(COUNTS)))
    return np.asarray(model(images[..., None].astype("float32"), training=False), dtype=np.float64)
