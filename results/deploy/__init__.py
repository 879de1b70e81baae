"""Taking the best model out of the toolkit: exporting it (ONNX, LiteRT) and serving it (a page, an HTTP API).

- `export`: `export_run` writes RUN/export/ (model.onnx, model.tflite, model_int8.tflite, export.json);
- `convert`: the Keras model at inference as ONNX and LiteRT bytes;
- `parity`: each file run in its own runtime, measured against Keras on the test set;
- `serve`: `serve_run` serves a run's model: the page (`page/`) and the HTTP API (`make_app`);
- `answers`: the server's `Reader`, the model answering image bytes through `read_image`, one call at a time.
"""

from results.deploy.answers import Reader
from results.deploy.convert import ExportError
from results.deploy.export import FORMATS, export_folder, export_run, parse_formats
from results.deploy.serve import make_app, serve_run

__all__ = [
    "FORMATS",
    "ExportError",
    "Reader",
    "export_folder",
    "export_run",
    "make_app",
    "parse_formats",
    "serve_run",
]
