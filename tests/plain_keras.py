"""A saved model as a plain-Keras process sees it: a fresh interpreter that imports nothing of the project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

PLAIN_KERAS = """
import json, sys
import keras, numpy as np
model = keras.saving.load_model(sys.argv[1])
def layers(m):
    for layer in m.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from layers(layer)
policies = sorted({layer.dtype_policy.name for layer in layers(model)})
probabilities = model.predict(np.load(sys.argv[2]), verbose=0)
np.save(sys.argv[3], probabilities)
print(json.dumps({"policies": policies, "dtype": str(probabilities.dtype)}))
"""


def plain_keras_predict(model_path: Path, images: np.ndarray, tmp_path: Path) -> tuple[list[str], np.ndarray]:
    """The layer dtype policies a plain-Keras process sees in the saved model (nested models' included),
    and its answers to `images` (float32)."""
    np.save(tmp_path / "images.npy", images)
    out = tmp_path / "answers.npy"
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_KERAS, str(model_path), str(tmp_path / "images.npy"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["dtype"] == "float32"
    return seen["policies"], np.load(out)
