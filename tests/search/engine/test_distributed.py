"""Distributed search on Keras Tuner's chief/worker engine: --workers on loopback, and a chief and
workers started apart (--chief, --worker-of) losing one another. tests/search/engine/test_several_hosts.py
runs the same across network namespaces."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results.run import layout
from runs import MAX_TRIALS, ROOT, SEARCH_SCRIPT, assert_complete_run, search_args, write_space
from search.engine import distributed
from search.errors import ConfigError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
# The one line that says a local worker was started again (distributed.WorkerPool.check).
RESTARTED = re.compile(r"^worker (\S+) died \((.*)\); restarted to re-run its trial$", re.M)
# The line a local worker's log gets each time a process of it starts (distributed.WorkerPool._spawn).
STARTED = re.compile(r"^--- worker (\S+) started .* ---$", re.M)


def args_for(run_dir: Path, space: Path, *extra) -> list[str]:
    return search_args(run_dir, space, "--no-augment", *extra, max_epochs=2, epochs=2)


def trials_by_worker(run_dir: Path) -> dict[str, str]:
    """trial id -> the worker that finished it (our per-trial record)."""
    out = {}
    for path in (run_dir / layout.TUNER).glob("trial_*/mnist_tuner.json"):
        out[path.parent.name] = json.loads(path.read_text())["tuner_id"]
    return out


def ongoing(run_dir: Path) -> dict:
    """{worker id: trial id} the chief's oracle.json says are running now."""
    try:
        return json.loads((run_dir / layout.TUNER / layout.ORACLE).read_text())["ongoing_trials"]
    except (OSError, ValueError, KeyError):
        return {}


def wait_until_running(run_dir: Path, worker: str, *procs: subprocess.Popen, timeout: float = 300) -> str:
    """The trial `worker` runs, once it runs one (fails if a process in `procs` ends first)."""
    deadline = time.time() + timeout
    while worker not in ongoing(run_dir):
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"worker {worker} never started a trial"
        time.sleep(0.1)
    return ongoing(run_dir)[worker]


def assert_no_traceback(*logs: str | Path) -> None:
    for log in logs:
        text = Path(log).read_text() if isinstance(log, Path) else log
        assert "Traceback" not in text, f"{log if isinstance(log, Path) else 'output'}:\n{text[-3000:]}"


def _worker_pid(run_dir: Path, tuner_id: str) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if f"KERASTUNER_TUNER_ID={tuner_id}".encode() in environ and str(run_dir).encode() in cmdline:
            return int(entry)
    return None


def popen(args: list[str], log: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    out = open(log, "a") if log else subprocess.PIPE  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, str(SEARCH_SCRIPT), *args],
        cwd=ROOT,
        env=env or ENV,
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the worker through /proc")
def test_two_local_workers_are_one_process_each_and_a_killed_one_is_restarted_once_to_rerun_its_trial(tmp_path):
    run_dir = tmp_path / "run"
    chief = popen([*args_for(run_dir, write_space(tmp_path / "s.toml")), "--workers", "2"])
    killed_trial = wait_until_running(run_dir, "tuner1", chief)
    os.kill(_worker_pid(run_dir, "tuner1"), signal.SIGKILL)
    out, err = chief.communicate(timeout=600)
    assert chief.returncode == 0, err
    logs = {log.stem: log.read_text() for log in (run_dir / layout.WORKERS).glob("*.log")}
    assert sorted(logs) == ["tuner0", "tuner1"]
    assert_no_traceback(*logs.values(), out, err)
    # Exactly one restart, of the killed worker; every other worker process lived the whole search.
    assert RESTARTED.findall(err) == [("tuner1", "killed by SIGKILL")], err
    assert {w: len(STARTED.findall(text)) for w, text in logs.items()} == {"tuner0": 1, "tuner1": 2}
    metrics = assert_complete_run(run_dir, MAX_TRIALS)
    assert metrics["workers"] == {
        "tuner0": {"restarts": 0, "trials_rerun": 0},
        "tuner1": {"restarts": 1, "trials_rerun": 1},
    }
    trial = json.loads((run_dir / layout.TUNER / f"trial_{killed_trial}" / "trial.json").read_text())
    assert trial["status"] == "COMPLETED"
    done_by = trials_by_worker(run_dir)
    assert len(done_by) == MAX_TRIALS and done_by[f"trial_{killed_trial}"] == "tuner1", done_by
    assert "tuner0" in done_by.values(), done_by
    assert out.count("test accuracy") == 1


@pytest.mark.slow
def test_a_worker_past_the_time_budget_leaves_it_to_the_chief(tmp_path):
    # The budget is spent before the first trial ends: the chief stops handing out trials after it,
    # and the worker, past its own deadline too, asks the chief rather than reading trials it lacks.
    run_dir = tmp_path / "run"
    args = [*args_for(run_dir, write_space(tmp_path / "s.toml")), "--workers", "1", "--budget-minutes", "0.01"]
    chief = popen(args)
    out, err = chief.communicate(timeout=300)
    assert chief.returncode == 0, err
    log = (run_dir / layout.WORKERS / "tuner0.log").read_text()
    assert_no_traceback(log, out, err)
    assert len(STARTED.findall(log)) == 1 and RESTARTED.findall(err) == []
    metrics = assert_complete_run(run_dir, 1)
    assert metrics["budget_stopped"] is True


@pytest.mark.slow
def test_a_local_worker_failing_the_same_way_three_times_stops_the_run_with_one_line(tmp_path):
    # A host where the worker cannot even start: every worker process (KERASTUNER_TUNER_ID=tuner*,
    # set by the chief) ends at once with the same error; the chief itself starts normally.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if os.environ.get('KERASTUNER_TUNER_ID', '').startswith('tuner'):\n"
        "    sys.stderr.write('OSError: this host cannot train\\n')\n"
        "    os._exit(1)\n"
    )
    run_dir = tmp_path / "run"
    args = [*args_for(run_dir, write_space(tmp_path / "s.toml")), "--workers", "1"]
    chief = popen(args, env={**ENV, "PYTHONPATH": str(site)})
    out, err = chief.communicate(timeout=300)
    assert chief.returncode == 2, err
    assert_no_traceback(out, err)
    assert RESTARTED.findall(err) == [("tuner0", "OSError: this host cannot train")] * 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: worker tuner0 failed 3 times in a row: OSError: this host cannot train"), last
    assert str(run_dir / layout.WORKERS / "tuner0.log") in last and "resume with: " in last
    log = (run_dir / layout.WORKERS / "tuner0.log").read_text()
    assert len(STARTED.findall(log)) == 3
    assert not (run_dir / layout.METRICS).exists() and (run_dir / layout.CONFIG).exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_chief_whose_worker_is_lost_gives_up_and_a_worker_without_its_chief_says_so(tmp_path):
    run_dir, port = tmp_path / "run", _free_port()
    args = args_for(run_dir, write_space(tmp_path / "s.toml"))
    chief = popen([*args, "--chief", f"127.0.0.1:{port}", "--wait-minutes", "0.25"])
    worker_log = tmp_path / "w0.log"
    worker = popen([*args, "--worker-of", f"127.0.0.1:{port}", "--worker-id", "w0"], log=worker_log)
    open_trial = wait_until_running(run_dir, "w0", chief, worker)
    worker.kill()  # its host is lost: nobody starts it again
    worker.wait()
    started = time.time()
    out, err = chief.communicate(timeout=120)
    waited = time.time() - started
    assert chief.returncode == 2, err
    # Silence counts from the worker's last heartbeat, at most 5 s before the kill.
    assert 15 - distributed.HEARTBEAT_SECONDS <= waited < 60, waited
    assert_no_traceback(out, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: no word from any worker for 0.25 min (--wait-minutes); "), last
    assert f"open trials: {open_trial} (worker w0)" in last and "resume with: " in last, last

    # The chief is gone: a worker started now tries for --wait-minutes, then says so in one line.
    late = popen([*args, "--worker-of", f"127.0.0.1:{port}", "--worker-id", "w0", "--wait-minutes", "0.1"])
    out, err = late.communicate(timeout=120)
    assert late.returncode == 2, err
    assert_no_traceback(out, err, worker_log)
    assert err.strip().splitlines() == [
        f"error: worker w0: no answer from the chief at 127.0.0.1:{port} for 0.1 min (DEADLINE_EXCEEDED); "
        "start the chief (or check its address and port), then this worker again"
    ]
    assert ongoing(run_dir) == {"w0": open_trial}  # left for the resumed chief to hand out again


def test_roles_follow_keras_tuners_environment_variables(monkeypatch):
    for name in (distributed.TUNER_ID, distributed.ORACLE_IP, distributed.ORACLE_PORT):
        monkeypatch.delenv(name, raising=False)
    assert distributed.role() == "single"
    monkeypatch.setenv(distributed.TUNER_ID, "tuner3")
    with pytest.raises(ConfigError, match="KERASTUNER_ORACLE_IP"):
        distributed.role()
    monkeypatch.setenv(distributed.ORACLE_IP, "127.0.0.1")
    monkeypatch.setenv(distributed.ORACLE_PORT, "8000")
    assert distributed.role() == "worker"
    monkeypatch.setenv(distributed.TUNER_ID, "chief")
    assert distributed.role() == "chief"


def test_chief_and_worker_of_set_keras_tuners_variables(monkeypatch):
    for name in (distributed.TUNER_ID, distributed.ORACLE_IP, distributed.ORACLE_PORT):
        # setenv first: monkeypatch then restores the variable as it was (absent) after the test, although
        # take_role sets it behind monkeypatch's back; a worker's variables left set made every later
        # search of this test process wait for a chief that does not exist.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    port = _free_port()
    assert distributed.take_role(None, str(port), None, None) == "chief"
    assert [os.environ[n] for n in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")] == [
        "chief",
        "0.0.0.0",
        str(port),
    ]
    for name in (distributed.TUNER_ID, distributed.ORACLE_IP, distributed.ORACLE_PORT):
        monkeypatch.delenv(name)
    assert distributed.take_role(None, None, "10.0.0.7:8000", "gpu-box-2") == "worker"
    assert [os.environ[n] for n in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")] == [
        "gpu-box-2",
        "10.0.0.7",
        "8000",
    ]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--chief", "8000", "--worker-of", "h:8000"], "--chief and --worker-of exclude each other"),
        (["--workers", "2", "--chief", "8000"], "--workers and --chief exclude each other"),
        (["--worker-of", "8000"], "--worker-of '8000': expected HOST:PORT"),
        (["--chief", "h:99999"], "--chief 'h:99999': expected [HOST:]PORT"),
        (["--worker-id", "w1"], "--worker-id names a worker: give it with --worker-of"),
        (["--worker-of", "h:1", "--worker-id", "chief2"], "must be non-empty and not contain 'chief'"),
        (["--wait-minutes", "0"], "--wait-minutes must be positive"),
    ],
)
def test_contradictory_distributed_flags_stop_with_one_line(tmp_path, flags, message):
    result = subprocess.run(
        [sys.executable, str(SEARCH_SCRIPT), "--dataset", "digits", "--run-dir", str(tmp_path / "r"), *flags],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in ENV.items() if not k.startswith("KERASTUNER_")},
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "r").exists()


def test_a_chief_refuses_a_port_in_use_before_loading_anything(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SEARCH_SCRIPT), "--dataset", "digits", "--run-dir", str(tmp_path / "r")]
            + ["--chief", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=ENV,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --chief 127.0.0.1:{port}: cannot listen there (Address already in use)"


def test_workers_run_the_same_search_without_wiping_the_shared_folder():
    argv = ["--dataset", "digits", "--workers", "2", "--overwrite", "--run-dir", "r", "--workers=3"]
    assert distributed.worker_argv(argv) == ["--dataset", "digits", "--run-dir", "r", "--quiet"]


def test_workers_is_refused_where_keras_tuner_variables_already_say_the_role(tmp_path):
    env_args = ("--dataset", "digits", "--workers", "2", "--run-dir", tmp_path / "r")
    result = subprocess.run(
        [sys.executable, str(SEARCH_SCRIPT), *map(str, env_args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "KERASTUNER_TUNER_ID": "chief",
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": "1",
        },
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: --workers")
    assert not (tmp_path / "r").exists()
