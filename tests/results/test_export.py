"""scripts/export.py on a real digits run trained with augmentation and test-time shift averaging: each
exported file run in its own runtime here (onnxruntime, the LiteRT interpreter) against the probabilities
the run itself stored for its test set, and the bad inputs that stop it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from results.run import layout
from runs import ROOT, run_cli, write_space

EXPORT_SCRIPT = ROOT / "scripts" / "export.py"
FILES = (layout.EXPORT_ONNX, layout.EXPORT_TFLITE, layout.EXPORT_TFLITE_INT8)


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory) -> Path:
    """A finished digits run whose saved model holds random augmentation layers, dropout and the average over
    five shifted images: everything the export must carry or leave out."""
    folder = tmp_path_factory.mktemp("export-run")
    space = write_space(
        folder / "space.toml",
        filters_min=16,
        filters_max=16,
        dense_units_min=32,
        dense_units_max=32,
        learning_rate_min=0.03,
        learning_rate_max=0.03,
        momentum_min=0.9,
        momentum_max=0.9,
        dropout_min=0.1,
        dropout_max=0.1,
        batch_size_min=16,
        batch_size_max=16,
    )
    run = folder / "run"
    result = run_cli(
        *("--dataset", "digits", "--tuner", "random", "--max-trials", "1", "--max-epochs", "1", "--epochs", "6"),
        *("--augment", "--tta", "--space", space, "--run-dir", run, "--quiet"),
    )
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture(scope="module")
def exported(tta_run):
    """The run exported in every format into RUN/export/, where an earlier export left files to replace."""
    out = tta_run / layout.EXPORT
    out.mkdir()
    (out / layout.EXPORT_TFLITE_INT8).write_bytes(b"an old file")
    (out / layout.EXPORT_JSON).write_text("{not json")
    return run_cli(tta_run, script=EXPORT_SCRIPT)


@pytest.fixture(scope="module")
def stored(tta_run):
    """The test images, labels and the probabilities the run's search computed with the Keras model."""
    with np.load(tta_run / layout.PREDICTIONS, allow_pickle=False) as npz:
        return npz["images"][..., None], npz["labels"], npz["probabilities"]


def onnx_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images.astype(np.float32)})[0]


def litert_probabilities(path: Path, images: np.ndarray) -> tuple[np.ndarray, dict]:
    """The file's probabilities of `images`, through its signature, and its input's details."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.allocate_tensors()
    answers = []
    for image in images:  # batch 1, the file's own input shape
        interpreter.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        interpreter.invoke()
        answers.append(interpreter.get_tensor(out["index"])[0])
    scale, zero_point = out["quantization"]
    answers = np.array(answers, dtype=np.float32)
    return ((answers - zero_point) * scale if scale else answers), inp


def assert_one_error_line(result, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_export_writes_every_file_and_prints_the_table(exported, tta_run, stored):
    assert exported.returncode == 0, exported.stderr
    out = tta_run / layout.EXPORT
    for name in (*FILES, layout.EXPORT_JSON):
        assert (out / name).is_file() and (out / name).stat().st_size > 1000, name  # the old files replaced
    assert not list(out.glob(".*.tmp*")), "a temp file was left behind"
    for word in ("Keras", "ONNX", "LiteRT", "int8", f"{len(stored[1])} test images"):
        assert word in exported.stdout


def test_float_files_answer_as_the_keras_model_in_their_own_runtimes(exported, tta_run, stored):
    """The stored probabilities are the saved model's: the average over five shifted images (--tta)."""
    assert json.loads((tta_run / layout.METRICS).read_text())["retrain"]["tta"] is True
    images, labels, keras = stored
    onnx = onnx_probabilities(tta_run / layout.EXPORT / layout.EXPORT_ONNX, images)
    tflite, inp = litert_probabilities(tta_run / layout.EXPORT / layout.EXPORT_TFLITE, images)
    for probabilities in (onnx, tflite):
        assert np.abs(probabilities - keras).max() < 1e-4
        assert (probabilities.argmax(1) == keras.argmax(1)).all()
    assert inp["dtype"] == np.float32 and tuple(inp["shape"]) == (1, 28, 28, 1)


def test_int8_file_takes_raw_pixels_and_reads_nearly_as_keras(exported, tta_run, stored):
    images, labels, keras = stored
    int8, inp = litert_probabilities(tta_run / layout.EXPORT / layout.EXPORT_TFLITE_INT8, images)
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)  # raw pixels 0-255 as they are
    # Quantization moves each probability a little: it may flip a close call, never a clear one.
    assert np.abs(int8 - keras).max() < 0.05
    top2 = np.sort(keras, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.1
    assert clear.sum() >= 20
    assert (int8.argmax(1) == keras.argmax(1))[clear].mean() >= 0.98
    sizes = {name: (tta_run / layout.EXPORT / name).stat().st_size for name in FILES}
    assert sizes[layout.EXPORT_TFLITE_INT8] < 0.5 * sizes[layout.EXPORT_TFLITE]


def test_exported_graphs_run_the_network_once_over_the_five_shifted_copies(exported, tta_run):
    """The Keras model calls its network once per shifted copy; the exported files stack the copies in one
    batch, so each convolution and dense layer appears once, not five times (and int8 keeps one set of
    biases and scales)."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    network = next(
        layer for layer in keras.models.load_model(tta_run / layout.MODEL).layers if isinstance(layer, keras.Model)
    )
    kinds = {"Conv2D": "CONV_2D", "Dense": "FULLY_CONNECTED"}
    expected = {op: sum(type(layer).__name__ == name for layer in network.layers) for name, op in kinds.items()}
    assert expected["CONV_2D"] >= 1 and expected["FULLY_CONNECTED"] >= 2
    for name in (layout.EXPORT_TFLITE, layout.EXPORT_TFLITE_INT8):
        ops = [op["op_name"] for op in Interpreter(str(tta_run / layout.EXPORT / name))._get_ops_details()]
        assert {op: ops.count(op) for op in expected} == expected, name


def test_export_json_records_what_each_runtime_measured(exported, tta_run, stored):
    images, labels, keras = stored
    record = json.loads((tta_run / layout.EXPORT / layout.EXPORT_JSON).read_text())
    metrics = json.loads((tta_run / layout.METRICS).read_text())
    models = record["models"]
    assert list(models) == ["keras", "onnx", "tflite", "tflite-int8"]
    assert record["test_count"] == len(labels) == metrics["test_count"]
    assert models["keras"]["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    onnx = onnx_probabilities(tta_run / layout.EXPORT / layout.EXPORT_ONNX, images)
    assert models["onnx"]["test_accuracy"] == pytest.approx((onnx.argmax(1) == labels).mean(), abs=1e-9)
    for name, file in zip(("onnx", "tflite", "tflite-int8"), FILES, strict=True):
        entry = models[name]
        assert entry["file"] == file and entry["bytes"] == (tta_run / layout.EXPORT / file).stat().st_size
        assert 0 < entry["latency_ms"] < 1000 and entry["images_per_second"] > 0
        assert 0 <= entry["max_prob_diff"] <= 1 and 0 <= entry["agreement"] <= 1
    assert models["onnx"]["max_prob_diff"] < 1e-4 and models["tflite"]["agreement"] == 1.0
    quantized = models["tflite-int8"]
    assert quantized["input"] | {"name": None} == {
        "name": None,
        "dtype": "uint8",
        "shape": [None, 28, 28, 1],
        "scale": 1.0,
        "zero_point": 0,
    }
    assert quantized["output"]["dtype"] == "uint8" and quantized["output"]["scale"] > 0
    assert record["measured"]["latency_calls"] >= 200 and record["measured"]["throughput_batch"] == 256


def test_report_shows_the_export_table(exported, tta_run):
    from results.report import report_tables
    from results.run import open_run

    tables = report_tables(open_run(tta_run))
    export = [table for table in tables if table.title.startswith("Exported models")]
    assert len(export) == 1, [table.title for table in tables]
    assert [row[0] for row in export[0].rows] == ["Keras", "ONNX", "LiteRT", "LiteRT int8"]


@pytest.fixture
def copy_of(tta_run, tmp_path):
    """A copy of the run, without its export, to damage."""
    target = tmp_path / "copy"
    shutil.copytree(tta_run, target, ignore=shutil.ignore_patterns(layout.EXPORT, layout.TUNER))
    return target


def test_a_run_without_a_model_stops_with_one_line(copy_of):
    (copy_of / layout.MODEL).unlink()
    assert_one_error_line(run_cli(copy_of, script=EXPORT_SCRIPT), layout.MODEL, "missing")


def test_a_damaged_model_stops_with_one_line(copy_of):
    data = (copy_of / layout.MODEL).read_bytes()
    (copy_of / layout.MODEL).write_bytes(data[: len(data) // 2])
    assert_one_error_line(run_cli(copy_of, script=EXPORT_SCRIPT), layout.MODEL)


def test_an_unknown_format_stops_with_one_line(tta_run):
    result = run_cli(tta_run, "--formats", "onnx,coreml", script=EXPORT_SCRIPT)
    assert_one_error_line(result, "'coreml'", "tflite-int8")


def test_a_folder_that_cannot_be_written_stops_with_one_line(tta_run, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "export"):
        assert_one_error_line(run_cli(tta_run, "--out", out, script=EXPORT_SCRIPT), str(out))


def test_int8_without_the_runs_calibration_images_stops_with_one_line(copy_of):
    (copy_of / layout.CALIBRATION).unlink()
    result = run_cli(copy_of, "--formats", "tflite-int8", script=EXPORT_SCRIPT)
    assert_one_error_line(result, layout.CALIBRATION)


def test_a_folder_that_is_not_a_run_stops_with_one_line(tmp_path):
    assert_one_error_line(run_cli(tmp_path, script=EXPORT_SCRIPT), "not a run directory")
