"""Writing a run directory, through the contract in results/run/layout.py.

A run directory is claimed by its config.json (the search key, its hash, the format version);
the same command resumes it, a different search or another format is refused with one line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from results.run import atomic, files, layout
from search.config import RunConfig, describe_differences, key_hash
from search.engine import distributed, kt_compat
from search.engine.records import last_error_line, read_trial_record
from search.errors import ConfigError, RunDirInUse


def read_json(path: Path) -> dict | None:
    """The JSON object at `path`, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def prepare(run_dir: Path, config: RunConfig, key: dict) -> Path:
    """Create the run directory, or check that an existing one holds the same search in this format.

    A different search is refused, naming what differs, unless --overwrite is given.
    """
    existing, is_run = _check(run_dir, config, key)
    if config.overwrite and is_run:
        shutil.rmtree(run_dir)
        existing = None
    run_dir.mkdir(parents=True, exist_ok=True)
    if existing is None:
        record = {
            layout.FORMAT_KEY: layout.FORMAT_VERSION,
            "hash": key_hash(key),
            "search": key,
            "options": config.to_dict(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic.write_json(run_dir / layout.CONFIG, record)
    return run_dir


def check_before_loading(config: RunConfig, data_fingerprint: str) -> None:
    """Refuse now, before TensorFlow takes seconds to load, what the search would refuse once started:
    a run directory another process holds (`claimed`) or one that holds another search (`prepare`).
    Reads only; the search claims and checks the directory again when it starts."""
    run_dir = config.resolved_run_dir()
    if distributed.role() != "worker":  # a worker searches in the directory its chief holds
        with claimed(run_dir):
            pass
    _check(run_dir, config, config.search_key(data_fingerprint))


def _check(run_dir: Path, config: RunConfig, key: dict) -> tuple[dict | None, bool]:
    """prepare's refusals, writing nothing; returns the run's config record (None where there is none
    or it is damaged) and whether `run_dir` is a run directory (which --overwrite replaces)."""
    config_path = run_dir / layout.CONFIG
    if files.exists(run_dir) and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: a file, not a folder; choose another --run-dir")
    existing, damaged = None, None
    if files.exists(config_path):
        try:
            existing = files.read_json(config_path, keys=("hash", "search"))
        except files.DamagedFile as e:
            damaged = e
    if damaged is not None and not config.overwrite:
        raise ConfigError(
            f"{damaged}: it says which search the run holds and cannot be rebuilt; restore it, or give "
            "--overwrite to start the run afresh (or another --run-dir)"
        )
    if existing is not None and not config.overwrite:
        _check_same_search(run_dir, existing, key)
    is_run = existing is not None or damaged is not None
    if run_dir.exists() and not is_run:
        if config.overwrite and any(run_dir.iterdir()):
            raise ConfigError(f"{run_dir} is not empty and not a run directory: refusing to overwrite it")
        if not config.overwrite and any(p.name != layout.TUNER for p in run_dir.iterdir()):
            raise ConfigError(f"{run_dir} is not empty and not a run directory; choose another --run-dir")
    return existing, is_run


def _check_same_search(run_dir: Path, existing: dict, key: dict) -> None:
    found = layout.format_of(existing)
    if found != layout.FORMAT_VERSION:
        age = "an earlier" if found < layout.FORMAT_VERSION else "a newer"
        raise ConfigError(
            f"{run_dir} was written by {age} mnist-tuner (run-directory format {found}; this one writes "
            f"{layout.FORMAT_VERSION}): report.py still reads a finished one; give --overwrite to search afresh "
            "there, or another --run-dir"
        )
    if existing.get("hash") != key_hash(key):
        differences = describe_differences(existing.get("search", {}), key)
        raise ConfigError(
            f"{run_dir} holds a run with another configuration: {'; '.join(differences) or 'unknown'}; "
            "give --overwrite to start it afresh, or another --run-dir"
        )


@contextlib.contextmanager
def claimed(run_dir: Path):
    """Hold the run directory for this process: a second search on it stops at once (RunDirInUse),
    naming the process that holds it.

    An fcntl lock on a file beside the directory (not inside: --overwrite deletes the directory);
    the system drops it when the holder dies, even by kill -9, so a stale lock blocks nobody.
    """
    import fcntl

    path = run_dir.parent / f".{run_dir.name}{layout.LOCK_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RunDirInUse(
            f"{run_dir} is in use by process {holder}; wait for it to end or stop it (Ctrl-C saves its state)"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} ({shlex.join(sys.argv)})".encode(), 0)
        yield
    finally:
        os.close(fd)


def trial_records(run_dir: Path) -> dict[str, dict]:
    """{trial_id: our record of it} for every trial folder (an empty record where the trial never ended)."""
    project = run_dir / layout.TUNER
    if not project.is_dir():
        return {}
    folders = (d for d in project.glob(f"{layout.TRIAL_PREFIX}*") if d.is_dir())
    return {d.name.removeprefix(layout.TRIAL_PREFIX): read_trial_record(d) for d in folders}


def trial_rows(oracle, run_dir: Path) -> list[dict]:
    """One row of trials.csv per trial, in the order they started."""
    records = trial_records(run_dir)
    rows = []
    for trial in kt_compat.trials_in_start_order(oracle):
        record = records.get(trial.trial_id, {})
        completed = trial.status == layout.COMPLETED
        values = trial.hyperparameters.values
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                **{k: v for k, v in values.items() if layout.is_searched(k) or k in layout.KEPT_TUNER_KEYS},
                "val_accuracy": trial.score if completed else None,
                "epochs": record.get("epochs"),
                "seconds": record.get("seconds"),
                "rss_mb": record.get("rss_mb"),
                "message": None if completed else last_error_line(trial.message),
            }
        )
    return rows


def write_trials_csv(run_dir: Path, rows: list[dict]) -> None:
    """trials.csv: the fixed columns, then every hyperparameter met in start order, then the tail."""
    fixed = [*layout.TRIALS_HEAD, *layout.TRIALS_TAIL]
    hp_names = []
    for row in rows:
        hp_names += [k for k in row if k not in fixed and k not in hp_names]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*layout.TRIALS_HEAD, *hp_names, *layout.TRIALS_TAIL], restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(run_dir / layout.TRIALS, out.getvalue())


def trial_counts(rows: list[dict]) -> dict:
    """{"total", "completed", "failed"} over trials.csv's rows."""
    statuses = [r["status"] for r in rows]
    return {
        "total": len(rows),
        "completed": statuses.count(layout.COMPLETED),
        "failed": sum(statuses.count(s) for s in layout.UNSUCCESSFUL),
    }


def trial_seconds(rows: list[dict]) -> float:
    """Seconds spent in trials over every session of the run."""
    return round(sum(r["seconds"] or 0 for r in rows), 2)
