"""Distributed search on Keras Tuner's own chief/worker engine (no scheduler of our own).

Keras Tuner reads three environment variables: KERASTUNER_TUNER_ID (an id containing
"chief" makes the process the chief), KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT. The
chief serves the oracle over gRPC and trains nothing; workers ask it for trials. Here the
chief also shows the trials as workers end them, enforces the time budget, and, after every
worker is done, retrains and tests once. `--workers N` starts a chief and N workers on this
machine, on loopback.
"""

from __future__ import annotations

import _thread
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from results.run import layout
from search import interrupts
from search.engine import kt_compat
from search.engine.records import best_score, last_error_line, searched_values
from search.errors import ConfigError

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
THREADS = "MNIST_TUNER_THREADS"  # TensorFlow threads of one local worker
MAX_RESTARTS = 3


def role() -> str:
    """'chief', 'worker' or 'single', from Keras Tuner's environment variables (all three or none)."""
    present = [name for name in (TUNER_ID, ORACLE_IP, ORACLE_PORT) if os.environ.get(name)]
    if not present:
        return "single"
    if len(present) < 3:
        missing = sorted({TUNER_ID, ORACLE_IP, ORACLE_PORT} - set(present))
        raise ConfigError(f"distributed search needs {TUNER_ID}, {ORACLE_IP} and {ORACLE_PORT}; missing {missing}")
    return "chief" if "chief" in os.environ[TUNER_ID] else "worker"


def limit_threads_of_worker() -> None:
    """In a local worker, use only its share of the cores (set by the chief that started it)."""
    if os.environ.get(THREADS):
        import tensorflow as tf

        threads = int(os.environ[THREADS])
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def local_workers(argv: list[str], count: int, config) -> WorkerPool:
    """Make this process the chief of `count` workers on this machine, running `argv`; logs go to
    the run directory's workers/ folder, and each worker gets one GPU where there are several."""
    import tensorflow as tf

    become_local_chief()
    gpus = len(tf.config.list_physical_devices("GPU"))
    return WorkerPool(argv, count, config.resolved_run_dir() / layout.WORKERS, gpus=gpus)


def free_port() -> int:
    """A TCP port nobody listens on now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def become_local_chief() -> None:
    """Make this process the chief of a search on loopback."""
    os.environ.update({TUNER_ID: "chief", ORACLE_IP: "127.0.0.1", ORACLE_PORT: str(free_port())})


class WorkerPool:
    """N worker processes of the same command on this machine.

    A worker that dies mid-search is started again under the same tuner id: the chief's
    oracle hands a returning id the trial it had, so the unfinished trial is re-run.
    """

    def __init__(self, argv: list[str], count: int, log_dir: Path, gpus: int = 0):
        self.argv = argv  # after the interpreter: a script and its arguments
        self.count = count
        self.log_dir = log_dir
        self.gpus = gpus
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.finished: set[str] = set()

    def _env(self, index: int) -> dict:
        env = {**os.environ, TUNER_ID: f"tuner{index}", "TF_CPP_MIN_LOG_LEVEL": "2"}
        # Workers share the cores; each one using them all only adds contention.
        env[THREADS] = str(max(1, (os.cpu_count() or 1) // self.count))
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(index % self.gpus)  # one GPU per worker where there are enough
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        return env

    def _spawn(self, index: int) -> None:
        tuner_id = f"tuner{index}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{tuner_id}.log", "a")  # noqa: SIM115 - handed to the child
        self.procs[tuner_id] = subprocess.Popen(
            [sys.executable, *self.argv],
            env=self._env(index),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def start(self) -> None:
        """Start every worker."""
        for index in range(self.count):
            self._spawn(index)

    def check(self) -> list[str]:
        """Restart workers that died; returns one line per event worth showing."""
        events = []
        for index in range(self.count):
            tuner_id = f"tuner{index}"
            proc = self.procs.get(tuner_id)
            if proc is None or tuner_id in self.finished or proc.poll() is None:
                continue
            if proc.returncode == 0:
                self.finished.add(tuner_id)
                continue
            if self.restarts.get(tuner_id, 0) >= MAX_RESTARTS:
                self.finished.add(tuner_id)
                events.append(f"worker {tuner_id} died (exit {proc.returncode}) {MAX_RESTARTS} times; not restarted")
                continue
            self.restarts[tuner_id] = self.restarts.get(tuner_id, 0) + 1
            events.append(f"worker {tuner_id} died (exit {proc.returncode}); restarted to re-run its trial")
            self._spawn(index)
        return events

    def alive(self) -> bool:
        """Whether any worker still runs."""
        return any(p.poll() is None for p in self.procs.values())

    def stop(self) -> None:
        """End every worker still running."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


class ChiefMonitor(threading.Thread):
    """In the chief, while Keras Tuner serves the oracle: shows trials as workers start and
    end them, stops handing out trials after the budget, and keeps local workers alive."""

    def __init__(self, oracle, display, deadline: float | None, pool: WorkerPool | None, interval: float = 0.5):
        super().__init__(daemon=True)
        self.oracle, self.display, self.deadline, self.pool = oracle, display, deadline, pool
        self.interval = interval
        self.stopped = threading.Event()
        self.budget_stopped = False
        self.interrupted = False
        self._seen_started = {t.trial_id for t in kt_compat.trials_in_start_order(oracle)}
        self._seen_ended = {t.trial_id for t in kt_compat.trials_in_end_order(oracle)}

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """One round: Ctrl-C, budget, workers, display."""
        if interrupts.requested() and not self.interrupted:
            # Keras Tuner's server loop never looks at our flag: interrupt it directly.
            self.interrupted = True
            _thread.interrupt_main()
        if self.deadline is not None and time.time() >= self.deadline and not self.budget_stopped:
            self.budget_stopped = True
            kt_compat.stop_new_trials(self.oracle)
        if self.pool is not None:
            for line in self.pool.check():
                self.display.message(line)
        for trial in kt_compat.trials_in_start_order(self.oracle):
            if trial.trial_id not in self._seen_started:
                self._seen_started.add(trial.trial_id)
                self.display.trial_begin(trial.trial_id, searched_values(trial.hyperparameters.values))
        for trial in kt_compat.trials_in_end_order(self.oracle):
            if trial.trial_id not in self._seen_ended:
                self._seen_ended.add(trial.trial_id)
                self.display.trial_end(
                    trial.trial_id, trial.status, trial.score, best_score(self.oracle), last_error_line(trial.message)
                )

    def stop(self) -> None:
        """Stop after one last round."""
        self.stopped.set()
        self.join(timeout=5)
        self.poll()


def worker_argv(argv: list[str]) -> list[str]:
    """The command line a local worker runs: the same search, quiet, without --workers/--overwrite."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers=") or arg == "--overwrite":
            continue
        out.append(arg)
    return [*out, "--quiet"]
