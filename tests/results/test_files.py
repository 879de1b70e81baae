"""results/run/files.py: each kind of damage gets its reason, on real files."""

from __future__ import annotations

import json
import zipfile

import pytest

from results.run.files import DamagedFile, check_csv, check_hdf5, check_zip, read_json
from runs import DAMAGE, damage

JSON_REASONS = {
    "truncated": "not valid JSON",
    "empty": "empty (0 bytes)",
    "garbage": "not text",
    "json-list": "JSON a list where an object should be",
    "json-no-keys": "no 'epochs' in it",
    "folder": "a folder where a file should be",
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_read_json_names_the_file_and_the_damage(tmp_path, kind):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"epochs": [{"epoch": 1, "loss": 0.5}] * 20}))
    assert read_json(path, ("epochs",))["epochs"]
    damage(path, kind)
    with pytest.raises(DamagedFile) as caught:
        read_json(path, ("epochs",))
    assert str(caught.value).startswith(f"{path}: ") and JSON_REASONS[kind] in str(caught.value)


def test_a_missing_file_and_a_broken_link_are_told_apart(tmp_path):
    with pytest.raises(DamagedFile, match="missing"):
        read_json(tmp_path / "gone.json")
    (tmp_path / "link.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(DamagedFile, match="a broken link"):
        read_json(tmp_path / "link.json")


@pytest.mark.parametrize("kind", ["truncated", "empty", "garbage", "folder"])
def test_check_zip_finds_a_cut_or_overwritten_archive(tmp_path, kind):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}" * 2000)
        archive.writestr("model.weights.h5", bytes(range(256)) * 200)
    check_zip(path, ("config.json", "model.weights.h5"))
    with pytest.raises(DamagedFile, match="no metadata.json"):
        check_zip(path, ("metadata.json",))
    damage(path, kind)
    with pytest.raises(DamagedFile):
        check_zip(path, ("config.json",))


@pytest.mark.parametrize("kind", ["truncated", "empty", "garbage", "folder"])
def test_check_hdf5_reads_every_array_back(tmp_path, kind):
    import h5py
    import numpy as np

    path = tmp_path / "checkpoint.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"] = np.arange(20000, dtype="float32")
    check_hdf5(path)
    damage(path, kind)
    with pytest.raises(DamagedFile):
        check_hdf5(path)


def test_check_csv_finds_a_row_cut_short(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("trial_id,status,val_accuracy\n0,COMPLETED,0.9\n1,COMPLETED,0.8\n")
    check_csv(path, ("trial_id", "status"))
    path.write_text("trial_id,status,val_accuracy\n0,COMPLETED,0.9\n1,COMPL")
    with pytest.raises(DamagedFile, match="line 3 has 2 of 3 cells"):
        check_csv(path, ("trial_id",))
    with pytest.raises(DamagedFile, match="no seconds column"):
        check_csv(path, ("seconds",))
