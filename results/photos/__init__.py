"""Reading people's images of digits: a photo or scan of paper in, the digits left to right out.

The pipeline, one module a step: `paper` cleans the photo down to its ink, `segment` finds the
digits left to right, `counter` tells how many digits a group of touching ink holds, `ink_box` and
`images` frame each digit as MNIST's are, `read` asks the model and chooses, `annotate` draws the
answers on the photo.

`read_image` is the one entry point from an image file (a path or its bytes) to an answer: the
command line, the HTTP API and the page all go through it, so they cannot disagree.
"""

from results.photos.annotate import annotate
from results.photos.images import ImageError, find_digits_in, read_greyscale, to_mnist
from results.photos.ink_box import ink_at_height
from results.photos.read import Failure, Prediction, classify, predict_files, read_found, read_image

__all__ = [
    "Failure",
    "ImageError",
    "Prediction",
    "annotate",
    "classify",
    "find_digits_in",
    "ink_at_height",
    "predict_files",
    "read_found",
    "read_greyscale",
    "read_image",
    "to_mnist",
]
