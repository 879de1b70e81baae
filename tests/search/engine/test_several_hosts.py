"""The several-hosts recipe of docs/distributed.md, for real: a chief and two workers, each in its
own network namespace (its own "host"), joined by veth pairs with private addresses that exist only
inside those namespaces, sharing the run directory as hosts share a network file system.

Needs root and iproute2's `ip` (CI runs as root and installs it); skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results.run import layout
from runs import ROOT, SEARCH_SCRIPT, assert_complete_run, search_args, write_space

TRIALS = 4
PORT = 8470
SUBNET = "10.231"  # 10.231.1.0/24 joins the chief and worker w0, 10.231.2.0/24 the chief and w1
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


def host_addresses() -> str:
    """Every address of the namespace the tests run in."""
    return ip("-o", "addr").stdout


@pytest.fixture
def hosts(request) -> dict[str, str]:
    """Three namespaces, {"chief": name, "w0": name, "w1": name}; each worker reaches the chief at
    10.231.N.1 over its own veth pair. Deleted (with their links) in a finalizer."""
    if os.geteuid() != 0:
        pytest.skip("making network namespaces needs root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2's `ip` is not installed")
    if SUBNET + "." in host_addresses():
        pytest.skip(f"{SUBNET}.0.0/16 is in use on this host: the namespaces' addresses would not be private")
    tag = f"mt{os.getpid() % 100000}"
    names = {role: f"{tag}{role}" for role in ("chief", "w0", "w1")}
    made = []
    request.addfinalizer(lambda: [ip("netns", "del", name) for name in made])
    for name in names.values():
        result = ip("netns", "add", name)
        if result.returncode != 0:
            pytest.skip(f"cannot make a network namespace here: {result.stderr.strip()}")
        made.append(name)
        _must("-n", name, "link", "set", "lo", "up")
    for index, worker in enumerate(("w0", "w1"), start=1):
        chief_end, worker_end = f"{tag}c{index}", f"{tag}w{index}"
        _must("link", "add", chief_end, "type", "veth", "peer", "name", worker_end)
        _must("link", "set", chief_end, "netns", names["chief"])
        _must("link", "set", worker_end, "netns", names[worker])
        _must("-n", names["chief"], "addr", "add", f"{SUBNET}.{index}.1/24", "dev", chief_end)
        _must("-n", names[worker], "addr", "add", f"{SUBNET}.{index}.2/24", "dev", worker_end)
        _must("-n", names["chief"], "link", "set", chief_end, "up")
        _must("-n", names[worker], "link", "set", worker_end, "up")
    return names


def _must(*args: str) -> None:
    result = ip(*args)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


def start_on(namespace: str, args: list[str], log: Path) -> subprocess.Popen:
    """`python scripts/search.py ARGS` on the "host" `namespace` (ip netns exec execs: same process id)."""
    with open(log, "a") as out:
        return subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(SEARCH_SCRIPT), *args],
            cwd=ROOT,
            env=ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def ongoing(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / layout.TUNER / layout.ORACLE).read_text())["ongoing_trials"]
    except (OSError, ValueError, KeyError):
        return {}


@pytest.mark.slow
def test_the_several_hosts_recipe_across_network_namespaces(hosts, tmp_path, request):
    run_dir, logs = tmp_path / "shared" / "run", tmp_path / "logs"
    logs.mkdir()
    args = search_args(run_dir, write_space(tmp_path / "s.toml"), "--no-augment", max_epochs=2, epochs=2)
    args[args.index("--max-trials") + 1] = str(TRIALS)
    procs: list[subprocess.Popen] = []
    request.addfinalizer(lambda: [p.kill() for p in procs if p.poll() is None])

    # The recipe: the chief listens on every address of its host; each worker names the chief's
    # address on its own link, and its id.
    chief = start_on(hosts["chief"], [*args, "--chief", str(PORT)], logs / "chief.log")
    w0 = start_on(hosts["w0"], [*args, "--worker-of", f"{SUBNET}.1.1:{PORT}", "--worker-id", "w0"], logs / "w0.log")
    w1_args = [*args, "--worker-of", f"{SUBNET}.2.1:{PORT}", "--worker-id", "w1"]
    w1 = start_on(hosts["w1"], w1_args, logs / "w1.log")
    procs += [chief, w0, w1]

    # Worker w1's host loses it mid-trial (kill -9); it is started again on its host, same id.
    deadline = time.time() + 300
    while "w1" not in ongoing(run_dir):
        assert all(p.poll() is None for p in procs), {f.name: f.read_text()[-2000:] for f in logs.iterdir()}
        assert time.time() < deadline, "worker w1 never started a trial"
        time.sleep(0.1)
    killed_trial = ongoing(run_dir)["w1"]
    os.kill(w1.pid, signal.SIGKILL)
    assert w1.wait(timeout=30) == -signal.SIGKILL
    w1_again = start_on(hosts["w1"], w1_args, logs / "w1.log")
    procs.append(w1_again)

    codes = {name: p.wait(timeout=600) for name, p in (("chief", chief), ("w0", w0), ("w1", w1_again))}
    texts = {f.stem: f.read_text() for f in logs.iterdir()}
    assert codes == {"chief": 0, "w0": 0, "w1": 0}, {k: v[-3000:] for k, v in texts.items()}
    for name, text in texts.items():
        assert "Traceback" not in text, f"{name}.log:\n{text[-3000:]}"

    # Every trial completed; the chief, and only it, retrained and tested, once.
    metrics = assert_complete_run(run_dir, TRIALS)
    assert texts["chief"].count("test accuracy") == 1
    assert "test accuracy" not in texts["w0"] + texts["w1"]
    assert texts["w0"].count("worker w0: the chief has no more trials") == 1
    assert texts["w1"].count("worker w1: the chief has no more trials") == 1
    # The killed trial was run again, by the restarted w1, and the chief counted it.
    trial_dir = run_dir / layout.TUNER / f"trial_{killed_trial}"
    assert json.loads((trial_dir / layout.KT_TRIAL).read_text())["status"] == "COMPLETED"
    assert json.loads((trial_dir / layout.TRIAL_RECORD).read_text())["tuner_id"] == "w1"
    assert metrics["workers"] == {
        "w0": {"restarts": None, "trials_rerun": 0},
        "w1": {"restarts": None, "trials_rerun": 1},
    }
    done_by = {
        p.parent.name: json.loads(p.read_text())["tuner_id"]
        for p in run_dir.glob("tuner/trial_*/" + layout.TRIAL_RECORD)
    }
    assert set(done_by.values()) == {"w0", "w1"}, done_by
    # The addresses lived only in the namespaces.
    assert SUBNET + "." not in host_addresses()
