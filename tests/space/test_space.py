"""The search space: ranges and their checks, the CNNs they build, and saved-model portability."""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from space import CNNHyperModel, SpaceConfig, SpaceError, build_cnn, compile_cnn, max_pooling_blocks, shift_averaged

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("space", "search", "results")


def one_line_space_error(call, *args, **kwargs) -> str:
    with pytest.raises(SpaceError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    return message


def assert_model_contract(model: keras.Model) -> None:
    """What every candidate shares: raw-pixel input, Rescaling first, SGD, cross-entropy, 10 softmax outputs."""
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    assert isinstance(model.layers[0], keras.layers.InputLayer)
    assert isinstance(model.layers[1], keras.layers.Rescaling)
    assert model.layers[1].scale == pytest.approx(1 / 255)
    assert tuple(model.outputs[0].shape) == (None, 10)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.loss == "sparse_categorical_crossentropy"


def layers_of(model: keras.Model, kind) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


# --- ranges: SpaceConfig ---------------------------------------------------------------------


def test_max_pooling_blocks():
    assert max_pooling_blocks() == max_pooling_blocks(28) == 4  # 28 -> 14 -> 7 -> 3 -> 1
    assert [max_pooling_blocks(n) for n in (1, 2, 3, 4, 7, 8)] == [0, 1, 1, 2, 2, 3]


def test_default_space_is_valid_and_round_trips():
    space = SpaceConfig()
    space.validate()
    assert SpaceConfig.from_dict(space.to_dict()) == space
    assert SpaceConfig.from_dict({}) == space


def test_deepest_valid_space():
    assert SpaceConfig(conv_blocks_max=4).conv_blocks_max == 4
    message = one_line_space_error(SpaceConfig, conv_blocks_max=5)
    assert "conv_blocks_max" in message and "at most 4" in message


def write_toml(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


BAD_TOML = {
    # id: (TOML text, field the message must name)
    "min-above-max": ("filters_min = 64\nfilters_max = 32\n", "filters_min"),
    "negative-width": ("dense_units_min = -8\n", "dense_units_min"),
    "zero-filters": ("filters_min = 0\n", "filters_min"),
    "zero-blocks": ("conv_blocks_min = 0\n", "conv_blocks_min"),
    "too-many-pools": ("conv_blocks_max = 5\n", "conv_blocks_max"),
    "blocks-min-above-max": ("conv_blocks_min = 3\nconv_blocks_max = 2\n", "conv_blocks_min"),
    "lr-min-above-max": ("learning_rate_min = 0.5\nlearning_rate_max = 0.1\n", "learning_rate_min"),
    "zero-lr": ("learning_rate_min = 0\n", "learning_rate_min"),
    "momentum-one": ("momentum_max = 1.0\n", "momentum_max"),
    "negative-dropout": ("dropout_min = -0.1\n", "dropout_min"),
    "dropout-min-above-max": ("dropout_min = 0.4\ndropout_max = 0.2\n", "dropout_min"),
    "batch-min-above-max": ("batch_size_min = 512\n", "batch_size_min"),
    "unknown-key": ("conv_layers = 3\n", "conv_layers"),
    "string": ('filters_max = "64"\n', "filters_max"),
    "float-for-int": ("batch_size_min = 32.0\n", "batch_size_min"),
    "bool-for-int": ("dense_units_max = true\n", "dense_units_max"),
    "string-for-bool": ('augment = "yes"\n', "augment"),
    "int-for-bool": ("augment = 1\n", "augment"),
    "nan": ("learning_rate_max = nan\n", "learning_rate_max"),
    "infinite": ("learning_rate_max = inf\n", "learning_rate_max"),
    "table": ("[filters]\nmin = 16\n", "filters"),
    "zoom-whole": ("augment_zoom = 1.0\n", "augment_zoom"),
    "negative-zoom": ("augment_zoom = -0.1\n", "augment_zoom"),
    "negative-elastic": ("augment_elastic = -1.0\n", "augment_elastic"),
    "tearing-elastic": ("augment_elastic = 5.0\n", "augment_elastic"),
    "shift-off-the-image": ("augment_shift = 0.3\n", "augment_shift"),
    "negative-shift": ("augment_shift = -0.1\n", "augment_shift"),
    "six-into-nine": ("augment_rotation = 0.25\n", "augment_rotation"),
    "zoom-out-past-half": ("augment_zoom_out = 1.5\n", "augment_zoom_out"),
    "shrink-more-than-all": ("augment_shrink = 1.2\n", "augment_shrink"),
}


@pytest.mark.parametrize("case", BAD_TOML, ids=list(BAD_TOML))
def test_bad_toml_ranges_are_rejected_naming_the_field(tmp_path, case):
    text, field = BAD_TOML[case]
    message = one_line_space_error(SpaceConfig.from_toml, write_toml(tmp_path, text))
    assert field in message


def test_unknown_key_names_the_file_and_lists_the_known_ones(tmp_path):
    path = write_toml(tmp_path, "filter_min = 8\n")
    message = one_line_space_error(SpaceConfig.from_toml, path)
    assert str(path) in message and "'filter_min'" in message and "filters_min" in message


def test_not_a_toml_file(tmp_path):
    path = write_toml(tmp_path, "filters_min = = 16\n[unclosed\n")
    message = one_line_space_error(SpaceConfig.from_toml, path)
    assert str(path) in message and "not valid TOML" in message


def test_missing_toml_file(tmp_path):
    path = tmp_path / "absent.toml"
    message = one_line_space_error(SpaceConfig.from_toml, path)
    assert str(path) in message and "no such file" in message


def test_toml_path_that_is_a_folder(tmp_path):
    message = one_line_space_error(SpaceConfig.from_toml, tmp_path)
    assert str(tmp_path) in message and "cannot read" in message


def test_binary_file_as_toml(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    message = one_line_space_error(SpaceConfig.from_toml, path)
    assert str(path) in message


def test_good_toml_round_trips(tmp_path):
    path = write_toml(
        tmp_path,
        """
        # a narrower space; TOML integers where floats are meant are fine
        conv_blocks_min = 2
        conv_blocks_max = 4
        filters_min = 8
        filters_max = 64
        dense_units_min = 16
        dense_units_max = 128
        learning_rate_min = 0.01
        learning_rate_max = 1
        momentum_min = 0
        momentum_max = 0.9
        dropout_min = 0
        dropout_max = 0.25
        batch_size_min = 16
        batch_size_max = 128
        augment = true
        """,
    )
    space = SpaceConfig.from_toml(path)
    assert space.conv_blocks_min == 2 and space.conv_blocks_max == 4
    assert space.learning_rate_max == 1.0 and isinstance(space.learning_rate_max, float)
    assert space.momentum_min == 0.0 and isinstance(space.momentum_min, float)
    assert space.dropout_min == 0.0 and isinstance(space.dropout_min, float)
    assert isinstance(space.filters_min, int) and space.augment is True
    assert SpaceConfig.from_dict(space.to_dict()) == space
    assert SpaceConfig.from_toml(write_toml(tmp_path, "", "empty.toml")) == SpaceConfig()
    partial = SpaceConfig.from_toml(write_toml(tmp_path, "dense_units_max = 64\n", "partial.toml"))
    assert partial == dataclasses.replace(SpaceConfig(), dense_units_max=64)


def test_invalid_ranges_rejected_by_the_dataclass_itself():
    assert "filters_min" in one_line_space_error(SpaceConfig, filters_min=64, filters_max=32)
    assert "dense_units_min" in one_line_space_error(SpaceConfig, dense_units_min=-8)
    assert "filters_min" in one_line_space_error(SpaceConfig.from_dict, {"filters_min": "16"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        SpaceConfig().filters_min = 1  # type: ignore[misc]


# --- the hypermodel: every bound builds and trains ----------------------------------------------

BOUNDS_SPACE = SpaceConfig(conv_blocks_max=4)
BOUND_AXES = ("conv_blocks", "filters", "dense_units", "dropout", "batch_size")
CORNERS = list(itertools.product((0, 1), repeat=len(BOUND_AXES)))  # 0 = min, 1 = max


def corner_values(corner: tuple[int, ...]) -> dict:
    """Hyperparameter values at one corner of the ranges; learning rate and momentum both at
    min or both at max, alternating with the parity of the corner so each axis meets both."""
    s = BOUNDS_SPACE
    pick = {
        axis: (getattr(s, f"{axis}_min"), getattr(s, f"{axis}_max"))[bit]
        for axis, bit in zip(BOUND_AXES, corner, strict=True)
    }
    high = sum(corner) % 2
    values = {
        "conv_blocks": pick["conv_blocks"],
        **{f"filters_{i}": pick["filters"] for i in range(pick["conv_blocks"])},
        "dense_units": pick["dense_units"],
        "dropout": pick["dropout"],
        "learning_rate": (s.learning_rate_min, s.learning_rate_max)[high],
        "momentum": (s.momentum_min, s.momentum_max)[high],
        "batch_size": pick["batch_size"],
    }
    return values


def corner_id(corner) -> str:
    return "-".join(f"{axis}={'max' if bit else 'min'}" for axis, bit in zip(BOUND_AXES, corner, strict=True))


# Tracing the train step as a tf.function costs more than the step itself on a small CPU, so
# most corners train eagerly (same layers, optimizer and loss); the all-min and all-max corners
# train the way a search does, through the traced graph.
GRAPH_CORNERS = {CORNERS[0], CORNERS[-1]}


@pytest.mark.parametrize("corner", CORNERS, ids=[corner_id(c) for c in CORNERS])
def test_every_bound_builds_and_trains_one_batch(batch, corner):
    keras.backend.clear_session()
    values = corner_values(corner)
    hp = kt.HyperParameters()
    hp.values = dict(values)
    hypermodel = CNNHyperModel(BOUNDS_SPACE)
    model = hypermodel.build(hp)

    assert_model_contract(model)
    convs = layers_of(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [values["filters_0"]] * values["conv_blocks"]
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == values["conv_blocks"]
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense] == [values["dense_units"], 10]
    dropouts = layers_of(model, keras.layers.Dropout)
    assert [d.rate for d in dropouts] == ([values["dropout"]] * 2 if values["dropout"] > 0 else [])
    assert float(model.optimizer.learning_rate) == pytest.approx(values["learning_rate"])
    assert model.optimizer.momentum == pytest.approx(values["momentum"])
    assert model.optimizer.nesterov == (values["momentum"] > 0)

    x, y = batch
    model.run_eagerly = corner not in GRAPH_CORNERS
    history = hypermodel.fit(hp, model, x, y, epochs=1, steps_per_epoch=1, verbose=0)
    loss = history.history["loss"]
    assert len(loss) == 1 and np.isfinite(loss[0])
    assert hp.values == values, "building and fitting took exactly these values"

    out = model(x[:8], training=False).numpy()
    assert out.shape == (8, 10)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_deepest_model_pools_down_to_one_pixel():
    keras.backend.clear_session()
    model = build_cnn([16, 16, 16, 16], 32, 0.0)
    flatten = layers_of(model, keras.layers.Flatten)[0]
    assert tuple(flatten.output.shape) == (None, 16)  # 28 -> 14 -> 7 -> 3 -> 1


def test_fit_uses_the_trials_batch_size(batch):
    class CountSteps(keras.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            CountSteps.steps += 1

    x, y = batch  # 64 images
    space = SpaceConfig(conv_blocks_max=1, filters_max=16, dense_units_max=32, batch_size_min=16, batch_size_max=64)
    hypermodel = CNNHyperModel(space)
    for batch_size, steps in ((16, 4), (64, 1)):
        keras.backend.clear_session()
        hp = kt.HyperParameters()
        hp.values = {"batch_size": batch_size}
        model = hypermodel.build(hp)
        model.run_eagerly = True  # the step count is the point here, not the tracing
        CountSteps.steps = 0
        hypermodel.fit(hp, model, x, y, epochs=1, verbose=0, callbacks=[CountSteps()])
        assert CountSteps.steps == steps, f"batch_size {batch_size}"


def test_defaults_of_a_fresh_hyperparameters():
    keras.backend.clear_session()
    hp = kt.HyperParameters()
    model = CNNHyperModel().build(hp)
    s = SpaceConfig()
    assert hp.values == {
        "conv_blocks": s.conv_blocks_min,
        "filters_0": s.filters_min,
        "dense_units": s.dense_units_min,
        "dropout": s.dropout_min,
        "learning_rate": s.learning_rate_min,
        "momentum": s.momentum_min,
        "batch_size": s.batch_size_min,
    }
    assert_model_contract(model)


# --- conditional hyperparameters -----------------------------------------------------------------


def test_one_block_has_only_filters_0():
    keras.backend.clear_session()
    hp = kt.HyperParameters()
    hp.values = {"conv_blocks": 1}
    model = CNNHyperModel(SpaceConfig(conv_blocks_max=3)).build(hp)
    assert hp.is_active("filters_0")
    assert not any(hp.is_active(f"filters_{i}") for i in (1, 2, 3))
    assert sorted(k for k in hp.values if k.startswith("filters")) == ["filters_0"]
    assert len(layers_of(model, keras.layers.Conv2D)) == 1


def test_three_blocks_have_filters_0_to_2():
    keras.backend.clear_session()
    hp = kt.HyperParameters()
    hp.values = {"conv_blocks": 3, "filters_1": 32, "filters_2": 64}
    model = CNNHyperModel(SpaceConfig(conv_blocks_max=4)).build(hp)
    assert all(hp.is_active(f"filters_{i}") for i in range(3))
    assert not hp.is_active("filters_3")
    assert sorted(k for k in hp.values if k.startswith("filters")) == ["filters_0", "filters_1", "filters_2"]
    assert [c.filters for c in layers_of(model, keras.layers.Conv2D)] == [16, 32, 64]

    # The same container, told to use one block: the deeper widths go inactive.
    hp.values["conv_blocks"] = 1
    keras.backend.clear_session()
    model = CNNHyperModel(SpaceConfig(conv_blocks_max=4)).build(hp)
    assert not hp.is_active("filters_1") and not hp.is_active("filters_2")
    assert len(layers_of(model, keras.layers.Conv2D)) == 1


def test_tuner_trials_hold_only_the_active_widths(tmp_path):
    keras.backend.clear_session()
    hypermodel = CNNHyperModel(SpaceConfig(conv_blocks_min=1, conv_blocks_max=3))
    tuner = kt.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=20,
        seed=1,
        directory=str(tmp_path),
        project_name="space",
        overwrite=True,
    )
    space = tuner.oracle.get_space()
    names = {hp.name for hp in space.space}
    assert {"conv_blocks", "filters_0", "filters_1", "filters_2", "dense_units", "learning_rate"} <= names
    assert "filters_3" not in names

    depths = set()
    for i in range(8):
        trial = tuner.oracle.create_trial(f"tuner{i}")
        values = trial.hyperparameters.values
        depth = values["conv_blocks"]
        depths.add(depth)
        filters = sorted(k for k in values if k.startswith("filters_"))
        assert filters == [f"filters_{b}" for b in range(depth)], values
        assert all(16 <= values[k] <= 128 for k in filters)
        if i < 3:  # and the trial's values build that very model
            keras.backend.clear_session()
            model = hypermodel.build(trial.hyperparameters.copy())
            assert [c.filters for c in layers_of(model, keras.layers.Conv2D)] == [values[k] for k in filters]
    assert len(depths) > 1, "the random trials tried more than one depth"


# --- portability: a saved model loads where this project is not importable ----------------------

LOADER = """
import importlib.abc, pathlib, sys

import numpy as np

PROJECT_ROOT = pathlib.Path(sys.argv[1])
BLOCKED = {blocked!r}


class Block(importlib.abc.MetaPathFinder):
    # Even if the project were installed, nothing may import it here.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{name}} is blocked in this process", name=name)
        return None


sys.meta_path.insert(0, Block())
assert not any(str(PROJECT_ROOT) == str(pathlib.Path(p or ".").resolve()) for p in sys.path), sys.path

import keras

x = np.load("images.npy")
for name in ("m.keras", "m_augment.keras", "m_tta.keras"):
    model = keras.saving.load_model(name)  # safe_mode stays on
    np.save(name + ".predictions.npy", model(x, training=False).numpy())

loaded = [n for n in BLOCKED if n in sys.modules]
assert not loaded, loaded
for module in list(sys.modules.values()):
    file = getattr(module, "__file__", None) or ""
    assert not any(file.startswith(str(PROJECT_ROOT / p)) for p in BLOCKED), file
try:
    import space  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("the project's space package was importable")
print("loaded without the project")
"""


def test_saved_model_loads_without_the_project(tmp_path, batch):
    x, y = batch
    keras.backend.clear_session()
    originals = {}
    for name, augment in (("m.keras", False), ("m_augment.keras", True)):
        model = build_cnn([16], 32, 0.1, augment=augment, zoom=0.1 if augment else 0.0)
        compile_cnn(model, 0.05, 0.9)
        model.fit(x, y, batch_size=32, epochs=1, steps_per_epoch=1, verbose=0)
        model.save(tmp_path / name)
        originals[name] = model(x[:8], training=False).numpy()
    shift_averaged(model).save(tmp_path / "m_tta.keras")
    originals["m_tta.keras"] = shift_averaged(model)(x[:8], training=False).numpy()
    np.save(tmp_path / "images.npy", x[:8])
    (tmp_path / "load.py").write_text(LOADER.format(blocked=PROJECT_PACKAGES))

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "load.py"), str(PROJECT_ROOT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded without the project" in result.stdout
    for name, original in originals.items():
        reloaded = np.load(tmp_path / f"{name}.predictions.npy")
        assert reloaded.shape == (8, 10)
        np.testing.assert_allclose(reloaded, original, rtol=1e-5, atol=1e-6, err_msg=name)


def moved(images: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """`images` (N, H, W, 1) moved `rows` down and `columns` right, zeros coming in."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    out[:, max(rows, 0) : height + min(rows, 0), max(columns, 0) : width + min(columns, 0)] = images[
        :, max(-rows, 0) : height + min(-rows, 0), max(-columns, 0) : width + min(-columns, 0)
    ]
    return out


def test_shift_averaging_answers_the_mean_over_the_image_moved_each_way(batch):
    x = batch[0][:16].astype("float32")
    keras.backend.clear_session()
    model = build_cnn([8, 16], 32, 0.0)
    compile_cnn(model, 0.05, 0.9)
    model.fit(x, batch[1][:16], epochs=1, verbose=0)
    expected = np.mean(
        [model.predict(moved(x, r, c), verbose=0) for r, c in [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]], 0
    )
    averaged = shift_averaged(model)
    np.testing.assert_allclose(averaged.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, model.predict(x, verbose=0), atol=1e-4)  # the shifts change the answer
    # Which way a shift goes: one bright pixel moved down a row is the model's answer at the next row.
    dot = np.zeros((1, 28, 28, 1), "float32")
    dot[0, 10, 10] = 255
    down = shift_averaged(model, shifts=((1, 0),)).predict(dot, verbose=0)
    np.testing.assert_allclose(down, model.predict(moved(dot, 1, 0), verbose=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(down, model.predict(moved(dot, -1, 0), verbose=0), atol=1e-6)
    # Compiled: evaluate works as on any model, and its accuracy is that of the averaged answers.
    answered = float(np.mean(expected.argmax(axis=1) == batch[1][:16]))
    assert averaged.evaluate(x, batch[1][:16], verbose=0)[1] == pytest.approx(answered)


def test_doubling_searches_only_the_first_width():
    keras.backend.clear_session()
    hp = kt.HyperParameters()
    hp.values = {"conv_blocks": 3, "filters_0": 32}
    space = SpaceConfig(conv_blocks_min=2, conv_blocks_max=3, filters_min=16, filters_max=32, filters_doubling=True)
    model = CNNHyperModel(space).build(hp)
    assert sorted(k for k in hp.values if k.startswith("filters")) == ["filters_0"]
    assert [c.filters for c in layers_of(model, keras.layers.Conv2D)] == [32, 64, 128]
    assert [16, 32] == list(hp.space[[p.name for p in hp.space].index("filters_0")].values)

    hp.values["conv_blocks"] = 2
    keras.backend.clear_session()
    assert [c.filters for c in layers_of(CNNHyperModel(space).build(hp), keras.layers.Conv2D)] == [32, 64]


def test_doubling_from_toml(tmp_path):
    path = write_toml(tmp_path, "filters_doubling = true\nfilters_max = 32\n")
    assert SpaceConfig.from_toml(path).to_dict()["filters_doubling"] is True
    # Off, it stays out of the saved ranges: runs saved before it existed keep their search key.
    assert SpaceConfig().to_dict()["filters_doubling"] is False
    path = write_toml(tmp_path, 'filters_doubling = "yes"\n')
    with pytest.raises(SpaceError, match="filters_doubling"):
        SpaceConfig.from_toml(path)


def test_zoom_scales_digits_in_training_only(batch):
    x = batch[0][:32].astype("float32")
    keras.backend.clear_session()
    hp = kt.HyperParameters()
    hp.values = {"conv_blocks": 2, "filters_0": 8}
    zoomed = SpaceConfig(conv_blocks_max=2, filters_doubling=True, augment=True, augment_zoom=0.2)
    (zoom,) = layers_of(CNNHyperModel(zoomed).build(hp), keras.layers.RandomZoom)
    np.testing.assert_array_equal(zoom(x, training=False).numpy(), x)
    ink = lambda images: (np.asarray(images) > 64).sum(axis=(1, 2, 3))  # noqa: E731
    ratio = ink(zoom(x, training=True)) / ink(x)
    assert ratio.min() < 0.95 and ratio.max() > 1.05  # some digits shrink, some grow
    # Zoom belongs to the augmentation: without `augment` it adds nothing.
    unaugmented = dataclasses.replace(zoomed, augment=False)
    assert not layers_of(CNNHyperModel(unaugmented).build(hp), keras.layers.RandomZoom)
    assert not layers_of(build_cnn([8], 16, 0.0, augment=True), keras.layers.RandomZoom)


def test_zoom_out_shrinks_digits_down_to_the_set_size_and_never_grows_them(batch):
    x = batch[0][:64].astype("float32")
    keras.backend.clear_session()
    model = build_cnn([8], 16, 0.0, augment=True, zoom_out=0.67, shift=0.0, rotation=0.0)
    (zoom,) = layers_of(model, keras.layers.RandomZoom)
    assert not layers_of(model, keras.layers.RandomTranslation) and not layers_of(model, keras.layers.RandomRotation)
    zoomed = np.asarray(zoom(x, training=True))
    ink = lambda images: (images > 64).sum(axis=(1, 2, 3))  # noqa: E731
    tall = lambda images: (images > 64).any(axis=(2, 3)).sum(axis=1)  # noqa: E731 - rows holding ink
    # A digit at 1/1.67 of its size keeps about 0.6^2 = 36% of its ink area (strokes thin too: less).
    assert (ink(zoomed) / ink(x)).min() < 0.5
    # Never taller than it was (interpolation may widen a stroke's edge by a pixel, not the digit's height).
    assert (tall(zoomed) <= tall(x) + 1).all()
    assert (tall(zoomed) < tall(x)).mean() > 0.5


@pytest.mark.parametrize(
    "field",
    ["augment_zoom", "augment_elastic", "augment_shift", "augment_rotation", "augment_zoom_out", "augment_shrink"],
)
def test_augmentation_amounts_left_out_of_the_saved_ranges_when_off(tmp_path, field):
    # A run saved before the field existed has no such key: its search key must stay the same.
    assert field not in SpaceConfig().to_dict()
    assert SpaceConfig.from_dict(SpaceConfig().to_dict()) == SpaceConfig()
    augmented = SpaceConfig.from_toml(write_toml(tmp_path, f"augment = true\n{field} = 0.1\n"))
    assert augmented.to_dict()[field] == 0.1
    assert SpaceConfig.from_dict(augmented.to_dict()) == augmented
