"""Distributed search on Keras Tuner's own chief/worker engine (no scheduler of our own).

Keras Tuner reads three environment variables: KERASTUNER_TUNER_ID (an id containing
"chief" makes the process the chief), KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT;
`--chief [HOST:]PORT` and `--worker-of HOST:PORT` set them (`take_role`). The chief serves
the oracle over gRPC and trains nothing; workers ask it for trials, and read only what its
gRPC client offers. Here the chief also shows the trials as workers end them, enforces the
time budget, gives up when no worker has been heard from for --wait-minutes or one keeps
failing the same way (`WorkersLost`, exit 2, resumable), and, after every worker is done,
retrains and tests once. `--workers N` starts a chief and N workers on this machine, on
loopback. docs/distributed.md has the recipe across hosts and what happens when one is lost.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from results.run import atomic, layout
from search import interrupts
from search.engine import kt_compat
from search.engine.records import best_score, last_error_line, searched_values
from search.errors import ConfigError, SearchError

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
THREADS = "MNIST_TUNER_THREADS"  # TensorFlow threads of one local worker
WAIT_MINUTES = 10.0  # --wait-minutes: a chief hearing no worker, a worker not reaching its chief
HEARTBEAT_SECONDS = 5.0  # a worker tells its chief it lives, even in the middle of a long trial
SAME_FAILURES = 3  # a local worker that dies this many times in a row the same way stops the run
MAX_RESTARTS = 10  # and any local worker restarted this many times in one session
LISTEN_ALL = "0.0.0.0"


class WorkersLost(SearchError):
    """The chief stopped the search: no worker is left, or one keeps failing (the run resumes)."""


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


def take_role(workers: int | None, chief: str | None, worker_of: str | None, worker_id: str | None) -> str:
    """Set Keras Tuner's variables from --chief [HOST:]PORT or --worker-of HOST:PORT (--worker-id);
    returns the role. Raises ConfigError on flags that contradict each other or the variables."""
    given = [flag for flag, value in (("--workers", workers), ("--chief", chief), ("--worker-of", worker_of)) if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} exclude each other: a process is a chief or a worker")
    if worker_id is not None and not worker_of:
        raise ConfigError("--worker-id names a worker: give it with --worker-of HOST:PORT")
    if given and any(os.environ.get(name) for name in (TUNER_ID, ORACLE_IP, ORACLE_PORT)):
        raise ConfigError(f"{given[0]} sets the role itself: unset the KERASTUNER_* variables to use it")
    if chief:
        host, port = parse_address(chief, "--chief", LISTEN_ALL)
        refuse_taken_port(host, port)
        os.environ.update({TUNER_ID: "chief", ORACLE_IP: host, ORACLE_PORT: str(port)})
    elif worker_of:
        host, port = parse_address(worker_of, "--worker-of", None)
        name = worker_id or socket.gethostname()
        if "chief" in name or not name.strip():
            raise ConfigError(f"--worker-id {name!r}: a worker's id must be non-empty and not contain 'chief'")
        os.environ.update({TUNER_ID: name, ORACLE_IP: host, ORACLE_PORT: str(port)})
    return role()


def parse_address(text: str, flag: str, default_host: str | None) -> tuple[str, int]:
    """(host, port) of `text`: HOST:PORT, or PORT alone where `default_host` is given."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = default_host
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        form = "[HOST:]PORT" if default_host else "HOST:PORT"
        raise ConfigError(f"{flag} {text!r}: expected {form}, the port a number from 1 to 65535")
    return host, int(port)


def refuse_taken_port(host: str, port: int) -> None:
    """ConfigError, before TensorFlow loads, where the chief could not listen on host:port."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"--chief {host}:{port}: cannot listen there ({e.strerror})") from None


def local_workers(argv: list[str], count: int, config, wait_minutes: float = WAIT_MINUTES) -> WorkerPool:
    """Make this process the chief of `count` workers on this machine, running `argv`; logs go to
    the run directory's workers/ folder, and each worker gets one GPU where there are several."""
    import tensorflow as tf

    become_local_chief()
    gpus = len(tf.config.list_physical_devices("GPU"))
    return WorkerPool(argv, count, config.resolved_run_dir() / layout.WORKERS, gpus=gpus, wait_minutes=wait_minutes)


def remote_workers(config, wait_minutes: float = WAIT_MINUTES) -> WorkerPool:
    """What a chief serving workers it did not start (other hosts) keeps of them: no process, a record."""
    return WorkerPool([], 0, config.resolved_run_dir() / layout.WORKERS, wait_minutes=wait_minutes)


def free_port() -> int:
    """A TCP port nobody listens on now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def become_local_chief() -> None:
    """Make this process the chief of a search on loopback."""
    os.environ.update({TUNER_ID: "chief", ORACLE_IP: "127.0.0.1", ORACLE_PORT: str(free_port())})


class WorkerPool:
    """The chief's workers: N processes of the same command on this machine (none for a chief of
    other hosts' workers), and the record of every worker: restarts and trials re-run.

    A worker that dies mid-search is started again under the same tuner id: the chief's oracle
    hands a returning id the trial it had, so the unfinished trial is re-run. One that dies the
    same way SAME_FAILURES times in a row, or is restarted MAX_RESTARTS times, is not: `failure`
    then says why, and the chief stops the search (WorkersLost).
    """

    def __init__(self, argv: list[str], count: int, log_dir: Path, gpus: int = 0, wait_minutes: float = WAIT_MINUTES):
        self.argv = argv  # after the interpreter: a script and its arguments
        self.count = count
        self.log_dir = log_dir
        self.gpus = gpus
        self.wait_seconds = wait_minutes * 60
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {f"tuner{i}": 0 for i in range(count)}
        self.reruns: dict[str, int] = {}  # tuner id -> times it came back for a trial it had left open
        self.finished: set[str] = set()
        self.failure: str | None = None
        self._log_start: dict[str, int] = {}
        self._streak: dict[str, tuple[str, int]] = {}  # tuner id -> (its last error, deaths in a row with it)

    def _env(self, index: int) -> dict:
        env = {**os.environ, TUNER_ID: f"tuner{index}", "TF_CPP_MIN_LOG_LEVEL": "2"}
        # Workers share the cores; each one using them all only adds contention.
        env[THREADS] = str(max(1, (os.cpu_count() or 1) // self.count))
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(index % self.gpus)  # one GPU per worker where there are enough
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        return env

    def log_path(self, tuner_id: str) -> Path:
        """The log of a local worker: every process of it, each after a line saying it started."""
        return self.log_dir / layout.WORKER_LOG.format(tuner_id=tuner_id)

    def _spawn(self, index: int) -> None:
        tuner_id = f"tuner{index}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(tuner_id), "a") as log:
            log.write(f"--- worker {tuner_id} started {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
            log.flush()
            self._log_start[tuner_id] = log.tell()
            self.procs[tuner_id] = subprocess.Popen(
                [sys.executable, *self.argv],
                env=self._env(index),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def start(self) -> None:
        """Start every worker."""
        for index in range(self.count):
            self._spawn(index)

    def check(self) -> list[str]:
        """Restart workers that died, unless they keep failing (then `failure` is set); returns one
        line per event worth showing."""
        events = []
        for index in range(self.count):
            tuner_id = f"tuner{index}"
            proc = self.procs.get(tuner_id)
            if self.failure or proc is None or tuner_id in self.finished or proc.poll() is None:
                continue
            if proc.returncode == 0:
                self.finished.add(tuner_id)
                continue
            error = self.last_error(tuner_id, proc.returncode)
            last, times = self._streak.get(tuner_id, (None, 0))
            times = times + 1 if error == last else 1
            self._streak[tuner_id] = (error, times)
            if times >= SAME_FAILURES or self.restarts[tuner_id] >= MAX_RESTARTS:
                why = f"{times} times in a row" if times >= SAME_FAILURES else f"after {MAX_RESTARTS} restarts"
                self.failure = f"worker {tuner_id} failed {why}: {error} (its log: {self.log_path(tuner_id)})"
                continue
            self.restarts[tuner_id] += 1
            events.append(f"worker {tuner_id} died ({error}); restarted to re-run its trial")
            self._spawn(index)
        return events

    def last_error(self, tuner_id: str, returncode: int) -> str:
        """Why a worker's last process ended: the signal that killed it, else its log's last line."""
        if returncode < 0:
            return f"killed by {signal.Signals(-returncode).name}"
        try:
            with open(self.log_path(tuner_id), errors="replace") as log:
                log.seek(self._log_start.get(tuner_id, 0))
                lines = [line.strip() for line in log.read().splitlines() if line.strip()]
        except OSError:
            lines = []
        return lines[-1] if lines else f"exit {returncode}"

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

    def record(self) -> dict:
        """metrics.json's "workers": per worker, its restarts (local workers; null for another host's,
        whose processes the chief does not see) and the trials it came back to re-run."""
        ids = sorted(set(self.restarts) | set(self.reruns))
        return {i: {"restarts": self.restarts.get(i), "trials_rerun": self.reruns.get(i, 0)} for i in ids}


class ChiefMonitor(threading.Thread):
    """In the chief, while Keras Tuner serves the oracle: shows trials as workers start and end
    them, stops handing out trials after the budget, keeps local workers alive, and stops the
    search (WorkersLost in the main thread) when no worker has been heard from for the pool's
    wait, or a local worker keeps failing."""

    def __init__(self, oracle, display, deadline: float | None, pool: WorkerPool | None, interval: float = 0.5):
        super().__init__(daemon=True)
        self.oracle, self.display, self.deadline, self.pool = oracle, display, deadline, pool
        self.interval = interval
        self.wait_seconds = pool.wait_seconds if pool is not None else WAIT_MINUTES * 60
        self.stopped = threading.Event()
        self.budget_stopped = False
        self.interrupted = False
        self.gave_up: str | None = None
        self.last_heard = time.time()
        self._seen_started = {t.trial_id for t in kt_compat.trials_in_start_order(oracle)}
        self._seen_ended = {t.trial_id for t in kt_compat.trials_in_end_order(oracle)}
        self._previous_handler = None
        kt_compat.listen_to_workers(oracle, self._heard)

    def _heard(self, request: str, args: tuple) -> None:
        # Runs in Keras Tuner's server thread, before the oracle answers.
        self.last_heard = time.time()
        if request == "create_trial" and self.pool is not None:
            tuner_id = args[0]
            came_back = tuner_id in kt_compat.ongoing_trials(self.oracle)  # for the trial it left open
            self.pool.reruns[tuner_id] = self.pool.reruns.get(tuner_id, 0) + came_back

    def start(self) -> None:
        # Only the main thread may set a signal handler: the monitor stops the search through it.
        self._previous_handler = signal.signal(signal.SIGUSR1, self._raise_gave_up)
        super().start()

    def _raise_gave_up(self, signum, frame):
        raise WorkersLost(self.gave_up or "the chief stopped the search")

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
        if self.pool is not None and not self.stopped.is_set():
            for line in self.pool.check():
                self.display.message(line)
            if self.pool.failure:
                self.give_up(self.pool.failure)
        if time.time() - self.last_heard > self.wait_seconds:
            self.give_up(self._silence())
        self._show_trials()

    def _show_trials(self) -> None:
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

    def _silence(self) -> str:
        open_trials = kt_compat.ongoing_trials(self.oracle)
        held = ", ".join(f"{trial} (worker {worker})" for worker, trial in sorted(open_trials.items()))
        return (
            f"no word from any worker for {self.wait_seconds / 60:g} min (--wait-minutes); open trials: "
            f"{held or 'none'}; a worker started again with its id re-runs its trial"
        )

    def give_up(self, why: str) -> None:
        """Stop the search: the main thread, in Keras Tuner's server loop, raises WorkersLost(why)."""
        if self.gave_up is None and not self.stopped.is_set():
            self.gave_up = why
            _thread.interrupt_main(signal.SIGUSR1)

    def stop(self) -> None:
        """Stop after one last round."""
        self.stopped.set()
        self.join(timeout=5)
        self.poll()
        if self._previous_handler is not None:
            signal.signal(signal.SIGUSR1, self._previous_handler)


@contextlib.contextmanager
def working_for_chief(wait_minutes: float = WAIT_MINUTES):
    """In a worker: tell the chief every HEARTBEAT_SECONDS that this worker lives; give up on a
    chief that does not answer for `wait_minutes` with one line (SearchError)."""
    import grpc

    address = f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}"
    kt_compat.set_client_timeout(wait_minutes * 60)
    beating = threading.Event()
    threading.Thread(target=_heartbeat, args=(address, beating), daemon=True).start()
    try:
        yield
    except grpc.RpcError as e:
        code = e.code().name if hasattr(e, "code") else type(e).__name__
        raise SearchError(
            f"worker {os.environ[TUNER_ID]}: no answer from the chief at {address} for {wait_minutes:g} min "
            f"({code}); start the chief (or check its address and port), then this worker again"
        ) from None
    finally:
        beating.set()


def _heartbeat(address: str, stop: threading.Event) -> None:
    import grpc

    while not stop.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(grpc.RpcError):
            kt_compat.ask_chief(address, timeout=HEARTBEAT_SECONDS)


def write_workers_record(run_dir: Path, pool: WorkerPool) -> None:
    """Add the workers' record (WorkerPool.record) to the finished run's metrics.json."""
    import json

    path = run_dir / layout.METRICS
    metrics = json.loads(path.read_text())
    if metrics.get("workers") != pool.record():
        atomic.write_json(path, {**metrics, "workers": pool.record()})


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
