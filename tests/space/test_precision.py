"""What models compute in: bfloat16 and float16 layer by layer, a float32 output layer, and a float32 copy that
loads with plain Keras and answers as the trained model does."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
from plain_keras import plain_keras_predict

from space import CNNHyperModel, SpaceConfig, averaged, build_cnn, compile_cnn, shift_averaged
from space.averaging import average_of
from space.precision import all_layers, float32_copy


def _fitted(precision: str, digits_slice, ema: float | None = None) -> keras.Model:
    keras.utils.set_random_seed(3)
    model = build_cnn([8, 16], 32, 0.1, augment=True, precision=precision)
    compile_cnn(model, 0.02, 0.9, ema)
    model.fit(digits_slice.x_train[:640, ..., None].astype("float32"), digits_slice.y_train[:640], batch_size=32)
    return model


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_layers_compute_in_the_precision_asked_and_the_output_in_float32(precision):
    hp = kt.HyperParameters()
    hypermodel = CNNHyperModel(SpaceConfig(conv_blocks_max=2, filters_max=16), precision=precision)
    # Keras Tuner clears the session before every trial, which resets Keras' global policy to float32:
    # the precision must hold all the same.
    keras.backend.clear_session()
    model = hypermodel.build(hp)
    computing = {type(layer).__name__: layer.dtype_policy.name for layer in all_layers(model)}
    assert computing["Conv2D"] == computing["BatchNormalization"] == f"mixed_{precision}"
    assert model.get_layer("digit").dtype_policy.name == "float32"
    assert model.output.dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)  # mixed precision keeps the weights in float32
    assert keras.mixed_precision.global_policy().name == "float32"  # nothing global was changed


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_the_weight_average_is_kept_under_mixed_precision(precision, digits_slice):
    model = _fitted(precision, digits_slice, ema=0.99)
    average = average_of(model)  # float16 wraps the optimizer in a LossScaleOptimizer
    assert average is not None and len(average) == len(model.trainable_weights)
    moved = [not np.allclose(a, w.numpy()) for a, w in zip(average, model.trainable_weights, strict=True)]
    assert any(moved)
    assert np.isfinite(model.evaluate(digits_slice.x_test[:64], digits_slice.y_test[:64], verbose=0)[0])


def test_a_float32_copy_loads_with_plain_keras_and_answers_as_the_trained_model(digits_slice, tmp_path):
    trained = shift_averaged(averaged([_fitted("bfloat16", digits_slice), _fitted("bfloat16", digits_slice)]))
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in all_layers(trained))
    copy = float32_copy(trained)
    images = digits_slice.x_test[:200, ..., None].astype("float32")
    in_process = copy.predict(images, verbose=0)
    copy.save(tmp_path / "model.keras")

    policies, answers = plain_keras_predict(tmp_path / "model.keras", images, tmp_path)

    assert policies == ["float32"]
    np.testing.assert_allclose(answers, in_process, atol=1e-5)
    # The float32 copy reads as the bfloat16 network did, up to bfloat16's rounding (3 significant digits).
    trained_answers = trained.predict(images, verbose=0)
    assert np.abs(answers - trained_answers).max() < 0.05
    assert np.mean(answers.argmax(1) == trained_answers.argmax(1)) >= 0.98


def test_a_float32_model_is_saved_as_it_is(digits_slice):
    model = _fitted("float32", digits_slice)
    assert float32_copy(model) is model
