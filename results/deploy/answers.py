"""The server's reader: a run's model loaded once, answering image files' bytes through `read_image`,
one model call at a time."""

from __future__ import annotations

import json
import threading

import numpy as np

from results.photos import read_image
from results.photos.counter import shipped_counter
from results.photos.images import SIZE

# The answer's "file" when the client names none (predict.py's for bytes).
DEFAULT_NAME = "upload"


class Reader:
    """A run's best model, loaded at once (RunError when it cannot be), shared by the server's threads."""

    def __init__(self, run):
        self.run = run
        self.model = run.load_model()
        self._lock = threading.Lock()
        # The first call of a model, and loading the digit counter, take seconds: not on the first request.
        self.model(np.zeros((1, SIZE, SIZE, 1), dtype=np.float32), training=False)
        shipped_counter()

    def answer(self, data: bytes, name: str = DEFAULT_NAME, probabilities: bool = False) -> dict:
        """The JSON of `predict.py RUN FILE --json` for an image file's bytes, answered as `name`; with
        `probabilities`, each digit also carries the model's ten probabilities. Raises ImageError."""
        recorder = _Recorder(self.model)
        held = False

        def model():
            # read_image asks for the model only once the image is decoded and cleaned: those steps run
            # in parallel across requests, and the lock covers the model and the digit counter alone.
            nonlocal held
            self._lock.acquire()
            held = True
            return recorder

        try:
            # Through JSON and back: an answer's "unsure" may be a numpy bool, which JSONResponse refuses.
            answer = json.loads(json.dumps(read_image(data, model, name).as_dict(), default=_plain))
        finally:
            if held:
                self._lock.release()
        if probabilities:
            for digit in answer["digits"]:
                digit["probabilities"] = recorder.ten_for(digit, answer["top3"])
        return answer


def _plain(value):
    """A numpy scalar as the Python value JSON takes."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Recorder:
    """The model, keeping every row of probabilities it gave, so the page can show all ten for a digit
    whose answer (`read_image`'s) holds only the top three."""

    def __init__(self, model):
        self.model = model
        self.rows: list[np.ndarray] = []

    def __call__(self, images, **kwargs):
        out = np.asarray(self.model(images, **kwargs), dtype=np.float64)
        self.rows.extend(out)
        return out

    def ten_for(self, found: dict, top3: list | None) -> list[float]:
        """The ten probabilities of the row that gave a digit's answer (`found`, an answer's "digits" entry):
        the row with its digit on top at its probability (and `top3`, an image of one digit's), as read.py
        rounds them. Rows that match alike are alike to the sixth decimal: either will do."""
        top = top3 or [[found["digit"], found["probability"]]]
        for row in self.rows:
            if int(np.argmax(row)) == found["digit"] and all(abs(round(float(row[d]), 6) - p) < 1e-9 for d, p in top):
                return [round(float(p), 6) for p in row]
        raise LookupError(f"no recorded row gave {found['digit']} at {found['probability']}")
