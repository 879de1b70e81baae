"""Which floating-point types models compute in, and a copy of a model that computes in float32.

A precision names a Keras dtype policy: "float32" computes and keeps weights in float32; "bfloat16" and
"float16" are Keras' mixed policies (weights kept in float32, layers computing in the 16-bit type).
Models are given theirs layer by layer (build_cnn's `precision`), not through Keras' global policy:
`keras.backend.clear_session()`, which Keras Tuner calls before every trial, resets that to float32.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def scaling_loss(optimizer: keras.optimizers.Optimizer, model: keras.Model) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in a LossScaleOptimizer where `model` computes in float16 (whose small gradients
    underflow without it), else itself. Keras wraps it only for a model under the global float16 policy."""
    if any(layer.compute_dtype == "float16" for layer in all_layers(model)):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def unwrapped(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer itself, or the one a LossScaleOptimizer wraps (see `scaling_loss`)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of `model`, those of the models nested in it included (depth first)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def computes_in_float32(model: keras.Model) -> bool:
    """Whether every layer of `model` (nested ones included) computes and keeps its weights in float32."""
    return all(layer.dtype_policy.name == "float32" for layer in all_layers(model))


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` itself where it computes in float32; otherwise the same architecture rebuilt with every layer
    in float32, holding its weights (mixed policies keep them in float32 already, so nothing is rounded),
    compiled with plain SGD so that the saved file loads with plain Keras.

    A model trained under a mixed policy would carry that policy into its saved file, and compute in
    bfloat16 or float16 wherever it is loaded, slowly on a machine without those units.
    """
    if computes_in_float32(model):
        return model
    copy = keras.models.clone_model(model, clone_function=_in_float32, recursive=True)
    copy.set_weights(model.get_weights())
    from space.hypermodel import compile_plain  # the builders import this module

    compile_plain(copy)
    return copy


def _in_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})
