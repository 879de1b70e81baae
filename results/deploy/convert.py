"""The saved Keras model as ONNX and LiteRT bytes: float32, and full-integer int8 for LiteRT.

Every file is converted from one graph: the model without Keras' Random* augmentation layers, called with
`training=False` (traced with `training` unset, those layers would run as in training and bring ops the
runtimes lack; left in, they still capture their seed state). The test-time averaging over shifted images is
zero padding and cropping (space/hypermodel.py `shift_averaged`): Pad and StridedSlice, builtins of both
runtimes. Where the Keras model calls its network once per shifted copy, the exported graph stacks the copies
in one batch and runs the network once: the same answer with one set of ops, biases and int8 scales, not
one per copy (a default-preset int8 file: 30.3% of the float file before, 26.8% after). LiteRT is
converted with builtin ops only, so a graph needing TensorFlow's own ops fails here rather than in the
runtime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from results.quiet_tf import import_tensorflow, stderr_silenced

IMAGE_SHAPE = (28, 28, 1)
INPUT_NAME = "image"
OUTPUT_NAME = "digit"
SIGNATURE = "serving_default"
CALIBRATION_BATCH = 50  # images a step of the int8 calibration runs at once


class ExportError(ValueError):
    """A model that cannot be exported as asked (one line)."""


def without_augmentation(model):
    """`model` (functional, nested models too) with Keras' random augmentation layers left out, sharing its
    layers and weights. They do nothing at inference, but a traced call still captures their seed state."""
    import keras

    def call(layer, *args, **kwargs):
        return args[0] if _augments(layer) else layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call, recursive=True)


def _augments(layer) -> bool:
    # Every Random* layer of Keras passes its input through at inference, but RandomCrop (which resizes).
    name = type(layer).__name__
    return type(layer).__module__.startswith("keras") and name.startswith("Random") and name != "RandomCrop"


def inference_function(model):
    """`model` at inference, its augmentation layers left out (`without_augmentation`) and called with
    `training=False`, as a tf.function of raw float32 pixels (N, 28, 28, 1) to the 10 probabilities;
    ExportError when the traced graph still draws random numbers."""
    tf = _tf()
    views = one_network_over_views(model)
    if views is None:
        answer = without_augmentation(model)
    else:
        copies, network = views[0], without_augmentation(views[1])

        def answer(image, training):
            stacked = tf.concat(copies(image, training=training), axis=0)
            probabilities = network(stacked, training=training)
            per_copy = tf.reshape(probabilities, (len(copies.outputs), -1, probabilities.shape[-1]))
            return tf.reduce_mean(per_copy, axis=0)

    @tf.function(input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE), tf.float32, name=INPUT_NAME)])
    def infer(image):
        return {OUTPUT_NAME: answer(image, training=False)}

    graph = infer.get_concrete_function().graph
    random = sorted({op.type for op in graph.get_operations() if "Random" in op.type or "Seed" in op.type})
    if random:
        raise ExportError(f"the model at inference still draws random numbers ({', '.join(random)}); cannot export")
    return infer


def one_network_over_views(model):
    """`(copies, network)` when `model` answers with the mean of one network's answers over several copies of
    its input (as `shift_averaged` builds it): `copies` is a model from `model`'s input to those copies, made
    by `model`'s own layers. None for any other model."""
    import keras

    last = model.outputs[0]._keras_history.operation if len(model.outputs) == 1 else None
    if not isinstance(last, keras.layers.Average):
        return None
    calls = last._inbound_nodes[0].parent_nodes
    networks = {call.operation for call in calls}
    if len(calls) < 2 or len(networks) != 1 or any(len(call.input_tensors) != 1 for call in calls):
        return None
    copies = keras.Model(model.inputs, [call.input_tensors[0] for call in calls], name="shifted_copies")
    return copies, networks.pop()


def to_onnx(infer) -> tuple[bytes, int]:
    """ONNX bytes of `infer` (float32 in and out) and the opset they use."""
    import_tensorflow()
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(infer, input_signature=infer.input_signature)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return proto.SerializeToString(), opset


def saved_model(infer, folder: Path) -> Path:
    """`infer` saved as a TensorFlow SavedModel in `folder`, its signature `serving_default` taking `image`
    and answering `digit`: the LiteRT files keep that signature."""
    tf = _tf()
    function = infer.get_concrete_function()
    module = tf.Module()
    # Only the weights the function reads: a tracked Keras model would have its own calls saved, which
    # run the augmentation as in training.
    module.weights = list(function.variables)
    tf.saved_model.save(module, str(folder), signatures={SIGNATURE: function})
    return folder


def to_tflite(saved: Path) -> bytes:
    """LiteRT flatbuffer bytes of the SavedModel at `saved`, float32 in and out, builtin ops only."""
    return _convert(_converter(saved))


def to_tflite_int8(saved: Path, calibration: np.ndarray) -> bytes:
    """LiteRT bytes of the SavedModel at `saved`, every op int8, quantized after training on `calibration`
    (raw training images, uint8 (N, 28, 28)). Input: uint8 raw pixels, which with scale 1 and zero point 0 are
    the pixels themselves; output: uint8 probabilities (their scale and zero point are in the file)."""
    tf = _tf()
    images = calibration.reshape(-1, *IMAGE_SHAPE).astype(np.float32)

    def representative():
        for start in range(0, len(images), CALIBRATION_BATCH):
            yield [images[start : start + CALIBRATION_BATCH]]

    converter = _converter(saved)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    return _convert(converter)


def _converter(saved: Path):
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _convert(converter) -> bytes:
    # The converter's C++ core reports each step on stderr; a failure still raises, with its message.
    with warnings.catch_warnings(), stderr_silenced():
        # "Statistics for quantized inputs were expected": the uint8 input's range comes from calibration.
        warnings.simplefilter("ignore", UserWarning)
        return converter.convert()


def _tf():
    import_tensorflow()
    import tensorflow

    return tensorflow
