"""Taking the best model out of the toolkit: exporting it (ONNX, LiteRT) and serving it (a page, an HTTP API)."""
