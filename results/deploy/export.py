"""Exporting a run's best model: ONNX and LiteRT files, each measured in its own runtime against Keras.

`export_run` writes into RUN/export/ (or another folder) the files asked for and export.json, which
records for Keras and for each file: test accuracy, argmax agreement with Keras, the largest probability
difference, file size, median batch-1 latency and images per second at batch 256, and each file's input
and output (the int8 file's scale and zero point). Every file is written atomically; a new export replaces
the files it writes, and export.json keeps the entries of formats not exported again only while their
file is still the one exported from the same model.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import platform
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from results.deploy import convert, parity
from results.deploy.convert import ExportError
from results.run import Run, atomic, files, layout

# Format name -> the file it writes, in the order they are exported and shown.
FORMATS = {"onnx": layout.EXPORT_ONNX, "tflite": layout.EXPORT_TFLITE, "tflite-int8": layout.EXPORT_TFLITE_INT8}
RUNTIMES = {"onnx": "onnxruntime", "tflite": "ai-edge-litert", "tflite-int8": "ai-edge-litert"}
VERSIONS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def parse_formats(text: str) -> list[str]:
    """The formats named in `text` (comma-separated), in FORMATS' order; ExportError for an unknown one."""
    asked = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in asked if name not in FORMATS]
    if unknown or not asked:
        what = f"unknown format {', '.join(map(repr, unknown))}" if unknown else "no format given"
        raise ExportError(f"{what}: choose from {', '.join(FORMATS)}, separated by commas")
    return [name for name in FORMATS if name in asked]


def export_run(
    run: Run, formats: list[str] | None = None, out: str | Path | None = None, say: Callable[[str], None] = print
) -> dict:
    """Write `formats` (default all) of `run`'s best model and export.json into `out` (default RUN/export/);
    returns export.json's record. RunError for a run without what it needs, ExportError for a folder that
    cannot be written or a model that cannot be exported; `say` is told of each step."""
    formats = list(FORMATS) if formats is None else formats
    _check_runtimes(formats)
    out = export_folder(run, out)
    _check_writable(out)
    test = run.test_predictions
    calibration = run.calibration_images() if "tflite-int8" in formats else None
    model = run.load_model()
    infer = convert.inference_function(model)
    say(f"keras: predicting the {len(test.labels):,} test images")
    reference = parity.keras_probabilities(model, test.images)
    keras_result, _ = parity.measure(parity.graph_predict(infer), test.images, test.labels, reference)
    model_bytes = run.model_path.read_bytes()
    keras_file = {"file": run.model_path.name, "bytes": len(model_bytes), "runtime": "tensorflow"}
    entries = {"keras": {**keras_file, **keras_result}}
    with tempfile.TemporaryDirectory() as scratch:  # the SavedModel both LiteRT files are converted from
        saved = convert.saved_model(infer, Path(scratch)) if set(formats) - {"onnx"} else None
        for name in formats:
            path = out / FORMATS[name]
            say(f"{name}: converting to {path}")
            data, extra = _converted(name, infer, saved, calibration)
            atomic.write_bytes(path, data)
            say(f"{name}: measuring in {RUNTIMES[name]}")
            predict, tensors = parity.onnx_predict(path) if name == "onnx" else parity.litert_predict(path)
            result, _ = parity.measure(predict, test.images, test.labels, reference)
            entries[name] = {"file": path.name, "bytes": len(data), "runtime": RUNTIMES[name]}
            entries[name].update(**extra, **tensors, **result)
    source = {"model": run.model_path.name, "sha256": hashlib.sha256(model_bytes).hexdigest()}
    models = {**_kept_entries(out, source, exclude=formats), **entries}
    record = {
        "source": source,
        "test_count": len(test.labels),
        "models": {k: models[k] for k in ("keras", *FORMATS) if k in models},
        "measured": _measured_on(),
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic.write_json(out / layout.EXPORT_JSON, record)
    return record


def export_folder(run: Run, out: str | Path | None = None) -> Path:
    """Where an export of `run` goes: `out`, else RUN/export/."""
    return Path(out) if out is not None else run.path / layout.EXPORT


# What each format needs installed (the `export` extra: pip install "mnist-tuner[export]").
NEEDS = {"onnx": ("tf2onnx", "onnxruntime"), "tflite": ("ai_edge_litert",), "tflite-int8": ("ai_edge_litert",)}


def _check_runtimes(formats: list[str]) -> None:
    """ExportError (one line) naming what is missing for `formats`, before any work."""
    missing = sorted({m for name in formats for m in NEEDS[name] if importlib.util.find_spec(m) is None})
    if missing:
        raise ExportError(f'{", ".join(missing)} not installed: pip install "mnist-tuner[export]"')


def _converted(name: str, infer, saved: Path | None, calibration) -> tuple[bytes, dict]:
    """The file's bytes for format `name`, and what export.json records about its conversion (ExportError,
    one line, where the converter fails)."""
    try:
        return _convert(name, infer, saved, calibration)
    except ExportError:
        raise
    except Exception as e:  # tf2onnx and TensorFlow's converter raise their own kinds
        reason = " ".join(str(e).split())[:300] or type(e).__name__
        raise ExportError(f"{name}: the converter failed ({type(e).__name__}: {reason})") from None


def _convert(name: str, infer, saved: Path | None, calibration) -> tuple[bytes, dict]:
    if name == "onnx":
        data, opset = convert.to_onnx(infer)
        return data, {"opset": opset}
    if name == "tflite":
        return convert.to_tflite(saved), {}
    return convert.to_tflite_int8(saved, calibration), {"calibration_images": len(calibration)}


def _check_writable(out: Path) -> None:
    """ExportError (one line) unless files can be written into the folder `out` (made if missing)."""
    try:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"{out} is a file, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        raise ExportError(f"cannot write to {out}: {reason}; give a folder you may write to (--out)") from None


def _kept_entries(out: Path, source: dict, exclude: list[str]) -> dict:
    """The entries of an earlier export.json in `out` for formats not exported now, where that export was of
    the same model and its file is still there, of the size recorded."""
    try:
        earlier = files.read_json(out / layout.EXPORT_JSON)
    except files.DamagedFile:
        return {}
    if earlier.get("source") != source or not isinstance(earlier.get("models"), dict):
        return {}
    kept = {}
    for name, entry in earlier["models"].items():
        if name in FORMATS and name not in exclude and isinstance(entry, dict):
            path = out / FORMATS[name]
            if path.is_file() and path.stat().st_size == entry.get("bytes"):
                kept[name] = entry
    return kept


def _measured_on() -> dict:
    """The machine the timings were taken on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "threads": parity.threads(),
        "latency_calls": parity.LATENCY_CALLS,
        "throughput_batch": parity.THROUGHPUT_BATCH,
    }


def _versions() -> dict:
    versions = {}
    for package in VERSIONS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
