"""Presets: what --preset sets, and that flags given on the command line win."""

from __future__ import annotations

import pytest

from search.cli import build_parser, config_from_args, without_overwrite
from search.config import RunConfig
from search.errors import ConfigError
from search.presets import DEFAULT_PRESET, PRESETS
from space import SpaceConfig


def config(*argv):
    return config_from_args(build_parser().parse_args(list(argv)))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_sets_its_budget_and_space(name):
    preset = PRESETS[name]
    c = config("--preset", name)
    assert c.tuner == preset["tuner"] and c.max_epochs == preset["max_epochs"]
    assert c.search_subset == preset["search_subset"] and c.minutes == preset["minutes"]
    assert c.epochs is None and c.retrain_augment == preset["retrain_augment"]
    assert c.retrain_ema == preset["retrain_ema"]
    assert c.retrain_timed and c.search_minutes == pytest.approx(preset["minutes"] * preset["search_share"])
    assert c.space == SpaceConfig.from_dict(preset["space"])
    assert c.preset == name


def test_the_default_preset_applies_when_none_is_named():
    assert config().to_dict() == config("--preset", DEFAULT_PRESET).to_dict()


def test_flags_given_win_over_the_preset(tmp_path):
    space_file = tmp_path / "space.toml"
    space_file.write_text("conv_blocks_max = 1\n")
    c = config(
        "--preset",
        "thorough",
        "--tuner",
        "random",
        "--max-epochs",
        "2",
        "--epochs",
        "1",
        "--search-subset",
        "500",
        "--budget-minutes",
        "0.5",
        "--no-augment",
        "--space",
        str(space_file),
    )
    assert (c.tuner, c.max_epochs, c.epochs, c.search_subset, c.budget_minutes, c.retrain_augment) == (
        "random",
        2,
        1,
        500,
        0.5,
        False,
    )
    assert c.space == SpaceConfig(conv_blocks_max=1)
    # The epochs asked for are trained with the step-based schedule; the preset's minutes bound the search.
    assert c.retrain_minutes is None and not c.retrain_timed
    assert config("--epochs", "5", "--retrain-minutes", "3").retrain_minutes == 3


def test_every_preset_space_builds_a_valid_range():
    for preset in PRESETS.values():
        SpaceConfig.from_dict(preset["space"]).validate()


def test_endless_hyperband_needs_a_budget_or_a_trial_limit():
    with pytest.raises(ConfigError, match="budget"):
        RunConfig(tuner="hyperband", hyperband_iterations=None)
    RunConfig(tuner="hyperband", hyperband_iterations=None, max_trials=3)


def test_the_command_that_resumes_a_run_drops_overwrite_and_its_abbreviations():
    argv = ["--run-dir", "runs/x", "--overwrite", "--over", "--minutes", "5", "--", "--quiet"]
    assert without_overwrite(argv) == ["--run-dir", "runs/x", "--minutes", "5", "--", "--quiet"]
    assert build_parser().parse_args(["--over"]).overwrite  # argparse does take the abbreviation


def test_help_names_each_preset_with_its_search_share():
    from runs import run_cli

    result = run_cli("--help", timeout=120)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for name, preset in PRESETS.items():
        assert f"{name}: {preset['minutes']:g} min in all, the first {round(100 * preset['search_share'])}%" in text
    assert "--search-share F" in text
