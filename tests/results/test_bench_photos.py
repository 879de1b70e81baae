"""`bench.py --photos`: the photo-like benchmark from the command line, on the shared finished digits run."""

from __future__ import annotations

import json
from pathlib import Path

from runs import ROOT, run_cli

BENCH_SCRIPT = ROOT / "scripts" / "bench.py"


def _bench(run_dir: Path, cwd: Path, *extra: str):
    return run_cli("--photos", str(run_dir), "--digits", "6", "--numbers", "3", *extra, script=BENCH_SCRIPT, cwd=cwd)


def test_a_subset_of_conditions_gives_the_same_figures_as_a_run_of_all(digits_run, tmp_path):
    every, some = tmp_path / "every", tmp_path / "some"
    every.mkdir()
    some.mkdir()
    assert _bench(digits_run, every).returncode == 0
    result = _bench(digits_run, some, "--conditions", "boxes,ruled")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "condition" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["boxes", "ruled"]

    def by_name(folder: Path) -> dict[str, dict]:
        written = json.loads((folder / "bench_photos.json").read_text())
        return {c["condition"]: c for c in written["conditions"]}

    all_six, chosen = by_name(every), by_name(some)
    assert len(all_six) == 6 and set(chosen) == {"boxes", "ruled"}
    # Each condition's pictures come from its own seeded generator: choosing fewer changes none of them.
    # (Compared as JSON text: a share of no answers is NaN, which equals nothing.)
    for name in ("ruled", "boxes"):
        assert json.dumps(chosen[name], sort_keys=True) == json.dumps(all_six[name], sort_keys=True)


def test_an_unknown_condition_is_refused_naming_the_choices(digits_run, tmp_path):
    result = _bench(digits_run, tmp_path, "--conditions", "plain,notebook")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "unknown condition notebook" in last and "uneven_light" in last, last
    assert not (tmp_path / "bench_photos.json").exists()
