"""Taking the best model out of the toolkit: exporting it (ONNX, LiteRT) and serving it (a page, an HTTP API).

- `export`: `export_run` writes RUN/export/ (model.onnx, model.tflite, model_int8.tflite, export.json);
- `convert`: the Keras model at inference as ONNX and LiteRT bytes;
- `parity`: each file run in its own runtime, measured against Keras on the test set.
"""

from results.deploy.convert import ExportError
from results.deploy.export import FORMATS, export_folder, export_run, parse_formats

__all__ = ["FORMATS", "ExportError", "export_folder", "export_run", "parse_formats"]
