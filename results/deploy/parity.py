"""Each exported file run in its own runtime, measured against the Keras model on the test set.

onnxruntime runs the ONNX file, the LiteRT interpreter (`ai_edge_litert`) the .tflite files; Keras runs
`model(x, training=False)`. Each answers with float32 probabilities, (N, 10): the int8 file's uint8
output is dequantized with the scale and zero point it holds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from results.quiet_tf import stderr_silenced

LATENCY_CALLS = 200  # batch-1 calls whose median is the latency
WARMUP_CALLS = 10
THROUGHPUT_BATCH = 256

Predict = Callable[[np.ndarray], np.ndarray]  # raw pixels (N, 28, 28, 1) -> probabilities (N, 10)


def threads() -> int:
    """The threads every runtime is given: one per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def keras_probabilities(model, images: np.ndarray) -> np.ndarray:
    """The reference: the Keras model's probabilities of `images` (uint8 (N, 28, 28)), called eagerly as
    `model(x, training=False)` in batches of THROUGHPUT_BATCH."""
    x = images.reshape(-1, 28, 28, 1).astype(np.float32)
    batches = range(0, len(x), THROUGHPUT_BATCH)
    return np.concatenate([np.asarray(model(x[i : i + THROUGHPUT_BATCH], training=False)) for i in batches])


def graph_predict(infer) -> Predict:
    """The Keras model at inference traced as one TensorFlow graph (convert.inference_function): what Keras'
    speed is measured on, as eager calls spend most of a small batch's time dispatching layer by layer."""
    return lambda x: next(iter(infer(x.astype(np.float32)).values())).numpy()


def onnx_predict(path) -> tuple[Predict, dict]:
    """An onnxruntime session of the ONNX file at `path`, and its input and output."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run([out.name], {inp.name: x.astype(np.float32)})[0]

    return predict, {"input": _onnx_tensor(inp), "output": _onnx_tensor(out)}


def litert_predict(path) -> tuple[Predict, dict]:
    """A LiteRT interpreter of the .tflite file at `path` (resized to each batch), and its signatures, input
    and output (with their quantization where quantized)."""
    from ai_edge_litert.interpreter import Interpreter

    with stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = Interpreter(model_path=str(path), num_threads=threads())
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    scale, zero_point = out["quantization"]
    shape = None

    def predict(x: np.ndarray) -> np.ndarray:
        nonlocal shape
        if shape != x.shape:
            with stderr_silenced():
                interpreter.resize_tensor_input(inp["index"], x.shape)
                interpreter.allocate_tensors()
            shape = x.shape
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        return (y.astype(np.float32) - zero_point) * scale if scale else y.astype(np.float32)

    tensors = {"input": _litert_tensor(inp), "output": _litert_tensor(out)}
    return predict, {"signatures": interpreter.get_signature_list(), **tensors}


def measure(
    predict: Predict, images: np.ndarray, labels: np.ndarray, reference: np.ndarray | None
) -> tuple[dict, np.ndarray]:
    """Test accuracy of `predict` over `images` (uint8 (N, 28, 28)), and against `reference` (Keras'
    probabilities; None for Keras itself) its argmax agreement and largest absolute probability difference;
    the median latency of batch-1 calls and the images per second at batch THROUGHPUT_BATCH; and its
    probabilities."""
    x = images.reshape(-1, 28, 28, 1)
    probabilities, per_second = _throughput(predict, x)
    predicted = probabilities.argmax(axis=1)
    result = {
        "test_accuracy": float(np.mean(predicted == labels)),
        "agreement": None if reference is None else float(np.mean(predicted == reference.argmax(axis=1))),
        "max_prob_diff": None if reference is None else float(np.max(np.abs(probabilities - reference))),
        "latency_ms": _latency_ms(predict, x),
        "images_per_second": per_second,
    }
    return result, probabilities


def _throughput(predict: Predict, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The probabilities of every image, and the images per second of the pass, in batches of THROUGHPUT_BATCH
    (timed after one batch of warm-up)."""
    predict(x[:THROUGHPUT_BATCH])
    started = time.perf_counter()
    answers = [predict(x[i : i + THROUGHPUT_BATCH]) for i in range(0, len(x), THROUGHPUT_BATCH)]
    seconds = time.perf_counter() - started
    return np.concatenate(answers).astype(np.float32), len(x) / seconds


def _latency_ms(predict: Predict, x: np.ndarray) -> float:
    """The median milliseconds of LATENCY_CALLS batch-1 calls, cycling through the images."""
    for i in range(WARMUP_CALLS):
        predict(x[i % len(x) : i % len(x) + 1])
    times = []
    for i in range(LATENCY_CALLS):
        one = x[i % len(x) : i % len(x) + 1]
        started = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _onnx_tensor(tensor) -> dict:
    shape = [d if isinstance(d, int) else None for d in tensor.shape]  # a free dimension has a name
    dtype = tensor.type.removeprefix("tensor(").removesuffix(")")
    return {"name": tensor.name, "dtype": "float32" if dtype == "float" else dtype, "shape": shape}


def _litert_tensor(details: dict) -> dict:
    scale, zero_point = details["quantization"]
    shape = [None if d < 0 else int(d) for d in details["shape_signature"]]
    tensor = {"name": details["name"], "dtype": np.dtype(details["dtype"]).name, "shape": shape}
    if scale:
        tensor.update(scale=float(scale), zero_point=int(zero_point))
    return tensor
