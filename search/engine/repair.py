"""Repairing Keras Tuner's project folder (RUN/tuner) before the tuner reloads it.

Keras Tuner reloads by reading every trial_*/trial.json, then oracle.json, and stops with a
traceback at the first damaged one. Here each file is checked first. A damaged state file is
restored from the copy kept beside it (kt_compat.make_writes_atomic); a trial with a damaged
file runs again with its hyperparameters; a trial whose hyperparameters are lost is marked
FAILED so the search goes on. Damaged files are moved to RUN/damaged/, never deleted. Only an
oracle.json lost with its copy stops the search (SearchStateLost): the trials it chose cannot
be told apart from the ones it would choose next.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from results.run import atomic, layout
from results.run.files import DamagedFile, check_hdf5, exists, problem, read_json
from search.engine import kt_compat
from search.errors import ConfigError

DAMAGED = layout.DAMAGED
ENDED = set(layout.ENDED)
# Files of a trial folder besides trial.json, and how each is checked.
TRIAL_FILES = {
    layout.KT_CHECKPOINT: check_hdf5,
    layout.KT_BUILD_CONFIG: read_json,
    layout.TRIAL_RECORD: read_json,
}


class SearchStateLost(ConfigError):
    """oracle.json and its copy are both damaged while trials exist."""


def set_aside(run_dir: Path, path: Path) -> Path:
    """Move `path` into RUN/damaged/ under its path in the run directory; returns where it went."""
    target = run_dir / DAMAGED / path.relative_to(run_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while exists(target):
        n += 1
        target = target.with_name(f"{path.name}.{n}")
    shutil.move(str(path), str(target))
    return target


def write_state(path: Path, state: dict) -> None:
    """Write a Keras Tuner state file and its copy, as Keras Tuner itself does here."""
    text = json.dumps(state)
    atomic.write_text(path, text)
    atomic.write_text(str(path) + kt_compat.COPY_SUFFIX, text)


def repair_tuner(run_dir: Path) -> list[str]:
    """Check and repair RUN/tuner; returns one line per repair (SearchStateLost when it cannot)."""
    project = run_dir / layout.TUNER
    if exists(project) and not project.is_dir():
        set_aside(run_dir, project)
        return [
            f"{project}: a file where Keras Tuner's folder should be; moved to {run_dir / DAMAGED}, "
            "the search starts afresh"
        ]
    if not project.is_dir():
        return []
    notes: list[str] = []
    trials = _read_trials(run_dir, project)
    oracle = _read_oracle(run_dir, project, has_trials=any(s is not None for s in trials.values()), notes=notes)
    if oracle is None:
        return notes
    known = kt_compat.trial_ids_in(oracle)
    for trial_id in sorted(set(trials) - known):
        if _unrecorded_start(run_dir, project, trial_id, trials[trial_id], notes):
            del trials[trial_id]
    changed = False
    for trial_id in sorted(set(trials) | known):
        changed |= _repair_trial(run_dir, project, trial_id, trials.get(trial_id), oracle, notes)
    if changed:
        write_state(project / kt_compat.ORACLE_FILE, oracle)
    _repair_tuner_files(project, notes)
    return notes


def _state(path: Path, check, *args) -> tuple[dict | None, str | None]:
    """(state, None) when the file at `path` is a sound state, else (None, why)."""
    try:
        state = read_json(path)
    except DamagedFile as e:
        return None, e.why
    why = check(state, *args)
    return (None, why) if why else (state, None)


def _read_trials(run_dir: Path, project: Path) -> dict[str, tuple | None]:
    """{trial id: (state, why trial.json is damaged or None, whether it came from the copy)} of every
    trial folder; None where neither trial.json nor its copy holds the trial."""
    trials = {}
    for folder in sorted(project.glob(kt_compat.TRIAL_GLOB)):
        if not folder.is_dir():
            continue
        trial_id = folder.name.removeprefix(layout.TRIAL_PREFIX)
        path = folder / kt_compat.TRIAL_FILE
        copy = Path(str(path) + kt_compat.COPY_SUFFIX)
        if not exists(path) and not exists(copy):
            continue  # created, then killed before Keras Tuner wrote anything: it reuses the folder
        state, why = _state(path, kt_compat.trial_problem, trial_id)
        if state is not None:
            trials[trial_id] = (state, None, False)
            continue
        copied, _ = _state(copy, kt_compat.trial_problem, trial_id) if exists(copy) else (None, None)
        trials[trial_id] = (copied, why, True) if copied is not None else (None, why, False)
    return trials


def _read_oracle(run_dir: Path, project: Path, has_trials: bool, notes: list[str]) -> dict | None:
    path = project / kt_compat.ORACLE_FILE
    copy = Path(str(path) + kt_compat.COPY_SUFFIX)
    tuner_files = [p for p in project.glob("*.json") if p.name != kt_compat.ORACLE_FILE]
    if not exists(path) and not exists(copy) and not has_trials and not tuner_files:
        return None  # a search that had not started
    state, why = _state(path, kt_compat.oracle_problem)
    if state is not None:
        return state
    copied, _ = _state(copy, kt_compat.oracle_problem) if exists(copy) else (None, None)
    if copied is not None:
        if exists(path):
            set_aside(run_dir, path)
        write_state(path, copied)
        notes.append(f"{path}: {why}; restored from its copy {copy.name}")
        return copied
    if not has_trials:
        for p in [path, copy, *tuner_files]:
            if exists(p):
                set_aside(run_dir, p)
        notes.append(f"{path}: {why}, and no trial had run; moved to {run_dir / DAMAGED}, the search starts afresh")
        return None
    raise SearchStateLost(
        f"{path}: {why}, and its copy {copy.name} too: Keras Tuner's search state cannot be rebuilt from the "
        "trials; restore the file, or give --overwrite to search afresh (or another --run-dir)"
    )


def _unrecorded_start(run_dir: Path, project: Path, trial_id: str, read, notes: list[str]) -> bool:
    """Keras Tuner writes a new trial's trial.json, then oracle.json. Killed between the two, the
    trial is in a folder the oracle never heard of: reloaded, it counts towards max_trials but is
    never run. Such a trial had not begun training, so its folder goes and the oracle chooses that
    trial again. Returns whether it went."""
    state = read[0] if read is not None else None
    if state is None or state["status"] in ENDED:
        return False
    folder = project / f"{layout.TRIAL_PREFIX}{trial_id}"
    state_files = {kt_compat.TRIAL_FILE, kt_compat.TRIAL_FILE + kt_compat.COPY_SUFFIX}
    if {p.name for p in folder.iterdir()} <= state_files:
        shutil.rmtree(folder)
    else:  # more than a trial being started leaves: keep it, out of Keras Tuner's way
        set_aside(run_dir, folder)
    notes.append(
        f"{folder}: trial {trial_id} was being started when the search stopped, before Keras Tuner "
        "recorded it; it is chosen again"
    )
    return True


def _repair_trial(run_dir: Path, project: Path, trial_id: str, read, oracle: dict, notes: list[str]) -> bool:
    """Repair one trial's folder; returns whether the oracle's state changed."""
    folder = project / f"{layout.TRIAL_PREFIX}{trial_id}"
    path = folder / kt_compat.TRIAL_FILE
    state, why, from_copy = read if read is not None else (None, "missing", False)
    if state is None:
        for p in [path, Path(str(path) + kt_compat.COPY_SUFFIX), *(folder / n for n in TRIAL_FILES)]:
            if exists(p):
                set_aside(run_dir, p)
        message = f"its trial.json was damaged ({why}) and no copy of it was kept"
        write_state(path, kt_compat.lost_trial(trial_id, oracle["hyperparameters"], message))
        _forget_running(oracle, trial_id)
        notes.append(
            f"{path}: {why}, and no copy holds its hyperparameters: trial {trial_id} marked FAILED, the search goes on"
        )
        return True
    damaged = [
        d for name, check in TRIAL_FILES.items() if exists(folder / name) and (d := problem(check, folder / name))
    ]
    copy_why = None
    if not from_copy and exists(Path(str(path) + kt_compat.COPY_SUFFIX)):
        _, copy_why = _state(Path(str(path) + kt_compat.COPY_SUFFIX), kt_compat.trial_problem, trial_id)
    if not damaged and not from_copy:
        if copy_why:
            write_state(path, state)
            notes.append(f"{path}{kt_compat.COPY_SUFFIX}: {copy_why}; rewritten from {path.name}")
        return _unrecorded_end(trial_id, state, oracle, notes)
    for d in damaged:
        set_aside(run_dir, d.path)
        notes.append(f"{d}; moved to {run_dir / DAMAGED}, trial {trial_id} runs again")
    if from_copy:
        if exists(path):
            set_aside(run_dir, path)
        notes.append(f"{path}: {why}; trial {trial_id} runs again with the hyperparameters of its copy")
    if state["status"] not in ENDED:
        write_state(path, state)  # running when the search stopped: Keras Tuner re-runs it anyway
        return False
    # What the trial measured cannot be trusted without its files: run it again, checkpoint and all.
    for name in TRIAL_FILES:
        if exists(folder / name):
            os.remove(folder / name)
    write_state(path, kt_compat.to_rerun(state))
    kt_compat.schedule_rerun(oracle, trial_id)
    return True


def _unrecorded_end(trial_id: str, state: dict, oracle: dict, notes: list[str]) -> bool:
    """Keras Tuner writes an ended trial's trial.json, then oracle.json. Killed between the two,
    the oracle still holds the trial as running and would run it again from scratch; its ending is
    recorded instead. (A trial Keras Tuner retries is INVALID, left to run again.) Returns whether
    the oracle's state changed."""
    running = trial_id in oracle["ongoing_trials"].values() and trial_id not in oracle["end_order"]
    if not running or state["status"] not in (layout.COMPLETED, layout.FAILED):
        return False
    _forget_running(oracle, trial_id)
    oracle["run_times"][trial_id] = oracle["run_times"].get(trial_id, 0) + 1
    notes.append(f"trial {trial_id} had ended ({state['status']}) when the search stopped; recorded as ended")
    return True


def _forget_running(oracle: dict, trial_id: str) -> None:
    """A trial marked FAILED is ended: out of the running and retry lists, into the ended ones."""
    oracle["ongoing_trials"] = {k: v for k, v in oracle["ongoing_trials"].items() if v != trial_id}
    oracle["retry_queue"] = [t for t in oracle["retry_queue"] if t != trial_id]
    for key in ("start_order", "end_order"):
        if trial_id not in oracle[key]:
            oracle[key].append(trial_id)


def _repair_tuner_files(project: Path, notes: list[str]) -> None:
    """Each tuner's <tuner_id>.json holds no state, but without this process' one Keras Tuner would
    start a new search over the old trials (and write over their folders)."""
    own = project / f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    paths = {p for p in project.glob("*.json") if p.name != kt_compat.ORACLE_FILE} | {own}
    for path in sorted(paths):
        try:
            read_json(path)
        except DamagedFile as e:
            if exists(path):
                set_aside(project.parent, path)
            write_state(path, kt_compat.TUNER_STATE)
            notes.append(f"{e}; rewritten (it holds no state of its own, only tells Keras Tuner to reload)")
